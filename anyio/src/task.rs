//! anyio tasks: the wrapper that gives every task (the root of a run, every task-group
//! child) its context, and the introspection AnyIO offers on top of it
//! ([`get_current_task`], [`get_running_tasks`], [`TaskInfo`]).
//!
//! A task's wrapper ([`TaskFuture`]) does three things on every poll:
//!
//! 1. publishes the task and its scope node in the thread-local context, so checkpoints
//!    polled inside see them (whichever thread polls the task);
//! 2. polls the inner future with a waker of its own that records "this task was woken"
//!    before passing the wake-up on, so [`wait_all_tasks_blocked`] can tell a blocked task
//!    from a runnable one;
//! 3. when the poll is pending, links the task's scope node into the scope tree so that a
//!    cancellation (or the abort of its group) anywhere above wakes it.
//!
//! [`wait_all_tasks_blocked`]: crate::testing::wait_all_tasks_blocked

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use slab::Slab;

use crate::backend::Backend;
use crate::backend::Handle;
use crate::cancel::tree::{ScopeNode, WakerIdentity, must_link};
use crate::cell::oneshot::Oneshot;
use crate::context;
use crate::task_group::GroupInner;
use crate::watchdog::TaskWatch;

const NOTIFIED: u8 = 1;
const POLLING: u8 = 2;

/// State shared by every task of one run of the event loop (one `anyio::run`, or one
/// backend's native context outside any run).
pub(crate) struct RunContext {
    backend: Backend,
    /// Every task of the run that has not finished, by its slot (kept in the task).
    tasks: Mutex<Slab<Weak<TaskCore>>>,
    /// The run's `RunVar` values by key. A B-tree: keys are small integers, a run holds a
    /// handful, and a lookup (every `to_thread` call reads the default limiter) hashes
    /// nothing (std's `HashMap` ran SipHash on every call).
    pub(crate) vars: Mutex<BTreeMap<usize, Box<dyn Any + Send + Sync>>>,
    pub(crate) slow_poll: Option<Duration>,
    /// Debug mode's cancellation watchdog threshold (see `crate::watchdog`).
    pub(crate) cancel_watchdog: Option<Duration>,
    /// The run's virtual clock, if it has one (`crate::testing::clock`).
    pub(crate) clock: Option<crate::clock::VirtualClock>,
    /// Set once the run's event loop has stopped (never for a native context): worker
    /// threads that outlive the run (abandoned `to_thread` calls) read it before reaching
    /// back into the loop.
    finished: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl RunContext {
    pub(crate) fn new(
        backend: Backend,
        slow_poll: Option<Duration>,
        cancel_watchdog: Option<Duration>,
        clock: Option<crate::clock::VirtualClock>,
    ) -> Arc<RunContext> {
        let run = Arc::new(RunContext {
            backend,
            tasks: Mutex::new(Slab::new()),
            vars: Mutex::new(BTreeMap::new()),
            slow_poll,
            cancel_watchdog,
            clock,
            finished: std::sync::atomic::AtomicBool::new(false),
        });
        if cancel_watchdog.is_some() {
            crate::watchdog::watch(&run);
        }
        run
    }

    /// Marks the run's event loop as stopped: no task of it will be polled again.
    pub(crate) fn mark_finished(&self) {
        // Release: pairs with `is_finished`'s Acquire on worker threads.
        self.finished.store(true, Ordering::Release);
    }

    /// Whether the run's event loop has stopped (see [`RunContext::mark_finished`]).
    pub(crate) fn is_finished(&self) -> bool {
        // Acquire: see `mark_finished`.
        self.finished.load(Ordering::Acquire)
    }

    /// The run context of code that runs outside `anyio::run` (one per backend and process).
    pub(crate) fn native(backend: Backend) -> Arc<RunContext> {
        static NATIVE: [OnceLock<Arc<RunContext>>; 2] = [OnceLock::new(), OnceLock::new()];
        let slot = match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => &NATIVE[0],
            #[cfg(feature = "smol")]
            Backend::Smol => &NATIVE[1],
        };
        slot.get_or_init(|| RunContext::new(backend, None, None, None))
            .clone()
    }

