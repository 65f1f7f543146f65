//! Blocking portals: a task group that synchronous threads start tasks in.
//!
//! A portal is hosted by one anyio task (the *host*), which owns the portal's task group
//! and waits until the portal is stopped; the group then waits for the tasks still running
//! and the portal is *finished*. Synchronous threads start tasks in the group directly
//! (spawning works from any thread), and wait for each task's outcome on a [`Slot`].
//!
//! # Invariants
//!
//! 1. A task is started only while the portal accepts calls, under the portal's lock; `stop`
//!    takes the same lock, and the host leaves its wait only after `stop`. So every task
//!    that was started is in the group before the group can exit, and is waited for.
//! 2. A portal task never fails its group: its outcome (value, error, cancellation, panic)
//!    goes to its [`PortalTask`], so one failed call does not cancel the others.
//! 3. A blocking wait is refused on the portal's own event loop, where it would deadlock.

use crate::loom::{Condvar, Mutex, MutexGuard};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use futures_lite::FutureExt;

use super::slot::{Sender, Slot};
use crate::cancel::CancelScope;
use crate::context;
use crate::error::{Error, ErrorKind, Result, is_cancellation};
use crate::lowlevel;
use crate::run::{Backend, Runner};
use crate::task::RunContext;
use crate::task_group::{TaskBuilder, TaskGroup, TaskStatus, task_group};

/// How a portal task ended: `Ok(None)` when its own scope absorbed a cancellation.
type Outcome<T, E> = std::thread::Result<std::result::Result<Option<T>, E>>;

fn not_running() -> Error {
    Error::new(
        ErrorKind::InvalidState,
        "the blocking portal is not running (it was stopped, or its event loop has finished)",
    )
}

struct PortalCore {
    state: Mutex<PortalState>,
    finished: Condvar,
    /// The run that hosts the portal (invariant 3).
    run: OnceLock<Arc<RunContext>>,
}

#[derive(Default)]
struct PortalState {
    /// `Some` while the portal accepts calls.
    group: Option<TaskGroup>,
    /// The group's scope, kept after `stop` so that a later `stop(true)` still cancels.
    scope: Option<CancelScope>,
    stop_requested: bool,
    host: Option<Waker>,
    finished: bool,
}

impl PortalCore {
    fn new() -> Arc<PortalCore> {
        Arc::new(PortalCore {
            state: Mutex::new(PortalState::default()),
            finished: Condvar::new(),
            run: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PortalState> {
        self.state.lock()
    }

    /// Called by the host: the portal now accepts calls.
    fn open(&self, tg: &TaskGroup) {
        if let Some(run) = RunContext::current() {
            let _ = self.run.set(run);
        }
        let mut st = self.lock();
        if !st.stop_requested {
            st.group = Some(tg.clone());
        }
        st.scope = Some(tg.cancel_scope());
    }

    fn stop(&self, cancel_remaining: bool) {
        let (host, scope) = {
            let mut st = self.lock();
            st.group = None;
            st.stop_requested = true;
            let scope = if cancel_remaining {
                st.scope.clone()
            } else {
                None
            };
            (st.host.take(), scope)
        };
        if let Some(scope) = scope {
            scope.cancel_with_reason("the blocking portal is shutting down");
        }
        if let Some(w) = host {
            w.wake();
        }
    }

    fn poll_stop(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.stop_requested {
            return Poll::Ready(());
        }
        st.host = Some(cx.waker().clone());
        Poll::Pending
    }

    fn finish(&self) {
        {
            let mut st = self.lock();
            st.group = None;
            st.stop_requested = true;
            st.finished = true;
        }
        self.finished.notify_all();
    }

    fn wait_finished(&self) {
        let mut st = self.lock();
        while !st.finished {
            st = self.finished.wait(st);
        }
    }

    /// Refuses a blocking wait from a task of the portal's own run (invariant 3).
    fn check_caller(&self, what: &str) -> Result<()> {
        let Some(run) = self.run.get() else {
            return Ok(());
        };
        let own = context::with_current_task(|t| t.is_some_and(|t| Arc::ptr_eq(&t.env().run, run)));
        if own {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "{what} cannot be called from a task of the portal's own event loop: it \
                     would block the loop that must run the call; await the future directly"
                ),
            ));
        }
        Ok(())
    }

