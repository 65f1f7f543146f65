//! Running blocking code in worker threads (AnyIO's "Working with threads").
//!
//! # The model
//!
//! Blocking calls — file and network I/O of synchronous libraries, long computations —
//! would stall every task of the event loop if made in async code. [`run_sync`] runs such
//! a call on a *worker thread* and lets the event loop go on with other tasks meanwhile:
//!
//! ```
//! use std::time::Duration;
//!
//! # anyio::run(|| async {
//! let contents = anyio::to_thread::run_sync(|| {
//!     std::thread::sleep(Duration::from_millis(5)); // e.g. std::fs::read_to_string(..)
//!     String::from("file contents")
//! })
//! .await?;
//! assert_eq!(contents, "file contents");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! * **Where it runs.** On tokio, on the runtime's blocking pool (as
//!   `tokio::task::spawn_blocking`); on smol, on the `blocking` crate's pool (as
//!   `smol::unblock`). Idle threads are reused, so a call does not cost a new thread.
//! * **How many at once.** Every call borrows a token of a [`CapacityLimiter`] for as long
//!   as its thread runs. By default that is [`current_default_thread_limiter`]: 40 tokens
//!   (AnyIO's default), one limiter per run of the event loop, adjustable with
//!   [`CapacityLimiter::set_total_tokens`]. [`Builder::limiter`] passes a limiter of your
//!   own. The 41st concurrent call waits for a token before its thread starts.
//! * **Results and panics** cross back: the closure's value is returned, and a panic in the
//!   closure resumes in the task that awaits the call.
//! * **Reaching back.** A worker thread carries the context of the task that started it,
//!   so it can run async code in the event loop and watch for cancellation with
//!   [`from_thread`](crate::from_thread). It is not an async context itself:
//!   [`current_async_library`](crate::current_async_library) is an error there.
//!
//! # Cancellation
//!
//! A thread cannot be interrupted, so a cancelled call has two honest choices:
//!
//! * **Wait (the default).** The task waits for the thread even when its scope is cancelled
//!   meanwhile, and `run_sync` returns the thread's result: no result is lost. The
//!   cancellation is seen at the task's next checkpoint.
//! * **Abandon** ([`Builder::abandon_on_cancel`]). The call returns `Cancelled` at once; the
//!   thread finishes in the background and its result (or panic) is dropped. Its limiter
//!   token stays borrowed until the thread really ends, so abandoned threads still count
//!   against the limit.
//!   Async code such a thread runs with [`from_thread::run`](crate::from_thread::run) is
//!   detached from the caller's cancellation, since nobody waits for the thread any more.
//!
//! Synchronous code that runs long can stop early by calling
//! [`from_thread::check_cancelled`](crate::from_thread::check_cancelled) now and then:
//!
//! ```
//! use std::time::Duration;
//!
//! fn crunch() -> anyio::Result<()> {
//!     loop {
//!         anyio::from_thread::check_cancelled()?; // Err(Cancelled) once the scope is
//!         std::thread::sleep(Duration::from_millis(1)); // a slice of the work
//!     }
//! }
//!
//! # anyio::run(|| async {
//! let out = anyio::move_on_after(Duration::from_millis(20), async {
//!     anyio::to_thread::run_sync(crunch).await?
//! })
//! .await?;
//! assert_eq!(out, None);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! Dropping the future of a call (from `select!`, say) never stops the thread: it runs to
//! the end and its result is dropped, as with abandoning.
//!
//! ## Cancel safety: a call cancelled before its thread starts
//!
//! With either choice, a call that is cancelled *before its thread starts* — made in a cancelled
//! scope, or cancelled while it waits for a limiter token — returns `Cancelled` and the
//! closure never runs: it is dropped, and everything it owns with it (a pooled database
//! connection moved into it does not go back to its pool). Two ways keep it:
//!
//! * [`run_sync_or_return`] (and [`Builder::run_sync_or_return`]) returns the closure in its
//!   error, [`RunError::into_closure`], to run it another way (or drop it deliberately);
//! * a call inside a shielded scope, `CancelScope::shielded().run(run_sync(f))`, is not
//!   cancelled by the scopes around it: `f` always runs and its result comes back.
//!
//! Dropping the call's future before the thread started (from `select!`) drops the
//! closure too; nothing can give it back then.

use std::fmt;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use crate::backend::BlockingJob;
use crate::context;
use crate::detect;
use crate::error::{Error, ErrorKind, Result};
use crate::from_thread::WorkerContext;
use crate::lowlevel::RunVar;
use crate::sync::CapacityLimiter;

