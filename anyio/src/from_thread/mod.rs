//! Calling into the event loop from threads: [`run`], [`run_sync`], [`check_cancelled`],
//! and blocking portals ([`BlockingPortal`], [`start_blocking_portal`],
//! [`BlockingPortalProvider`]). The other half of AnyIO's "Working with threads"; the
//! first half, offloading blocking calls to worker threads, is [`to_thread`](crate::to_thread).
//!
//! # Reaching back from a worker thread
//!
//! A thread started by [`to_thread::run_sync`](crate::to_thread::run_sync) carries the
//! context of the task that started it, so it can reach back into that task's event loop:
//!
//! * [`run`] runs async code as a task of the event loop and blocks the thread until it is
//!   done, returning its result;
//! * [`run_sync`] runs a closure in the event loop (in a task of its own), for the odd
//!   thing that must happen there — setting an event, sending into a memory stream;
//! * [`check_cancelled`] tells whether the calling task's cancel scope was cancelled, so
//!   long-running synchronous code can stop early.
//!
//! The async code run by [`run`] runs *inside the calling task's cancel scope*: cancelling
//! that scope cancels it, and a `Cancelled` error it returns travels back through the
//! thread to the scope, which absorbs it as usual.
//!
//! The exception is a thread started with
//! [`abandon_on_cancel`](crate::to_thread::Builder::abandon_on_cancel): the caller's
//! cancellation is what abandons such a thread, which then runs on without anyone awaiting
//! it, so the async code it runs is *detached* from the caller's cancellation (as trio and
//! AnyIO do): it runs in a cancel scope of its own, and a call made after the thread was
//! abandoned still runs. [`check_cancelled`] still reports the caller's cancellation there,
//! so the thread can tell that nobody waits for its result.
//!
//! ```
//! use std::time::Duration;
//!
//! fn blocking_work() -> anyio::Result<u32> {
//!     // … blocking I/O …
//!     anyio::from_thread::run(|| async {
//!         anyio::sleep(Duration::from_millis(1)).await?; // async code, in the event loop
//!         Ok::<_, anyio::Error>(())
//!     })?;
//!     anyio::from_thread::check_cancelled()?;
//!     Ok(42)
//! }
//!
//! # anyio::run(|| async {
//! let answer = anyio::to_thread::run_sync(blocking_work).await??;
//! assert_eq!(answer, 42);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Threads anyio did not start
//!
//! A thread that was not started by `to_thread::run_sync` — one from `std::thread::spawn`,
//! a GUI toolkit's thread, a C library's callback thread — has no event loop to reach:
//! there [`run`], [`run_sync`] and [`check_cancelled`] return an error of kind
//! [`ErrorKind::NoEventLoop`] (AnyIO's rule "threads spawned outside AnyIO cannot use
//! `from_thread.run()`"). Such threads use a [`BlockingPortal`].
//!
//! # Blocking portals
//!
//! A [`BlockingPortal`] lets any synchronous thread run async code in an event loop: it
//! owns a task group, and each call starts a task in it. There are two ways to get one:
//!
//! * [`start_blocking_portal`] starts a new event loop in a thread of its own (on the
//!   backend you choose) — for a synchronous program that uses an async library;
//! * [`with_portal`] opens a portal on the event loop that is already running, for the
//!   duration of an async body that hands it to synchronous code.
//!
//! The portal offers [`call`](BlockingPortal::call) (run async code, block until its
//! result), [`call_sync`](BlockingPortal::call_sync),
//! [`start_task_soon`](BlockingPortal::start_task_soon) (a [`PortalTask`] handle to wait on
//! or cancel from synchronous code), [`start_task`](BlockingPortal::start_task) (waits until
//! the task reports it has started, as [`TaskGroup::start`](crate::TaskGroup::start)),
//! [`task`](BlockingPortal::task) (the same two with a name for the task, as
//! [`TaskGroup::task`](crate::TaskGroup::task)) and [`stop`](BlockingPortal::stop). A
//! GUI-style program, whose main thread is synchronous:
//!
//! ```
//! use std::time::Duration;
//! use anyio::Backend;
//!
//! fn main() -> anyio::Result<()> {
//!     let portal = anyio::from_thread::start_blocking_portal(Backend::default())?;
//!
//!     // An "event handler" runs async code and waits for its answer.
//!     let greeting = portal.call(|| async {
//!         anyio::sleep(Duration::from_millis(1)).await?;
//!         Ok::<_, anyio::Error>(format!("hello from {}", anyio::current_async_library()?))
//!     })?;
//!     assert!(greeting.starts_with("hello from"));
//!
//!     // A background job runs on while the "GUI" goes on; it can be cancelled.
//!     let job = portal.start_task_soon(|| async {
//!         anyio::sleep_forever().await?;
//!         Ok::<_, anyio::Error>(())
//!     })?;
//!     job.cancel();
//!     assert_eq!(job.wait().unwrap_err().kind(), anyio::ErrorKind::TaskCancelled);
//!
//!     portal.stop(false); // or just drop it: the event loop thread ends either way
//!     Ok(())
//! }
//! ```
//!
//! A library with a synchronous API that calls async code from many threads uses a
//! [`BlockingPortalProvider`]: the first thread that needs a portal starts it, the last one
//! to finish stops it, and every thread in between shares it.
//!
//! # Cancellation
//!
//! A task started through a portal runs in a cancel scope of its own;
//! [`PortalTask::cancel`] cancels it from synchronous code. [`BlockingPortal::stop`] with
//! `cancel_remaining` cancels every task still running. A task that ends because it was
//! cancelled reports [`ErrorKind::TaskCancelled`] to whoever waits for it — never a bare
//! `Cancelled`, which no scope on the waiting thread could absorb.

