//! The per-thread context that checkpoints read: which scope is current, which anyio task
//! is being polled, and whether the poll in progress blocked.
//!
//! Every anyio task is wrapped in a [`TaskFuture`](crate::task::TaskFuture) and every
//! cancel scope in a scope future; each publishes its state here for the duration of one
//! poll and takes it back after. Nodes are *moved* into the thread-local and back (no
//! reference-count traffic), and a guard puts them back even if the poll panics.
//! Publishing per poll, rather than per task, is what keeps this correct under work
//! stealing: whichever thread polls a task sees that task's context.

use std::cell::Cell;
use std::sync::Arc;

use crate::cancel::tree::ScopeNode;
use crate::error::{Error, Result};
use crate::task::TaskCore;

struct Current {
    scope: Cell<Option<Arc<ScopeNode>>>,
    task: Cell<Option<Arc<TaskCore>>>,
    /// Set by an operation that returned `Pending` for a real wait (not a mere yield), so
    /// the scopes around it arm their deadline timers and link themselves for wake-ups.
    blocked: Cell<bool>,
    /// Set by a checkpoint that yielded: its task is runnable even though its wake-up may be
    /// delivered only after the poll returns (tokio defers yield wake-ups).
    yielded: Cell<bool>,
    /// Checkpoints left before the next one must yield (see [`spend_budget`]).
    budget: Cell<u8>,
    /// Set on anyio's worker threads (`to_thread`): no async context is detected there.
    worker: Cell<bool>,
    /// Debug mode's watchdog (see `crate::watchdog`): set while a watched task is polled.
    watching: Cell<bool>,
    /// The innermost scope whose inner future went `Pending` outside any anyio operation
    /// during this poll of a watched task.
    suspect: Cell<Option<Arc<ScopeNode>>>,
    /// Set by an anyio operation that waits without marking the task blocked (a cancelled
    /// `to_thread` call waiting for its thread).
    quiet: Cell<bool>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            scope: Cell::new(None),
            task: Cell::new(None),
            blocked: Cell::new(false),
            yielded: Cell::new(false),
            budget: Cell::new(BUDGET),
            worker: Cell::new(false),
            watching: Cell::new(false),
            suspect: Cell::new(None),
            quiet: Cell::new(false),
        }
    };
}

/// How many checkpoints a task may pass in one poll before one of them yields (tokio's
/// cooperative budget is 128 as well).
pub(crate) const BUDGET: u8 = 128;

/// Spends one unit of the cooperative budget; true when it is exhausted, in which case the
/// caller must yield (the budget is refilled for the next round).
pub(crate) fn spend_budget() -> bool {
    CURRENT.try_with(spend).unwrap_or(true)
}

#[inline]
fn spend(c: &Current) -> bool {
    let left = c.budget.get();
    if left <= 1 {
        c.budget.set(BUDGET);
        true
    } else {
        c.budget.set(left - 1);
        false
    }
}

/// [`check_cancelled`] and, when not cancelled, [`spend_budget`], in one thread-local
/// access: `Err` with the cancellation, or `Ok(must_yield)`.
#[inline]
pub(crate) fn check_and_spend() -> Result<bool, Error> {
    CURRENT
        .try_with(|c| {
            let scope = c.scope.take();
            let cancelled = scope.as_ref().and_then(|s| s.check());
            c.scope.set(scope);
            match cancelled {
                Some(e) => Err(e),
                None => Ok(spend(c)),
            }
        })
        .unwrap_or(Ok(true))
}

/// Refills the budget: a task starts every poll with a full one.
pub(crate) fn refill_budget() {
    let _ = CURRENT.try_with(|c| c.budget.set(BUDGET));
}

/// The cancellation error a checkpoint here must return, if any. No allocation and no lock
/// unless something is cancelled.
#[inline]
pub(crate) fn check_cancelled() -> Option<Error> {
    CURRENT
        .try_with(|c| {
            let scope = c.scope.take();
            let result = scope.as_ref().and_then(|s| s.check());
            c.scope.set(scope);
            result
        })
        .ok()
        .flatten()
}

