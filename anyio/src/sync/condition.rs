//! [`Condition`]: waiting for a notification while a [`Lock`] is released.

use crate::loom::{Mutex, MutexGuard};
use std::fmt;
use std::sync::Arc;

use super::lock::{Lock, LockStatistics};
use super::waiters::{Handoff, Wait, WaitQueue, WakeList};
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel;

/// Statistics of a [`Condition`], as [`Condition::statistics`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConditionStatistics {
    /// Tasks waiting in [`ConditionGuard::wait`] for a notification.
    pub tasks_waiting: usize,
    /// Statistics of the underlying lock.
    pub lock_statistics: LockStatistics,
}

/// A condition variable over a [`Lock`] — AnyIO's `Condition`.
///
/// Tasks hold the lock through a [`ConditionGuard`] ([`lock`](Self::lock)). A task that
/// must wait for the shared state to change calls [`ConditionGuard::wait`], which releases
/// the lock, waits for a notification, and takes the lock again before returning; a task
/// that changed the state calls [`ConditionGuard::notify`] or
/// [`notify_all`](ConditionGuard::notify_all) while it holds the lock. Waiters are
/// notified in FIFO order.
///
/// Holding the lock is needed to wait or notify, as in AnyIO — here the guard is the proof,
/// so "the current task is not holding the underlying lock" cannot happen.
///
/// `Condition` is a handle: clones share the same lock and the same waiters.
///
/// # Examples
///
/// A one-slot mailbox:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use anyio::Condition;
///
/// # anyio::run(|| async {
/// let cond = Condition::new();
/// let slot: Arc<Mutex<Option<u32>>> = Arc::default();
/// let got = anyio::task_group(|tg| {
///     let (cond, slot) = (cond.clone(), slot.clone());
///     async move {
///         let consumer = {
///             let (cond, slot) = (cond.clone(), slot.clone());
///             tg.start_soon(async move {
///                 let mut guard = cond.lock().await?;
///                 guard.wait_for(|| slot.lock().unwrap().is_some()).await?;
///                 Ok::<_, anyio::Error>(slot.lock().unwrap().take())
///             })?
///         };
///         let guard = cond.lock().await?;
///         *slot.lock().unwrap() = Some(7);
///         guard.notify(1);
///         drop(guard);
///         consumer.await
///     }
/// })
/// .await?;
/// assert_eq!(got, Some(Some(7)));
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Condition {
    lock: Lock,
    inner: Arc<Inner>,
}

struct Inner {
    waiters: Mutex<WaitQueue<()>>,
}

impl Handoff for Inner {
    type State = WaitQueue<()>;
    type Data = ();

    fn state(&self) -> MutexGuard<'_, WaitQueue<()>> {
        self.waiters.lock()
    }

    fn queue(state: &mut WaitQueue<()>) -> &mut WaitQueue<()> {
        state
    }

    fn try_take(_: &mut WaitQueue<()>, _: &mut ()) -> bool {
        // A notification cannot be taken, only waited for.
        false
    }

    fn pass_on(state: &mut WaitQueue<()>, _: (), wake: &mut WakeList) {
        // A notified waiter that will not act on its notification passes it on (AnyIO).
        state.grant_next(wake);
    }
}

impl Inner {
    fn notify(&self, n: usize) {
        let mut wake = WakeList::new();
        {
            let mut queue = self.state();
            for _ in 0..n {
                if queue.grant_next(&mut wake).is_none() {
                    break;
                }
            }
        }
        wake.wake_all();
    }
}

impl Default for Condition {
    fn default() -> Condition {
        Condition::new()
    }
}

impl Condition {
    /// A condition over a lock of its own.
    pub fn new() -> Condition {
        Condition::with_lock(Lock::new())
    }

    /// A condition over `lock` (a clone of a lock used elsewhere too, say).
    pub fn with_lock(lock: Lock) -> Condition {
        Condition {
            lock,
            inner: Arc::new(Inner {
                waiters: Mutex::new(WaitQueue::new()),
            }),
        }
    }

    /// The underlying lock.
    pub fn lock_handle(&self) -> &Lock {
        &self.lock
    }

