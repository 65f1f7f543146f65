//! Task groups: structured concurrency (AnyIO's "Creating and managing tasks").
//!
//! # The model
//!
//! [`task_group`] runs a *host body* together with the *child tasks* it starts, as one
//! group. The group's future resolves only after every child has finished, so no task
//! outlives the group that started it.
//!
//! * [`TaskGroup::start_soon`] spawns a child as a real task of the backend (it runs in
//!   parallel on a multi-thread runtime) and returns a [`TaskHandle`] to await its result,
//!   cancel it or ask its status.
//! * [`TaskGroup::start`] spawns a child and waits until it calls
//!   [`TaskStatus::started`] — a server reporting that it listens, say — and returns the
//!   value it passed.
//! * When a child (or the host body) fails, the group's cancel scope is cancelled: the
//!   siblings and the host body see `Cancelled` at their next checkpoint. The group then
//!   returns every error that was not a cancellation — one error as it is, several as an
//!   error of kind [`ErrorKind::Multiple`] listing all. None is
//!   lost.
//! * A child that panics cancels the group too, and the panic resumes in the task that
//!   awaits the group once every child has finished (as `std::thread::scope` does). A
//!   program built with `panic = "abort"` cannot catch panics, so there a child's panic
//!   ends the process.
//! * Children run inside the group's cancel scope: cancelling
//!   [`TaskGroup::cancel_scope`] cancels the host body and every child.
//!
//! ```
//! use std::time::Duration;
//!
//! # anyio::run(|| async {
//! let total = anyio::task_group(|tg| async move {
//!     let a = tg.start_soon(async { anyio::sleep(Duration::from_millis(5)).await?; Ok(1) })?;
//!     let b = tg.start_soon(async { Ok(2) })?;
//!     Ok(a.await? + b.await?)
//! })
//! .await?;
//! assert_eq!(total, Some(3));
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # When the group absorbs its own cancellation
//!
//! A group whose scope was cancelled (by `tg.cancel_scope().cancel()`, or by its deadline)
//! ends normally, like a cancel scope: [`task_group`] resolves to `Ok(None)` when the host
//! body ended with that cancellation, and to `Ok(Some(value))` when the body returned a
//! value. A cancellation of an *enclosing* scope travels on as `Err(Cancelled)`.
//!
//! # Dropping a group's future
//!
//! Dropping the future of [`task_group`] before it resolves (from `select!`, say) marks the
//! group's scope cancelled and aborts every child: after the poll in progress (if any)
//! returns, no child is polled again, and its future is dropped.
//!
//! # Leaving a group is a checkpoint
//!
//! A group whose body and children finished without ever making it wait still checks for
//! cancellation of the enclosing scope and passes a schedule point on the way out (as
//! [`checkpoint`](crate::lowlevel::checkpoint) does, under the cooperative budget), as
//! AnyIO's task groups do: a loop that opens and leaves empty groups lets other tasks run
//! and can be cancelled.
//!
//! # Child results
//!
//! A child (and the host body) returns an [`anyio::Result`](crate::Result). Where nothing
//! else fixes the error type, end the block with [`anyio::Ok(v)`](crate::Ok); inside it,
//! `?` converts every error that `anyio::Error` has a `From` for (`std::io::Error`, a memory
//! stream's `SendError<T>`, `anyhow::Error` with the `anyhow` feature), and
//! [`Error::other`] wraps any other error type (`.map_err(anyio::Error::other)?`). A child
//! that never returns names its value type: `tg.start_soon::<_, ()>(async move { loop { … } })`.
//! (Why children are not generic over their error type: `docs/decisions.md`.)
//!
//! # Recipe: graceful shutdown of a server
//!
//! *Cancelling the group and then shielding the drain does not work.* The handlers are the
//! group's children, inside its cancel scope: `tg.cancel_scope().cancel()` cancels every
//! request in flight at its next checkpoint, and a [`CancelScope::shielded`] around the
//! host's "wait for the handlers" protects only the host's own code, not the handlers.
//!
//! What works: cancel only the *accept loop* (a scope of its own, cancelled when a shutdown
//! [`Event`](crate::Event) is set), let the group's exit wait for the handlers in flight,
//! and give the group's scope a deadline as the hard stop for handlers that outstay the
//! grace period.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::{Duration, Instant};
//! use anyio::{CancelScope, Event, MemoryObjectReceiveStream, TaskGroup};
//!
//! /// A request takes `n` × 10 ms; request 99 never ends.
//! async fn handle(n: u64, done: Arc<AtomicUsize>) -> anyio::Result<()> {
//!     if n == 99 {
//!         anyio::sleep_forever().await?;
//!     }
//!     anyio::sleep(Duration::from_millis(10 * n)).await?;
//!     done.fetch_add(1, Ordering::SeqCst);
//!     Ok(())
//! }
//!
//! /// Accepts requests (a memory stream stands in for a listener) until cancelled or
//! /// until the listener is closed.
//! async fn accept_loop(
//!     requests: &MemoryObjectReceiveStream<u64>,
//!     handlers: &TaskGroup,
//!     done: &Arc<AtomicUsize>,
//! ) -> anyio::Result<()> {
//!     loop {
//!         let n = match requests.receive().await {
//!             Ok(n) => n,
//!             Err(e) if e.kind() == anyio::ErrorKind::EndOfStream => return Ok(()),
//!             Err(e) => return Err(e),
//!         };
//!         handlers.start_soon(handle(n, done.clone()))?;
//!     }
//! }
//!
//! async fn serve(
//!     requests: MemoryObjectReceiveStream<u64>,
//!     shutdown: Event,
//!     grace: Duration,
//!     done: Arc<AtomicUsize>,
//! ) -> anyio::Result<()> {
//!     anyio::task_group(|handlers| async move {
//!         let accepting = CancelScope::new();
//!         let stop = accepting.clone();
//!         handlers.start_soon(async move {
//!             shutdown.wait().await?;
//!             stop.cancel(); // stops accepting; the handlers in flight go on
//!             anyio::Ok(())
//!         })?;
//!         accepting.run(accept_loop(&requests, &handlers, &done)).await?;
//!         // Draining: the group's exit waits for the handlers; past the grace period, its
//!         // deadline cancels those still running.
//!         handlers.cancel_scope().set_deadline(Instant::now() + grace);
//!         anyio::Ok(())
//!     })
//!     .await?;
//!     Ok(())
//! }
//!
//! # anyio::run(|| async {
//! let done = Arc::new(AtomicUsize::new(0));
//! let shutdown = Event::new();
//! let (tx, rx) = anyio::create_memory_object_stream(0);
//! let started = Instant::now();
//! let d = done.clone();
//! anyio::task_group(|tg| async move {
//!     tg.start_soon(serve(rx, shutdown.clone(), Duration::from_millis(500), d))?;
//!     for n in [1, 3, 99] {
//!         tx.send(n).await?; // capacity 0: returns once the server has accepted it
//!     }
//!     shutdown.set(); // a signal handler would do this
//!     anyio::Ok(())
//! })
//! .await?;
//! // Both real requests completed after the shutdown; the stuck one was stopped at the
//! // end of the grace period.
//! assert_eq!(done.load(Ordering::SeqCst), 2);
//! assert!(started.elapsed() >= Duration::from_millis(500));
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use futures_lite::FutureExt;
use futures_lite::future::CatchUnwind;