    /// Starts `fut` in the portal's group while the portal accepts calls (invariant 1).
    fn start_soon(
        &self,
        name: Option<Arc<str>>,
        fut: impl Future<Output = Result<()>> + Send + 'static,
    ) -> Result<()> {
        let st = self.lock();
        let group = st.group.as_ref().ok_or_else(not_running)?;
        // The handle is not needed: the outcome travels through the task's slot.
        named(group, name)
            .spawn(fut)
            .map(drop)
            .map_err(|_| not_running())
    }

    fn group(&self) -> Result<TaskGroup> {
        self.lock().group.clone().ok_or_else(not_running)
    }
}

/// A builder for a child of `group`, named `name` if one was given.
fn named(group: &TaskGroup, name: Option<Arc<str>>) -> TaskBuilder<'_> {
    match name {
        Some(name) => group.task().name(name),
        None => group.task(),
    }
}

/// Marks the portal finished when the host ends, however it ends (even dropped).
struct FinishOnDrop(Arc<PortalCore>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The host task: opens the portal, waits until it is stopped, then lets the group wait for
/// the tasks still running.
async fn host(core: Arc<PortalCore>, ready: impl FnOnce()) -> Result<()> {
    let _finish = FinishOnDrop(core.clone());
    task_group(|tg| async move {
        core.open(&tg);
        ready();
        if let Err(e) = lowlevel::wait(|cx| core.poll_stop(cx)).await {
            // An enclosing scope was cancelled: the tasks are cancelled with it.
            core.stop(false);
            return Err(e);
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Runs a call's future in a cancel scope of its own and sends its outcome to the caller
/// (invariant 2).
async fn portal_task<F, Fut, T, E>(
    scope: CancelScope,
    f: F,
    tx: Sender<Outcome<T, E>>,
) -> Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error> + 'static,
{
    let out = AssertUnwindSafe(scope.run(async move { f().await }))
        .catch_unwind()
        .await;
    tx.send(out);
    Ok(())
}

/// A handle through which synchronous threads run async code in an event loop (AnyIO's
/// `BlockingPortal`). See the [module docs](super) for the two ways to get one.
///
/// Clones share one portal; it is `Send` and `Sync`, so threads may also share it by
/// reference. A portal from [`start_blocking_portal`] stops its event loop when
/// [`stop`](Self::stop) is called or its last clone is dropped; dropping waits for the
/// tasks still running (during a panic, it cancels them first).
#[derive(Clone)]
pub struct BlockingPortal {
    core: Arc<PortalCore>,
    /// The portal's own event loop thread, for a portal from `start_blocking_portal`.
    owner: Option<Arc<Owner>>,
}

impl fmt::Debug for BlockingPortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPortal")
            .field("running", &self.is_running())
            .field("own_thread", &self.owner.is_some())
            .finish()
    }
}

struct Owner {
    core: Arc<PortalCore>,
    thread: Mutex<Option<JoinHandle<Result<()>>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.core.stop(std::thread::panicking());
        if let Some(thread) = self.thread.lock().take() {
            // Joining from the portal's own thread would wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl BlockingPortal {
    /// Runs async code in the portal's event loop and blocks until it is done (AnyIO's
    /// `BlockingPortal.call` with a coroutine function).
    ///
    /// `f` is called in the event loop and its future runs there as a task of the portal.
    /// Any thread may call this, except a task of the portal's own event loop.
    ///
    /// # Errors
    ///
    /// Whatever the future returns; converted into `E`:
    /// [`ErrorKind::InvalidState`] when the portal is not running or this is called from
    /// its own event loop; [`ErrorKind::TaskCancelled`] when the task was cancelled (the
    /// portal stopped with `cancel_remaining`).
    ///
    /// # Panics
    ///
    /// A panic of the async code resumes here.
    ///
    /// # Examples
    ///
    /// ```
    /// let portal = anyio::from_thread::start_blocking_portal(anyio::Backend::default())?;
    /// let n = portal.call(|| async { Ok::<_, anyio::Error>(6 * 7) })?;
    /// assert_eq!(n, 42);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn call<F, Fut, T, E>(&self, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.core
            .check_caller("BlockingPortal::call")
            .map_err(E::from)?;
        self.start_task_soon(f).map_err(E::from)?.wait()
    }

    /// Runs `f` in the portal's event loop (in a task of the portal) and returns its result
    /// (AnyIO's `BlockingPortal.call` with a plain function).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Panics
    ///
    /// A panic of `f` resumes here.
    ///
    /// # Examples
    ///
    /// ```
    /// let portal = anyio::from_thread::start_blocking_portal(anyio::Backend::default())?;
    /// let lib = portal.call_sync(anyio::current_async_library)??;
    /// assert_eq!(lib, "tokio");
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn call_sync<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.call(move || async move { Ok::<_, Error>(f()) })
    }

    /// Starts async code as a task of the portal and returns at once with a
    /// [`PortalTask`] handle, to wait for its result or cancel it from synchronous code.
    ///
    /// The task runs in a cancel scope of its own, which the handle cancels. Dropping the
    /// handle lets the task run on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the portal is not running.
    ///
    /// # Examples
    ///
    /// ```
    /// let portal = anyio::from_thread::start_blocking_portal(anyio::Backend::default())?;
    /// let tasks: Vec<_> = (1..=3u32)
    ///     .map(|i| portal.start_task_soon(move || async move { Ok::<_, anyio::Error>(i * 10) }))
    ///     .collect::<anyio::Result<_>>()?;
    /// let total: u32 = tasks.into_iter().map(|t| t.wait()).sum::<anyio::Result<u32>>()?;
    /// assert_eq!(total, 60);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn start_task_soon<F, Fut, T, E>(&self, f: F) -> Result<PortalTask<T, E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.spawn(None, f)
    }

    fn spawn<F, Fut, T, E>(&self, name: Option<Arc<str>>, f: F) -> Result<PortalTask<T, E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let scope = CancelScope::new();
        let (tx, slot) = Slot::new();
        self.core
            .start_soon(name, portal_task(scope.clone(), f, tx))?;
        Ok(PortalTask {
            core: self.core.clone(),
            slot,
            scope,
        })
    }

    /// Starts a task of the portal and blocks until it calls
    /// [`TaskStatus::started`]; returns its handle and the value it passed (AnyIO's
    /// `BlockingPortal.start_task`, the portal's [`TaskGroup::start`](crate::TaskGroup::start)).
    ///
    /// # Errors
    ///
    /// The task's error when it fails before it started; converted into `E`:
    /// [`ErrorKind::InvalidState`] when it returns without calling `started`, when the portal
    /// is not running, or when this is called from the portal's own event loop;
    /// [`ErrorKind::TaskCancelled`] when it was cancelled before it started.
    ///
    /// # Panics
    ///
    /// A panic of the task before it started resumes here.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::TaskStatus;
    ///
    /// let portal = anyio::from_thread::start_blocking_portal(anyio::Backend::default())?;
    /// let (task, port) = portal.start_task(|status: TaskStatus<u16>| async move {
    ///     status.started(8080); // e.g. once the listener is bound
    ///     Ok::<_, anyio::Error>("served")
    /// })?;
    /// assert_eq!(port, 8080);
    /// assert_eq!(task.wait()?, "served");
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn start_task<F, Fut, V, T, E>(&self, f: F) -> std::result::Result<(PortalTask<T, E>, V), E>
    where
        F: FnOnce(TaskStatus<V>) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.start_inner(None, f)
    }

    fn start_inner<F, Fut, V, T, E>(
        &self,
        name: Option<Arc<str>>,
        f: F,
    ) -> std::result::Result<(PortalTask<T, E>, V), E>
    where
        F: FnOnce(TaskStatus<V>) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.core
            .check_caller("BlockingPortal::start_task")
            .map_err(E::from)?;
        let group = self.core.group().map_err(E::from)?;
        let scope = CancelScope::new();
        let (tx, slot) = Slot::new();
        let task_scope = scope.clone();
        let child = move |status: TaskStatus<V>| portal_task(task_scope, move || f(status), tx);
        // A helper task of the portal awaits `start`; the child joins the portal's group.
        let started: Result<V> =
            self.call(move || async move { named(&group, name).start(child).await });
        let task = PortalTask {
            core: self.core.clone(),
            slot,
            scope,
        };
        match started {
            Ok(v) => Ok((task, v)),
            // The child ended before it started: its own outcome says why, unless it
            // returned a value (then it never called `started`).
            Err(e) if task.is_finished() => match task.wait() {
                Ok(_) => Err(E::from(e)),
                Err(own) => Err(own),
            },
            Err(e) => Err(E::from(e)),
        }
    }

    /// Stops the portal: from now on it refuses new calls, and with `cancel_remaining` the
    /// tasks still running are cancelled. Returns at once; [`join`](Self::join) waits until
    /// every task has finished. Stopping twice is harmless (a later `stop(true)` still
    /// cancels).
    ///
    /// A portal from [`start_blocking_portal`] ends its event loop thread once its tasks
    /// have finished.
    pub fn stop(&self, cancel_remaining: bool) {
        self.core.stop(cancel_remaining);
    }

    /// Blocks until the portal has stopped and every task it started has finished.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when called from a task of the portal's own event loop.
    pub fn join(&self) -> Result<()> {
        self.core.check_caller("BlockingPortal::join")?;
        self.core.wait_finished();
        Ok(())
    }

    /// Whether the portal accepts calls.
    pub fn is_running(&self) -> bool {
        self.core.lock().group.is_some()
    }

    /// A builder for a task of the portal with options (its name), as
    /// [`TaskGroup::task`](crate::TaskGroup::task) is for a group's child:
    /// `portal.task().name("job").spawn(f)` or `portal.task().name("server").start(f)`.
    pub fn task(&self) -> PortalTaskBuilder<'_> {
        PortalTaskBuilder {
            portal: self,
            name: None,
        }
    }
}

