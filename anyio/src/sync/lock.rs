//! [`Lock`]: mutual exclusion between tasks, with FIFO hand-off.

use crate::loom::{Mutex, MutexGuard};
use std::fmt;
use std::sync::Arc;

use super::waiters::{Handoff, Wait, WaitQueue, WakeList};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel;
use crate::task::{TaskCore, TaskInfo};

/// Statistics of a [`Lock`], as [`Lock::statistics`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockStatistics {
    /// Whether the lock is held.
    pub locked: bool,
    /// The task holding the lock; `None` when it is free, or held by code that is not an
    /// anyio task.
    pub owner: Option<TaskInfo>,
    /// Tasks waiting in [`Lock::lock`].
    pub tasks_waiting: usize,
}

/// A lock that one task holds at a time — AnyIO's `Lock`.
///
/// [`lock`](Self::lock) waits until the lock is free and returns a [`LockGuard`]; dropping
/// the guard releases the lock. Waiters get the lock in the order they asked for it: a
/// release hands the lock straight to the first waiter, so no task can barge in ahead of
/// the queue.
///
/// The lock guards no data of its own, as in AnyIO: it orders *sections of async code*
/// (writes to a shared stream, a multi-step protocol exchange). Data that only needs
/// protecting between two `.await`s belongs in a `std::sync::Mutex`.
///
/// The lock knows its owner, the task that acquired it: that task asking for it again gets
/// an error instead of a deadlock, and only that task may [`release`](Self::release) a lock
/// held without a guard.
///
/// `Lock` is a handle: clones share the same lock. The `fast_acquire` option belongs to
/// the handle (see [`with_fast_acquire`](Self::with_fast_acquire)).
///
/// # Examples
///
/// ```
/// use anyio::Lock;
///
/// # anyio::run(|| async {
/// let lock = Lock::new();
/// anyio::task_group(|tg| async move {
///     for i in 0..3 {
///         let lock = lock.clone();
///         tg.start_soon(async move {
///             let _guard = lock.lock().await?;
///             // Only one task at a time runs this section, checkpoints included.
///             anyio::lowlevel::checkpoint().await?;
///             println!("task {i} done");
///             Ok::<_, anyio::Error>(())
///         })?;
///     }
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Lock {
    inner: Arc<Inner>,
    fast_acquire: bool,
}

struct Inner {
    state: Mutex<State>,
}

/// The task an owner or a waiter is (`None` outside any anyio task).
type Task = Option<Arc<TaskCore>>;

struct State {
    locked: bool,
    /// # Invariant
    /// `None` whenever `locked` is false.
    owner: Task,
    waiters: WaitQueue<Task>,
}

fn same_task(a: &Task, b: &Task) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.id == b.id,
        _ => false,
    }
}

impl State {
    /// Hands the lock to the next waiter, or frees it.
    fn release(&mut self, wake: &mut WakeList) {
        match self.waiters.grant_next(wake) {
            // The waiter has no use for its task handle any more: move it.
            Some(task) => self.owner = task.take(),
            None => {
                self.locked = false;
                self.owner = None;
            }
        }
    }

    fn already_held() -> Error {
        Error::new(
            ErrorKind::InvalidState,
            "attempted to acquire a lock that the current task already holds",
        )
    }
}

impl Handoff for Inner {
    type State = State;
    type Data = Task;

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn queue(state: &mut State) -> &mut WaitQueue<Task> {
        &mut state.waiters
    }

    fn try_take(state: &mut State, task: &mut Task) -> bool {
        if state.locked {
            return false;
        }
        state.locked = true;
        state.owner = task.take();
        true
    }

    fn pass_on(state: &mut State, _task: Task, wake: &mut WakeList) {
        state.release(wake);
    }
}

impl Inner {
    fn release(&self) {
        let mut wake = WakeList::new();
        self.state().release(&mut wake);
        wake.wake_all();
    }

    /// Takes the lock at once, or queues the caller. `Ok(None)`: taken.
    fn start(&self, me: Task, cancellable: bool) -> Result<Option<usize>> {
        let mut state = self.state();
        if !state.locked {
            state.locked = true;
            state.owner = me;
            return Ok(None);
        }
        if same_task(&state.owner, &me) {
            return Err(State::already_held());
        }
        Ok(Some(state.waiters.push_back(me, cancellable)))
    }

    /// Acquires without checking for cancellation (the shielded re-acquisition of
    /// [`Condition::wait`](crate::Condition)).
    pub(super) async fn lock_shielded(&self) -> Result<()> {
        if let Some(key) = self.start(context::current_task(), false)? {
            Wait::new(self, key, false).await?;
        }
        Ok(())
    }
}

impl Default for Lock {
    fn default() -> Lock {
        Lock::new()
    }
}