use crate::cancel::tree::ScopeNode;
use crate::cancel::{CancelScope, Driver, absorbs};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel;
use crate::task::{Env, Outcome, RunContext, TaskCore, TaskFuture};

mod builder;
pub(crate) mod start_slot;

pub use builder::TaskBuilder;

pub(crate) use start_slot::{Progress, StartSlot};

type Panic = Box<dyn Any + Send + 'static>;

/// Runs `body` as the host of a new task group; resolves once the body and every child it
/// started have finished.
///
/// Resolves to `Ok(Some(v))` with the body's value, `Ok(None)` when the group absorbed its
/// own cancellation (see the [module docs](self)), or the errors of the group.
///
/// # Cancellation
///
/// A cancellation of an enclosing scope reaches the body and every child. The group still
/// waits for every child to finish, then returns `Err(Cancelled)`. Dropping the future
/// aborts the children.
///
/// # Errors
///
/// The body's or a child's error (cancellations excepted); several as one error of kind
/// [`ErrorKind::Multiple`];
/// [`ErrorKind::NoEventLoop`] when no backend serves this
/// thread.
///
/// # Panics
///
/// Resumes the panic of the body or of a child, after every child has finished.
///
/// # Examples
///
/// ```
/// use anyio::{Error, ErrorKind};
///
/// # anyio::run(|| async {
/// let err = anyio::task_group(|tg| async move {
///     tg.start_soon(anyio::sleep_forever())?; // cancelled when its sibling fails
///     tg.start_soon(async { Err::<(), _>(Error::new(ErrorKind::Other, "boom")) })?;
///     Ok(())
/// })
/// .await
/// .unwrap_err();
/// assert_eq!(err.message(), "boom");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn task_group<F, Fut, T>(body: F) -> Result<Option<T>>
where
    F: FnOnce(TaskGroup) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let group = TaskGroup::new()?;
    let inner = group.inner.clone();
    let mut driver = Driver::new(inner.node.clone());
    let mut body = pin!(AssertUnwindSafe(body(group)).catch_unwind());
    // Declared after the driver and the body so that it is dropped first: a dropped group's
    // children are marked aborted before the driver's drop cancels the scope and the body's
    // drop (of a sender, say) wakes them, or a woken child could be polled once more
    // (invariant 3).
    let _abort = AbortOnDrop(inner.clone());
    let mut body_out: Option<std::thread::Result<Result<T>>> = None;
    let mut waited = false;

    poll_fn(|cx| {
        let polled = driver.poll(cx, |cx| {
            if body_out.is_none() {
                let out = std::task::ready!(body.as_mut().poll(cx));
                inner.body_finished(&out);
                body_out = Some(out);
            }
            inner.poll_children_done(cx)
        });
        waited |= polled.is_pending();
        polled
    })
    .await;
    // The group's own deadline could not be armed (a tokio runtime without its time driver):
    // the group was cancelled instead, and that error is the outcome.
    if let Some(e) = driver.take_timer_error() {
        let _ = group_outcome(
            &inner,
            body_out.expect("the body finished before the group"),
        );
        return Err(e);
    }

    let out = group_outcome(
        &inner,
        body_out.expect("the body finished before the group"),
    );
    // Leaving a group is a checkpoint, as in AnyIO: one that never had to wait (no child
    // outlived the body, which never blocked) still checks the enclosing cancellation and
    // passes a schedule point, so a loop of such groups cannot starve its siblings.
    if !waited {
        if let Err(cancelled) = lowlevel::checkpoint().await {
            return out.and(Err(cancelled));
        }
    }
    out
}