mod portal;
mod slot;

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_lite::FutureExt;

pub use self::portal::{
    BlockingPortal, BlockingPortalProvider, PortalBuilder, PortalLease, PortalTask,
    PortalTaskBuilder, start_blocking_portal, with_portal,
};
pub(crate) use self::slot::Slot;
use crate::backend::Handle;
use crate::cancel::tree::ScopeNode;
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::task::{RunContext, TaskCore, TaskFuture};

/// What a worker thread knows of the task that started it (DESIGN §3.4: task-local values
/// do not reach blocking threads, so this is passed explicitly).
pub(crate) struct WorkerContext {
    handle: Handle,
    /// Weak, so a thread that outlives its event loop (an abandoned `to_thread` call) does
    /// not keep the run alive, and learns that it is gone.
    run: Weak<RunContext>,
    /// The calling task's scope at the call: async code run from the thread runs inside
    /// it, and [`check_cancelled`] reads it.
    scope: Option<Arc<ScopeNode>>,
    /// Set for a call that abandons its thread when cancelled: async code run from the
    /// thread is detached from the caller's cancellation (see [`run`]).
    detached: bool,
    parent: Option<u64>,
}

thread_local! {
    static WORKER: RefCell<Option<WorkerContext>> = const { RefCell::new(None) };
}

impl WorkerContext {
    /// Captures the context of the code being polled here; `handle` is its backend. With
    /// `detached`, the async code the thread runs is not cancelled with the caller.
    pub(crate) fn capture(handle: Handle, detached: bool) -> WorkerContext {
        let task = context::with_current_task(|t| t.map(|t| (Arc::downgrade(&t.env().run), t.id)));
        let (run, parent) = match task {
            Some((run, id)) => (run, Some(id)),
            None => (Arc::downgrade(&RunContext::native(handle.backend())), None),
        };
        WorkerContext {
            handle,
            run,
            scope: context::current_scope(),
            detached,
            parent,
        }
    }

    /// Runs `f` on this thread as an anyio worker thread with this context, then restores
    /// the thread's previous state (pool threads are reused for other work).
    pub(crate) fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore {
            prev: Option<WorkerContext>,
            was_worker: bool,
        }
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.prev.take();
                let _ = WORKER.try_with(|w| *w.borrow_mut() = prev);
                context::set_worker_thread(self.was_worker);
            }
        }
        let was_worker = context::is_worker_thread();
        let prev = WORKER
            .try_with(|w| w.borrow_mut().replace(self))
            .ok()
            .flatten();
        context::set_worker_thread(true);
        let _restore = Restore { prev, was_worker };
        f()
    }

    /// Runs `with` on the context of this worker thread.
    fn with_current<R>(what: &str, with: impl FnOnce(&WorkerContext) -> R) -> Result<R> {
        let out = WORKER
            .try_with(|w| w.borrow().as_ref().map(with))
            .ok()
            .flatten();
        out.ok_or_else(|| not_a_worker(what))
    }

    /// Spawns `fut` as an anyio task of the event loop that started this thread, in the
    /// calling task's scope, and blocks until it is done.
    fn block_on_task<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<std::thread::Result<T>> {
        let run = self.run.upgrade().ok_or_else(loop_finished)?;
        if run.is_finished() {
            return Err(loop_finished());
        }
        let (tx, slot) = Slot::new();
        // An abandoning call's thread may outlive its caller, whose cancellation is what
        // abandons it: its calls run in a scope of their own (trio's rule for abandoned
        // threads; AnyIO detaches them too).
        let parent_scope = if self.detached {
            None
        } else {
            self.scope.clone()
        };
        let core = TaskCore::new_task(
            None,
            self.parent,
            run.clone(),
            self.handle.clone(),
            parent_scope,
        );
        let task_node: Arc<ScopeNode> = core.clone();
        let task = async move {
            let out = AssertUnwindSafe(fut).catch_unwind().await;
            task_node.close();
            tx.send(out);
        };
        self.handle.spawn(TaskFuture::new(core, task));
        wait_while_running(&slot, &run)
    }
}

