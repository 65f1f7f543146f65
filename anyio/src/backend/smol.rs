//! The smol backend (the alternate, in trio's role): an `async-executor` driven by
//! `async-io`'s reactor, on one thread by default and on several with
//! [`SmolOptions::threads`].

use crate::loom::atomic::{AtomicBool, Ordering};
use std::future::Future;
use std::sync::{Arc, OnceLock};

use event_listener::Event;

use super::Handle;
use crate::error::{Error, ErrorKind, Result};

pub(crate) type Executor = Arc<::async_executor::Executor<'static>>;

/// Options of the smol backend.
///
/// # Examples
///
/// ```
/// use anyio::{Backend, Runner, SmolOptions};
///
/// let runner = Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(2));
/// let lib = runner.run(|| async { anyio::current_async_library() }).unwrap();
/// assert_eq!(lib, "smol");
/// ```
#[derive(Clone, Debug)]
pub struct SmolOptions {
    pub(crate) threads: usize,
}

impl Default for SmolOptions {
    fn default() -> SmolOptions {
        SmolOptions { threads: 1 }
    }
}

impl SmolOptions {
    /// The defaults: one thread, the one that called [`Runner::run`](crate::Runner::run).
    pub fn new() -> SmolOptions {
        SmolOptions::default()
    }

    /// The number of threads that run the executor, the calling thread included (at least 1).
    pub fn threads(mut self, n: usize) -> SmolOptions {
        self.threads = n;
        self
    }
}

/// Runs the executor on `options.threads` threads (the caller's among them) until `root`
/// completes, then stops the helper threads and drops whatever is left on the executor.
pub(crate) fn run<F: Future>(
    options: SmolOptions,
    root: impl FnOnce(Handle) -> F,
) -> Result<F::Output> {
    if options.threads == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "smol threads must be at least 1",
        ));
    }
    let ex: Executor = Arc::new(::async_executor::Executor::new());
    let stop = Arc::new((AtomicBool::new(false), Event::new()));
    let mut helpers = Vec::new();
    for i in 1..options.threads {
        let ex = ex.clone();
        let thread_stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("anyio-smol-{i}"))
            .spawn(move || ::async_io::block_on(ex.run(wait_stop(&thread_stop))));
        match spawned {
            Ok(h) => helpers.push(h),
            Err(e) => {
                signal_stop(&stop);
                return Err(Error::with_source(
                    ErrorKind::Io,
                    "starting a smol executor thread",
                    e,
                ));
            }
        }
    }
    let out = ::async_io::block_on(ex.run(root(Handle::Smol(ex.clone()))));
    signal_stop(&stop);
    for h in helpers {
        let _ = h.join();
    }
    Ok(out)
}

fn signal_stop(stop: &(AtomicBool, Event)) {
    // SeqCst (here and in `wait_stop`): the flag and the event's listener form a
    // store-then-notify / listen-then-load handshake; SeqCst rules out both sides missing
    // each other (event-listener also orders `listen` and `notify` itself).
    stop.0.store(true, Ordering::SeqCst);
    stop.1.notify(usize::MAX);
}

async fn wait_stop(stop: &(AtomicBool, Event)) {
    loop {
        // SeqCst: see `signal_stop`.
        if stop.0.load(Ordering::SeqCst) {
            return;
        }
        let listener = stop.1.listen();
        // SeqCst: the re-check after listening, see `signal_stop`.
        if stop.0.load(Ordering::SeqCst) {
            return;
        }
        listener.await;
    }
}

/// The executor that runs task-group children started outside any anyio run on smol (in
/// `smol::block_on`, `futures_lite::future::block_on`, …): one per process, on as many
/// threads as there are cores, started on first use.
pub(crate) fn global_executor() -> Executor {
    static GLOBAL: OnceLock<Executor> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let ex: Executor = Arc::new(::async_executor::Executor::new());
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            for i in 0..n {
                let ex = ex.clone();
                // A thread that cannot be started leaves the executor with fewer threads;
                // the executor still runs as long as one of them started.
                let _ = std::thread::Builder::new()
                    .name(format!("anyio-smol-global-{i}"))
                    .spawn(move || ::async_io::block_on(ex.run(std::future::pending::<()>())));
            }
            ex
        })
        .clone()
}
