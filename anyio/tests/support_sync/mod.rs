//! Helpers shared by the `sync_*` integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyio::{Backend, Runner, SmolOptions, TokioOptions};

/// How long a stress run may take before it counts as hung.
const STRESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one bounded stress test on a multi-thread runtime of `backend` (tokio with four
/// workers, smol with two threads), fails it if it errs or runs past a minute, and prints
/// the report it returns with the time it took.
pub fn stress<F, Fut>(backend: Backend, name: &str, test: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyio::Result<String>>,
{
    let runner = match backend {
        Backend::Tokio => {
            Runner::new(Backend::Tokio).tokio_options(TokioOptions::new().worker_threads(4))
        }
        Backend::Smol => Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(2)),
        _ => unreachable!("only tokio and smol exist"),
    };
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let start = Instant::now();
        let out = runner.run(test);
        let _ = tx.send((out, start.elapsed()));
    });
    match rx.recv_timeout(STRESS_TIMEOUT) {
        Ok((Ok(report), took)) => println!("{name} on {backend}: {report} in {took:.2?}"),
        Ok((Err(e), _)) => panic!("{name} on {backend} failed: {e}"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name} on {backend} hung: no result after {STRESS_TIMEOUT:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{name} on {backend} ended without a result"),
        },
    }
}

/// The kind of an error, for asserting on it.
pub fn kind<T: std::fmt::Debug>(r: anyio::Result<T>) -> anyio::ErrorKind {
    r.expect_err("expected an error").kind()
}

/// Compiles only when `T` can be shared between threads.
pub fn assert_send_sync<T: Send + Sync>(_: &T) {}

/// Compiles only when `T` can move to another thread (a future spawned on a multi-thread
/// runtime must).
pub fn assert_send<T: Send>(_: &T) {}
