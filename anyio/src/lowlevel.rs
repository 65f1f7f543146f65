//! Low-level building blocks for code that implements its own async operations: the bare
//! checkpoints and [`RunVar`].
//!
//! Every anyio primitive goes through the checkpoints of this module (or the internal
//! `wait` they share): this is the one place where a task observes cancellation and
//! yields, as trio's `_core/_traps.py` is for trio.

// `RunVar::new` is a `const fn` and `NEXT_VAR` a static: std's atomics in both builds (loom's
// have no const `new`).
use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::task::RunContext;

/// Checks for cancellation, and lets other tasks run if this task has run long enough.
///
/// This is what every anyio operation does at least once; call it in long computations so
/// they can be cancelled and do not starve other tasks.
///
/// A checkpoint is a *schedule point under a cooperative budget*, as tokio's own resources
/// are: a task may pass 128 checkpoints in one poll, and the checkpoint that exhausts the
/// budget yields to the scheduler. So a loop of checkpoints lets every other task run at
/// least once per 128 iterations, while a checkpoint in a hot path costs a few
/// nanoseconds. (AnyIO yields at every checkpoint; [`yield_now`] does that when it is
/// really needed.)
///
/// # Cancellation
///
/// Returns `Cancelled` when the enclosing scope is cancelled; nothing to undo.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// for chunk in 0..1000 {
///     let _ = chunk * 2; // some work
///     anyio::lowlevel::checkpoint().await?;
/// }
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn checkpoint() -> Checkpoint {
    Checkpoint::new()
}

/// The checkpoint as a nameable future: what [`checkpoint`] returns, and the one place
/// where an anyio operation observes cancellation and yields on its way in — `checkpoint`,
/// [`cancel_shielded_checkpoint`], every blocking operation's prelude (the internal
/// `wait`), and the memory object streams' operations, which keep one inside their own
/// futures (trio's `_core/_traps.py` has this role in trio).
///
/// It checks the enclosing cancel scopes and spends one unit of the task's cooperative
/// budget; when the budget is spent, it yields once (waking its task at once: the executor
/// runs every other ready task first) and checks the scopes again when resumed. It holds
/// nothing and registers nothing, so dropping it at any point leaves no trace.
///
/// # Cancellation
///
/// Resolves to `Cancelled` when the enclosing scope is cancelled (never for
/// [`Checkpoint::shielded`]); nothing to undo.
///
/// # Examples
///
/// ```
/// use anyio::lowlevel::Checkpoint;
///
/// # anyio::run(|| async {
/// let checkpoint: Checkpoint = anyio::lowlevel::checkpoint();
/// checkpoint.await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Checkpoint {
    phase: Phase,
    /// `false` for a schedule point that does not look at cancellation.
    cancellable: bool,
}

/// Where a [`Checkpoint`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not polled yet.
    Start,
    /// Yielded once; check again when resumed.
    Yielded,
    /// Passed.
    Done,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

impl Checkpoint {
    /// A checkpoint: a cancellation check and a schedule point.
    pub fn new() -> Checkpoint {
        Checkpoint {
            phase: Phase::Start,
            cancellable: true,
        }
    }

    /// A schedule point that ignores cancellation (what [`cancel_shielded_checkpoint`]
    /// awaits); it always resolves to `Ok`.
    pub fn shielded() -> Checkpoint {
        Checkpoint {
            phase: Phase::Start,
            cancellable: false,
        }
    }