    /// The run context of the code being polled here.
    pub(crate) fn current() -> Option<Arc<RunContext>> {
        if let Some(run) = context::with_current_task(|t| t.map(|t| t.env().run.clone())) {
            return Some(run);
        }
        crate::detect::current_backend()
            .ok()
            .map(RunContext::native)
    }

    pub(crate) fn tasks(&self) -> Vec<Arc<TaskCore>> {
        self.tasks
            .lock()
            .iter()
            .filter_map(|(_, t)| t.upgrade())
            .collect()
    }
}

// A `const`-initialised static: std's atomic in both builds (loom's has no const `new`).
static NEXT_TASK_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The run a task belongs to and the executor that runs its children.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) run: Arc<RunContext>,
    pub(crate) backend: Handle,
}

/// What few tasks have, kept behind one optional box so that a plain child (unnamed,
/// spawned by its group's host, outside debug mode) carries one null pointer for all of it.
struct Extra {
    name: Option<Arc<str>>,
    /// The parent's id (`0` for none) when it is not the group's host: a root's, a portal
    /// task's, or a child started with `TaskGroup::start` from another task (re-parented to
    /// the host by [`TaskCore::set_parent`]).
    parent_id: Option<AtomicU64>,
    /// The run and executor of a task that is no group's child (a root, a portal's task).
    env: Option<Env>,
    /// Debug mode's state (`None` outside debug mode): read on every poll.
    debug: Option<TaskDebug>,
}

/// An anyio task's node of the scope tree and its state, in one allocation: what every
/// task shares with its wrapper, its wakers, its handles and the run's registry. The task's
/// own fields ([`TaskData`]) are reached through `Deref`; seen as a `ScopeNode` (an
/// unsizing coercion of the same `Arc`), it is the task's node of the tree.
pub(crate) type TaskCore = ScopeNode<[TaskData; 1]>;

impl std::ops::Deref for TaskCore {
    type Target = TaskData;

    fn deref(&self) -> &TaskData {
        &self.ext()[0]
    }
}

/// The state of an anyio task besides its scope node (see [`TaskCore`]).
pub(crate) struct TaskData {
    pub(crate) id: u64,
    /// The group the task is a child of: a child reaches its run, its executor and (by
    /// default) its parent's id through it — one shared reference, where two (the run and
    /// the executor handle) would bounce between the thread that spawns the child and the
    /// thread that runs it. `None` for a task with a run of its own (see [`Extra::env`]).
    group: Option<Arc<GroupInner>>,
    /// Name, parent override, own run, debug state: `None` for most children.
    extra: Option<Box<Extra>>,
    /// `NOTIFIED` from a wake until the next poll starts; `POLLING` during a poll.
    state: AtomicU8,
    /// The executor's waker of the latest poll: our own waker passes wake-ups on to it.
    /// A mutex rather than an `AtomicWaker`: waking by reference under it leaves the waker
    /// in place, so the next poll need not clone it again (it is almost always the same).
    /// (A lock-free `OnceLock` of the first poll's waker was measured: setting it cost
    /// more per spawn than the lock it saved per wake.)
    inner_waker: Mutex<Option<Waker>>,
    /// The identity of the waker in `inner_waker`, readable without the lock.
    inner_waker_id: WakerIdentity,
    /// How the task ended, for its [`TaskHandle`](crate::TaskHandle) (kept here, type-erased,
    /// so a child costs one allocation fewer; a unit result is not even boxed): the crate's
    /// one one-shot cell, `None` until the task ends; every handle awaiting it is woken.
    pub(crate) outcome: Oneshot<Option<Outcome>>,
    /// Where the task is listed in its run's registry; [`UNLISTED`] once it left it.
    slot: AtomicUsize,
}

/// [`TaskCore::slot`] of a task no longer in its run's registry (no slab key reaches it).
const UNLISTED: usize = usize::MAX;

/// How a task ended, as its handle reports it.
pub(crate) enum Outcome {
    /// The value (`None` once taken by awaiting the handle).
    Returned(Option<Box<dyn Any + Send>>),
    Failed(crate::Error),
    Cancelled,
    Panicked,
}

