//! Running: `run`, `Runner`, `Backend`, options, detection, native entry points.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyio::{Backend, Error, ErrorKind, Flavor, Runner, SmolOptions, TokioOptions};

#[test]
fn run_returns_main_value_and_error() {
    let v = anyio::run(|| async { Ok::<_, Error>(7) }).unwrap();
    assert_eq!(v, 7);
    let e =
        anyio::run(|| async { Err::<(), _>(Error::new(ErrorKind::Other, "nope")) }).unwrap_err();
    assert_eq!(e.message(), "nope");
}

#[test]
fn run_accepts_foreign_error_types() {
    let r: Result<u8, Box<dyn std::error::Error + Send + Sync>> = anyio::run(|| async { Ok(1) });
    assert_eq!(r.unwrap(), 1);
    let r: std::io::Result<u8> = anyio::run(|| async { Ok(2) });
    assert_eq!(r.unwrap(), 2);
}

#[test]
fn backend_names_parse() {
    assert_eq!("tokio".parse::<Backend>().unwrap(), Backend::Tokio);
    assert_eq!("smol".parse::<Backend>().unwrap(), Backend::Smol);
    assert_eq!("SMOL".parse::<Backend>().unwrap(), Backend::Smol);
    assert_eq!(Backend::Smol.to_string(), "smol");
    assert_eq!(Backend::default(), Backend::Tokio);
    assert_eq!(
        anyio::available_backends(),
        &[Backend::Tokio, Backend::Smol]
    );
}

#[test]
fn unknown_backend_is_a_clear_error() {
    let e = "trio".parse::<Backend>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BackendUnavailable);
    assert!(e.message().contains("unknown backend 'trio'"), "{e}");
    assert!(e.message().contains("tokio, smol"), "{e}");
}

#[test]
fn every_backend_reports_its_name() {
    for backend in anyio::available_backends() {
        let lib = Runner::new(*backend)
            .run(|| async { anyio::current_async_library() })
            .unwrap();
        assert_eq!(lib, backend.name());
    }
}

#[test]
fn tokio_current_thread_flavor() {
    let thread = std::thread::current().id();
    let same = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread))
        .run(|| async move {
            let ran_on = anyio::task_group(|tg| async move {
                let h = tg.start_soon(async { Ok::<_, Error>(std::thread::current().id()) })?;
                h.await
            })
            .await?;
            Ok::<_, Error>(ran_on == Some(thread))
        })
        .unwrap();
    assert!(
        same,
        "a current-thread runtime runs children on the calling thread"
    );
}

