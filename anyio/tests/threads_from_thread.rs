//! `anyio::from_thread` from worker threads: running async and sync code in the event loop,
//! watching for cancellation, and the errors on threads anyio did not start (AnyIO's
//! tests/test_from_thread.py, the parts without portals). Every test runs on tokio and on
//! smol.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::to_thread::{self, Builder};
use anyio::{CancelScope, CapacityLimiter, ErrorKind, Runner, from_thread};
use futures_lite::FutureExt;

/// A one-way latch with bounded waits (see threads_to_thread.rs).
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let guard = self.0.0.lock().unwrap();
        let (guard, _) = self
            .0
            .1
            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
            .unwrap();
        assert!(*guard, "gate never opened");
    }
}

async fn wait_gate(gate: &Gate) -> anyio::Result<()> {
    let gate = gate.clone();
    Builder::new()
        .limiter(CapacityLimiter::new(1)?)
        .run_sync(move || gate.wait())
        .await
}

#[anyio::test]
async fn run_returns_the_async_result() -> anyio::Result<()> {
    let here = std::thread::current().id();
    let (sum, worker) = to_thread::run_sync(move || {
        let worker = std::thread::current().id();
        assert_ne!(worker, here);
        let sum = from_thread::run(|| async {
            anyio::lowlevel::checkpoint().await?;
            Ok::<_, anyio::Error>(1 + 2)
        });
        (sum, worker)
    })
    .await?;
    assert_eq!(sum?, 3);
    assert_ne!(worker, here);
    Ok(())
}

#[anyio::test]
async fn run_runs_async_code_as_an_anyio_task() -> anyio::Result<()> {
    let me = anyio::get_current_task().unwrap();
    let (lib, task) = to_thread::run_sync(|| {
        from_thread::run(|| async {
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, anyio::Error>((anyio::current_async_library()?, anyio::get_current_task()))
        })
    })
    .await??;
    assert!(lib == "tokio" || lib == "smol");
    let task = task.expect("the async code runs in an anyio task");
    assert_eq!(
        task.parent_id,
        Some(me.id),
        "its parent is the task that called run_sync"
    );
    Ok(())
}

#[anyio::test]
async fn run_sync_runs_a_closure_in_the_event_loop() -> anyio::Result<()> {
    let lib =
        to_thread::run_sync(|| from_thread::run_sync(anyio::current_async_library)).await???;
    assert_eq!(lib, anyio::current_async_library()?);
    Ok(())
}

#[anyio::test]
async fn run_returns_the_async_error() -> anyio::Result<()> {
    let err = to_thread::run_sync(|| {
        from_thread::run(|| async {
            Err::<(), _>(anyio::Error::new(ErrorKind::InvalidArgument, "bad operand"))
        })
    })
    .await?
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.to_string(), "bad operand");
    Ok(())
}

#[anyio::test]
async fn run_keeps_a_foreign_error_type() -> anyio::Result<()> {
    let err = to_thread::run_sync(|| {
        from_thread::run(|| async {
            Err::<(), std::io::Error>(std::io::Error::other("disk on fire"))
        })
    })
    .await?
    .unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
    Ok(())
}

#[anyio::test]
async fn panic_in_async_code_crosses_both_threads() -> anyio::Result<()> {
    let out = AssertUnwindSafe(to_thread::run_sync(|| {
        from_thread::run(|| async {
            anyio::lowlevel::checkpoint().await?;
            if true {
                panic!("boom in the event loop");
            }
            Ok::<(), anyio::Error>(())
        })
    }))
    .catch_unwind()
    .await;
    let panic = out.expect_err("the panic must reach the caller");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"boom in the event loop")
    );
    Ok(())
}

#[anyio::test]
async fn panic_in_run_sync_closure_crosses_both_threads() -> anyio::Result<()> {
    let out = AssertUnwindSafe(to_thread::run_sync(|| {
        from_thread::run_sync(|| -> u8 { panic!("boom in run_sync") })
    }))
    .catch_unwind()
    .await;
    let panic = out.expect_err("the panic must reach the caller");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom in run_sync"));
    Ok(())
}

