//! [`Event`]: a flag that tasks wait for.

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicBool, Ordering};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::waiters::WakeList;
use crate::context;
use crate::error::Result;
use crate::lowlevel::Checkpoint;

/// Statistics of an [`Event`], as [`Event::statistics`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStatistics {
    /// Tasks waiting in [`Event::wait`].
    pub tasks_waiting: usize,
}

/// A flag that starts unset and, once [`set`](Self::set), stays set — AnyIO's `Event`.
///
/// [`wait`](Self::wait) waits until the flag is set; setting it wakes every waiter. An
/// event cannot be cleared: make a new one for the next occasion (as AnyIO and trio do —
/// reusable events invite lost wake-ups).
///
/// `Event` is a handle: clones share the same flag, so one clone can be moved into the task
/// that waits and another into the task that sets it.
///
/// # Examples
///
/// ```
/// use anyio::Event;
///
/// # anyio::run(|| async {
/// let ready = Event::new();
/// let waiter = ready.clone();
/// anyio::task_group(|tg| async move {
///     tg.start_soon(async move {
///         waiter.wait().await?; // parks until the host sets the flag
///         println!("go!");
///         Ok::<_, anyio::Error>(())
///     })?;
///     ready.set();
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Event {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// # Invariant
    /// Written (to true, once) under the `waiters` mutex before the waiters are drained, so
    /// a waiter that registers under the mutex either sees the flag or is drained and woken.
    set: AtomicBool,
    /// The wakers of the waiting tasks; emptied for good when the flag is set (no waiter
    /// registers after that, so a key is never reused while a future holds it).
    waiters: Mutex<Waiters>,
}

/// The wakers of the waiting tasks. The first waiter lives inline: most events are waited
/// for by one task, and an event is used once, so a slab allocated per event would cost an
/// allocation per wait.
#[derive(Default)]
struct Waiters {
    /// Key 0, when `Some`; the inner `Option` is the waker (taken when the flag is set).
    first: Option<Option<Waker>>,
    /// Key `k + 1` for slab key `k`.
    rest: Slab<Option<Waker>>,
}

impl Waiters {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn insert(&mut self, waker: Waker) -> usize {
        if self.first.is_none() {
            self.first = Some(Some(waker));
            return 0;
        }
        self.rest.insert(Some(waker)) + 1
    }

    fn slot(&mut self, key: usize) -> &mut Option<Waker> {
        match key {
            0 => self
                .first
                .as_mut()
                .expect("a waiter's key stays valid until it leaves"),
            k => &mut self.rest[k - 1],
        }
    }

    fn remove(&mut self, key: usize) {
        match key {
            0 => self.first = None,
            k => {
                self.rest.remove(k - 1);
            }
        }
    }

    /// Takes every waker and forgets every waiter.
    fn drain(&mut self, wake: &mut WakeList) {
        if let Some(Some(w)) = self.first.take() {
            wake.push(Some(w));
        }
        for (_, waker) in self.rest.iter_mut() {
            if let Some(w) = waker.take() {
                wake.push(Some(w));
            }
        }
        self.rest.clear();
    }
}

impl Event {
    /// An event whose flag is not set.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiting task. Setting it again does nothing.
    pub fn set(&self) {
        // Acquire: pairs with the Release store below, so a caller that sees the flag set
        // also sees what the setter did before setting it.
        if self.inner.set.load(Ordering::Acquire) {
            return;
        }
        let mut wake = WakeList::new();
        {
            let mut waiters = self.inner.waiters.lock();
            // Release: publishes the setter's writes to every task that sees the flag with
            // an Acquire load (waiters read it outside the mutex too).
            self.inner.set.store(true, Ordering::Release);
            waiters.drain(&mut wake);
        }
        wake.wake_all();
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release store in `set` (see there).
        self.inner.set.load(Ordering::Acquire)
    }

    /// Waits until the flag is set; returns at once when it is set already (a schedule
    /// point under the cooperative budget, as every checkpoint).
    ///
    /// # Cancellation
    ///
    /// A checkpoint: a call in a cancelled scope returns `Cancelled`, even when the flag is
    /// set. A waiting call returns `Ok` if the flag was set by the time it is woken, even
    /// when its scope was cancelled meanwhile (the task sees `Cancelled` at its next
    /// checkpoint), and `Cancelled` otherwise. Nothing is left behind either way.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let event = anyio::Event::new();
    /// event.set();
    /// event.wait().await?; // set already: returns at once
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn wait(&self) -> Result<()> {
        EventWait {
            inner: &self.inner,
            key: None,
            checkpoint: Checkpoint::new(),
        }
        .await
    }

    /// Statistics: how many tasks wait.
    pub fn statistics(&self) -> EventStatistics {
        EventStatistics {
            tasks_waiting: self.inner.waiters.lock().len(),
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish_non_exhaustive()
    }
}

/// The future of [`Event::wait`]: the crate's [`Checkpoint`] first (a cancellation check
/// and a budgeted schedule point, which yields before the flag is looked at), then the
/// flag, registering the task's waker while it is not set. One future, so an event that is
/// set already costs one poll, and one that is not costs one registration.
struct EventWait<'a> {
    inner: &'a Inner,
    /// Our slot in `inner.waiters`, once registered.
    key: Option<usize>,
    /// The prelude; passed before the flag is first looked at.
    checkpoint: Checkpoint,
}

impl Future for EventWait<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        // The first attempt follows the checkpoint, which checked for cancellation (in a
        // cancelled scope `wait` fails even when the flag is set).
        let first = !self.checkpoint.is_done();
        if first {
            if let Err(e) = std::task::ready!(self.checkpoint.poll_in_place(cx)) {
                return Poll::Ready(Err(e));
            }
        }
        // The flag wins over a cancellation that came after it. Acquire: pairs with the
        // Release store in `set`, so the waiter sees what the setter did before it.
        if self.inner.set.load(Ordering::Acquire) {
            self.key = None;
            return Poll::Ready(Ok(()));
        }
        let cancelled = if first {
            None
        } else {
            context::check_cancelled()
        };
        let mut waiters = self.inner.waiters.lock();
        // Acquire, as above; under the mutex the flag cannot change while we register.
        if self.inner.set.load(Ordering::Acquire) {
            self.key = None;
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = cancelled {
            if let Some(key) = self.key.take() {
                waiters.remove(key);
            }
            return Poll::Ready(Err(e));
        }
        match self.key {
            Some(key) => match waiters.slot(key) {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            },
            None => self.key = Some(waiters.insert(cx.waker().clone())),
        }
        drop(waiters);
        context::mark_blocked();
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut waiters = self.inner.waiters.lock();
            // Once the flag is set the slab was emptied for good: nothing to remove. Under
            // the mutex the store in `set` is ordered by the lock; Acquire is for symmetry.
            if !self.inner.set.load(Ordering::Acquire) {
                waiters.remove(key);
            }
        }
    }
}