#[test]
fn tokio_worker_threads_option() {
    let out = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().worker_threads(1))
        .run(|| async { anyio::current_async_library() })
        .unwrap();
    assert_eq!(out, "tokio");
    let err = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().worker_threads(0))
        .run(|| async { Ok::<_, Error>(()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn tokio_runtime_factory_is_used() {
    let called = Arc::new(AtomicBool::new(false));
    let c = called.clone();
    let out = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().runtime_factory(move || {
            c.store(true, Ordering::SeqCst);
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }))
        .run(|| async {
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>("ran")
        })
        .unwrap();
    assert_eq!(out, "ran");
    assert!(called.load(Ordering::SeqCst));
}

#[test]
fn tokio_runtime_factory_failure_is_reported() {
    let err = Runner::new(Backend::Tokio)
        .tokio_options(
            TokioOptions::new().runtime_factory(|| Err(std::io::Error::other("no runtime today"))),
        )
        .run(|| async { Ok::<_, Error>(()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("no runtime today"), "{err}");
}

#[test]
fn smol_threads_option() {
    let threads = Runner::new(Backend::Smol)
        .smol_options(SmolOptions::new().threads(2))
        .run(|| async {
            anyio::gather((0..32).map(|_| async {
                anyio::sleep(Duration::from_millis(1)).await?;
                anyio::current_async_library()
            }))
            .await
        })
        .unwrap();
    assert!(threads.iter().all(|lib| *lib == "smol"));
    let err = Runner::new(Backend::Smol)
        .smol_options(SmolOptions::new().threads(0))
        .run(|| async { Ok::<_, Error>(()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn nested_run_is_an_error_not_a_panic() {
    for backend in anyio::available_backends() {
        let inner = Runner::new(*backend)
            .run(|| async { Ok::<_, Error>(anyio::run(|| async { Ok::<_, Error>(()) })) })
            .unwrap();
        assert_eq!(inner.unwrap_err().kind(), ErrorKind::InvalidState);
    }
}

/// What a nested run does: a task group whose child sleeps, a round trip through a worker
/// thread of its own back into itself, and a blocking portal started from inside it.
async fn nested_run_body() -> anyio::Result<(&'static str, u32)> {
    let lib = anyio::current_async_library()?;
    let from_child = anyio::task_group(|tg| async move {
        let h = tg.start_soon(async {
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(20)
        })?;
        h.await
    })
    .await?
    .expect("nothing cancelled the group");
    let from_worker = anyio::to_thread::run_sync(|| {
        anyio::from_thread::run(|| async {
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(20)
        })
    })
    .await??;
    let from_portal = anyio::to_thread::run_sync(|| {
        let portal = anyio::from_thread::start_blocking_portal(Backend::Smol)?;
        portal.call(|| async { Ok::<_, Error>(2) })
    })
    .await??;
    Ok((lib, from_child + from_worker + from_portal))
}

#[test]
fn run_inside_to_thread_worker_works_on_every_backend_pair() {
    for outer in anyio::available_backends() {
        for inner in anyio::available_backends() {
            let inner = *inner;
            let out = Runner::new(*outer)
                .run(move || async move {
                    let nested = anyio::to_thread::run_sync(move || {
                        assert!(anyio::current_async_library().is_err(), "a worker thread");
                        Runner::new(inner).run(nested_run_body)
                    })
                    .await?;
                    Ok::<_, Error>((nested, anyio::current_async_library()?))
                })
                .unwrap_or_else(|e| panic!("outer {outer}: {e}"));
            let (nested, outer_lib) = out;
            let (lib, sum) = nested.unwrap_or_else(|e| panic!("{outer} -> {inner}: {e}"));
            assert_eq!((lib, sum, outer_lib), (inner.name(), 42, outer.name()));
        }
    }
}

#[test]
fn run_inside_to_thread_worker_of_a_current_thread_runtime_works() {
    let nested = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread))
        .run(|| async {
            anyio::to_thread::run_sync(|| {
                Runner::new(Backend::Tokio)
                    .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread))
                    .run(nested_run_body)
            })
            .await
        })
        .unwrap();
    assert_eq!(nested.unwrap(), ("tokio", 42));
}

#[test]
fn run_inside_a_task_of_a_nested_run_is_still_an_error() {
    for backend in anyio::available_backends() {
        let backend = *backend;
        let inner = Runner::new(backend)
            .run(move || async move {
                anyio::to_thread::run_sync(move || {
                    Runner::new(backend).run(|| async {
                        Ok::<_, Error>(anyio::run(|| async { Ok::<_, Error>(()) }))
                    })
                })
                .await?
            })
            .unwrap();
        let e = inner.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        assert!(e.message().contains("inside an async context"), "{e}");
    }
}

#[test]
fn run_inside_native_tokio_block_on_is_an_error_not_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(async { anyio::run(|| async { Ok::<_, Error>(()) }) })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(e.message().contains("inside an async context"), "{e}");
}

#[test]
fn detection_outside_any_runtime_is_smol() {
    // With the smol feature on, anyio calls from a plain thread are served by smol.
    assert_eq!(anyio::current_async_library().unwrap(), "smol");
    assert!(anyio::get_current_task().is_none());
}

async fn exercise_native() -> anyio::Result<&'static str> {
    anyio::sleep(Duration::from_millis(1)).await?;
    let out = anyio::move_on_after(Duration::from_millis(5), anyio::sleep_forever()).await?;
    assert_eq!(out, None);
    let sum = anyio::task_group(|tg| async move {
        let a = tg.start_soon(async { Ok::<_, Error>(1) })?;
        let b = tg.start_soon(async {
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(2)
        })?;
        Ok(a.await? + b.await?)
    })
    .await?;
    assert_eq!(sum, Some(3));
    anyio::current_async_library()
}

#[test]
fn works_inside_tokio_block_on() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(exercise_native()).unwrap(), "tokio");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(exercise_native()).unwrap(), "tokio");
}