#[anyio::test]
async fn check_cancelled_sees_the_callers_cancellation() -> anyio::Result<()> {
    let release = Gate::default();
    let finished = Arc::new(AtomicBool::new(false));
    let (r, f) = (release.clone(), finished.clone());
    let out = anyio::task_group(|tg| async move {
        let (r2, tg2) = (r.clone(), tg.clone());
        tg.start_soon(async move {
            wait_all_tasks_blocked().await?;
            tg2.cancel_scope().cancel();
            r2.open();
            Ok::<_, anyio::Error>(())
        })?;
        to_thread::run_sync(move || {
            r.wait();
            from_thread::check_cancelled()?;
            f.store(true, Ordering::SeqCst);
            Ok::<_, anyio::Error>(())
        })
        .await??;
        Ok(())
    })
    .await?;
    assert_eq!(
        out, None,
        "the group absorbed the cancellation the thread returned"
    );
    assert!(!finished.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn check_cancelled_is_ok_while_not_cancelled() -> anyio::Result<()> {
    to_thread::run_sync(from_thread::check_cancelled).await??;
    Ok(())
}

#[anyio::test]
async fn check_cancelled_in_an_abandoned_thread() -> anyio::Result<()> {
    let release = Gate::default();
    let verdict = Arc::new(Mutex::new(None));
    let reported = Gate::default();
    let (r, v, rep) = (release.clone(), verdict.clone(), reported.clone());
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            Builder::new()
                .abandon_on_cancel(true)
                .run_sync(move || {
                    r.wait();
                    *v.lock().unwrap() = Some(from_thread::check_cancelled());
                    rep.open();
                })
                .await
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    release.open();
    wait_gate(&reported).await?;
    let verdict = verdict.lock().unwrap().take().unwrap();
    assert_eq!(verdict.unwrap_err().kind(), ErrorKind::Cancelled);
    Ok(())
}

#[test]
fn from_thread_on_a_foreign_thread_is_a_clear_error() {
    let err = from_thread::check_cancelled().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoEventLoop);
    assert!(err.to_string().contains("to_thread::run_sync"), "{err}");
    assert!(err.to_string().contains("BlockingPortal"), "{err}");
    let err = from_thread::run(|| async { Ok::<_, anyio::Error>(()) }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoEventLoop);
    let err = from_thread::run_sync(|| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoEventLoop);
}

#[anyio::test]
async fn from_thread_inside_async_code_is_an_error() -> anyio::Result<()> {
    // An event loop thread is not a worker thread: blocking it would stall the loop.
    let err = from_thread::run_sync(|| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoEventLoop);
    Ok(())
}

#[anyio::test]
async fn cancel_scope_reaches_async_code_run_from_the_thread() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let s = scope.clone();
    let started = std::time::Instant::now();
    let out = scope
        .run(async move {
            to_thread::run_sync(move || {
                from_thread::run(move || async move {
                    s.cancel();
                    // Cancelled by the caller's scope, long before this deadline.
                    anyio::fail_after(
                        Duration::from_secs(30),
                        anyio::sleep(Duration::from_secs(60)),
                    )
                    .await
                })
            })
            .await?
        })
        .await?;
    assert_eq!(out, None);
    assert!(scope.cancelled_caught());
    assert!(started.elapsed() < Duration::from_secs(30));
    Ok(())
}

