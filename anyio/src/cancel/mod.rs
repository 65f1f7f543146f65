//! Cancellation and timeouts: cancel scopes, deadlines, shielding.
//!
//! # The model
//!
//! A [`CancelScope`] wraps a future. Cancelling the scope — by [`CancelScope::cancel`], by
//! its deadline, or because a task group inside it failed — is **level-triggered**: from
//! then on, every [checkpoint](#checkpoints) polled inside the scope returns an error of kind
//! [`ErrorKind::Cancelled`], again and again, until the future
//! finishes. The future is *not* dropped: it sees the error, propagates it with `?`, and
//! may run asynchronous cleanup in a [shielded](CancelScope::with_shield) scope, which hides
//! outer cancellation.
//!
//! **Which awaits are checkpoints.** Only anyio's own operations see a cancelled scope:
//! [`sleep`](crate::sleep), locks, events, semaphores, memory streams, task handles,
//! `to_thread`, anyio's networking — every anyio `async fn`. A foreign future is *not* a
//! checkpoint: a tokio `accept()` or `read()`, a `tokio::sync` channel, a smol timer, a
//! library's future never look at cancel scopes, so a task awaiting one keeps waiting in a
//! cancelled scope (and its task group waits for it). Wrap such awaits with
//! [`.cancellable()`](CancellableExt::cancellable) (or [`cancellable`]):
//! `listener.accept().cancellable().await?` returns `Cancelled` as soon as the scope is
//! cancelled. In [debug mode](crate::Runner::debug), and under
//! [`#[anyio::test]`](crate::test), a task that stays pending outside anyio's operations
//! long after its scope was cancelled is reported on stderr.
//!
//! When the future finishes with a cancellation error, the scope that caused it **absorbs**
//! it: [`CancelScope::run`] yields `Ok(None)` and [`CancelScope::cancelled_caught`] becomes
//! true; [`fail_after`] turns the absorbed cancellation into an error of kind
//! [`ErrorKind::TimedOut`]. A scope absorbs only its own
//! cancellation: when an enclosing scope is cancelled too (and visible, i.e. not hidden by a
//! shield), the error travels on to it (trio's rule). Any other error — one raised during
//! cleanup, say — is never swallowed.
//!
//! Deadlines nest: the effective deadline is the nearest one not hidden by a shield, and
//! [`current_effective_deadline`] reports it. A deadline can be moved while the scope runs.
//!
//! ```
//! use std::time::Duration;
//! use anyio::CancelScope;
//!
//! # anyio::run(|| async {
//! let scope = CancelScope::new().with_timeout(Duration::from_millis(20));
//! let out = scope
//!     .run(async {
//!         anyio::sleep(Duration::from_secs(60)).await?; // Err(Cancelled) after 20 ms
//!         Ok::<_, anyio::Error>(42)
//!     })
//!     .await?;
//! assert_eq!(out, None); // the scope absorbed its own cancellation
//! assert!(scope.cancelled_caught());
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Checkpoints
//!
//! A *checkpoint* is a point where a task checks for cancellation and lets other tasks run.
//! Every anyio async operation is one: [`sleep`](crate::sleep), waiting on a task handle,
//! entering a task group's exit, and every primitive of the later chapters. Each checks for
//! cancellation when it is first polled (so a cancelled scope fails even an operation that
//! could complete at once) and, while it waits, whenever it is woken. A checkpoint is also
//! a *schedule point* under a cooperative budget, as tokio's resources are: the checkpoint
//! that spends a task's budget (128 per poll) yields to the scheduler, so a loop of
//! checkpoints cannot starve other tasks (AnyIO yields at every checkpoint; see
//! [`lowlevel::yield_now`](crate::lowlevel::yield_now) for an unconditional yield).
//! [`lowlevel`](crate::lowlevel) has the bare checkpoints for code that implements its own
//! operations.
//!
//! The check costs no allocation and no lock: the scope being polled is published in a
//! thread-local for the duration of each poll, and the check walks up the chain of scopes
//! reading atomic flags (and the clock, only where a deadline is set).
//!
//! # Cancel safety
//!
//! An operation is *cancel safe* when a cancelled call leaves nothing half done: either it
//! completed (and returns its value even though the scope is cancelled meanwhile) or it
//! withdrew cleanly and returns `Cancelled`. Every anyio operation documents what a
//! cancelled call leaves behind in its `# Cancellation` section.
//!
//! # Differences from drop-based cancellation
//!
//! `tokio::time::timeout` and `select!` cancel by *dropping* a future: it gets no chance to
//! clean up asynchronously, and whatever it was doing is cut off wherever it was suspended.
//! A cancel scope instead *tells* the future, at its next checkpoint, and lets it finish on
//! its own terms. Two consequences:
//!
//! * Foreign futures (tokio I/O, a library's future) do not see cancel scopes: they have no
//!   checkpoints. Wrap them with [`cancellable`], which drops them when the scope is
//!   cancelled and returns `Cancelled`.
//! * Dropping a scope's future (from `select!`, say) is still safe: the scope is marked
//!   cancelled, the inner future is dropped, and task groups inside it abort their
//!   children (no child is polled again after the poll in progress returns).