/// Starts a task of a [`BlockingPortal`] with options, from [`BlockingPortal::task`]:
/// today its name, shown by [`get_current_task`](crate::get_current_task) and
/// [`get_running_tasks`](crate::get_running_tasks) inside the portal's event loop, in cancel
/// reasons and in debug reports.
///
/// # Examples
///
/// ```
/// use anyio::TaskStatus;
///
/// let portal = anyio::from_thread::start_blocking_portal(anyio::Backend::default())?;
/// let job = portal.task().name("job").spawn(|| async {
///     Ok::<_, anyio::Error>(anyio::get_current_task().map(|t| t.name))
/// })?;
/// assert_eq!(job.wait()?.as_deref(), Some("job"));
///
/// let (server, port) = portal.task().name("server").start(|status: TaskStatus<u16>| async move {
///     status.started(8080);
///     Ok::<_, anyio::Error>(())
/// })?;
/// assert_eq!(port, 8080);
/// server.wait()?;
/// # Ok::<_, anyio::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a PortalTaskBuilder starts nothing until spawn() or start() is called"]
pub struct PortalTaskBuilder<'a> {
    portal: &'a BlockingPortal,
    name: Option<Arc<str>>,
}

impl<'a> PortalTaskBuilder<'a> {
    /// Names the task. Any string is accepted; naming twice keeps the last name.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> PortalTaskBuilder<'a> {
        self.name = Some(name.into());
        self
    }

    /// Starts async code as a task of the portal, as
    /// [`BlockingPortal::start_task_soon`] does, with the options set on this builder.
    ///
    /// # Errors
    ///
    /// As [`BlockingPortal::start_task_soon`].
    #[doc(alias = "start_task_soon")]
    pub fn spawn<F, Fut, T, E>(self, f: F) -> Result<PortalTask<T, E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.portal.spawn(self.name, f)
    }

    /// Starts a task of the portal and blocks until it calls [`TaskStatus::started`], as
    /// [`BlockingPortal::start_task`] does, with the options set on this builder.
    ///
    /// # Errors
    ///
    /// As [`BlockingPortal::start_task`].
    ///
    /// # Panics
    ///
    /// As [`BlockingPortal::start_task`].
    #[doc(alias = "start_task")]
    pub fn start<F, Fut, V, T, E>(self, f: F) -> std::result::Result<(PortalTask<T, E>, V), E>
    where
        F: FnOnce(TaskStatus<V>) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.portal.start_inner(self.name, f)
    }
}