impl fmt::Debug for TaskCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskCore")
            .field("id", &self.id)
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl TaskCore {
    /// A task with a run and executor of its own (the root of a run, a portal's task),
    /// whose node is entered under `scope`.
    pub(crate) fn new_task(
        name: Option<Arc<str>>,
        parent: Option<u64>,
        run: Arc<RunContext>,
        backend: Handle,
        scope: Option<Arc<ScopeNode>>,
    ) -> Arc<TaskCore> {
        let debug = TaskDebug::new(&run, None);
        let extra = Extra {
            name,
            parent_id: Some(AtomicU64::new(parent.unwrap_or(0))),
            env: Some(Env { run, backend }),
            debug,
        };
        TaskCore::with_origin(None, Some(Box::new(extra)), scope)
    }

    /// A child of `group`, spawned by the caller of the `start_soon` that called this
    /// (kept for debug mode's reports); its node is entered under the group's.
    #[track_caller]
    pub(crate) fn new_child(
        name: Option<Arc<str>>,
        parent: Option<u64>,
        group: Arc<GroupInner>,
    ) -> Arc<TaskCore> {
        let spawned_at = Location::caller();
        let scope = Some(group.node().clone());
        let debug = TaskDebug::new(&group.env().run, Some(spawned_at));
        let extra = (name.is_some() || parent != group.host() || debug.is_some()).then(|| {
            Box::new(Extra {
                name,
                parent_id: (parent != group.host()).then(|| AtomicU64::new(parent.unwrap_or(0))),
                env: None,
                debug,
            })
        });
        TaskCore::with_origin(Some(group), extra, scope)
    }

    fn with_origin(
        group: Option<Arc<GroupInner>>,
        extra: Option<Box<Extra>>,
        scope: Option<Arc<ScopeNode>>,
    ) -> Arc<TaskCore> {
        // Relaxed: only uniqueness is needed, which every RMW on one atomic gives.
        let id = NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed);
        let core = Arc::new(ScopeNode::entered_with(
            scope,
            [TaskData {
                id,
                group,
                extra,
                state: AtomicU8::new(NOTIFIED),
                inner_waker: Mutex::new(None),
                inner_waker_id: WakerIdentity::new(),
                outcome: Oneshot::new(None),
                slot: AtomicUsize::new(UNLISTED),
            }],
        ));
        {
            let mut tasks = core.env().run.tasks.lock();
            let slot = tasks.insert(Arc::downgrade(&core));
            // Relaxed: written under the registry's lock, and read by `unregister` only
            // after the task was spawned (which publishes the core to its executor).
            core.slot.store(slot, Ordering::Relaxed);
        }
        core
    }

    /// The task's scope node, as the tree sees it (the same allocation).
    pub(crate) fn node(&self) -> &ScopeNode {
        self
    }

    /// The name given at spawn, if any.
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.extra.as_ref().and_then(|e| e.name.as_ref())
    }

    fn debug(&self) -> Option<&TaskDebug> {
        self.extra.as_ref().and_then(|e| e.debug.as_ref())
    }

    pub(crate) fn display_name(&self) -> String {
        match self.name() {
            Some(n) => n.to_string(),
            None => format!("task-{}", self.id),
        }
    }

    /// The task's run and executor.
    pub(crate) fn env(&self) -> &Env {
        if let Some(group) = &self.group {
            return group.env();
        }
        match self.extra.as_ref().and_then(|e| e.env.as_ref()) {
            Some(env) => env,
            // `new_task` gives every task without a group an env of its own.
            None => unreachable!("a task is a group's child or has a run of its own"),
        }
    }

    /// The group the task is a child of, if it is one.
    pub(crate) fn group(&self) -> Option<&Arc<GroupInner>> {
        self.group.as_ref()
    }

    /// Keeps the executor's waker of this poll; takes the lock only when it changed (a
    /// task's executor waker is almost always the same from one poll to the next).
    fn register_inner_waker(&self, waker: &Waker) {
        if self.inner_waker_id.is(waker) {
            return;
        }
        let mut inner = self.inner_waker.lock();
        match inner.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *inner = Some(waker.clone()),
        }
        self.inner_waker_id.set(waker);
    }

    /// Passes a wake-up on to the executor's waker of the latest poll (none before the
    /// first poll: the executor polls a new task anyway).
    fn wake_executor(&self) {
        if let Some(w) = self.inner_waker.lock().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Records how the task ended and wakes whoever waits for it.
    pub(crate) fn complete(&self, outcome: Outcome) {
        self.outcome.update(|slot| {
            *slot = Some(outcome);
            (true, ())
        });
    }

    /// Ready once the task has ended; otherwise registers `cx`'s waker.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.outcome.poll(cx.waker(), |slot| match slot {
            Some(_) => Poll::Ready(()),
            None => Poll::Pending,
        })
    }

    /// Whether the task has ended (its outcome is recorded).
    pub(crate) fn has_finished(&self) -> bool {
        self.outcome.with(|slot| slot.is_some())
    }

    /// Neither woken since its last poll nor being polled.
    pub(crate) fn is_blocked(&self) -> bool {
        // Acquire: pairs with the Release halves of the poll's and the wakers' updates.
        self.state.load(Ordering::Acquire) == 0
    }

    /// Removes the task from its run's registry: called when its body has finished, so a
    /// task group that has exited lists none of its children, even while the executor is
    /// still dropping their wrappers.
    pub(crate) fn unregister(&self) {
        // AcqRel: the swap makes "unlist once" race-free between the task's end and the
        // drop of its wrapper; its Acquire half sees the slot stored at creation.
        let slot = self.slot.swap(UNLISTED, Ordering::AcqRel);
        if slot != UNLISTED {
            self.env().run.tasks.lock().try_remove(slot);
        }
    }

    /// The task's watchdog state, in debug mode.
    pub(crate) fn watch(&self) -> Option<&TaskWatch> {
        self.debug().and_then(|d| d.watch.as_ref())
    }

    /// Makes `parent` the task's parent (`TaskStatus::started` hands the task to its
    /// group's host). A task whose parent is its group's host by default has no override
    /// to change, and the new parent is that host.
    pub(crate) fn set_parent(&self, parent: Option<u64>) {
        if let Some(id) = self.extra.as_ref().and_then(|e| e.parent_id.as_ref()) {
            // Relaxed: an id for introspection; nothing else is published through it.
            id.store(parent.unwrap_or(0), Ordering::Relaxed);
        }
    }

    fn parent_id(&self) -> Option<u64> {
        match self.extra.as_ref().and_then(|e| e.parent_id.as_ref()) {
            // Relaxed: see `set_parent`.
            Some(id) => Some(id.load(Ordering::Relaxed)).filter(|&p| p != 0),
            None => self.group.as_ref().and_then(|g| g.host()),
        }
    }

    pub(crate) fn info(&self) -> TaskInfo {
        TaskInfo {
            id: self.id,
            name: self.display_name(),
            parent_id: self.parent_id(),
        }
    }
}