pub(crate) mod deadline;
mod ext;
pub(crate) mod tree;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use deadline::deadline_after;
pub use deadline::{Deadline, current_time};
pub use ext::CancellableExt;
use tree::ScopeNode;

use crate::clock::Timer;
use crate::context;
use crate::error::{Error, ErrorKind, Result, is_cancellation};

/// A scope that can cancel the future running inside it, by a call or by a deadline.
///
/// A `CancelScope` is a handle: clones share one scope, so one clone can run the future
/// while another cancels it from elsewhere (another task, another thread). A scope runs one
/// future, once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use anyio::CancelScope;
///
/// # anyio::run(|| async {
/// let scope = CancelScope::new();
/// let remote = scope.clone();
/// let out = anyio::task_group(|tg| async move {
///     tg.start_soon(async move {
///         anyio::sleep(Duration::from_millis(10)).await?;
///         remote.cancel_with_reason("shutting down");
///         Ok(())
///     })?;
///     scope.run(anyio::sleep_forever()).await
/// })
/// .await?;
/// assert_eq!(out, Some(None));
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct CancelScope {
    node: Arc<ScopeNode>,
}

impl Default for CancelScope {
    fn default() -> Self {
        CancelScope::new()
    }
}

impl fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelScope")
            .field("deadline", &self.deadline())
            .field("shield", &self.shield())
            .field("cancel_called", &self.cancel_called())
            .field("cancelled_caught", &self.cancelled_caught())
            .finish()
    }
}

impl CancelScope {
    /// A scope with no deadline and no shield.
    pub fn new() -> CancelScope {
        CancelScope {
            node: Arc::new(ScopeNode::new(None, false)),
        }
    }

    /// A shielded scope: outer cancellation does not reach the future inside (its own
    /// [`cancel`](Self::cancel) and deadline still do). Use it for cleanup that must run
    /// after a cancellation.
    pub fn shielded() -> CancelScope {
        CancelScope {
            node: Arc::new(ScopeNode::new(None, true)),
        }
    }

    pub(crate) fn from_node(node: Arc<ScopeNode>) -> CancelScope {
        CancelScope { node }
    }

    /// Sets the deadline: at `at`, the scope is cancelled.
    ///
    /// A deadline more than about 400 years ahead could never expire while this process
    /// runs and is kept as no deadline ([`deadline`](Self::deadline) reads `None`); every
    /// other deadline reads back exactly as set (see [`Deadline`]).
    pub fn with_deadline(mut self, at: Instant) -> CancelScope {
        self.preset(Some(deadline::in_range(at)), None);
        self
    }