/// What a finished group resolves to (resuming a panic of the body or of a child).
fn group_outcome<T>(
    inner: &GroupInner,
    body_out: std::thread::Result<Result<T>>,
) -> Result<Option<T>> {
    let finished = inner.take_finished();
    let body_result = match body_out {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(r) => r,
    };
    if let Some(panic) = finished.panic {
        std::panic::resume_unwind(panic);
    }
    if let Some(e) = Error::combine_named(finished.errors) {
        return Err(e);
    }
    let node = &inner.node;
    match body_result {
        Ok(v) => match finished.cancelled {
            Some(c) if !absorbs(node, &c) => Err(c),
            Some(_) => {
                node.set_caught();
                Ok(Some(v))
            }
            None => Ok(Some(v)),
        },
        Err(e) if absorbs(node, &e) => {
            node.set_caught();
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A handle to a task group, given to the host body. Cloning it is cheap; a child may hold
/// a clone to start siblings.
#[derive(Clone)]
pub struct TaskGroup {
    inner: Arc<GroupInner>,
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Acquire: pairs with the RMWs on `live`; a snapshot for display.
        let live = self.inner.live.load(Ordering::Acquire);
        f.debug_struct("TaskGroup")
            .field("active", &(live & INACTIVE == 0))
            .field("children", &(live & !INACTIVE))
            .finish()
    }
}

/// Set in [`GroupInner::live`] once the group has exited (or its future was dropped): no
/// child can be started any more.
const INACTIVE: usize = 1 << (usize::BITS - 1);

/// A group's shared state.
///
/// # Invariants
///
/// 1. `live` counts the children that have been spawned and have not finished; a child
///    records its report (if any) *before* it decrements `live`, so the host that sees
///    `live == 0` sees every report.
/// 2. Only a child's failure, panic or unabsorbed cancellation takes the `reports` lock:
///    starting and finishing a child that succeeds touch two atomics, so the thread that
///    spawns children and the threads that run them do not contend.
/// 3. The group keeps no handles to its children. Dropping the group's future sets
///    `aborted` and wakes every task blocked beneath it; a child's wrapper checks `aborted`
///    before each poll and drops the child's future instead of polling it. `aborted` is
///    set before anything else the drop does (cancelling the scope, dropping the body) can
///    wake a child, so a child woken by the drop is never polled again.
pub(crate) struct GroupInner {
    node: Arc<ScopeNode>,
    env: Env,
    /// The task that runs the host body: the parent of every child (AnyIO's rule).
    host: Option<u64>,
    live: AtomicUsize,
    aborted: AtomicBool,
    host_waker: AtomicWaker,
    reports: Mutex<Reports>,
}

#[derive(Default)]
struct Reports {
    /// Each failure with the name of the task it came from (`None`: the host body, or an
    /// unnamed child).
    errors: Vec<(Option<Arc<str>>, Error)>,
    panic: Option<Panic>,
    /// The first cancellation a child ended with that its own scope did not absorb.
    cancelled: Option<Error>,
}

impl GroupInner {
    pub(crate) fn env(&self) -> &Env {
        &self.env
    }

    /// The task that runs the host body: a child's parent by default.
    pub(crate) fn host(&self) -> Option<u64> {
        self.host
    }

    /// The group's node of the scope tree (the parent of its children's).
    pub(crate) fn node(&self) -> &Arc<ScopeNode> {
        &self.node
    }

    fn reports(&self) -> MutexGuard<'_, Reports> {
        self.reports.lock()
    }

    fn cancel_because(&self, why: String) {
        self.node.cancel(Some(Arc::from(why)), false);
    }

    fn body_finished<T>(&self, out: &std::thread::Result<Result<T>>) {
        match out {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_cancelled() => {}
            Ok(Err(e)) => {
                self.reports().errors.push((None, e.clone()));
                self.cancel_because(format!("the task group's host failed: {e}"));
            }
            Err(_) => self.cancel_because("the task group's host panicked".to_owned()),
        }
    }

    /// Counts a new child in; fails once the group has exited.
    fn enter_child(&self) -> Result<()> {
        // AcqRel (both): RMWs on the count the host's exit CAS reads; one total order on
        // `live` decides whether this child came before the group went INACTIVE.
        if self.live.fetch_add(1, Ordering::AcqRel) & INACTIVE != 0 {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(
                ErrorKind::InvalidState,
                "starting a task in a task group that has already exited",
            ));
        }
        Ok(())
    }

    fn poll_children_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before the check, so a last child finishing in between wakes us.
        self.host_waker.register(cx.waker());
        if self
            .live
            // AcqRel / Acquire: the Acquire half pairs with each child's Release decrement,
            // so the host sees every report recorded before it (invariant 1).
            .compare_exchange(0, INACTIVE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Poll::Ready(());
        }
        context::mark_blocked();
        Poll::Pending
    }

    fn take_finished(&self) -> Reports {
        std::mem::take(&mut *self.reports())
    }

    fn is_aborted(&self) -> bool {
        // Acquire: pairs with `AbortOnDrop`'s Release store (invariant 3).
        self.aborted.load(Ordering::Acquire)
    }

    /// Records how a child ended; wakes the host when it was the last one.
    fn child_finished(&self, core: &TaskCore, report: Report) {
        let cancel = match report {
            Report::Nothing => None,
            Report::Cancelled(e) => {
                self.reports().cancelled.get_or_insert(e);
                None
            }
            Report::Failed(e) => {
                let why = format!("task '{}' of the group failed: {e}", core.display_name());
                self.reports().errors.push((core.name().cloned(), e));
                Some(why)
            }
            Report::Panicked(p) => {
                self.reports().panic.get_or_insert(p);
                Some(format!(
                    "task '{}' of the group panicked",
                    core.display_name()
                ))
            }
        };
        if let Some(why) = cancel {
            self.cancel_because(why);
        }
        // AcqRel: the Release half publishes this child's report to the host that sees
        // `live == 0` (invariant 1).
        if self.live.fetch_sub(1, Ordering::AcqRel) & !INACTIVE == 1 {
            self.host_waker.wake();
        }
    }
}