#[test]
fn works_inside_smol_block_on() {
    assert_eq!(
        futures_lite::future::block_on(exercise_native()).unwrap(),
        "smol"
    );
    assert_eq!(async_io::block_on(exercise_native()).unwrap(), "smol");
}

#[test]
fn works_inside_a_tokio_spawned_task() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let out = rt.block_on(async { tokio::spawn(exercise_native()).await.unwrap() });
    assert_eq!(out.unwrap(), "tokio");
}

#[test]
fn tokio_native_code_works_inside_anyio_run() {
    let echoed = Runner::new(Backend::Tokio)
        .run(|| async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let out = anyio::task_group(|tg| async move {
                tg.start_soon(async move {
                    let (mut sock, _) = listener.accept().await?;
                    let mut buf = [0u8; 5];
                    sock.read_exact(&mut buf).await?;
                    sock.write_all(&buf).await?;
                    Ok::<_, Error>(())
                })?;
                let mut client = tokio::net::TcpStream::connect(addr).await?;
                client.write_all(b"hello").await?;
                let mut buf = [0u8; 5];
                client.read_exact(&mut buf).await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                let (tx, rx) = tokio::sync::oneshot::channel();
                tg.start_soon(async move {
                    tx.send(buf).ok();
                    Ok::<_, Error>(())
                })?;
                rx.await.map_err(Error::other)
            })
            .await?;
            Ok::<_, Error>(out.unwrap())
        })
        .unwrap();
    assert_eq!(&echoed, b"hello");
}

#[test]
fn main_macro_expansions_run() {
    #[anyio::main]
    async fn tokio_main() -> anyio::Result<&'static str> {
        anyio::current_async_library()
    }
    #[anyio::main(backend = "smol")]
    async fn smol_main() -> anyio::Result<&'static str> {
        anyio::current_async_library()
    }
    assert_eq!(tokio_main().unwrap(), "tokio");
    assert_eq!(smol_main().unwrap(), "smol");
}

#[anyio::test(backends = ["smol"])]
async fn test_macro_restricts_backends() -> anyio::Result<()> {
    assert_eq!(anyio::current_async_library()?, "smol");
    Ok(())
}

#[anyio::test]
async fn test_macro_accepts_unit_tests() {
    anyio::sleep(Duration::from_millis(1)).await.unwrap();
}

#[anyio::test]
#[should_panic(expected = "test failed")]
async fn test_macro_fails_on_error() -> anyio::Result<()> {
    Err(Error::new(ErrorKind::Other, "deliberate"))
}

/// The slow-poll report goes to stderr, so it is checked in a child process that runs
/// `debug_mode_child` below with the variable that arms it.
#[test]
fn debug_mode_reports_slow_polls() {
    for backend in ["tokio", "smol"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "debug_mode_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ANYIO_DEBUG_CHILD", backend)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed: {stderr}");
        assert!(
            stderr.contains("task 'hog'") && stderr.contains("blocked its thread"),
            "no slow-poll report on {backend}: {stderr}"
        );
    }
}