    /// Sets the deadline to `timeout` from now (AnyIO's `move_on_after` as a scope you can
    /// keep). `Duration::MAX`, or any timeout past the range of `Instant`, means no deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> CancelScope {
        self.preset(Some(deadline_after(timeout)), None);
        self
    }

    /// Turns the shield on or off.
    pub fn with_shield(mut self, shield: bool) -> CancelScope {
        self.preset(None, Some(shield));
        self
    }

    /// The builders' setter: in place on a node only this handle holds (no other clone,
    /// not entered: nothing to invalidate or wake), else through the shared path.
    fn preset(&mut self, deadline: Option<Option<Instant>>, shield: Option<bool>) {
        if let Some(node) = Arc::get_mut(&mut self.node) {
            node.preset(deadline, shield);
            return;
        }
        if let Some(deadline) = deadline {
            self.node.set_deadline(deadline);
        }
        if let Some(shield) = shield {
            self.node.set_shield(shield);
        }
    }

    /// Cancels the scope. Every checkpoint inside now fails with `Cancelled`, and every task
    /// blocked inside is woken. Cancelling twice changes nothing.
    pub fn cancel(&self) {
        let reason = match context::current_task() {
            Some(t) => format!("cancel scope cancelled by task '{}'", t.display_name()),
            None => "cancel scope cancelled".to_owned(),
        };
        self.node.cancel(Some(Arc::from(reason)), false);
    }

    /// Cancels the scope with a reason, which the `Cancelled` errors inside will carry
    /// in their message (with the name of the task that called this, where known).
    pub fn cancel_with_reason(&self, reason: impl fmt::Display) {
        let reason = match context::current_task() {
            Some(t) => format!("{reason} (cancelled by task '{}')", t.display_name()),
            None => reason.to_string(),
        };
        self.node.cancel(Some(Arc::from(reason)), false);
    }

    /// Whether [`cancel`](Self::cancel) was called or the deadline passed and was noticed.
    pub fn cancel_called(&self) -> bool {
        self.node.cancel_called()
    }

    /// Whether the scope absorbed a cancellation: its future finished with a `Cancelled`
    /// error that this scope caused.
    pub fn cancelled_caught(&self) -> bool {
        self.node.cancelled_caught()
    }

    /// The deadline, if one is set.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline()
    }

    /// Moves the deadline (`None` removes it). Works while the scope runs: the new deadline
    /// applies at once, earlier or later.
    ///
    /// As with [`with_deadline`](Self::with_deadline), a deadline past the crate's range
    /// means none.
    pub fn set_deadline(&self, deadline: impl Into<Option<Instant>>) {
        self.node
            .set_deadline(deadline.into().and_then(deadline::in_range));
    }

    /// Whether the scope is shielded.
    pub fn shield(&self) -> bool {
        self.node.shield()
    }

    /// Turns the shield on or off while the scope runs.
    pub fn set_shield(&self, shield: bool) {
        self.node.set_shield(shield);
    }

    /// Runs `fut` inside this scope.
    ///
    /// Resolves to `Ok(Some(value))` when the future completes, `Ok(None)` when the future
    /// failed with the cancellation this scope caused (it is absorbed), and `Err(e)` for
    /// every other error — including a cancellation of an enclosing scope, which must travel
    /// on to it.
    ///
    /// # Cancellation
    ///
    /// Dropping the returned future drops `fut` and marks the scope cancelled.
    ///
    /// # Errors
    ///
    /// Whatever `fut` returns, except the absorbed cancellation; and
    /// [`ErrorKind::InvalidState`] if this scope (or a clone of it) was run before, or when
    /// its deadline cannot be armed (a tokio runtime built without `enable_time()`: the
    /// future is cancelled and this error replaces the absorbed cancellation).
    pub fn run<F, T, E>(&self, fut: F) -> Scoped<F>
    where
        F: Future<Output = std::result::Result<T, E>>,
        E: From<Error> + 'static,
    {
        Scoped {
            driver: Driver::new(self.node.clone()),
            start: Start::Handle,
            fut,
        }
    }
}