/// AnyIO's default number of worker threads.
const DEFAULT_THREAD_TOKENS: usize = 40;

static DEFAULT_LIMITER: RunVar<CapacityLimiter> = RunVar::new("anyio.to_thread default limiter");

/// The limiter that bounds [`run_sync`] calls made without a limiter of their own: 40
/// tokens, one limiter per run of the event loop (outside [`anyio::run`](fn@crate::run), one
/// per backend). Change its size with [`CapacityLimiter::set_total_tokens`].
///
/// # Errors
///
/// [`ErrorKind::NoEventLoop`] outside any event loop (on a worker thread, for instance).
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let limiter = anyio::to_thread::current_default_thread_limiter()?;
/// assert_eq!(limiter.total_tokens(), 40);
/// limiter.set_total_tokens(60)?; // up to 60 worker threads in this run
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn current_default_thread_limiter() -> Result<CapacityLimiter> {
    if let Ok(limiter) = DEFAULT_LIMITER.get() {
        return Ok(limiter);
    }
    let fresh = CapacityLimiter::new(DEFAULT_THREAD_TOKENS)?;
    DEFAULT_LIMITER.get_or_init(|| fresh)
}

/// Runs `f` on a worker thread and returns its result (AnyIO's `to_thread.run_sync`). See
/// the [module docs](self) for where it runs and how many run at once.
///
/// The same as `Builder::new().run_sync(f)`: bounded by
/// [`current_default_thread_limiter`], and the caller waits for the thread even when
/// cancelled.
///
/// # Cancellation
///
/// A checkpoint: a call in a cancelled scope returns `Cancelled` and `f` never runs; so
/// does one cancelled while it waits for a limiter token. Once the thread has started, the
/// call waits for it and returns its result even if cancelled meanwhile; the cancellation
/// is seen at the next checkpoint.
///
/// # Cancel safety
///
/// A call cancelled *before its thread starts* (already in a cancelled scope, or cancelled
/// while it waits for a limiter token) drops `f` without running it, and with it whatever
/// `f` owns: a pooled connection moved into the closure is gone, not returned to its pool.
/// When what the closure owns matters:
///
/// * [`run_sync_or_return`] gives the closure back in its error
///   ([`RunError::into_closure`]), to run it another way or drop it deliberately;
/// * a call in a shielded scope (`CancelScope::shielded().run(run_sync(f))`) always runs
///   `f`, whatever the enclosing scopes do, and returns its result.
///
/// Once the thread has started, `f` runs to its end (even when the call is abandoned).
///
/// # Errors
///
/// [`ErrorKind::Cancelled`] as above; [`ErrorKind::NoEventLoop`] outside any event loop.
///
/// # Panics
///
/// A panic of `f` resumes here.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let sum = anyio::to_thread::run_sync(|| (1..=100u64).sum::<u64>()).await?;
/// assert_eq!(sum, 5050);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn run_sync<F, T>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().run_sync(f).await
}

/// Options of a [`run_sync`] call: the limiter and what cancellation does (AnyIO's keyword
/// arguments `limiter=` and `abandon_on_cancel=`).
///
/// # Examples
///
/// ```
/// use anyio::CapacityLimiter;
/// use anyio::to_thread::Builder;
///
/// # anyio::run(|| async {
/// let db_threads = CapacityLimiter::new(4)?; // at most 4 threads talk to the database
/// let rows = Builder::new()
///     .limiter(db_threads.clone())
///     .abandon_on_cancel(true)
///     .run_sync(|| vec![1, 2, 3])
///     .await?;
/// assert_eq!(rows.len(), 3);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a Builder does nothing until run_sync is awaited"]
pub struct Builder {
    limiter: Option<CapacityLimiter>,
    abandon_on_cancel: bool,
}

impl Builder {
    /// The defaults: the default limiter, and waiting for the thread when cancelled.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Bounds the call by `limiter` instead of [`current_default_thread_limiter`].
    pub fn limiter(mut self, limiter: CapacityLimiter) -> Builder {
        self.limiter = Some(limiter);
        self
    }

    /// With `true`, a cancelled call returns `Cancelled` at once and leaves the thread to
    /// finish in the background, its result dropped (see the [module docs](self)).
    #[doc(alias = "cancellable")]
    pub fn abandon_on_cancel(mut self, abandon: bool) -> Builder {
        self.abandon_on_cancel = abandon;
        self
    }

