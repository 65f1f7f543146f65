//! [`Semaphore`]: a counter of permits, with FIFO hand-off.

use crate::loom::{Mutex, MutexGuard};
use std::fmt;
use std::sync::Arc;

use super::waiters::{Acquire, Acquisition, Handoff, WaitQueue, WakeList};
use crate::error::{Error, ErrorKind, Result};

/// Statistics of a [`Semaphore`], as [`Semaphore::statistics`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemaphoreStatistics {
    /// Tasks waiting in [`Semaphore::acquire`].
    pub tasks_waiting: usize,
}

/// A counter of permits — AnyIO's `Semaphore`.
///
/// [`acquire`](Self::acquire) takes a permit (waiting while the value is 0) and returns a
/// [`SemaphorePermit`] that gives it back when dropped. Waiters are served in FIFO order: a
/// permit given back while tasks wait goes straight to the first of them.
///
/// Unlike a [`CapacityLimiter`](crate::CapacityLimiter), a semaphore does not know who
/// holds its permits, and permits can be added with [`release`](Self::release) (up to an
/// optional maximum). `Semaphore` is a handle: clones share the same counter; the
/// `fast_acquire` option belongs to the handle.
///
/// # Examples
///
/// ```
/// use anyio::Semaphore;
///
/// # anyio::run(|| async {
/// let semaphore = Semaphore::new(2);
/// anyio::task_group(|tg| async move {
///     for _ in 0..5 {
///         let semaphore = semaphore.clone();
///         tg.start_soon(async move {
///             let _permit = semaphore.acquire().await?;
///             assert!(semaphore.value() < 2); // at most two tasks in here
///             anyio::lowlevel::checkpoint().await
///         })?;
///     }
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
    fast_acquire: bool,
}

struct Inner {
    state: Mutex<State>,
}

struct State {
    /// # Invariant
    /// 0 whenever a waiter is queued (a permit given back goes to the first waiter).
    value: usize,
    max_value: Option<usize>,
    waiters: WaitQueue<()>,
}

impl State {
    /// The most the value can be: `max_value`, or `usize::MAX` without one.
    fn limit(&self) -> usize {
        self.max_value.unwrap_or(usize::MAX)
    }

    /// Hands a permit to the next waiter, or adds it to the value, saturating at
    /// [`limit`](Self::limit) (a dropped permit cannot fail).
    fn give_back(&mut self, wake: &mut WakeList) {
        if self.waiters.grant_next(wake).is_none() {
            self.value = self.value.saturating_add(1).min(self.limit());
        }
    }
}

impl Handoff for Inner {
    type State = State;
    type Data = ();

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn queue(state: &mut State) -> &mut WaitQueue<()> {
        &mut state.waiters
    }

    fn try_take(state: &mut State, _: &mut ()) -> bool {
        if state.value == 0 {
            return false;
        }
        state.value -= 1;
        true
    }

    fn pass_on(state: &mut State, _: (), wake: &mut WakeList) {
        state.give_back(wake);
    }
}

impl Acquire for Inner {
    fn data(&self) {}

    fn begin(state: &mut State, data: &mut ()) -> Result<bool> {
        Ok(Self::try_take(state, data))
    }
}

impl Inner {
    fn give_back(&self) {
        let mut wake = WakeList::new();
        self.state().give_back(&mut wake);
        wake.wake_all();
    }
}

impl Semaphore {
    /// A semaphore holding `initial_value` permits, with no maximum.
    pub fn new(initial_value: usize) -> Semaphore {
        Semaphore::build(initial_value, None)
    }