/// Aborts every child when the group's future is dropped before it resolved (invariant 3).
struct AbortOnDrop(Arc<GroupInner>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let group = &self.0;
        // AcqRel: ordered with `enter_child`'s RMW: a child counted after this fails to
        // start; one counted before is aborted below.
        if group.live.fetch_or(INACTIVE, Ordering::AcqRel) & !INACTIVE != 0 {
            // Release: pairs with `is_aborted`'s Acquire, before the wake-up below.
            group.aborted.store(true, Ordering::Release);
            group.node.wake_all();
        }
    }
}

pin_project_lite::pin_project! {
    /// A child task's body: polls the child's future — or drops it unpolled once its group
    /// is aborted (invariant 3) — then reports how it ended to its handle, its starter and
    /// its group. A named future rather than an `async` block, which would keep the child's
    /// future twice in the task (as the captured value and as the awaited one).
    struct Child<F, S> {
        // Also the child's scope node (one allocation, see `TaskCore`).
        core: Arc<TaskCore>,
        // `None` once the end is reported.
        start: Option<S>,
        #[pin]
        fut: Option<CatchUnwind<AssertUnwindSafe<F>>>,
    }
}

impl<F, T, S> Future for Child<F, S>
where
    F: Future<Output = Result<T>>,
    T: Send + 'static,
    S: StartHook,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let aborted = this.core.group().is_some_and(|g| g.is_aborted());
        let out = match this.fut.as_mut().as_pin_mut() {
            Some(fut) if !aborted => Some(std::task::ready!(fut.poll(cx))),
            _ => None,
        };
        // The child's future is dropped before anyone learns that it ended.
        this.fut.set(None);
        let Some(start) = this.start.take() else {
            return Poll::Ready(());
        };
        let (outcome, report) = match out {
            Some(out) => classify(this.core.node(), out),
            // The group's future was dropped: nobody is left to report to.
            None => (Outcome::Cancelled, Report::Nothing),
        };
        this.core.node().close();
        this.core.unregister();
        let report = start.finished(report);
        this.core.complete(outcome);
        if let Some(group) = this.core.group() {
            group.child_finished(this.core, report);
        }
        Poll::Ready(())
    }
}

