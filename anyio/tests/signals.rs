//! `anyio::signal`: receiving operating-system signals, on both backends.
//!
//! Signals are process-wide, so the tests of this file run one at a time (a shared lock),
//! each on every backend in turn, and every test raises only signals a receiver of its own
//! is listening for. What happens once the last receiver closes (the default action, a
//! pending signal raised again) is tested in child processes, where it may end the process.
#![cfg(unix)]

use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyio::signal::{
    SIGHUP, SIGTERM, SIGURG, SIGUSR1, SIGUSR2, SIGWINCH, SignalReceiver, open_signal_receiver,
};
use anyio::{Backend, ErrorKind, Runner};
use futures_lite::StreamExt;
use signal_hook::low_level::raise;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `body` on every backend, one after the other, under the file's lock and a
/// generous overall deadline.
fn on_every_backend<F, Fut>(body: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = anyio::Result<()>> + Send + 'static,
{
    let _serial = serial();
    for &backend in anyio::available_backends() {
        let fut = body(backend);
        Runner::new(backend)
            .run(|| anyio::fail_after(Duration::from_secs(30), fut))
            .unwrap_or_else(|e| panic!("on {}: {e}", backend.name()));
    }
}

/// Waits until `rx` holds `n` pending signals: the hub thread delivers asynchronously.
async fn until_pending(rx: &SignalReceiver, n: usize) -> anyio::Result<()> {
    while rx.pending() < n {
        anyio::sleep(Duration::from_millis(1)).await?;
    }
    Ok(())
}

#[test]
fn signals_arrive_in_order() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGUSR1, SIGUSR2])?;
        raise(SIGUSR1)?;
        until_pending(&rx, 1).await?;
        raise(SIGUSR2)?;
        until_pending(&rx, 2).await?;
        assert_eq!(rx.receive().await?, SIGUSR1);
        assert_eq!(rx.receive().await?, SIGUSR2);
        assert_eq!(rx.try_receive().unwrap_err().kind(), ErrorKind::WouldBlock);
        Ok(())
    });
}

#[test]
fn a_blocked_receive_wakes_when_the_signal_arrives() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGWINCH])?;
        anyio::task_group(|tg| async move {
            tg.start_soon(async {
                anyio::testing::wait_all_tasks_blocked().await?;
                raise(SIGWINCH)?;
                anyio::Ok(())
            })?;
            assert_eq!(rx.receive().await?, SIGWINCH);
            anyio::Ok(())
        })
        .await?;
        Ok(())
    });
}

#[test]
fn the_receiver_is_a_stream() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGURG])?;
        raise(SIGURG)?;
        assert_eq!(rx.next().await, Some(SIGURG));
        rx.close();
        assert_eq!(rx.next().await, None, "a closed receiver's stream ends");
        Ok(())
    });
}

#[test]
fn every_open_receiver_of_a_signal_gets_it() {
    on_every_backend(|_| async {
        let mut a = open_signal_receiver([SIGUSR2])?;
        let mut b = open_signal_receiver([SIGUSR2, SIGWINCH])?;
        raise(SIGUSR2)?;
        assert_eq!(a.receive().await?, SIGUSR2);
        assert_eq!(b.receive().await?, SIGUSR2);
        Ok(())
    });
}

#[test]
fn a_cancelled_receive_takes_no_signal() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGWINCH])?;
        let scope = anyio::CancelScope::new();
        scope.cancel();
        let out = scope.run(rx.receive()).await?;
        assert_eq!(out, None, "the scope absorbs its own cancellation");

        // Cancelled while blocked, then the signal arrives: the next receive gets it.
        let out = anyio::move_on_after(Duration::from_millis(20), rx.receive()).await?;
        assert_eq!(out, None);
        raise(SIGWINCH)?;
        assert_eq!(rx.receive().await?, SIGWINCH);
        Ok(())
    });
}

#[test]
fn an_abandoned_receive_takes_no_signal() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGURG])?;
        {
            let fut = std::pin::pin!(rx.receive());
            let polled = futures_lite::future::poll_once(fut).await;
            assert!(polled.is_none());
        }
        raise(SIGURG)?;
        until_pending(&rx, 1).await?;
        assert_eq!(rx.receive().await?, SIGURG);
        Ok(())
    });
}

#[test]
fn a_receiver_in_a_cancelled_group_does_not_suppress_the_cancellation() {
    on_every_backend(|_| async {
        let out = anyio::task_group(|tg| async move {
            tg.start_soon(async {
                let mut rx = open_signal_receiver([SIGUSR1])?;
                let signum = rx.receive().await?;
                Err::<(), _>(anyio::Error::new(
                    ErrorKind::Other,
                    format!("signal {signum} was never sent"),
                ))
            })?;
            anyio::testing::wait_all_tasks_blocked().await?;
            tg.cancel_scope().cancel();
            anyio::Ok(())
        })
        .await?;
        assert_eq!(out, Some(()));
        Ok(())
    });
}