/// Drives a future inside a scope node: publishes the node while polling, links it and
/// arms its deadline timer when the future blocks, and closes the node when dropped.
/// Shared by [`Scoped`] and task groups.
#[derive(Debug)]
pub(crate) struct Driver {
    // # Invariant
    // `Some` except during a poll of the inner future, when it is in the thread-local.
    node: Option<Arc<ScopeNode>>,
    timer: Option<(Timer, u64)>,
    /// Why the deadline could not be armed (a tokio runtime without its time driver): the
    /// node was cancelled for it, and the scope reports this instead of absorbing.
    timer_error: Option<Error>,
    finished: bool,
}

impl Driver {
    pub(crate) fn new(node: Arc<ScopeNode>) -> Driver {
        Driver {
            node: Some(node),
            timer: None,
            timer_error: None,
            finished: false,
        }
    }

    /// A driver whose node is created at the first poll ([`Start::Lazy`]).
    fn lazy() -> Driver {
        Driver {
            node: None,
            timer: None,
            timer_error: None,
            finished: false,
        }
    }

    pub(crate) fn node(&self) -> &Arc<ScopeNode> {
        self.node
            .as_ref()
            .expect("the node is back after every poll")
    }

    /// Polls `poll` with the node current.
    pub(crate) fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        let (out, polled) = context::enter_scope(&mut self.node, || poll(cx));
        match out {
            Poll::Ready(v) => {
                self.finish();
                Poll::Ready(v)
            }
            Poll::Pending => {
                if tree::must_link(&polled, false) {
                    self.blocked(cx);
                } else {
                    // A foreign future (or a yield): debug mode's watchdog wants to know.
                    context::note_foreign_pending(self.node());
                }
                Poll::Pending
            }
        }
    }

    /// The inner future is blocked: make sure a cancellation or the deadline wakes it.
    fn blocked(&mut self, cx: &mut Context<'_>) {
        context::mark_blocked();
        let node = self.node().clone();
        node.block(cx.waker());
        let Some(at) = node.deadline_nanos() else {
            return;
        };
        if node.cancel_called() || self.timer_error.is_some() {
            return;
        }
        let timer = match &mut self.timer {
            Some((timer, armed)) => {
                if *armed != at {
                    timer.reset(deadline::nanos_to_instant(at));
                    *armed = at;
                }
                timer
            }
            None => {
                let Ok(backend) = crate::detect::current_backend() else {
                    return;
                };
                match Timer::at(backend, deadline::nanos_to_instant(at)) {
                    Ok(timer) => &mut self.timer.insert((timer, at)).0,
                    Err(e) => return self.deadline_unarmable(&node, e, cx),
                }
            }
        };
        if timer.poll_fire(cx).is_ready() {
            node.cancel(Some(Arc::from("the deadline expired")), true);
            cx.waker().wake_by_ref();
        }
    }

    /// The deadline cannot be armed: cancel the scope so that its future winds down, and
    /// keep the error for the scope to report (a deadline that silently never fires would
    /// hang; a panic inside the runtime would lose the scope's cleanup).
    fn deadline_unarmable(&mut self, node: &Arc<ScopeNode>, e: Error, cx: &mut Context<'_>) {
        node.cancel(Some(Arc::from(e.message())), false);
        self.timer_error = Some(e);
        cx.waker().wake_by_ref();
    }

    /// The error that kept the deadline from being armed, if any (see
    /// [`Driver::deadline_unarmable`]); a scope returns it instead of absorbing the
    /// cancellation it caused.
    pub(crate) fn take_timer_error(&mut self) -> Option<Error> {
        self.timer_error.take()
    }

    pub(crate) fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.timer = None;
            if let Some(node) = &self.node {
                node.close();
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.finished {
            if let Some(node) = &self.node {
                if node.is_entered() {
                    node.cancel(Some(Arc::from("the scope's future was dropped")), false);
                }
            }
            self.finish();
        }
    }
}

/// How a [`Scoped`] future gets its scope node at its first poll.
#[derive(Debug)]
enum Start {
    /// The node of a [`CancelScope`] handle, entered now.
    Handle,
    /// No handle exists (`move_on_after` and friends): the node is created at the first
    /// poll, already entered, with this deadline.
    Lazy(Option<Instant>),
    /// Started.
    Running,
}