/// A task started through a [`BlockingPortal`], seen from synchronous code: wait for its
/// result or cancel it (AnyIO returns a `concurrent.futures.Future` for this).
#[must_use = "dropping a PortalTask lets the task run on unobserved; call wait() for its result"]
pub struct PortalTask<T, E = Error> {
    core: Arc<PortalCore>,
    slot: Arc<Slot<Outcome<T, E>>>,
    scope: CancelScope,
}

impl<T, E> fmt::Debug for PortalTask<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalTask")
            .field("finished", &self.is_finished())
            .field("cancel_called", &self.scope.cancel_called())
            .finish()
    }
}

impl<T, E> PortalTask<T, E> {
    /// Cancels the task (its own scope); it sees `Cancelled` at its next checkpoint. Has no
    /// effect once it has finished. Works from any thread, also after the portal was
    /// stopped.
    pub fn cancel(&self) {
        self.scope
            .cancel_with_reason("the portal task was cancelled through its PortalTask");
    }

    /// Whether the task has finished, in any way.
    pub fn is_finished(&self) -> bool {
        self.slot.is_done()
    }
}

impl<T, E: From<Error> + 'static> PortalTask<T, E> {
    /// Blocks until the task has finished, and returns its result.
    ///
    /// # Errors
    ///
    /// The task's error; converted into `E`: [`ErrorKind::TaskCancelled`] when the task was
    /// cancelled (by [`cancel`](Self::cancel) or by stopping the portal with
    /// `cancel_remaining`); [`ErrorKind::InvalidState`] when its event loop ended without
    /// finishing it, or when called from a task of the portal's own event loop.
    ///
    /// # Panics
    ///
    /// A panic of the task resumes here.
    pub fn wait(self) -> std::result::Result<T, E> {
        self.core
            .check_caller("PortalTask::wait")
            .map_err(E::from)?;
        match self.slot.wait() {
            Some(Ok(Ok(Some(v)))) => Ok(v),
            Some(Ok(Ok(None))) => Err(E::from(Error::task_cancelled("portal task"))),
            Some(Ok(Err(e))) if is_cancellation(&e) => Err(E::from(Error::task_cancelled(
                "portal task (the blocking portal is shutting down)",
            ))),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(E::from(Error::new(
                ErrorKind::InvalidState,
                "the portal's event loop ended before the task finished",
            ))),
        }
    }
}