#[anyio::test]
async fn async_code_run_from_an_abandoned_thread_runs_on() -> anyio::Result<()> {
    let host_cancelled = Gate::default();
    let completed = Gate::default();
    let scope = CancelScope::new();
    let (s, hc, c) = (scope.clone(), host_cancelled.clone(), completed.clone());
    scope
        .run(async move {
            Builder::new()
                .abandon_on_cancel(true)
                .run_sync(move || {
                    from_thread::run(move || async move {
                        s.cancel();
                        // Shielded: the caller's cancellation does not stop this.
                        CancelScope::shielded()
                            .run(async move { wait_gate(&hc).await })
                            .await?;
                        c.open();
                        Ok::<_, anyio::Error>(())
                    })
                })
                .await??;
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert!(scope.cancelled_caught(), "the caller returned at once");
    host_cancelled.open();
    wait_gate(&completed).await?;
    Ok(())
}

/// AnyIO's `test_cancelscope_propagation_when_abandoned`: async code that an abandoned
/// thread runs in the event loop is detached from the caller's cancellation, so it can
/// wait for things without a shield.
#[anyio::test]
async fn async_code_of_an_abandoned_thread_is_detached_from_the_callers_cancellation()
-> anyio::Result<()> {
    let host_cancelled = anyio::Event::new();
    let completed = anyio::Event::new();
    let scope = CancelScope::new();
    let (s, hc, c) = (scope.clone(), host_cancelled.clone(), completed.clone());
    scope
        .run(async move {
            Builder::new()
                .abandon_on_cancel(true)
                .run_sync(move || {
                    from_thread::run(move || async move {
                        s.cancel();
                        anyio::fail_after(Duration::from_secs(30), hc.wait()).await?;
                        c.set();
                        Ok::<_, anyio::Error>(())
                    })
                })
                .await??;
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert!(scope.cancelled_caught(), "the caller returned at once");
    host_cancelled.set();
    anyio::fail_after(Duration::from_secs(30), completed.wait()).await?;
    Ok(())
}

/// A call made from a thread after it was abandoned runs too, instead of failing at once
/// with the cancellation of a caller that is gone.
#[anyio::test]
async fn run_from_a_thread_after_it_was_abandoned_runs() -> anyio::Result<()> {
    let abandoned = Gate::default();
    let reported = Gate::default();
    let verdict = Arc::new(Mutex::new(None));
    let (a, rep, v) = (abandoned.clone(), reported.clone(), verdict.clone());
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            Builder::new()
                .abandon_on_cancel(true)
                .run_sync(move || {
                    a.wait();
                    let out = from_thread::run(|| async {
                        anyio::sleep(Duration::from_millis(1)).await?;
                        anyio::lowlevel::checkpoint().await
                    });
                    *v.lock().unwrap() = Some(out);
                    rep.open();
                })
                .await
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    abandoned.open();
    wait_gate(&reported).await?;
    let verdict = verdict.lock().unwrap().take().unwrap();
    assert!(verdict.is_ok(), "{verdict:?}");
    Ok(())
}

#[test]
fn run_after_the_event_loop_finished_is_a_clear_error() {
    for backend in anyio::available_backends() {
        let release = Gate::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let r = release.clone();
        Runner::new(*backend)
            .run(|| async move {
                anyio::move_on_after(Duration::from_millis(1), async move {
                    Builder::new()
                        .abandon_on_cancel(true)
                        .run_sync(move || {
                            r.wait();
                            let out = from_thread::run(|| async { Ok::<_, anyio::Error>(1) });
                            let _ = tx.send(out);
                        })
                        .await
                })
                .await?;
                Ok::<_, anyio::Error>(())
            })
            .unwrap();
        release.open(); // the run is over; the abandoned thread now reaches back
        let out = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let err = out.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoEventLoop, "{backend}");
        assert!(err.to_string().contains("finished"), "{backend}: {err}");
    }
}

#[anyio::test]
async fn worker_thread_of_a_worker_call_is_restored_after_use() -> anyio::Result<()> {
    // A pool thread serves later work: it must not stay marked as an anyio worker.
    for _ in 0..3 {
        to_thread::run_sync(|| from_thread::run_sync(|| ())).await??;
    }
    let ok = to_thread::run_sync(|| from_thread::check_cancelled().is_ok()).await?;
    assert!(ok);
    Ok(())
}