/// The task and scope node a [`TaskFuture`] publishes while it polls. Dropping it (the
/// task finished or was aborted) undoes what the wrapper set up: the task leaves the
/// registry, and its scope node is closed, which drops the waker stored there (so a scope
/// handle kept after the run does not keep the task, its run and its executor alive).
struct Frame {
    // # Invariant
    // `Some` except during a poll, when both are moved into the thread-local context (a
    // guard moves them back, even when the poll panics).
    core: Option<Arc<TaskCore>>,
    node: Option<Arc<ScopeNode>>,
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(core) = &self.core {
            core.unregister();
        }
        if let Some(node) = &self.node {
            node.close();
        }
    }
}

impl Wake for TaskCore {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: an RMW on the state the poller also updates; its Release half orders
        // the waker's writes before the NOTIFIED that `wait_all_tasks_blocked` reads.
        self.state.fetch_or(NOTIFIED, Ordering::AcqRel);
        self.wake_executor();
    }
}

pin_project! {
    /// Runs `fut` as an anyio task (see the module docs).
    pub(crate) struct TaskFuture<F> {
        frame: Frame,
        waker: Waker,
        #[pin]
        fut: F,
    }
}

impl<F> TaskFuture<F> {
    /// The wrapper of the task `core`, whose node is the task's own part of the tree.
    pub(crate) fn new(core: Arc<TaskCore>, fut: F) -> TaskFuture<F> {
        let node: Arc<ScopeNode> = core.clone();
        TaskFuture {
            waker: Waker::from(core.clone()),
            frame: Frame {
                core: Some(core),
                node: Some(node),
            },
            fut,
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let begun = {
            let Some(core) = this.frame.core.as_ref() else {
                // Only reachable if a previous poll panicked and the executor polls again.
                return Poll::Pending;
            };
            core.register_inner_waker(cx.waker());
            // Release: a poll starts; clears NOTIFIED (the wake-up is being served) and
            // pairs with `is_blocked`'s Acquire.
            core.state.store(POLLING, Ordering::Release);
            // Debug mode only: the one test outside it.
            core.debug().map(TaskDebug::begin)
        };
        let fut = this.fut;
        let waker = &*this.waker;
        let frame = this.frame;
        let (out, polled) = context::enter_task(&mut frame.core, &mut frame.node, || {
            fut.poll(&mut Context::from_waker(waker))
        });
        let (Some(core), Some(node)) = (frame.core.as_ref(), frame.node.as_ref()) else {
            return out;
        };
        // AcqRel (both): RMWs on the state that wakers update from any thread; their
        // Release half orders the poll before the end of POLLING that
        // `wait_all_tasks_blocked` reads. A task that yielded is runnable: one swap ends the
        // poll and marks it notified.
        if polled.yielded {
            core.state.swap(NOTIFIED, Ordering::AcqRel);
        } else {
            core.state.fetch_and(!POLLING, Ordering::AcqRel);
        }
        // Linked by the tree's one rule (`must_link`): a child parked in a foreign future
        // must still be reachable when its group is aborted; one that only yielded will be
        // polled again anyway. (Once linked, this costs three loads.)
        if out.is_pending() && must_link(&polled, true) {
            node.block(waker);
        }
        if let (Some(begun), Some(debug)) = (begun, core.debug()) {
            debug.end(core, node, begun, out.is_pending(), polled);
        }
        out
    }
}

/// Debug mode's state of one task: the slow-poll threshold and the cancellation watchdog.
struct TaskDebug {
    slow_poll: Option<Duration>,
    watch: Option<TaskWatch>,
}

/// What [`TaskDebug::begin`] started.
struct Begun {
    started: Option<Instant>,
    watch: Option<context::WatchFrame>,
}

impl TaskDebug {
    /// `None` outside debug mode.
    fn new(run: &RunContext, spawned_at: Option<&'static Location<'static>>) -> Option<TaskDebug> {
        if run.slow_poll.is_none() && run.cancel_watchdog.is_none() {
            return None;
        }
        // `start` is an async fn, through which `#[track_caller]` does not reach: its
        // children would show anyio's own line, which says nothing. (Worked out only in
        // debug mode: parsing the path costs more than the rest of a spawn.)
        let spawned_at = spawned_at.filter(|caller| {
            !std::path::Path::new(caller.file())
                .parent()
                .is_some_and(|dir| dir.ends_with("src/task_group"))
        });
        Some(TaskDebug {
            slow_poll: run.slow_poll,
            watch: run.cancel_watchdog.map(|_| TaskWatch::new(spawned_at)),
        })
    }