/// Starts a new event loop on `backend` in a thread of its own, and returns a portal into
/// it (AnyIO's `start_blocking_portal`). [`PortalBuilder`] sets backend options and the
/// thread's name.
///
/// The event loop runs until the portal is stopped ([`BlockingPortal::stop`], or dropping
/// its last clone) and its tasks have finished.
///
/// # Errors
///
/// [`ErrorKind::Io`] when the thread or the runtime cannot be started; whatever
/// [`Runner::run`] returns for bad options.
///
/// # Examples
///
/// ```
/// for backend in anyio::available_backends() {
///     let portal = anyio::from_thread::start_blocking_portal(*backend)?;
///     let lib = portal.call(|| async { anyio::current_async_library() })?;
///     assert_eq!(lib, backend.name());
/// } // each portal's event loop stops here
/// # Ok::<_, anyio::Error>(())
/// ```
pub fn start_blocking_portal(backend: Backend) -> Result<BlockingPortal> {
    PortalBuilder::new(backend).start()
}

/// Starts a blocking portal with options: the [`Runner`] (backend and backend options) and
/// the name of the event loop's thread.
///
/// By default the event loop runs in the portal's thread alone, as AnyIO's does: tasks of
/// the portal run on that thread.
///
/// # Examples
///
/// ```
/// use anyio::{Backend, Flavor, Runner, TokioOptions};
/// use anyio::from_thread::PortalBuilder;
///
/// let runner = Runner::new(Backend::Tokio)
///     .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread));
/// let portal = PortalBuilder::new(Backend::Tokio)
///     .runner(runner)
///     .thread_name("my-event-loop")
///     .start()?;
/// let name = portal.call_sync(|| std::thread::current().name().map(str::to_owned))?;
/// assert_eq!(name.as_deref(), Some("my-event-loop"));
/// # Ok::<_, anyio::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a PortalBuilder does nothing until start() is called"]
pub struct PortalBuilder {
    runner: Runner,
    name: Option<String>,
}

