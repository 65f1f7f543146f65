//! [`Lock`]: mutual exclusion between tasks, with FIFO hand-off.

use crate::loom::{Mutex, MutexGuard};
use std::fmt;
use std::sync::Arc;

use super::waiters::{Acquire, Acquisition, Handoff, WaitQueue, WakeList};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
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
/// (writes to a shared stream, a multi-step protocol exchange). For data that stays locked
/// across `.await`s, [`Mutex<T>`](crate::Mutex) is this same lock holding the data; data
/// that only needs protecting between two `.await`s belongs in a `std::sync::Mutex`.
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
    inner: Arc<Core<()>>,
    fast_acquire: bool,
}

/// The lock itself, shared by [`Lock`] (`V = ()`) and [`Mutex<T>`](crate::Mutex)
/// (`V = T`): the same FIFO hand-off, owner and cancellation rules. The protected value
/// travels with the ownership: it sits in the state while the lock is free, goes into the
/// waiter a hand-off picks (and out of its `Wait`), and lives in the guard while held.
pub(super) struct Core<V> {
    state: Mutex<State<V>>,
}

/// The task an owner or a waiter is (`None` outside any anyio task).
type Task = Option<Arc<TaskCore>>;

pub(super) struct State<V> {
    locked: bool,
    /// # Invariant
    /// `None` whenever `locked` is false.
    owner: Task,
    /// # Invariant
    /// `Some` exactly when `locked` is false (a holder, or the waiter the lock was handed
    /// to, has it otherwise). Lost only with a guard leaked by `mem::forget`, which leaves
    /// the lock locked for good.
    value: Option<V>,
    waiters: WaitQueue<Waiter<V>>,
}

/// A queued acquisition: who waits, and (once granted) the value handed to it.
pub(super) struct Waiter<V> {
    task: Task,
    value: Option<V>,
}

fn same_task(a: &Task, b: &Task) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.id == b.id,
        _ => false,
    }
}

fn already_held() -> Error {
    Error::new(
        ErrorKind::InvalidState,
        "attempted to acquire a lock that the current task already holds",
    )
}

impl<V> State<V> {
    /// Hands the lock (and `value`) to the next waiter, or frees it.
    fn release(&mut self, value: Option<V>, wake: &mut WakeList) {
        match self.waiters.grant_next(wake) {
            Some(waiter) => {
                // The waiter has no use for its task handle any more: move it.
                self.owner = waiter.task.take();
                waiter.value = value;
            }
            None => {
                self.locked = false;
                self.owner = None;
                self.value = value;
            }
        }
    }

    /// Takes the lock for `me` if it is free (moving `me` into the owner); `Ok(false)`
    /// when another task holds it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when `me` holds it.
    fn take(&mut self, me: &mut Task) -> Result<Option<Option<V>>> {
        if !self.locked {
            self.locked = true;
            self.owner = me.take();
            return Ok(Some(self.value.take()));
        }
        if same_task(&self.owner, me) {
            return Err(already_held());
        }
        Ok(None)
    }
}

impl<V> Handoff for Core<V> {
    type State = State<V>;
    type Data = Waiter<V>;

    fn state(&self) -> MutexGuard<'_, State<V>> {
        self.state.lock()
    }

    fn queue(state: &mut State<V>) -> &mut WaitQueue<Waiter<V>> {
        &mut state.waiters
    }

    fn try_take(state: &mut State<V>, waiter: &mut Waiter<V>) -> bool {
        if state.locked {
            return false;
        }
        state.locked = true;
        state.owner = waiter.task.take();
        waiter.value = state.value.take();
        true
    }

    fn pass_on(state: &mut State<V>, waiter: Waiter<V>, wake: &mut WakeList) {
        state.release(waiter.value, wake);
    }
}

impl<V> Acquire for Core<V> {
    fn data(&self) -> Waiter<V> {
        Waiter {
            task: context::current_task(), // outside the critical section
            value: None,
        }
    }