/// What an operation that found nothing ready does: the cancellation it must return, if
/// any; otherwise the task is marked blocked ([`mark_blocked`]). One thread-local access
/// for both.
#[inline]
pub(crate) fn cancelled_or_block() -> Option<Error> {
    CURRENT
        .try_with(|c| {
            let scope = c.scope.take();
            let result = scope.as_ref().and_then(|s| s.check());
            c.scope.set(scope);
            if result.is_none() {
                c.blocked.set(true);
            }
            result
        })
        .ok()
        .flatten()
}

/// Records that the operation being polled blocked for real (see [`Current::blocked`]).
#[inline]
pub(crate) fn mark_blocked() {
    let _ = CURRENT.try_with(|c| c.blocked.set(true));
}

/// Records that the task being polled yielded (see [`Current::yielded`]).
pub(crate) fn mark_yielded() {
    let _ = CURRENT.try_with(|c| c.yielded.set(true));
}

/// Records that the operation being polled waits for real although it does not mark the
/// task blocked (a cancelled `to_thread` call waiting for its thread): the watchdog must
/// not take it for a foreign future.
pub(crate) fn mark_quiet_wait() {
    let _ = CURRENT.try_with(|c| c.quiet.set(true));
}

/// Records that the inner future of scope `node` went `Pending` outside any anyio
/// operation; the innermost such scope of a watched task's poll is kept for the watchdog.
/// Reached only on that path (a foreign future), never by anyio's own waits.
pub(crate) fn note_foreign_pending(node: &Arc<ScopeNode>) {
    let _ = CURRENT.try_with(|c| {
        if c.watching.get() {
            let suspect = c.suspect.take();
            c.suspect.set(suspect.or_else(|| Some(node.clone())));
        }
    });
}

/// What [`watch_begin`] replaced, for [`watch_end`] to put back.
pub(crate) struct WatchFrame {
    watching: bool,
    suspect: Option<Arc<ScopeNode>>,
    quiet: bool,
}

/// Starts recording for the watchdog during a poll of a watched task (debug mode only).
pub(crate) fn watch_begin() -> WatchFrame {
    CURRENT
        .try_with(|c| WatchFrame {
            watching: c.watching.replace(true),
            suspect: c.suspect.take(),
            quiet: c.quiet.replace(false),
        })
        .unwrap_or(WatchFrame {
            watching: false,
            suspect: None,
            quiet: false,
        })
}

/// Ends the recording of [`watch_begin`]: the innermost scope that went `Pending` outside
/// anyio, and whether an anyio operation waited quietly.
pub(crate) fn watch_end(prev: WatchFrame) -> (Option<Arc<ScopeNode>>, bool) {
    CURRENT
        .try_with(|c| {
            c.watching.set(prev.watching);
            let suspect = c.suspect.replace(prev.suspect);
            let quiet = c.quiet.replace(prev.quiet);
            (suspect, quiet)
        })
        .unwrap_or((None, false))
}

/// A clone of the current scope node (the parent of a scope entered now).
pub(crate) fn current_scope() -> Option<Arc<ScopeNode>> {
    CURRENT
        .try_with(|c| {
            let scope = c.scope.take();
            let clone = scope.clone();
            c.scope.set(scope);
            clone
        })
        .ok()
        .flatten()
}

/// A clone of the anyio task being polled on this thread, if any.
pub(crate) fn current_task() -> Option<Arc<TaskCore>> {
    CURRENT
        .try_with(|c| {
            let task = c.task.take();
            let clone = task.clone();
            c.task.set(task);
            clone
        })
        .ok()
        .flatten()
}

/// Runs `f` with `read` applied to the current task without cloning it.
pub(crate) fn with_current_task<R>(read: impl FnOnce(Option<&Arc<TaskCore>>) -> R) -> R {
    let mut read = Some(read);
    let out = CURRENT.try_with(|c| {
        let task = c.task.take();
        let out = (read.take().expect("called once"))(task.as_ref());
        c.task.set(task);
        out
    });
    match out {
        Ok(v) => v,
        Err(_) => (read.take().expect("not called yet"))(None),
    }
}

/// The id of the anyio task being polled on this thread, if any.
#[allow(dead_code)]
pub(crate) fn current_task_id() -> Option<u64> {
    with_current_task(|t| t.map(|t| t.id))
}

pub(crate) fn is_worker_thread() -> bool {
    CURRENT.try_with(|c| c.worker.get()).unwrap_or(false)
}