pin_project! {
    /// The future of [`CancelScope::run`] and [`move_on_after`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Scoped<F> {
        driver: Driver,
        start: Start,
        #[pin]
        fut: F,
    }
}

impl<F> Scoped<F> {
    fn lazy(deadline: Option<Instant>, fut: F) -> Scoped<F> {
        Scoped {
            driver: Driver::lazy(),
            start: Start::Lazy(deadline),
            fut,
        }
    }
}

impl<F, T, E> Future for Scoped<F>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    type Output = std::result::Result<Option<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::mem::replace(this.start, Start::Running) {
            Start::Running => {}
            Start::Lazy(deadline) => {
                this.driver.node = Some(ScopeNode::entered(context::current_scope(), deadline));
            }
            Start::Handle => {
                if !this.driver.node().enter(context::current_scope()) {
                    this.driver.finished = true;
                    return Poll::Ready(Err(E::from(Error::new(
                        ErrorKind::InvalidState,
                        "a cancel scope can run only one future, once",
                    ))));
                }
            }
        }
        let fut = this.fut;
        let out = std::task::ready!(this.driver.poll(cx, |cx| fut.poll(cx)));
        let timer_error = this.driver.take_timer_error();
        let node = this.driver.node();
        Poll::Ready(match out {
            Ok(v) => Ok(Some(v)),
            Err(e) if absorbs(node, &e) => match timer_error {
                Some(timer_error) => Err(E::from(timer_error)),
                None => {
                    node.set_caught();
                    Ok(None)
                }
            },
            Err(e) => Err(e),
        })
    }
}

/// Trio's rule: a scope absorbs a cancellation error when it was cancelled itself and no
/// cancellation of an enclosing scope is visible through it.
pub(crate) fn absorbs<E: 'static>(node: &ScopeNode, e: &E) -> bool {
    is_cancellation(e) && node.cancel_called() && !node.parent_cancellation_visible()
}

/// Runs `fut` with a deadline `timeout` from now; on expiry, `fut` is cancelled and this
/// resolves to `Ok(None)` (AnyIO's `move_on_after`).
///
/// `Duration::MAX` means no deadline. To read `cancelled_caught` or move the deadline,
/// build the scope yourself: `CancelScope::new().with_timeout(timeout).run(fut)`.
///
/// # Cancellation
///
/// As [`CancelScope::run`].
///
/// # Errors
///
/// Whatever `fut` returns, except the cancellation caused by the timeout; [`ErrorKind::InvalidState`] when the deadline cannot be armed (a tokio
/// runtime built without `enable_time()`): the future is cancelled and this error replaces
/// the absorbed cancellation.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # anyio::run(|| async {
/// let out = anyio::move_on_after(Duration::from_millis(10), anyio::sleep_forever()).await?;
/// assert_eq!(out, None);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn move_on_after<F, T, E>(timeout: Duration, fut: F) -> Scoped<F>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    Scoped::lazy(deadline_after(timeout), fut)
}

/// Runs `fut` with the deadline `deadline`; on expiry, `fut` is cancelled and this resolves
/// to `Ok(None)` (AnyIO's `move_on_at`).
///
/// # Cancellation
///
/// As [`CancelScope::run`].
///
/// # Errors
///
/// Whatever `fut` returns, except the cancellation caused by the deadline; [`ErrorKind::InvalidState`] when the deadline cannot be armed (a tokio
/// runtime built without `enable_time()`): the future is cancelled and this error replaces
/// the absorbed cancellation.
pub fn move_on_at<F, T, E>(deadline: Instant, fut: F) -> Scoped<F>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    Scoped::lazy(deadline::in_range(deadline), fut)
}