    fn begin(state: &mut State<V>, waiter: &mut Waiter<V>) -> Result<bool> {
        match state.take(&mut waiter.task)? {
            Some(value) => {
                waiter.value = value;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl<V> Core<V> {
    pub(super) fn new(value: V) -> Core<V> {
        Core {
            state: Mutex::new(State {
                locked: false,
                owner: None,
                value: Some(value),
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Gives the lock back with its value, handing both to the next waiter.
    pub(super) fn release(&self, value: Option<V>) {
        let mut wake = WakeList::new();
        self.state().release(value, &mut wake);
        wake.wake_all();
    }

    /// `lock()` of [`Lock`] and [`Mutex`](crate::Mutex): a checkpoint, then the lock (see
    /// [`Lock::lock`] for the contract). The value comes out of the acquisition and goes
    /// straight into the guard, with no `.await` in between.
    pub(super) async fn lock(&self, fast_acquire: bool) -> Result<Held<'_, V>> {
        let waiter = Acquisition::new(self, !fast_acquire, true).await?;
        Ok(Held {
            core: self,
            value: waiter.value,
        })
    }

    /// Takes the lock if it is free now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when another task holds it; [`ErrorKind::InvalidState`]
    /// when the current task does.
    pub(super) fn try_lock(&self) -> Result<Held<'_, V>> {
        let mut me = context::current_task(); // outside the critical section
        match self.state().take(&mut me)? {
            Some(value) => Ok(Held { core: self, value }),
            None => Err(Error::new(
                ErrorKind::WouldBlock,
                "the lock is held by another task",
            )),
        }
    }

    /// Acquires without checking for cancellation (the shielded re-acquisition of
    /// [`Condition::wait`](crate::Condition)).
    pub(super) async fn lock_shielded(&self) -> Result<Option<V>> {
        Ok(Acquisition::new(self, false, false).await?.value)
    }

    pub(super) fn locked(&self) -> bool {
        self.state().locked
    }

    /// Releases the lock held without a guard by the current task (AnyIO's `release()`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the lock is not locked, or is held by another
    /// task.
    fn release_checked(&self, value: Option<V>) -> Result<()> {
        let me = context::current_task();
        let mut wake = WakeList::new();
        {
            let mut state = self.state();
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
            state.release(value, &mut wake);
        }
        wake.wake_all();
        Ok(())
    }

    pub(super) fn fmt_fields(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        let state = self.state();
        f.field("locked", &state.locked)
            .field("tasks_waiting", &state.waiters.len());
    }

    pub(super) fn statistics(&self) -> LockStatistics {
        let state = self.state();
        LockStatistics {
            locked: state.locked,
            owner: state.owner.as_ref().map(|t| t.info()),
            tasks_waiting: state.waiters.len(),
        }
    }

    /// The value, through a unique reference (so no guard is alive). `None` only when a
    /// guard was leaked with `mem::forget`.
    pub(super) fn get_mut(&mut self) -> Option<&mut V> {
        self.state.get_mut().value.as_mut()
    }

    /// The value (`None` only when a guard was leaked with `mem::forget`).
    pub(super) fn into_inner(mut self) -> Option<V> {
        self.state.get_mut().value.take()
    }
}

/// The lock held, with its value: the guard inside [`LockGuard`] and
/// [`MutexGuard`](crate::MutexGuard). Dropping it gives the value back and hands the lock
/// to the next waiter.
pub(super) struct Held<'a, V> {
    core: &'a Core<V>,
    /// # Invariant
    /// `Some` until the drop (the lock's value, which travels with its ownership).
    value: Option<V>,
}

impl<V> Held<'_, V> {
    pub(super) fn value(&self) -> &V {
        self.value.as_ref().expect("a held lock has its value")
    }

    pub(super) fn value_mut(&mut self) -> &mut V {
        self.value.as_mut().expect("a held lock has its value")
    }
}

impl<V> Drop for Held<'_, V> {
    fn drop(&mut self) {
        self.core.release(self.value.take());
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
            inner: Arc::new(Core::new(())),
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
        Ok(LockGuard {
            _held: self.inner.lock(self.fast_acquire).await?,
        })
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
        Ok(LockGuard {
            _held: self.inner.try_lock()?,
        })
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
        self.inner.release_checked(Some(()))
    }

    /// Whether the lock is held.
    pub fn locked(&self) -> bool {
        self.inner.locked()
    }

    /// Statistics: whether the lock is held, by which task, and how many tasks wait.
    pub fn statistics(&self) -> LockStatistics {
        self.inner.statistics()
    }

    pub(super) fn release_unchecked(&self) {
        self.inner.release(Some(()));
    }

    pub(super) async fn lock_shielded(&self) -> Result<()> {
        self.inner.lock_shielded().await.map(drop)
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        self.inner.fmt_fields(&mut d);
        d.field("fast_acquire", &self.fast_acquire).finish()
    }
}

/// Proof that a [`Lock`] is held; dropping it releases the lock (handing it to the next
/// waiter, if any).
///
/// The guard may be moved to another task; the lock's [owner](LockStatistics::owner) stays
/// the task that acquired it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    /// Releases the lock when dropped.
    _held: Held<'a, ()>,
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

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}
