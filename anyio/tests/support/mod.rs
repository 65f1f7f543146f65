//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyio::{Backend, Runner, SmolOptions, TokioOptions};

/// An ordered record of events, shared between tasks.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Sets a flag when dropped: proves a future was dropped (aborted) rather than leaked.
pub struct DropFlag(pub Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), so stress tests need no
/// extra dependency and print a seed that reproduces them.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs `f` on a thread of its own and fails the test if it takes longer than `secs`
/// seconds, so a bug that hangs fails the test instead of stalling the suite.
pub fn with_timeout<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("timed out after {secs} s"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sends before it ends"),
        },
    }
}

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
    let (out, took) = with_timeout(STRESS_TIMEOUT.as_secs(), move || {
        let start = Instant::now();
        (runner.run(test), start.elapsed())
    });
    match out {
        Ok(report) => println!("{name} on {backend}: {report} in {took:.2?}"),
        Err(e) => panic!("{name} on {backend} failed: {e}"),
    }
}

/// Everything `stream` receives until the peer's end of stream.
pub async fn receive_all<S: anyio::streams::ByteReceiveStream>(
    stream: &S,
) -> anyio::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match stream.receive(65536).await {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(e) if e.kind() == anyio::ErrorKind::EndOfStream => return Ok(out),
            Err(e) => return Err(e),
        }
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

/// (process group, session) of process `pid`, read from `/proc/<pid>/stat` (not from
/// `getpgrp`/`getsid`: inside a PID namespace whose leaders live outside it, as in a CI
/// container, those read 0, which rustix's `Pid` cannot hold).
pub fn group_and_session(pid: u32) -> (i32, i32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    // The command name may hold spaces and parentheses: the fields start after the last ')'
    // as state, ppid, pgrp, session.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 1..]
        .split_whitespace()
        .collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}