/// What the group must learn from a child's end.
enum Report {
    Nothing,
    Cancelled(Error),
    Failed(Error),
    Panicked(Panic),
}

impl TaskGroup {
    fn new() -> Result<TaskGroup> {
        let backend = crate::detect::current_handle()?;
        let run = RunContext::current().unwrap_or_else(|| RunContext::native(backend.backend()));
        let node = ScopeNode::child_of(context::current_scope());
        Ok(TaskGroup {
            inner: Arc::new(GroupInner {
                node,
                env: Env { run, backend },
                host: context::current_task_id(),
                live: AtomicUsize::new(0),
                aborted: AtomicBool::new(false),
                host_waker: AtomicWaker::new(),
                reports: Mutex::new(Reports::default()),
            }),
        })
    }

    /// The group's cancel scope: cancelling it cancels the host body and every child;
    /// a deadline set on it applies to all of them.
    pub fn cancel_scope(&self) -> CancelScope {
        CancelScope::from_node(self.inner.node.clone())
    }

    /// Whether children can still be started (the group has not exited).
    pub fn is_active(&self) -> bool {
        // Acquire: pairs with the RMW that set INACTIVE (the group's exit or drop).
        self.inner.live.load(Ordering::Acquire) & INACTIVE == 0
    }

    /// Starts `fut` as a child task, named `task-<id>`.
    ///
    /// The child runs as a task of its own on the backend, inside the group's cancel scope.
    /// Its failure cancels the group; its result can be awaited through the handle.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the group has exited.
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// anyio::task_group(|tg| async move {
    ///     let handle = tg.start_soon(async { Ok(6 * 7) })?;
    ///     assert_eq!(handle.await?, 42);
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "create_task")]
    #[track_caller]
    pub fn start_soon<Fut, T>(&self, fut: Fut) -> Result<TaskHandle<T>>
    where
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(self.new_core(None, self.inner.host), fut, NoStart)
    }

    /// A builder for a child task with options (its name), as tokio's `task::Builder`:
    /// `tg.task().name("worker").spawn(fut)` or `tg.task().name("server").start(f).await`.
    pub fn task(&self) -> TaskBuilder<'_> {
        TaskBuilder::new(self)
    }

    /// Starts a child and waits until it calls [`TaskStatus::started`]; returns the value
    /// it passed. The child goes on running in the group.
    ///
    /// Until it has started, the child belongs to the caller: an error it returns before
    /// calling `started` is returned here (and does not cancel the group).
    ///
    /// # Cancellation
    ///
    /// If the caller is cancelled while waiting, the child is cancelled too and awaited;
    /// then this returns `Cancelled` — unless the child called `started` meanwhile, in which
    /// case its value is returned (it keeps running).
    ///
    /// # Errors
    ///
    /// The child's error before it started; [`ErrorKind::InvalidState`] when the child
    /// finished, or dropped its [`TaskStatus`], without calling `started`, or when the
    /// group has exited; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::TaskStatus;
    ///
    /// async fn serve(status: TaskStatus<u16>) -> anyio::Result<()> {
    ///     status.started(8080); // e.g. once the listener is bound
    ///     anyio::sleep_forever().await
    /// }
    ///
    /// # anyio::run(|| async {
    /// anyio::task_group(|tg| async move {
    ///     let port = tg.start(serve).await?;
    ///     assert_eq!(port, 8080);
    ///     tg.cancel_scope().cancel();
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn start<F, Fut, V, T>(&self, f: F) -> Result<V>
    where
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
    {
        self.start_inner(None, f).await
    }

    async fn start_inner<F, Fut, V, T>(&self, name: Option<Arc<str>>, f: F) -> Result<V>
    where
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(StartSlot::new());
        // Until it has started, the child's parent is the task that is starting it.
        let core = self.new_core(name, context::current_task_id());
        let status = TaskStatus {
            slot: Some(slot.clone()),
            task: core.clone(),
        };
        let handle = self.spawn(core, f(status), slot.clone())?;
        let waited = lowlevel::wait(|cx| poll_start(&slot, cx, &handle)).await;
        match waited {
            Ok(()) => start_outcome(&slot, &handle),
            Err(cancelled) => {
                // The caller is cancelled: the child, not started yet, is cancelled with it
                // and awaited, unless it managed to start (completion wins).
                handle.cancel();
                poll_fn(|cx| {
                    let p = poll_start(&slot, cx, &handle);
                    if p.is_pending() {
                        context::mark_blocked();
                    }
                    p
                })
                .await;
                match start_outcome(&slot, &handle) {
                    Ok(v) => Ok(v),
                    Err(_) => Err(cancelled),
                }
            }
        }
    }

    /// A new child's core; `parent` is the task that the child reports as its parent.
    /// The caller's location is where the child was spawned (the watchdog reports it).
    #[track_caller]
    fn new_core(&self, name: Option<Arc<str>>, parent: Option<u64>) -> Arc<TaskCore> {
        TaskCore::new_child(name, parent, self.inner.clone())
    }

    fn spawn<Fut, T, S>(&self, core: Arc<TaskCore>, fut: Fut, start: S) -> Result<TaskHandle<T>>
    where
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
        S: StartHook,
    {
        let inner = &self.inner;
        if let Err(e) = inner.enter_child() {
            core.unregister();
            return Err(e);
        }
        // The child's node is its core's allocation (see `TaskCore`).
        let handle = TaskHandle {
            core: core.clone(),
            polled: false,
            _result: PhantomData,
        };
        let child = Child {
            core: core.clone(),
            start: Some(start),
            fut: Some(AssertUnwindSafe(fut).catch_unwind()),
        };
        inner.env.backend.spawn(TaskFuture::new(core, child));
        Ok(handle)
    }
}