    /// Polls the checkpoint in place, for a future that keeps one inside (a memory stream
    /// operation): `Ready(Ok)` once passed, and again on every later poll until
    /// [`reset`](Self::reset).
    #[inline]
    pub(crate) fn poll_in_place(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match self.phase {
            Phase::Start => {
                // The schedule point comes first: a future dropped while it yields has
                // taken nothing, whereas yielding after a completed operation would lose
                // its value on such a drop.
                let must_yield = if self.cancellable {
                    context::check_and_spend()?
                } else {
                    context::spend_budget()
                };
                if must_yield {
                    self.phase = Phase::Yielded;
                    context::mark_yielded();
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            Phase::Yielded => {
                if let Some(e) = self.cancellable.then(context::check_cancelled).flatten() {
                    return Poll::Ready(Err(e));
                }
            }
            Phase::Done => {}
        }
        self.phase = Phase::Done;
        Poll::Ready(Ok(()))
    }

    /// Whether the checkpoint was passed.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Makes the checkpoint new again, for the next operation of the same future.
    pub(crate) fn reset(&mut self) {
        self.phase = Phase::Start;
    }

    /// The cancellation check alone, with no schedule point: the first step of the sync
    /// primitives' acquisitions (AnyIO's `checkpoint_if_cancelled`), whose fast path then
    /// completes in the same poll.
    pub(crate) fn check() -> Result<()> {
        match context::check_cancelled() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Future for Checkpoint {
    type Output = Result<()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.poll_in_place(cx)
    }
}

/// Checks for cancellation without yielding.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`] when the enclosing scope is cancelled.
pub async fn checkpoint_if_cancelled() -> Result<()> {
    Checkpoint::check()
}

/// A schedule point that does not check for cancellation: it completes even in a
/// cancelled scope. Like [`checkpoint`], it yields when the task's cooperative budget is
/// spent.
///
/// # Cancellation
///
/// Not a cancellation point.
pub async fn cancel_shielded_checkpoint() {
    // A shielded checkpoint cannot fail.
    let _ = Checkpoint::shielded().await;
}

/// Yields to the scheduler now, whatever the budget: every other ready task runs before
/// this one continues (trio's `checkpoint`, asyncio's `sleep(0)`). Not a cancellation point.
///
/// # Cancellation
///
/// Not a cancellation point.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// anyio::lowlevel::yield_now().await;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn yield_now() {
    context::refill_budget();
    crate::context::yield_now().await;
}

/// The shared shape of every blocking anyio operation: a cancellation check, then `poll`
/// until it is ready. A wake-up by cancellation makes it return `Cancelled` — unless `poll`
/// is ready by then, in which case the result wins (the operation completed, so nothing may
/// be lost). Every call is a schedule point (under the cooperative budget), taken before
/// the operation is first attempted.
///
/// `poll` must register `cx`'s waker before returning `Pending`; an operation that hands
/// out resources must withdraw its waiter when the returned future is dropped or cancelled.
pub(crate) async fn wait<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Result<T> {
    Checkpoint::new().await?;
    // The first poll comes right after the checkpoint's check, in the same poll of the
    // task: as in the I/O gate (`streams::bytes::Gate`), it only marks the task blocked; a
    // cancellation from another thread meanwhile is caught by the scope's link re-check.
    let mut checked = true;
    poll_fn(|cx| {
        if let Poll::Ready(v) = poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if std::mem::take(&mut checked) {
            context::mark_blocked();
            return Poll::Pending;
        }
        match context::cancelled_or_block() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Pending,
        }
    })
    .await
}

/// Waits forever (until cancelled), without yielding first: the body of
/// [`sleep_forever`](crate::sleep_forever).
pub(crate) fn wait_cancelled() -> impl Future<Output = Error> {
    poll_fn(|_cx| match context::cancelled_or_block() {
        Some(e) => Poll::Ready(e),
        None => Poll::Pending,
    })
}

static NEXT_VAR: AtomicUsize = AtomicUsize::new(0);

/// A variable scoped to one run of the event loop: each [`anyio::run`](fn@crate::run) sees its
/// own value, starting from the default (AnyIO's `RunVar`, trio's `RunVar`).
///
/// Libraries use it for per-loop state, such as a default capacity limiter, that must not
/// leak from one run into the next. Outside `anyio::run` (a native tokio runtime, a plain
/// `smol::block_on`), all code of one backend shares one value.
///
/// # Examples
///
/// ```
/// use anyio::lowlevel::RunVar;
///
/// static REQUESTS: RunVar<u32> = RunVar::new("requests");
///
/// for _ in 0..2 {
///     anyio::run(|| async {
///         assert_eq!(REQUESTS.get_or(0)?, 0); // each run starts afresh
///         REQUESTS.set(7)?;
///         assert_eq!(REQUESTS.get()?, 7);
///         Ok::<_, anyio::Error>(())
///     })
///     .unwrap();
/// }
/// ```
pub struct RunVar<T> {
    name: &'static str,
    key: AtomicUsize,
    _marker: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for RunVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunVar").field("name", &self.name).finish()
    }
}