/// Runs `fut` with a deadline `timeout` from now; on expiry, `fut` is cancelled and this
/// fails with [`ErrorKind::TimedOut`] (AnyIO's `fail_after`).
///
/// # Cancellation
///
/// As [`CancelScope::run`].
///
/// # Errors
///
/// [`ErrorKind::TimedOut`] on expiry; [`ErrorKind::InvalidState`] when the deadline cannot
/// be armed (a tokio runtime built without `enable_time()`); otherwise whatever `fut`
/// returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use anyio::ErrorKind;
///
/// # anyio::run(|| async {
/// let err = anyio::fail_after(Duration::from_millis(10), anyio::sleep_forever())
///     .await
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TimedOut);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn fail_after<F, T, E>(timeout: Duration, fut: F) -> std::result::Result<T, E>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    fail(Scoped::lazy(deadline_after(timeout), fut)).await
}

/// Runs `fut` with the deadline `deadline`; on expiry, `fut` is cancelled and this fails
/// with [`ErrorKind::TimedOut`] (AnyIO's `fail_at`).
///
/// # Cancellation
///
/// As [`CancelScope::run`].
///
/// # Errors
///
/// [`ErrorKind::TimedOut`] on expiry; [`ErrorKind::InvalidState`] when the deadline cannot
/// be armed (a tokio runtime built without `enable_time()`); otherwise whatever `fut`
/// returns.
pub async fn fail_at<F, T, E>(deadline: Instant, fut: F) -> std::result::Result<T, E>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    fail(Scoped::lazy(deadline::in_range(deadline), fut)).await
}

async fn fail<F, T, E>(scoped: Scoped<F>) -> std::result::Result<T, E>
where
    F: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    match scoped.await? {
        Some(v) => Ok(v),
        None => Err(E::from(Error::timed_out(None))),
    }
}

/// The deadline that applies here: the nearest deadline of the enclosing scopes that is not
/// hidden by a shield, or [`Deadline::Cancelled`] when an enclosing scope is already
/// cancelled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use anyio::Deadline;
///
/// # anyio::run(|| async {
/// assert_eq!(anyio::current_effective_deadline(), Deadline::Never);
/// anyio::move_on_after(Duration::from_secs(5), async {
///     assert!(matches!(anyio::current_effective_deadline(), Deadline::At(_)));
///     Ok::<_, anyio::Error>(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn current_effective_deadline() -> Deadline {
    let Some(scope) = context::current_scope() else {
        return Deadline::Never;
    };
    if scope.check().is_some() {
        return Deadline::Cancelled;
    }
    match scope.effective_deadline() {
        Some(nanos) => Deadline::At(deadline::nanos_to_instant(nanos)),
        None => Deadline::Never,
    }
}

pin_project! {
    /// The future of [`cancellable`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Cancellable<F> {
        #[pin]
        fut: Option<F>,
    }
}

/// Lets a foreign future (tokio I/O, a library's future) take part in cancel scopes: when
/// the enclosing scope is cancelled, the future is dropped and this returns `Cancelled`.
///
/// # Cancellation
///
/// Drop-based: the inner future is dropped at the cancellation, wherever it was suspended,
/// so use it only around futures that are themselves cancel safe.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`] when the scope is cancelled;
/// [`ErrorKind::InvalidState`] when polled again after that.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # anyio::run(|| async {
/// let foreign = tokio::time::sleep(Duration::from_secs(60));
/// let out = anyio::move_on_after(Duration::from_millis(10), anyio::cancellable(foreign)).await?;
/// assert_eq!(out, None);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn cancellable<F: Future>(fut: F) -> Cancellable<F> {
    Cancellable { fut: Some(fut) }
}

impl<F: Future> Future for Cancellable<F> {
    type Output = Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(e) = context::check_cancelled() {
            this.fut.set(None);
            return Poll::Ready(Err(e));
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidState,
                "cancellable future polled after it was cancelled",
            )));
        };
        match fut.poll(cx) {
            Poll::Ready(v) => Poll::Ready(Ok(v)),
            Poll::Pending => {
                context::mark_blocked();
                Poll::Pending
            }
        }
    }
}
