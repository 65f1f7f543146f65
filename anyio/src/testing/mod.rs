//! Testing and debugging tools (AnyIO's "Testing with AnyIO" and task introspection).
//!
//! * [`#[anyio::test]`](crate::test) runs one async test on every enabled backend.
//! * [`wait_all_tasks_blocked`] orders events in tests without sleeps.
//! * [`get_current_task`] and [`get_running_tasks`] describe the tasks of a run;
//!   [`dump_task_tree`] draws them as a tree with the scope each is blocked in.
//! * [`VirtualClock`] runs a test on virtual time (trio's `MockClock`), on both backends.
//! * [`free_tcp_port`], [`free_udp_port`] and [`FreePortFactory`] find ports to listen on.
//!
//! A test that runs past its `#[anyio::test]` timeout fails with the task tree of that
//! moment in its message (see [`dump_task_tree`]), so a hang says where it hangs.
//!
//! # Virtual time
//!
//! ## The model
//!
//! A run of the event loop may have a virtual clock ([`Runner::virtual_clock`], or
//! `#[anyio::test(virtual_time)]`). Inside that run, the crate clock
//! ([`current_time`](crate::current_time)) reads the virtual clock, and every timer anyio
//! arms — [`sleep`](crate::sleep), [`sleep_until`](crate::sleep_until), every cancel-scope
//! deadline — is an entry of the clock's own timer table (deadline → waker), not a timer of
//! the backend. Virtual time stands still until it is moved: by hand with
//! [`VirtualClock::advance`], or by the clock itself with *autojump*.
//!
//! With autojump ([`VirtualClock::with_autojump`]), a helper thread of the run watches its
//! tasks: when every anyio task of the run is blocked (the condition
//! [`wait_all_tasks_blocked`] waits for) and stays so for the
//! threshold of *real* time, the clock jumps to the earliest armed deadline and wakes the
//! timers due then. It jumps one deadline at a time and waits for the tasks to block again
//! before the next jump, so wake-ups come in the order of their deadlines, on multi-thread
//! executors too. A task that is runnable (woken, being polled, or having just yielded at a
//! checkpoint) keeps the clock still.
//!
//! ## What stays in real time
//!
//! * Timers that are not anyio's: a raw `tokio::time::sleep`, an `async_io::Timer`, a
//!   library's own timeouts. They run on the backend's real clock; a task parked in one
//!   counts as blocked, so autojump may move virtual time while it waits.
//! * Threads: work in [`to_thread`](crate::to_thread) runs in real time, and a task waiting
//!   for a thread is blocked, so autojump moves virtual time past the deadlines armed
//!   meanwhile (trio's `MockClock` does the same). [`current_time`](crate::current_time) on
//!   a worker thread, and anywhere outside an anyio task, reads the real clock.
//! * The test timeout of `#[anyio::test]` and debug mode's reports are real time.
//!
//! Take instants from [`current_time`](crate::current_time), not `Instant::now()`: once
//! the clock has moved ahead, a real `Instant::now() + 1s` lies in the virtual past, and a
//! `sleep_until` of it returns at once.
//!
//! ## Cost when unused
//!
//! A process-wide count of runs with a virtual clock is read (one relaxed load) where the
//! crate reads the clock or arms a timer; while it is zero, nothing else changes.
//!
//! [`Runner::virtual_clock`]: crate::Runner::virtual_clock

mod ports;
mod tree;

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::cancel::tree::ScopeNode;
pub use crate::clock::{VirtualClock, current_clock};
use crate::context;
use crate::error::Result;
use crate::lowlevel;
use crate::run::{Backend, Runner};
use crate::task::RunContext;
pub use crate::task::{TaskInfo, get_current_task, get_running_tasks};
pub use ports::{FreePortFactory, free_tcp_port, free_udp_port};
pub use tree::dump_task_tree;

/// Waits until every other anyio task of this run is blocked: waiting on something (an
/// event, a lock, a sleep, I/O, a child) and not woken since.
///
/// Tests use it to let the other tasks reach their waits before acting, instead of
/// sleeping for a guessed time. Under a [`VirtualClock`] with autojump, the clock does not
/// jump while a task waits here (trio's rule), and the wait itself is in real time.
///
/// # Cancellation
///
/// A checkpoint; returns `Cancelled` when the enclosing scope is cancelled.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// # anyio::run(|| async {
/// let reached = Arc::new(AtomicBool::new(false));
/// anyio::task_group(|tg| {
///     let reached = reached.clone();
///     async move {
///         let r = reached.clone();
///         tg.start_soon(async move {
///             r.store(true, Ordering::SeqCst);
///             anyio::sleep_forever().await
///         })?;
///         anyio::testing::wait_all_tasks_blocked().await?;
///         assert!(reached.load(Ordering::SeqCst)); // the child is now parked in its sleep
///         tg.cancel_scope().cancel();
///         Ok(())
///     }
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn wait_all_tasks_blocked() -> Result<()> {
    lowlevel::checkpoint_if_cancelled().await?;
    let _waiting = crate::clock::waiting();
    lowlevel::yield_now().await;
    let mut spins = 0u32;
    while !crate::task::all_other_tasks_blocked() {
        spins += 1;
        if spins < 64 {
            lowlevel::checkpoint_if_cancelled().await?;
            lowlevel::yield_now().await;
        } else {
            // Other threads are busy: stop spinning on a core they may need.
            // Real time: a virtual sleep would move (or wait for) the virtual clock.
            crate::time::sleep_real(Duration::from_micros(200)).await?;
        }
    }
    Ok(())
}