/// Ready once the child has started or finished; a dropped status cancels the child.
fn poll_start<V, T>(slot: &StartSlot<V>, cx: &mut Context<'_>, child: &TaskHandle<T>) -> Poll<()> {
    match slot.poll(cx.waker()) {
        Progress::Waiting => Poll::Pending,
        Progress::StatusDropped => {
            child.node().cancel(
                Some(Arc::from(
                    "the task dropped its TaskStatus without calling started()",
                )),
                false,
            );
            Poll::Pending
        }
        Progress::Settled => Poll::Ready(()),
    }
}

/// What `start` returns once the slot has settled.
fn start_outcome<V, T>(slot: &StartSlot<V>, child: &TaskHandle<T>) -> Result<V> {
    slot.take().map_err(|e| {
        e.unwrap_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                format!(
                    "task '{}' finished without calling TaskStatus::started()",
                    child.core.display_name()
                ),
            )
        })
    })
}

/// Sorts a child's end into what its handle reports and what the group must learn.
fn classify<T: Send + 'static>(
    node: &ScopeNode,
    out: std::thread::Result<Result<T>>,
) -> (Outcome, Report) {
    match out {
        Ok(Ok(v)) => (Outcome::Returned(Some(Box::new(v))), Report::Nothing),
        Ok(Err(e)) => {
            if !e.is_cancelled() {
                (Outcome::Failed(e.clone()), Report::Failed(e))
            } else if absorbs(node, &e) {
                node.set_caught();
                (Outcome::Cancelled, Report::Nothing)
            } else {
                (Outcome::Cancelled, Report::Cancelled(e))
            }
        }
        Err(panic) => (Outcome::Panicked, Report::Panicked(panic)),
    }
}