    /// Takes the underlying lock; the guard waits and notifies.
    ///
    /// # Cancellation
    ///
    /// As [`Lock::lock`].
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let cond = anyio::Condition::new();
    /// let guard = cond.lock().await?;
    /// assert!(cond.locked());
    /// guard.notify_all(); // nobody waits: nothing happens
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire")]
    pub async fn lock(&self) -> Result<ConditionGuard<'_>> {
        self.lock.lock().await?.forget();
        Ok(ConditionGuard {
            cond: self,
            held: true,
        })
    }

    /// Takes the underlying lock if it is free now.
    ///
    /// # Errors
    ///
    /// As [`Lock::try_lock`].
    #[doc(alias = "acquire_nowait")]
    pub fn try_lock(&self) -> Result<ConditionGuard<'_>> {
        self.lock.try_lock()?.forget();
        Ok(ConditionGuard {
            cond: self,
            held: true,
        })
    }

    /// Whether the underlying lock is held.
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Statistics: tasks waiting for a notification, and the lock's statistics.
    pub fn statistics(&self) -> ConditionStatistics {
        ConditionStatistics {
            tasks_waiting: self.inner.state().len(),
            lock_statistics: self.lock.statistics(),
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .field("tasks_waiting", &self.inner.state().len())
            .finish()
    }
}

/// The underlying lock of a [`Condition`], held; dropping the guard releases it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
    /// False only after a [`wait`](Self::wait) future was dropped before it took the lock
    /// back.
    held: bool,
}

impl ConditionGuard<'_> {
    /// Releases the lock, waits for a notification, and takes the lock again.
    ///
    /// Wake-ups come only from [`notify`](Self::notify) and
    /// [`notify_all`](Self::notify_all), but the state that was waited for may have
    /// changed again by the time the lock is taken back: check it in a loop, or use
    /// [`wait_for`](Self::wait_for).
    ///
    /// # Cancellation
    ///
    /// A checkpoint. In a cancelled scope it returns `Cancelled` at once, keeping the lock.
    /// When cancelled while waiting, it leaves the queue, takes the lock back (shielded
    /// from the cancellation, as AnyIO does) and returns `Cancelled`, so the guard always
    /// holds the lock when `wait` returns. A notification that arrived before the
    /// cancellation makes it return `Ok`. A waiter dropped after it was notified passes the
    /// notification on to the next waiter.
    ///
    /// Dropping the future before it returns leaves the guard without the lock (it is not
    /// taken back, since that would need to wait): the guard's next `wait` then fails, and
    /// dropping the guard releases nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`]; [`ErrorKind::InvalidState`] when an earlier `wait` future
    /// of this guard was dropped before it took the lock back.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::Condition;
    ///
    /// # anyio::run(|| async {
    /// let cond = Condition::new();
    /// let waiter = cond.clone();
    /// anyio::task_group(|tg| async move {
    ///     tg.start_soon(async move {
    ///         let mut guard = waiter.lock().await?;
    ///         guard.wait().await?; // releases the lock while it waits
    ///         assert!(waiter.locked()); // held again
    ///         Ok::<_, anyio::Error>(())
    ///     })?;
    ///     anyio::testing::wait_all_tasks_blocked().await?;
    ///     cond.lock().await?.notify(1);
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn wait(&mut self) -> Result<()> {
        if !self.held {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this condition guard lost its lock when an earlier wait was dropped",
            ));
        }
        lowlevel::Checkpoint::check()?;
        let inner = &*self.cond.inner;
        // Queued before the lock is released: a notifier needs the lock, so no
        // notification can slip in between.
        let key = inner.state().push_back((), true);
        self.held = false;
        self.cond.lock.release_unchecked();
        let notified = Wait::new(inner, key, true).await;
        self.cond.lock.lock_shielded().await?;
        self.held = true;
        notified
    }

    /// Waits until `predicate` returns true: checks it, and [`wait`](Self::wait)s for a
    /// notification each time it returns false. The lock is held whenever `predicate` runs.
    ///
    /// # Cancellation
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let cond = anyio::Condition::new();
    /// let mut guard = cond.lock().await?;
    /// guard.wait_for(|| true).await?; // true already: no wait
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn wait_for(&mut self, mut predicate: impl FnMut() -> bool) -> Result<()> {
        while !predicate() {
            self.wait().await?;
        }
        Ok(())
    }

    /// Wakes up to `n` waiting tasks, first come first served (tasks whose wait was
    /// cancelled are skipped).
    pub fn notify(&self, n: usize) {
        self.cond.inner.notify(n);
    }

    /// Wakes every waiting task.
    pub fn notify_all(&self) {
        self.cond.inner.notify(usize::MAX);
    }

    /// The condition this guard belongs to.
    pub fn condition(&self) -> &Condition {
        self.cond
    }
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        if self.held {
            self.cond.lock.release_unchecked();
        }
    }
}

impl fmt::Debug for ConditionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}