    /// Runs `f` on a worker thread with these options and returns its result.
    ///
    /// # Cancellation
    ///
    /// A checkpoint: a call in a cancelled scope (or cancelled while waiting for a limiter
    /// token) returns `Cancelled` and `f` never runs. Once the thread has started, a
    /// cancelled call waits for it and returns its result, unless
    /// [`abandon_on_cancel`](Self::abandon_on_cancel) is set: then it returns `Cancelled`
    /// at once and drops the result when the thread ends.
    ///
    /// # Cancel safety
    ///
    /// Cancelled before its thread starts, the call drops `f` unrun, and what it owns; see
    /// [Cancel safety](run_sync#cancel-safety) for the two ways to keep it
    /// ([`run_sync_or_return`](Self::run_sync_or_return), a shielded scope).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`] as above; [`ErrorKind::NoEventLoop`] outside any event
    /// loop, or when the backend's thread pool has shut down.
    ///
    /// # Panics
    ///
    /// A panic of `f` resumes here (not when the call was abandoned).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use anyio::to_thread::Builder;
    ///
    /// # anyio::run(|| async {
    /// let out = anyio::move_on_after(
    ///     Duration::from_millis(10),
    ///     Builder::new()
    ///         .abandon_on_cancel(true)
    ///         .run_sync(|| std::thread::sleep(Duration::from_millis(200))),
    /// )
    /// .await?;
    /// assert_eq!(out, None); // returned after 10 ms; the thread sleeps on unobserved
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn run_sync<F, T>(self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_sync_or_return(f)
            .await
            .map_err(RunError::into_error)
    }

    /// [`run_sync`](Self::run_sync), giving the closure back when it never ran: the call
    /// was cancelled (or failed) before its thread started. See [Cancel
    /// safety](run_sync#cancel-safety).
    ///
    /// # Cancellation
    ///
    /// As [`run_sync`](Self::run_sync); a `Cancelled` error from before the thread started
    /// carries `f` ([`RunError::into_closure`]).
    ///
    /// # Errors
    ///
    /// As [`run_sync`](Self::run_sync), wrapped in a [`RunError`] that converts into
    /// [`Error`] with `?`.
    ///
    /// # Panics
    ///
    /// A panic of `f` resumes here (not when the call was abandoned).
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::CancelScope;
    /// use anyio::to_thread::Builder;
    ///
    /// # anyio::run(|| async {
    /// let scope = CancelScope::new();
    /// scope.cancel();
    /// let conn = String::from("a pooled connection");
    /// let out = scope
    ///     .run(async move {
    ///         match Builder::new().run_sync_or_return(move || conn.len()).await {
    ///             Ok(n) => Ok(n),
    ///             Err(e) => {
    ///                 // Never ran: run it anyway, shielded from the cancellation, so what
    ///                 // it owns is handled as it should be.
    ///                 let f = e.into_closure().expect("cancelled before the thread started");
    ///                 let n = CancelScope::shielded().run(anyio::to_thread::run_sync(f)).await?;
    ///                 Ok::<_, anyio::Error>(n.expect("a shielded scope is not cancelled"))
    ///             }
    ///         }
    ///     })
    ///     .await?;
    /// assert_eq!(out, Some(19)); // the closure ran: the connection went where it should
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn run_sync_or_return<F, T>(self, f: F) -> std::result::Result<T, RunError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if let Some(e) = context::check_cancelled() {
            return Err(RunError::not_started(e, f));
        }
        let handle = match detect::current_handle() {
            Ok(handle) => handle,
            Err(e) => return Err(RunError::not_started(e, f)),
        };
        let limiter = match self.limiter {
            Some(limiter) => limiter,
            None => match current_default_thread_limiter() {
                Ok(limiter) => limiter,
                Err(e) => return Err(RunError::not_started(e, f)),
            },
        };
        // An anonymous loan: one task may run several calls at once, and no one looks a
        // call's loan up by borrower.
        let token = match limiter.acquire_anonymous().await {
            Ok(token) => token,
            Err(e) => return Err(RunError::not_started(e, f)),
        };
        let worker = WorkerContext::capture(handle.clone(), self.abandon_on_cancel);
        let job = handle.spawn_blocking(move || {
            let out = worker.enter(|| std::panic::catch_unwind(AssertUnwindSafe(f)));
            // The token goes back before the caller learns the result, so a caller that
            // has its result sees the token free again.
            drop(token);
            out
        });
        wait_for_thread(job, self.abandon_on_cancel)
            .await
            .map_err(RunError::started)
    }
}