/// The status of a task, as [`TaskHandle::status`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "Status")]
#[non_exhaustive]
pub enum TaskState {
    /// The task has not finished yet.
    Pending,
    /// The task has been cancelled (by [`TaskHandle::cancel`] or its group) but has not
    /// finished yet.
    Cancelling,
    /// The task returned a value.
    Finished,
    /// The task ended with a cancellation.
    Cancelled,
    /// The task returned an error or panicked.
    Failed,
}

/// A handle to a child task: await it for the child's result, cancel the child, or ask its
/// status. Dropping the handle does not stop the child.
///
/// Awaiting a handle resolves to the child's value; to an error of kind
/// [`ErrorKind::TaskCancelled`] when the child was
/// cancelled; to one of kind [`ErrorKind::TaskFailed`]
/// (whose source is the child's error) when it failed or panicked. These kinds are not
/// `Cancelled`, so a host that propagates them with `?` is not mistaken for a cancelled
/// task. The child's failure also reaches the group.
///
/// # Cancellation
///
/// Awaiting is a checkpoint: a cancelled caller gets `Cancelled` and the child goes on.
/// A failing child cancels its group, so a host body awaiting that child's handle may get
/// `Cancelled` (the group's cancellation) rather than `TaskFailed`, depending on which it
/// sees first; await it in a [`CancelScope::shielded`] scope to always see how the child
/// ended.
pub struct TaskHandle<T> {
    /// Also the task's scope node (one allocation, see `TaskCore`).
    core: Arc<TaskCore>,
    polled: bool,
    _result: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.core.id)
            .field("name", &self.name())
            .field("status", &self.status())
            .finish()
    }
}

impl<T> TaskHandle<T> {
    /// The task's scope node, as the tree sees it (a reference to the task's allocation).
    fn node(&self) -> Arc<ScopeNode> {
        self.core.clone()
    }

    /// Cancels the task (its own scope, inside the group's). Has no effect once it has
    /// finished. The group is not cancelled.
    pub fn cancel(&self) {
        if !self.core.has_finished() {
            let reason = match context::current_task() {
                Some(t) => format!(
                    "task '{}' was cancelled by task '{}'",
                    self.core.display_name(),
                    t.display_name()
                ),
                None => format!("task '{}' was cancelled", self.core.display_name()),
            };
            self.node().cancel(Some(Arc::from(reason)), false);
        }
    }

    /// The task's status.
    pub fn status(&self) -> TaskState {
        self.core.outcome.with(|outcome| match outcome {
            None if self.core.node().cancel_called() => TaskState::Cancelling,
            None => TaskState::Pending,
            Some(Outcome::Returned(_)) => TaskState::Finished,
            Some(Outcome::Cancelled) => TaskState::Cancelled,
            Some(Outcome::Failed(_) | Outcome::Panicked) => TaskState::Failed,
        })
    }

    /// Whether the task has finished, in any way.
    pub fn is_finished(&self) -> bool {
        self.core.has_finished()
    }

    /// The task's name.
    pub fn name(&self) -> String {
        self.core.display_name()
    }

    /// The task's id, as in [`TaskInfo`](crate::TaskInfo).
    pub fn id(&self) -> u64 {
        self.core.id
    }