impl PortalBuilder {
    /// A builder for a portal on `backend`, whose event loop runs in the portal's thread
    /// alone (on tokio, a current-thread runtime; [`runner`](Self::runner) can choose a
    /// multi-thread one); the thread is named `anyio-portal-<backend>`.
    pub fn new(backend: Backend) -> PortalBuilder {
        let runner = Runner::new(backend).backend_options(crate::backend::Options::own_thread());
        PortalBuilder { runner, name: None }
    }

    /// Runs the event loop with this runner (its backend and options).
    pub fn runner(mut self, runner: Runner) -> PortalBuilder {
        self.runner = runner;
        self
    }

    /// Names the event loop's thread.
    pub fn thread_name(mut self, name: impl Into<String>) -> PortalBuilder {
        self.name = Some(name.into());
        self
    }

    /// Starts the event loop thread and returns the portal once it accepts calls.
    ///
    /// # Errors
    ///
    /// As [`start_blocking_portal`].
    pub fn start(self) -> Result<BlockingPortal> {
        let core = PortalCore::new();
        let (ready_tx, ready) = Slot::new();
        let name = self
            .name
            .unwrap_or_else(|| format!("anyio-portal-{}", self.runner.backend()));
        let runner = self.runner;
        let host_core = core.clone();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || runner.run(move || host(host_core, move || ready_tx.send(()))))
            .map_err(|e| {
                Error::with_source(ErrorKind::Io, "starting the blocking portal's thread", e)
            })?;
        if ready.wait().is_none() {
            // The event loop ended before the portal opened: report why.
            return match thread.join() {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => Err(not_running()),
                Err(panic) => std::panic::resume_unwind(panic),
            };
        }
        Ok(BlockingPortal {
            core: core.clone(),
            owner: Some(Arc::new(Owner {
                core,
                thread: Mutex::new(Some(thread)),
            })),
        })
    }
}

/// Opens a portal on the event loop running here for the duration of `body`, which hands
/// it to synchronous code (AnyIO's `async with BlockingPortal() as portal`).
///
/// When `body` returns, the portal stops accepting calls and this waits for the tasks that
/// are still running; when `body` fails, they are cancelled first.
///
/// # Cancellation
///
/// A cancellation of the caller reaches `body` and every task of the portal; this returns
/// once all have finished.
///
/// # Errors
///
/// Whatever `body` returns; [`ErrorKind::NoEventLoop`] outside an event loop.
///
/// # Panics
///
/// A panic of `body` resumes here once the portal's tasks have finished.
///
/// # Examples
///
/// ```
/// use anyio::from_thread::BlockingPortal;
///
/// fn sync_code(portal: BlockingPortal) -> anyio::Result<String> {
///     portal.call(|| async { Ok(format!("run by {}", anyio::current_async_library()?)) })
/// }
///
/// # anyio::run(|| async {
/// let said = anyio::from_thread::with_portal(|portal| async move {
///     anyio::to_thread::run_sync(move || sync_code(portal)).await?
/// })
/// .await?;
/// assert_eq!(said, "run by tokio");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn with_portal<F, Fut, T>(body: F) -> Result<T>
where
    F: FnOnce(BlockingPortal) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let out = task_group(|tg| async move {
        let core = PortalCore::new();
        let host_core = core.clone();
        tg.start(move |status: TaskStatus<()>| host(host_core, move || status.started(())))
            .await?;
        let out = body(BlockingPortal {
            core: core.clone(),
            owner: None,
        })
        .await;
        core.stop(out.is_err());
        out
    })
    .await?;
    // Nothing cancels this group's own scope, so it never absorbs a cancellation.
    out.ok_or_else(not_running)
}