/// Marks this thread as an anyio worker thread (or unmarks it).
#[allow(dead_code)]
pub(crate) fn set_worker_thread(worker: bool) {
    let _ = CURRENT.try_with(|c| c.worker.set(worker));
}

/// Restores the previous context when dropped, moving the published values back into the
/// future's slots.
struct Restore<'a> {
    scope_slot: &'a mut Option<Arc<ScopeNode>>,
    task_slot: Option<&'a mut Option<Arc<TaskCore>>>,
    prev_scope: Option<Arc<ScopeNode>>,
    prev_task: Option<Arc<TaskCore>>,
    prev_blocked: bool,
    /// For a task: the yielded flag and budget of whatever was polled around it.
    prev_task_state: Option<(bool, u8)>,
}

/// What one poll inside [`enter_scope`] or [`enter_task`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Polled {
    /// An operation returned `Pending` for a real wait.
    pub(crate) blocked: bool,
    /// A checkpoint yielded (tasks only; scopes leave the flag to their task).
    pub(crate) yielded: bool,
}

impl Restore<'_> {
    /// Puts everything back; reports what the inner poll did.
    fn restore(&mut self) -> Polled {
        CURRENT
            .try_with(|c| {
                *self.scope_slot = c.scope.replace(self.prev_scope.take());
                if let Some(slot) = self.task_slot.as_mut() {
                    **slot = c.task.replace(self.prev_task.take());
                }
                let blocked = c.blocked.get();
                c.blocked.set(self.prev_blocked || blocked);
                let yielded = match self.prev_task_state.take() {
                    Some((prev_yielded, prev_budget)) => {
                        c.budget.set(prev_budget);
                        c.yielded.replace(prev_yielded)
                    }
                    None => false,
                };
                Polled { blocked, yielded }
            })
            .unwrap_or_default()
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Polls `f` with `scope` as the current scope. Returns what `f` returned and what the
/// poll did.
pub(crate) fn enter_scope<R>(
    scope: &mut Option<Arc<ScopeNode>>,
    f: impl FnOnce() -> R,
) -> (R, Polled) {
    enter(scope, None, f)
}

/// Polls `f` as the anyio task `task` with `scope` as its current scope, with a fresh
/// cooperative budget. All of the per-poll context is set up and taken down with one
/// thread-local access each way.
pub(crate) fn enter_task<R>(
    task: &mut Option<Arc<TaskCore>>,
    scope: &mut Option<Arc<ScopeNode>>,
    f: impl FnOnce() -> R,
) -> (R, Polled) {
    enter(scope, Some(task), f)
}

fn enter<'a, R>(
    scope: &'a mut Option<Arc<ScopeNode>>,
    task: Option<&'a mut Option<Arc<TaskCore>>>,
    f: impl FnOnce() -> R,
) -> (R, Polled) {
    let mut task = task;
    let published = CURRENT.try_with(|c| {
        let prev_scope = c.scope.replace(scope.take());
        let (prev_task, prev_task_state) = match task.as_mut() {
            Some(slot) => (
                c.task.replace(slot.take()),
                Some((c.yielded.replace(false), c.budget.replace(BUDGET))),
            ),
            None => (None, None),
        };
        (
            prev_scope,
            prev_task,
            c.blocked.replace(false),
            prev_task_state,
        )
    });
    let Ok((prev_scope, prev_task, prev_blocked, prev_task_state)) = published else {
        // The thread is shutting down its thread-locals: poll without a context.
        return (f(), Polled::default());
    };
    let mut guard = Restore {
        scope_slot: scope,
        task_slot: task,
        prev_scope,
        prev_task,
        prev_blocked,
        prev_task_state,
    };
    let out = f();
    let polled = guard.restore();
    // Everything is back in place; the guard has nothing left to restore.
    guard.prev_blocked = false;
    std::mem::forget(guard);
    (out, polled)
}

/// The backend's fair schedule point ([`crate::backend::yield_now`]), with the task marked
/// as having yielded while its wake-up is deferred, so it counts as runnable (not blocked)
/// for `wait_all_tasks_blocked`.
pub(crate) async fn yield_now() {
    let mut inner = std::pin::pin!(crate::backend::yield_now());
    std::future::poll_fn(|cx| {
        let p = inner.as_mut().poll(cx);
        if p.is_pending() {
            mark_yielded();
        }
        p
    })
    .await
}