#[test]
fn a_closed_receiver_reports_closed() {
    on_every_backend(|_| async {
        let mut rx = open_signal_receiver([SIGWINCH])?;
        rx.close();
        rx.close(); // twice is fine
        assert_eq!(
            rx.receive().await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        assert_eq!(
            rx.try_receive().unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        Ok(())
    });
}

#[test]
fn bad_signal_lists_are_invalid_arguments() {
    let _serial = serial();
    use signal_hook::consts::signal::{SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSTOP};
    for bad in [
        SIGKILL,
        SIGSTOP,
        SIGSEGV,
        SIGILL,
        SIGFPE,
        0,
        -1,
        1000,
        i32::MAX,
    ] {
        let err = open_signal_receiver([bad]).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidArgument,
            "signal {bad}: {err}"
        );
    }
    let err = open_signal_receiver(std::iter::empty()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // A bad number among good ones refuses the whole list and leaves nothing listening.
    let err = open_signal_receiver([SIGHUP, SIGKILL]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

// ---- child processes: what happens once no receiver listens ----

const CHILD_ENV: &str = "ANYIO_SIGNAL_CHILD";

/// Runs this test binary again with only the test `name` and `CHILD_ENV=scenario`.
fn run_child(name: &str, scenario: &str) -> std::process::ExitStatus {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child for {scenario} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn terminated_by(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// The child side of the tests below: does what `scenario` says.
async fn child_main(scenario: &str) -> anyio::Result<()> {
    match scenario {
        // Leaving the receiver restores the default action: SIGTERM then kills.
        "restores" => {
            let rx = open_signal_receiver([SIGTERM])?;
            drop(rx);
            raise(SIGTERM)?;
        }
        // A signal the receiver held but never handed out is raised again.
        "redelivers" => {
            let rx = open_signal_receiver([SIGTERM])?;
            raise(SIGTERM)?;
            until_pending(&rx, 1).await?;
            drop(rx);
        }
        // While a receiver listens, SIGTERM does not kill.
        "survives" => {
            let mut rx = open_signal_receiver([SIGTERM])?;
            raise(SIGTERM)?;
            assert_eq!(rx.receive().await?, SIGTERM);
            return Ok(());
        }
        other => panic!("unknown scenario {other}"),
    }
    // Only reached if the signal did not end the process.
    anyio::sleep(Duration::from_secs(5)).await?;
    std::process::exit(3)
}

fn child_scenario(test: &str, scenario: &str) {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (scenario, backend) = spec.split_once(':').unwrap();
        let backend: Backend = backend.parse().unwrap();
        Runner::new(backend).run(|| child_main(scenario)).unwrap();
        return;
    }
    for backend in anyio::available_backends() {
        let spec = format!("{scenario}:{}", backend.name());
        let status = run_child(test, &spec);
        match scenario {
            "survives" => assert!(status.success(), "{spec}: {status:?}"),
            _ => assert_eq!(terminated_by(status), Some(SIGTERM), "{spec}: {status:?}"),
        }
    }
}

#[test]
fn leaving_the_receiver_restores_the_default_action() {
    child_scenario(
        "leaving_the_receiver_restores_the_default_action",
        "restores",
    );
}

#[test]
fn a_pending_signal_is_raised_again_when_the_receiver_closes() {
    child_scenario(
        "a_pending_signal_is_raised_again_when_the_receiver_closes",
        "redelivers",
    );
}

#[test]
fn an_open_receiver_keeps_sigterm_from_killing() {
    child_scenario("an_open_receiver_keeps_sigterm_from_killing", "survives");
}

/// `examples/graceful_shutdown.rs` run as a child process: `SIGTERM` drains it and it
/// exits cleanly, on every backend.
#[test]
fn the_graceful_shutdown_example_exits_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};

    // `cargo test` builds the examples next to the test binaries' `deps` directory.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("graceful_shutdown"))
        .unwrap();
    assert!(
        example.exists(),
        "{} is missing: `cargo test` builds it (or run `cargo build --examples`)",
        example.display()
    );
    for backend in anyio::available_backends() {
        let mut child = Command::new(&example)
            .arg(backend.name())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The overall limit: a hung child is killed, which fails the assertions below.
        let (finished, watch) = std::sync::mpsc::channel::<()>();
        let pid = child.id().to_string();
        let watchdog = std::thread::spawn(move || {
            if watch.recv_timeout(Duration::from_secs(60)).is_err() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().unwrap().unwrap();
        assert!(ready.starts_with("ready"), "{ready}");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        let _ = finished.send(());
        watchdog.join().unwrap();
        assert!(status.success(), "{}: {status:?} {rest:?}", backend.name());
        assert!(
            rest.iter().any(|l| l.starts_with("shut down cleanly")),
            "{}: {rest:?}",
            backend.name()
        );
    }
}