impl Lock {
    /// A free lock. Taking it when it is free is a schedule point, as every
    /// [checkpoint](crate::lowlevel::checkpoint) is (it yields when the task's cooperative
    /// budget is spent).
    pub fn new() -> Lock {
        Lock {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    locked: false,
                    owner: None,
                    waiters: WaitQueue::new(),
                }),
            }),
            fast_acquire: false,
        }
    }

    /// Sets the `fast_acquire` option of this handle (and of the clones made from it
    /// afterwards): when on, acquiring a lock that is free and has no waiters does not
    /// count as a schedule point (AnyIO 4.5's `fast_acquire=True`). Cancellation is still
    /// checked.
    ///
    /// This makes an uncontended acquisition cheaper, but a task that takes and releases
    /// the lock in a loop without another checkpoint never lets other tasks run.
    pub fn with_fast_acquire(mut self, fast_acquire: bool) -> Lock {
        self.fast_acquire = fast_acquire;
        self
    }

    /// Whether this handle has the `fast_acquire` option on.
    pub fn fast_acquire(&self) -> bool {
        self.fast_acquire
    }

    /// Waits until the lock is free, takes it, and returns the guard that releases it.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A call in a cancelled scope returns `Cancelled` without taking the
    /// lock, even when it is free. A waiting call that is cancelled leaves the queue; if
    /// the lock was handed to it before the cancellation, it is returned as usual (the task
    /// sees `Cancelled` at its next checkpoint and releases the lock as it unwinds).
    /// Dropping the future passes on a lock it was handed. A cancelled task never leaves
    /// the lock locked.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the current task already holds the lock (AnyIO's
    /// "attempted to acquire an already held Lock"); [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let lock = anyio::Lock::new();
    /// {
    ///     let _guard = lock.lock().await?;
    ///     assert!(lock.locked());
    /// }
    /// assert!(!lock.locked());
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire")]
    pub async fn lock(&self) -> Result<LockGuard<'_>> {
        if let Some(e) = context::check_cancelled() {
            return Err(e);
        }
        match self.inner.start(context::current_task(), true)? {
            None => {
                let guard = LockGuard { lock: self };
                if !self.fast_acquire {
                    // The lock is ours already: this schedule point is not a cancellation point
                    // (if the future is dropped here, the guard releases the lock).
                    lowlevel::cancel_shielded_checkpoint().await;
                }
                Ok(guard)
            }
            Some(key) => {
                Wait::new(&*self.inner, key, true).await?;
                Ok(LockGuard { lock: self })
            }
        }
    }

    /// Takes the lock if it is free now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when the lock is held by another task;
    /// [`ErrorKind::InvalidState`] when the current task holds it already.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::{ErrorKind, Lock};
    ///
    /// # anyio::run(|| async {
    /// let lock = Lock::new();
    /// let guard = lock.try_lock()?;
    /// assert_eq!(lock.try_lock().unwrap_err().kind(), ErrorKind::InvalidState); // ours
    /// drop(guard);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire_nowait")]
    pub fn try_lock(&self) -> Result<LockGuard<'_>> {
        let me = context::current_task();
        let mut state = self.inner.state();
        if !state.locked {
            state.locked = true;
            state.owner = me;
            return Ok(LockGuard { lock: self });
        }
        if same_task(&state.owner, &me) {
            return Err(State::already_held());
        }
        Err(Error::new(
            ErrorKind::WouldBlock,
            "the lock is held by another task",
        ))
    }

    /// Releases the lock held by the current task without a guard (see
    /// [`LockGuard::forget`]) and hands it to the next waiter. AnyIO's `release()`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the lock is not locked, or is held by another
    /// task.
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let lock = anyio::Lock::new();
    /// lock.lock().await?.forget(); // AnyIO's `await lock.acquire()`
    /// assert!(lock.locked());
    /// lock.release()?;
    /// assert!(lock.release().is_err()); // not held any more
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn release(&self) -> Result<()> {
        let me = context::current_task();
        let mut wake = WakeList::new();
        {
            let mut state = self.inner.state();
            if !state.locked {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "releasing a lock that is not locked",
                ));
            }
            let mine = same_task(&state.owner, &me) || (state.owner.is_none() && me.is_none());
            if !mine {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "the current task is not holding this lock",
                ));
            }
            state.release(&mut wake);
        }
        wake.wake_all();
        Ok(())
    }

    /// Whether the lock is held.
    pub fn locked(&self) -> bool {
        self.inner.state().locked
    }

    /// Statistics: whether the lock is held, by which task, and how many tasks wait.
    pub fn statistics(&self) -> LockStatistics {
        let state = self.inner.state();
        LockStatistics {
            locked: state.locked,
            owner: state.owner.as_ref().map(|t| t.info()),
            tasks_waiting: state.waiters.len(),
        }
    }

    pub(super) fn release_unchecked(&self) {
        self.inner.release();
    }

    pub(super) async fn lock_shielded(&self) -> Result<()> {
        self.inner.lock_shielded().await
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state();
        f.debug_struct("Lock")
            .field("locked", &state.locked)
            .field("tasks_waiting", &state.waiters.len())
            .field("fast_acquire", &self.fast_acquire)
            .finish()
    }
}

/// Proof that a [`Lock`] is held; dropping it releases the lock (handing it to the next
/// waiter, if any).
///
/// The guard may be moved to another task; the lock's [owner](LockStatistics::owner) stays
/// the task that acquired it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl LockGuard<'_> {
    /// Keeps the lock locked without a guard; the task that acquired it releases it with
    /// [`Lock::release`]. AnyIO's manual `acquire()` / `release()`.
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// Releases the lock now (the same as dropping the guard).
    pub fn unlock(self) {}
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.inner.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}