#[test]
fn debug_mode_child() {
    let Ok(backend) = std::env::var("ANYIO_DEBUG_CHILD") else {
        return; // only meaningful when started by debug_mode_reports_slow_polls
    };
    Runner::new(backend.parse().unwrap())
        .slow_poll_threshold(Duration::from_millis(20))
        .run(|| async {
            anyio::task_group(|tg| async move {
                tg.task().name("hog").spawn(async {
                    std::thread::sleep(Duration::from_millis(60)); // deliberately blocking
                    // The blocking poll ends in a yield, so its report is written before
                    // the task finishes (a report of a task's last poll can race the end
                    // of the program).
                    anyio::lowlevel::yield_now().await;
                    Ok::<_, Error>(())
                })?;
                Ok(())
            })
            .await?;
            Ok::<_, Error>(())
        })
        .unwrap();
}

/// A tokio runtime built without `enable_time()` (and without IO).
fn timerless_runtime(flavor: Flavor) -> std::io::Result<tokio::runtime::Runtime> {
    match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build(),
    }
}

fn assert_timers_disabled(e: &Error) {
    assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");
    assert!(e.message().contains("enable_time()"), "{e}");
}

#[test]
fn runtime_factory_without_time_driver_is_rejected_at_run() {
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let err = Runner::new(Backend::Tokio)
            .tokio_options(TokioOptions::new().runtime_factory(move || timerless_runtime(flavor)))
            .run(move || async move {
                r.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().contains("enable_time()"), "{err}");
        assert!(
            !ran.load(Ordering::SeqCst),
            "main ran on a runtime without timers"
        );
    }
}

#[test]
fn sleep_on_a_foreign_runtime_without_timers_is_an_error() {
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let rt = timerless_runtime(flavor).unwrap();
        let e = rt
            .block_on(anyio::sleep(Duration::from_millis(1)))
            .unwrap_err();
        assert_timers_disabled(&e);
        let e = rt
            .block_on(anyio::sleep_until(
                std::time::Instant::now() + Duration::from_secs(1),
            ))
            .unwrap_err();
        assert_timers_disabled(&e);
        // Checkpoints that need no timer still work.
        rt.block_on(anyio::sleep(Duration::ZERO)).unwrap();
    }
}

#[test]
fn scope_deadline_on_a_foreign_runtime_without_timers_is_an_error() {
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let rt = timerless_runtime(flavor).unwrap();
        let e = rt
            .block_on(anyio::move_on_after(
                Duration::from_secs(60),
                anyio::sleep_forever(),
            ))
            .unwrap_err();
        assert_timers_disabled(&e);
        let e = rt
            .block_on(anyio::fail_after(
                Duration::from_secs(60),
                anyio::sleep_forever(),
            ))
            .unwrap_err();
        assert_timers_disabled(&e);
        let scope = anyio::CancelScope::new().with_timeout(Duration::from_secs(60));
        let e = rt.block_on(scope.run(anyio::sleep_forever())).unwrap_err();
        assert_timers_disabled(&e);
        assert!(scope.cancel_called());
        // A scope whose future never blocks needs no timer.
        let out = rt
            .block_on(anyio::move_on_after(Duration::from_secs(60), async {
                anyio::lowlevel::checkpoint().await?;
                Ok::<_, Error>(5)
            }))
            .unwrap();
        assert_eq!(out, Some(5));
    }
}

#[test]
fn group_deadline_on_a_foreign_runtime_without_timers_is_an_error() {
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let rt = timerless_runtime(flavor).unwrap();
        let e = rt
            .block_on(anyio::task_group(|tg| async move {
                tg.cancel_scope()
                    .set_deadline(Some(std::time::Instant::now() + Duration::from_secs(60)));
                tg.start_soon(anyio::sleep_forever())?;
                anyio::sleep_forever().await
            }))
            .unwrap_err();
        assert_timers_disabled(&e);
    }
}

#[test]
fn runtime_factory_with_timers_but_no_io_driver_is_enough() {
    let out = Runner::new(Backend::Tokio)
        .tokio_options(TokioOptions::new().runtime_factory(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
        }))
        .run(|| async {
            let out =
                anyio::move_on_after(Duration::from_millis(1), anyio::sleep_forever()).await?;
            assert_eq!(out, None);
            anyio::to_thread::run_sync(|| 1).await
        })
        .unwrap();
    assert_eq!(out, 1);
}