    /// Waits for the task to finish, however it ends, without taking its result.
    ///
    /// # Cancellation
    ///
    /// A checkpoint: a cancelled caller gets `Cancelled`; the task goes on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`].
    pub async fn wait(&self) -> Result<()> {
        lowlevel::wait(|cx| self.core.poll_finished(cx)).await
    }

    pub(crate) fn take_result(&self) -> Result<T>
    where
        T: 'static,
    {
        // The name is worked out only for an error: formatting it allocates.
        let name = || self.core.display_name();
        self.core.outcome.with(|outcome| match outcome.as_mut() {
            Some(Outcome::Returned(v)) => match v.take().map(|b| b.downcast::<T>()) {
                Some(Ok(v)) => Ok(*v),
                Some(Err(_)) => unreachable!("a task handle's type matches its task's output"),
                None => Err(Error::new(
                    ErrorKind::InvalidState,
                    format!("the result of task '{}' was already taken", name()),
                )),
            },
            Some(Outcome::Failed(e)) => Err(Error::task_failed(&name(), e.clone())),
            Some(Outcome::Cancelled) => Err(Error::task_cancelled(&name())),
            Some(Outcome::Panicked) => Err(Error::task_failed(
                &name(),
                Error::new(ErrorKind::Other, "the task panicked"),
            )),
            None => Err(Error::new(
                ErrorKind::InvalidState,
                format!("task '{}' has not finished yet", name()),
            )),
        })
    }
}

impl<T: 'static> Future for TaskHandle<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if !self.polled {
            self.polled = true;
            if let Some(e) = context::check_cancelled() {
                return Poll::Ready(Err(e));
            }
        }
        if self.core.poll_finished(cx).is_ready() {
            return Poll::Ready(self.take_result());
        }
        if let Some(e) = context::check_cancelled() {
            return Poll::Ready(Err(e));
        }
        context::mark_blocked();
        Poll::Pending
    }
}

/// Given to a child started with [`TaskGroup::start`]; the child calls
/// [`started`](Self::started) once it is ready, which hands a value to the starter.
///
/// `started` consumes the status, so it cannot be called twice. Dropping the status without
/// calling it (or returning before calling it) makes `start` fail with
/// [`ErrorKind::InvalidState`].
pub struct TaskStatus<V> {
    slot: Option<Arc<StartSlot<V>>>,
    /// The child being started: `started` re-parents it to the group's host.
    task: Arc<TaskCore>,
}

impl<V> fmt::Debug for TaskStatus<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStatus").finish_non_exhaustive()
    }
}

impl<V> TaskStatus<V> {
    /// Signals that the task has started, handing `value` to the caller of
    /// [`TaskGroup::start`]. From now on the task belongs to the group: its parent (in
    /// [`TaskInfo`](crate::TaskInfo)) becomes the group's host, and its failure fails the
    /// group.
    ///
    /// Has no effect (and drops `value`) when the task has already finished: its end was
    /// reported to the starter.
    pub fn started(mut self, value: V) {
        if let Some(slot) = self.slot.take() {
            if let Some(group) = self.task.group() {
                self.task.set_parent(group.host);
            }
            slot.started(value);
        }
    }
}

impl<V> Drop for TaskStatus<V> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.status_dropped();
        }
    }
}

/// How a child's end is routed while it may still be starting.
trait StartHook: Send + 'static {
    /// Takes the part of `report` that belongs to the starter; returns what the group gets.
    fn finished(self, report: Report) -> Report;
}

struct NoStart;

impl StartHook for NoStart {
    fn finished(self, report: Report) -> Report {
        report
    }
}

impl<V: Send + 'static> StartHook for Arc<StartSlot<V>> {
    fn finished(self, report: Report) -> Report {
        // Before `started`, the child belongs to the starter: its error goes there. The
        // slot decides "started?" and "whose error" under one lock (see `start_slot`).
        match report {
            Report::Failed(e) => match self.child_finished(Some(e)) {
                Some(e) => Report::Failed(e),
                None => Report::Nothing,
            },
            Report::Cancelled(e) => match self.child_finished(Some(e)) {
                Some(e) => Report::Cancelled(e),
                None => Report::Nothing,
            },
            other => {
                self.child_finished(None);
                other
            }
        }
    }
}