impl<T: Clone + Send + Sync + 'static> RunVar<T> {
    /// A variable with no value yet in any run.
    pub const fn new(name: &'static str) -> RunVar<T> {
        RunVar {
            name,
            key: AtomicUsize::new(usize::MAX),
            _marker: PhantomData,
        }
    }

    /// The variable's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn key(&self) -> usize {
        // Acquire: pairs with the AcqRel exchange below that published the key.
        let key = self.key.load(Ordering::Acquire);
        if key != usize::MAX {
            return key;
        }
        // Relaxed: a unique-id counter; only the value's uniqueness matters.
        let fresh = NEXT_VAR.fetch_add(1, Ordering::Relaxed);
        // AcqRel/Acquire: the first variable to claim a key publishes it; a loser reads
        // the winner's key. (The key is a plain integer, so Relaxed would do as well.)
        match self
            .key
            .compare_exchange(usize::MAX, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(existing) => existing,
        }
    }

    fn run() -> Result<Arc<RunContext>> {
        RunContext::current().ok_or_else(|| {
            Error::new(
                ErrorKind::NoEventLoop,
                "a RunVar is only available inside an event loop",
            )
        })
    }

    /// The value in this run.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when no value was set in this run (AnyIO's `LookupError`);
    /// [`ErrorKind::NoEventLoop`] outside any event loop.
    pub fn get(&self) -> Result<T> {
        let run = Self::run()?;
        let vars = run.vars.lock();
        match vars.get(&self.key()).and_then(|v| v.downcast_ref::<T>()) {
            Some(v) => Ok(v.clone()),
            None => Err(Error::new(
                ErrorKind::InvalidState,
                format!("run variable '{}' has no value in this run", self.name),
            )),
        }
    }

    /// The value in this run, or `default` when none was set.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoEventLoop`] outside any event loop.
    pub fn get_or(&self, default: T) -> Result<T> {
        self.get_or_init(|| default)
    }

    /// The value in this run, setting it to `init()` first when none was set.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoEventLoop`] outside any event loop.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> Result<T> {
        let run = Self::run()?;
        let mut vars = run.vars.lock();
        let slot = vars
            .entry(self.key())
            .or_insert_with(|| Box::new(init()) as Box<dyn Any + Send + Sync>);
        match slot.downcast_ref::<T>() {
            Some(v) => Ok(v.clone()),
            None => unreachable!("a RunVar's key is used for one type only"),
        }
    }

    /// Sets the value in this run; returns the previous one.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoEventLoop`] outside any event loop.
    pub fn set(&self, value: T) -> Result<Option<T>> {
        let run = Self::run()?;
        let mut vars = run.vars.lock();
        let prev = vars.insert(self.key(), Box::new(value));
        Ok(prev.and_then(|p| p.downcast::<T>().ok()).map(|b| *b))
    }

    /// Removes the value from this run; returns it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoEventLoop`] outside any event loop.
    pub fn reset(&self) -> Result<Option<T>> {
        let run = Self::run()?;
        let mut vars = run.vars.lock();
        let prev = vars.remove(&self.key());
        Ok(prev.and_then(|p| p.downcast::<T>().ok()).map(|b| *b))
    }
}