    fn begin(&self) -> Begun {
        Begun {
            started: self.slow_poll.map(|_| Instant::now()),
            watch: self.watch.as_ref().map(|_| context::watch_begin()),
        }
    }

    fn end(
        &self,
        core: &TaskCore,
        node: &Arc<ScopeNode>,
        begun: Begun,
        pending: bool,
        polled: context::Polled,
    ) {
        if let (Some(limit), Some(started)) = (self.slow_poll, begun.started) {
            report_slow_poll(core, started.elapsed(), limit);
        }
        if let (Some(watch), Some(frame)) = (&self.watch, begun.watch) {
            let (inner, quiet) = context::watch_end(frame);
            watch.after_poll(pending, polled, quiet, inner, node);
        }
    }
}

fn report_slow_poll(core: &TaskCore, took: Duration, limit: Duration) {
    if took >= limit {
        // Formatted first and written in one call: `eprintln!` writes piece by piece, and
        // a report of a task's last poll can race the end of the program (the run may
        // return as soon as the task's result is published, before this runs), which cut
        // it mid-line. One short write is whole or absent.
        let report = format!(
            "anyio: task '{}' (id {}) blocked its thread for {:.1} ms in one poll \
             (debug threshold {:.1} ms): move blocking work to anyio::to_thread\n",
            core.display_name(),
            core.id,
            took.as_secs_f64() * 1e3,
            limit.as_secs_f64() * 1e3,
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), report.as_bytes());
    }
}