/// A portal shared on demand by many threads (AnyIO's `BlockingPortalProvider`): the first
/// [`portal`](Self::portal) call starts it, and when the last [`PortalLease`] is dropped it
/// stops.
///
/// For a synchronous API whose methods run async code: every thread calling in at the same
/// time shares one event loop, instead of starting one each.
///
/// # Examples
///
/// ```
/// use anyio::from_thread::BlockingPortalProvider;
///
/// struct Api {
///     portals: BlockingPortalProvider,
/// }
///
/// impl Api {
///     fn do_stuff(&self) -> anyio::Result<u32> {
///         let portal = self.portals.portal()?;
///         portal.call(|| async { Ok(7) })
///     }
/// }
///
/// let api = Api { portals: BlockingPortalProvider::new(anyio::Backend::default()) };
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| assert_eq!(api.do_stuff().unwrap(), 7));
///     }
/// });
/// ```
pub struct BlockingPortalProvider {
    backend: Backend,
    state: Mutex<ProviderState>,
}

#[derive(Default)]
struct ProviderState {
    portal: Option<BlockingPortal>,
    leases: usize,
}

impl fmt::Debug for BlockingPortalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("BlockingPortalProvider")
            .field("backend", &self.backend)
            .field("leases", &st.leases)
            .finish()
    }
}

impl Default for BlockingPortalProvider {
    /// A provider on the default backend.
    fn default() -> BlockingPortalProvider {
        BlockingPortalProvider::new(Backend::default())
    }
}

impl BlockingPortalProvider {
    /// A provider whose portals run on `backend`. No portal is started yet.
    pub fn new(backend: Backend) -> BlockingPortalProvider {
        BlockingPortalProvider {
            backend,
            state: Mutex::new(ProviderState::default()),
        }
    }

    /// The shared portal, started now if no lease holds it.
    ///
    /// # Errors
    ///
    /// As [`start_blocking_portal`].
    pub fn portal(&self) -> Result<PortalLease<'_>> {
        let mut st = self.state.lock();
        let portal = match &st.portal {
            Some(p) if p.is_running() => p.clone(),
            // None yet, or stopped by a holder: start a fresh one.
            _ => {
                let p = start_blocking_portal(self.backend)?;
                st.portal = Some(p.clone());
                p
            }
        };
        st.leases += 1;
        Ok(PortalLease {
            provider: self,
            portal,
        })
    }
}

/// A share of a [`BlockingPortalProvider`]'s portal; dereferences to the
/// [`BlockingPortal`]. Dropping the last lease stops the portal and waits for its event
/// loop to finish.
pub struct PortalLease<'a> {
    provider: &'a BlockingPortalProvider,
    portal: BlockingPortal,
}

impl fmt::Debug for PortalLease<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PortalLease").field(&self.portal).finish()
    }
}

impl Deref for PortalLease<'_> {
    type Target = BlockingPortal;

    fn deref(&self) -> &BlockingPortal {
        &self.portal
    }
}

impl Drop for PortalLease<'_> {
    fn drop(&mut self) {
        let last = {
            let mut st = self.provider.state.lock();
            st.leases -= 1;
            if st.leases == 0 {
                st.portal.take()
            } else {
                None
            }
        };
        // Dropped outside the lock: with this lease's own clone, right after, the last
        // clone goes and the portal stops and joins its thread.
        drop(last);
    }
}