    /// A semaphore holding `initial_value` permits that refuses to hold more than
    /// `max_value` ([`release`](Self::release) past it is an error).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `max_value < initial_value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::Semaphore;
    ///
    /// let semaphore = Semaphore::with_max_value(1, 2)?;
    /// semaphore.release()?; // 2
    /// assert!(semaphore.release().is_err()); // past the maximum
    /// assert!(Semaphore::with_max_value(3, 2).is_err());
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn with_max_value(initial_value: usize, max_value: usize) -> Result<Semaphore> {
        if max_value < initial_value {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a semaphore's max_value ({max_value}) must be at least its initial \
                     value ({initial_value})"
                ),
            ));
        }
        Ok(Semaphore::build(initial_value, Some(max_value)))
    }

    fn build(value: usize, max_value: Option<usize>) -> Semaphore {
        Semaphore {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    value,
                    max_value,
                    waiters: WaitQueue::new(),
                }),
            }),
            fast_acquire: false,
        }
    }

    /// Sets the `fast_acquire` option of this handle (and of the clones made from it
    /// afterwards): when on, taking an available permit with no task waiting does not
    /// count as a schedule point (AnyIO 4.5). Cancellation is still checked.
    pub fn with_fast_acquire(mut self, fast_acquire: bool) -> Semaphore {
        self.fast_acquire = fast_acquire;
        self
    }

    /// Whether this handle has the `fast_acquire` option on.
    pub fn fast_acquire(&self) -> bool {
        self.fast_acquire
    }

    /// The number of permits available now.
    pub fn value(&self) -> usize {
        self.inner.state().value
    }

    /// The maximum number of permits, if one was set.
    pub fn max_value(&self) -> Option<usize> {
        self.inner.state().max_value
    }

    /// Takes a permit, waiting for one while none is available.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A call in a cancelled scope returns `Cancelled` and takes nothing, even
    /// when a permit is available. A waiting call that is cancelled leaves the queue; a
    /// permit handed to it before the cancellation is returned as usual (the task sees
    /// `Cancelled` at its next checkpoint). Dropping the future gives back a permit it was
    /// handed, to the next waiter.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let semaphore = anyio::Semaphore::new(1);
    /// let permit = semaphore.acquire().await?;
    /// assert_eq!(semaphore.value(), 0);
    /// drop(permit);
    /// assert_eq!(semaphore.value(), 1);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>> {
        Acquisition::new(&*self.inner, !self.fast_acquire, true).await?;
        Ok(SemaphorePermit { semaphore: self })
    }

    /// Takes a permit if one is available now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when the value is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = anyio::Semaphore::new(1);
    /// let permit = semaphore.try_acquire()?;
    /// assert!(semaphore.try_acquire().is_err());
    /// # drop(permit);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    #[doc(alias = "acquire_nowait")]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>> {
        let mut state = self.inner.state();
        if state.value == 0 {
            return Err(Error::new(
                ErrorKind::WouldBlock,
                "the semaphore has no permit available",
            ));
        }
        state.value -= 1;
        Ok(SemaphorePermit { semaphore: self })
    }

    /// Adds a permit (handing it to the first waiter, if any) — AnyIO's `release()`. Pairs
    /// with [`SemaphorePermit::forget`] for manual acquire/release, or raises the value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the value is already `max_value` ("released too
    /// many times"), or `usize::MAX` for a semaphore without a maximum (the most it can
    /// count: the permit is refused rather than lost).
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = anyio::Semaphore::new(0);
    /// semaphore.release()?;
    /// assert_eq!(semaphore.value(), 1);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        let mut wake = WakeList::new();
        {
            let mut state = self.inner.state();
            if state.value == state.limit() {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "semaphore released too many times: its value is at its maximum",
                ));
            }
            state.give_back(&mut wake);
        }
        wake.wake_all();
        Ok(())
    }

    /// Statistics: how many tasks wait.
    pub fn statistics(&self) -> SemaphoreStatistics {
        SemaphoreStatistics {
            tasks_waiting: self.inner.state().waiters.len(),
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state();
        f.debug_struct("Semaphore")
            .field("value", &state.value)
            .field("max_value", &state.max_value)
            .field("tasks_waiting", &state.waiters.len())
            .field("fast_acquire", &self.fast_acquire)
            .finish()
    }
}

/// A permit taken from a [`Semaphore`]; dropping it gives the permit back (to the first
/// waiter, if any).
///
/// When extra [`release`](Semaphore::release) calls have brought the value up to
/// `max_value` (or `usize::MAX`, without a maximum) meanwhile, a dropped permit leaves it
/// there: a drop cannot fail, so the value saturates instead of overflowing.
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken without giving it back on drop; [`Semaphore::release`] adds
    /// one back later. AnyIO's manual `acquire()` / `release()`.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.inner.give_back();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