/// What an `#[anyio::test]` function may return.
#[doc(hidden)]
pub trait TestOutcome {
    fn into_outcome(self) -> std::result::Result<(), String>;
}

impl TestOutcome for () {
    fn into_outcome(self) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl<E: Debug> TestOutcome for std::result::Result<(), E> {
    fn into_outcome(self) -> std::result::Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// The options of one test generated by `#[anyio::test]` (built by the macro).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct __TestOptions {
    timeout: Duration,
    current_thread: bool,
    threads: Option<usize>,
    clock: Option<Option<Duration>>,
}

impl __TestOptions {
    /// A test that fails after `timeout` of real time.
    pub fn new(timeout: Duration) -> __TestOptions {
        __TestOptions {
            timeout,
            current_thread: false,
            threads: None,
            clock: None,
        }
    }

    /// tokio's current-thread scheduler; smol on one thread (its default).
    pub fn current_thread(mut self) -> __TestOptions {
        self.current_thread = true;
        self
    }

    /// tokio's multi-thread scheduler with `n` workers; smol on `n` threads.
    pub fn threads(mut self, n: usize) -> __TestOptions {
        self.threads = Some(n);
        self
    }

    /// A virtual clock, jumping by itself after `autojump` when given.
    pub fn virtual_time(mut self, autojump: Option<Duration>) -> __TestOptions {
        self.clock = Some(autojump);
        self
    }

    fn runner(&self, backend: Backend) -> Runner {
        // The cancellation watchdog of debug mode: a test that hangs on a foreign future in
        // a cancelled scope says so on stderr.
        let mut runner = Runner::new(backend).cancel_watchdog(crate::watchdog::DEFAULT_THRESHOLD);
        #[cfg(feature = "tokio")]
        {
            let mut tokio = crate::TokioOptions::new();
            if self.current_thread {
                tokio = tokio.flavor(crate::Flavor::CurrentThread);
            }
            if let Some(n) = self.threads {
                tokio = tokio.worker_threads(n);
            }
            runner = runner.tokio_options(tokio);
        }
        #[cfg(feature = "smol")]
        {
            let threads = if self.current_thread {
                1
            } else {
                self.threads.unwrap_or(1)
            };
            runner = runner.smol_options(crate::SmolOptions::new().threads(threads));
        }
        if let Some(autojump) = self.clock {
            runner = runner.virtual_clock(match autojump {
                Some(threshold) => VirtualClock::with_autojump(threshold),
                None => VirtualClock::new(),
            });
        }
        runner
    }
}

/// Where the hang report of a test finds its run: set by the test's root task at its start.
type HangSource = Arc<Mutex<Option<(Arc<RunContext>, Arc<ScopeNode>)>>>;

/// The body of a test generated by `#[anyio::test]`: runs `test` on `backend` in a thread
/// of its own and fails the test when it returns an error, panics, or runs past its
/// timeout — then with the task tree of that moment in the message.
#[doc(hidden)]
pub fn __run_test<F, Fut>(backend: Backend, options: __TestOptions, test: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: TestOutcome,
{
    let (tx, rx) = mpsc::channel();
    let source: HangSource = Arc::default();
    let set_source = source.clone();
    let runner = options.runner(backend);
    let thread = std::thread::Builder::new()
        .name(format!("anyio-test-{backend}"))
        .spawn(move || {
            let out: crate::Result<_> = runner.run(|| async move {
                if let (Some(run), Some(root)) = (RunContext::current(), context::current_scope()) {
                    *set_source.lock().unwrap_or_else(|e| e.into_inner()) = Some((run, root));
                }
                Ok(test().await.into_outcome())
            });
            let _ = tx.send(out);
        })
        .expect("spawning the test thread");
    let timeout = options.timeout;
    match rx.recv_timeout(timeout) {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => panic!("test failed on {backend}: {e}"),
        Ok(Err(e)) => panic!("test could not run on {backend}: {e}"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let tree = match &*source.lock().unwrap_or_else(|e| e.into_inner()) {
                Some((run, root)) => tree::render(run, Some(root)),
                None => "task tree: the test's run never started\n".to_owned(),
            };
            panic!("test timed out after {timeout:?} on {backend}; where it hangs:\n{tree}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("test thread ended without a result on {backend}"),
        },
    }
}