/// Waits for a task's outcome on `slot` while `run`'s event loop runs. The run may stop
/// between the check before spawning and the task's first poll; a loop that stopped polls
/// no task again, so once `run` is finished an empty slot stays empty (smol) or is closed
/// (tokio drops the task), and the waiter gives up instead of hanging.
fn wait_while_running<T>(slot: &Slot<T>, run: &RunContext) -> Result<T> {
    loop {
        match slot.wait_timeout(FINISHED_POLL) {
            Ok(out) => return out.ok_or_else(loop_finished),
            Err(()) if run.is_finished() => {
                // One last look: the task may have completed just before the loop stopped.
                return match slot.wait_timeout(Duration::ZERO) {
                    Ok(Some(v)) => Ok(v),
                    _ => Err(loop_finished()),
                };
            }
            Err(()) => {}
        }
    }
}

/// How often a thread blocked on the event loop checks that the loop still runs.
const FINISHED_POLL: Duration = Duration::from_millis(100);

fn not_a_worker(what: &str) -> Error {
    Error::new(
        ErrorKind::NoEventLoop,
        format!(
            "{what} can only be called from a thread started by anyio::to_thread::run_sync; \
             from any other thread, use a BlockingPortal (anyio::from_thread::start_blocking_portal)"
        ),
    )
}

fn loop_finished() -> Error {
    Error::new(
        ErrorKind::NoEventLoop,
        "the event loop that started this worker thread has finished",
    )
}

fn resume<T>(out: std::thread::Result<T>) -> T {
    match out {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs async code in the event loop that started this worker thread, and blocks the
/// thread until it is done (AnyIO's `from_thread.run`).
///
/// `f` is called in the event loop, and the future it returns runs there as an anyio task,
/// inside the cancel scope of the task that called
/// [`to_thread::run_sync`](crate::to_thread::run_sync).
///
/// # Cancellation
///
/// This blocks a thread, so it is not itself a checkpoint. The async code inside is
/// cancelled when the calling task's scope is; its `Cancelled` error comes back here, to be
/// returned from the thread's closure and absorbed by the scope. On a thread started with
/// [`abandon_on_cancel`](crate::to_thread::Builder::abandon_on_cancel), the async code is
/// detached from the caller's cancellation instead (see the [module docs](self)).
///
/// # Errors
///
/// Whatever the future returns; [`ErrorKind::NoEventLoop`] (converted into `E`) when this
/// thread was not started by `to_thread::run_sync`, or its event loop has finished.
///
/// # Panics
///
/// A panic of the async code resumes here, on the worker thread.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let n = anyio::to_thread::run_sync(|| {
///     anyio::from_thread::run(|| async { Ok::<_, anyio::Error>(6 * 7) })
/// })
/// .await??;
/// assert_eq!(n, 42);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn run<F, Fut, T, E>(f: F) -> std::result::Result<T, E>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<Error> + Send + 'static,
{
    let out = WorkerContext::with_current("anyio::from_thread::run", |w| {
        w.block_on_task(async move { f().await })
    });
    resume(out.and_then(|r| r).map_err(E::from)?)
}

/// Runs `f` in the event loop that started this worker thread (in an anyio task of its
/// own) and returns its result (AnyIO's `from_thread.run_sync`).
///
/// For the things that must happen in the event loop, such as setting an event or
/// starting a task in a task group.
///
/// # Errors
///
/// [`ErrorKind::NoEventLoop`] when this thread was not started by
/// [`to_thread::run_sync`](crate::to_thread::run_sync), or its event loop has finished.
///
/// # Panics
///
/// A panic of `f` resumes here, on the worker thread.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let lib = anyio::to_thread::run_sync(|| {
///     anyio::from_thread::run_sync(|| anyio::current_async_library())
/// })
/// .await???;
/// assert_eq!(lib, "tokio");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn run_sync<F, T>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let out = WorkerContext::with_current("anyio::from_thread::run_sync", |w| {
        w.block_on_task(async move { f() })
    });
    Ok(resume(out.and_then(|r| r)?))
}

/// Returns `Cancelled` when the cancel scope of the task that started this worker thread
/// has been cancelled (AnyIO's `from_thread.check_cancelled`).
///
/// Long-running synchronous code calls it now and then and returns early with the error,
/// which the scope then absorbs.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`]; [`ErrorKind::NoEventLoop`] when this thread was not started
/// by [`to_thread::run_sync`](crate::to_thread::run_sync).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fn count_forever() -> anyio::Result<()> {
///     loop {
///         anyio::from_thread::check_cancelled()?;
///         std::thread::sleep(Duration::from_millis(1));
///     }
/// }
///
/// # anyio::run(|| async {
/// let out = anyio::move_on_after(Duration::from_millis(20), async {
///     anyio::to_thread::run_sync(count_forever).await?
/// })
/// .await?;
/// assert_eq!(out, None); // the scope absorbed the cancellation the thread returned
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn check_cancelled() -> Result<()> {
    let cancelled = WorkerContext::with_current("anyio::from_thread::check_cancelled", |w| {
        w.scope.as_ref().and_then(|s| s.check())
    })?;
    match cancelled {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