/// A description of an anyio task, as [`get_current_task`] and [`get_running_tasks`] give it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskInfo {
    /// A number unique to the task within the process.
    pub id: u64,
    /// The name given when the task was spawned, or `task-<id>`.
    pub name: String,
    /// The id of the task's parent: for a task-group child, the task that runs the group's
    /// host body, whichever task spawned the child (AnyIO's rule); while a child started
    /// with [`TaskGroup::start`](crate::TaskGroup::start) has not called `started` yet, the
    /// task that is starting it. `None` for the root task of a run and for children of a
    /// group opened by code that is not itself an anyio task.
    pub parent_id: Option<u64>,
}

/// Describes the anyio task that is running this code.
///
/// Returns `None` outside any anyio task (for example in a `#[tokio::main]` body that is not
/// running under [`anyio::run`](fn@crate::run)).
pub fn get_current_task() -> Option<TaskInfo> {
    context::with_current_task(|t| t.map(|t| t.info()))
}

/// Describes every anyio task of the current run that has not finished yet.
///
/// Outside [`anyio::run`](fn@crate::run), the tasks of the backend's native context are listed.
pub fn get_running_tasks() -> Vec<TaskInfo> {
    RunContext::current()
        .map(|run| {
            let mut tasks: Vec<TaskInfo> = run.tasks().iter().map(|t| t.info()).collect();
            tasks.sort_by_key(|t| t.id);
            tasks
        })
        .unwrap_or_default()
}

/// Whether every anyio task of the current run except the caller is blocked.
pub(crate) fn all_other_tasks_blocked() -> bool {
    let me = context::with_current_task(|t| t.map(|t| t.id));
    match RunContext::current() {
        Some(run) => run
            .tasks()
            .iter()
            .filter(|t| Some(t.id) != me)
            .all(|t| t.is_blocked()),
        None => true,
    }
}

#[cfg(all(test, feature = "tokio", not(loom)))]
mod tests {
    use std::future::poll_fn;
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    use super::{RunContext, TaskCore, TaskFuture};

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            // SeqCst: a test flag, read after the wake on the same thread.
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn woken(flag: &Flag) -> bool {
        // SeqCst: see `Flag::wake`.
        flag.0.load(Ordering::SeqCst)
    }

    /// A wrapper polled with another executor waker than at its first poll passes later
    /// wake-ups on to the new one (the slow path of `register_inner_waker`), not to the
    /// stale one.
    #[test]
    fn wake_reaches_the_executor_waker_of_the_latest_poll() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let handle = crate::detect::current_handle().unwrap();
            let run = RunContext::native(handle.backend());
            let core = TaskCore::new_task(None, None, run, handle, None);
            let inner: Arc<Mutex<Option<Waker>>> = Arc::default();
            let stash = inner.clone();
            let fut = poll_fn(move |cx: &mut Context<'_>| {
                *stash.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            });
            let mut task = pin!(TaskFuture::new(core.clone(), fut));
            let (first, second) = (
                Arc::new(Flag(AtomicBool::new(false))),
                Arc::new(Flag(AtomicBool::new(false))),
            );
            for flag in [&first, &second] {
                let waker = Waker::from(flag.clone());
                assert!(
                    task.as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_pending()
                );
            }
            inner.lock().unwrap().take().unwrap().wake();
            assert!(woken(&second), "the latest executor waker was not woken");
            assert!(!woken(&first), "a stale executor waker was woken");
            core.unregister();
        });
    }
}

#[cfg(all(test, target_pointer_width = "64", not(loom)))]
mod size {
    /// Every child pays its task block on the heap for as long as it lives: a field added
    /// to the common part should be a conscious choice (rare data goes in `Extra`).
    #[test]
    fn a_task_block_stays_small() {
        let bytes = std::mem::size_of::<super::TaskCore>();
        assert!(bytes <= 272, "TaskCore grew to {bytes} bytes");
    }
}