/// [`run_sync_or_return`] with the default options: runs `f` on a worker thread, or gives
/// it back when it never ran. See [Cancel safety](run_sync#cancel-safety).
///
/// # Cancellation
///
/// As [`run_sync`]; a `Cancelled` error from before the thread started carries `f`.
///
/// # Errors
///
/// As [`run_sync`], wrapped in a [`RunError`].
///
/// # Panics
///
/// A panic of `f` resumes here.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let n = anyio::to_thread::run_sync_or_return(|| 6 * 7).await?;
/// assert_eq!(n, 42);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn run_sync_or_return<F, T>(f: F) -> std::result::Result<T, RunError<F>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().run_sync_or_return(f).await
}

/// The error of [`run_sync_or_return`]: why the call failed and, when its thread never
/// started, the closure that did not run.
///
/// It converts into [`Error`] (and `std::io::Error`) with `?`, dropping the closure.
///
/// # Examples
///
/// ```
/// use anyio::{CancelScope, ErrorKind};
///
/// # anyio::run(|| async {
/// let scope = CancelScope::new();
/// scope.cancel();
/// scope
///     .run(async {
///         let err = anyio::to_thread::run_sync_or_return(|| 1).await.unwrap_err();
///         assert_eq!(err.kind(), ErrorKind::Cancelled);
///         let f = err.into_closure().expect("never ran");
///         assert_eq!(f(), 1); // not lost: it comes back
///         Ok::<_, anyio::Error>(())
///     })
///     .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct RunError<F> {
    error: Error,
    closure: Option<F>,
}

impl<F> RunError<F> {
    fn not_started(error: Error, closure: F) -> RunError<F> {
        RunError {
            error,
            closure: Some(closure),
        }
    }

    fn started(error: Error) -> RunError<F> {
        RunError {
            error,
            closure: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// True when the call was cancelled (kind [`ErrorKind::Cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.error.is_cancelled()
    }

    /// Why the call failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Whether the closure never ran (its thread never started); then
    /// [`into_closure`](Self::into_closure) gives it back.
    pub fn is_not_started(&self) -> bool {
        self.closure.is_some()
    }

    /// The closure, when it never ran; `None` when its thread started (the call was
    /// abandoned, or the thread pool shut down under it).
    pub fn into_closure(self) -> Option<F> {
        self.closure
    }

    /// Why the call failed, dropping the closure.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// Both parts: why the call failed, and the closure when it never ran.
    pub fn into_parts(self) -> (Error, Option<F>) {
        (self.error, self.closure)
    }
}

impl<F> fmt::Debug for RunError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunError")
            .field("error", &self.error)
            .field("not_started", &self.closure.is_some())
            .finish()
    }
}

impl<F> fmt::Display for RunError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<F> std::error::Error for RunError<F> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<F> From<RunError<F>> for Error {
    fn from(e: RunError<F>) -> Error {
        e.error
    }
}

impl<F> From<RunError<F>> for std::io::Error {
    fn from(e: RunError<F>) -> std::io::Error {
        std::io::Error::from(e.error)
    }
}

/// Waits for the worker thread's outcome, following the cancellation protocol of blocking
/// operations, except that a non-abandoning call keeps waiting when cancelled.
/// Dropping the job (an abandoned or dropped call) leaves the thread to finish.
async fn wait_for_thread<T>(
    mut job: BlockingJob<std::thread::Result<T>>,
    abandon_on_cancel: bool,
) -> Result<T> {
    poll_fn(|cx| {
        match job.poll_join(cx) {
            Poll::Ready(Some(Ok(v))) => return Poll::Ready(Ok(v)),
            Poll::Ready(Some(Err(panic))) => std::panic::resume_unwind(panic),
            Poll::Ready(None) => return Poll::Ready(Err(pool_gone())),
            Poll::Pending => {}
        }
        if let Some(e) = context::check_cancelled() {
            if abandon_on_cancel {
                return Poll::Ready(Err(e));
            }
            // Shielded wait: not marked blocked, so the cancelled scope does not wake this
            // task again and again; the thread's completion wakes it. Still an anyio wait,
            // not a foreign future, for debug mode's watchdog.
            context::mark_quiet_wait();
            return Poll::Pending;
        }
        context::mark_blocked();
        Poll::Pending
    })
    .await
}

fn pool_gone() -> Error {
    Error::new(
        ErrorKind::NoEventLoop,
        "the worker thread pool shut down before running the call (the runtime is shutting down)",
    )
}
