//! [`Mutex<T>`]: a [`Lock`](crate::Lock) that owns the data it protects.
//!
//! AnyIO's `Lock` guards no data, which suits Python; in Rust the data a lock protects
//! belongs *inside* it, so that the compiler checks that nobody touches it without the
//! lock. `Mutex<T>` is that lock: the same lock as [`Lock`](crate::Lock) — first come,
//! first served, handed straight to the next waiter, `lock().await` a checkpoint that a
//! cancellation interrupts, the `fast_acquire` option — plus a value of type `T` that the
//! [`MutexGuard`] derefs to.
//!
//! Use it when the data must stay locked across `.await`s (a connection shared by tasks,
//! a cache refilled from the network). Data only touched between two `.await`s is cheaper
//! in a `std::sync::Mutex`.
//!
//! ```
//! use std::sync::Arc;
//! use anyio::Mutex;
//!
//! # anyio::run(|| async {
//! let counter = Arc::new(Mutex::new(0u32));
//! anyio::task_group(|tg| {
//!     let counter = counter.clone();
//!     async move {
//!         for _ in 0..10 {
//!             let counter = counter.clone();
//!             tg.start_soon(async move {
//!                 let mut n = counter.lock().await?;
//!                 let seen = *n;
//!                 anyio::lowlevel::checkpoint().await?; // still ours across the checkpoint
//!                 *n = seen + 1;
//!                 Ok::<_, anyio::Error>(())
//!             })?;
//!         }
//!         Ok(())
//!     }
//! })
//! .await?;
//! assert_eq!(*counter.lock().await?, 10);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # No poisoning
//!
//! A task that panics while it holds the guard releases the lock as it unwinds, and the
//! next task gets the value as the panicking task left it — as tokio's `Mutex` does, and
//! as AnyIO's `Lock` does (it has no notion of poisoning). A `std::sync::Mutex` would be
//! poisoned instead. If a half-done update must not be seen, restore the value before the
//! code that can fail, or keep the update in a local and write it back at the end.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::lock::{Core, Held, LockStatistics};
use crate::error::Result;

/// An async mutex that owns its data: one task at a time gets a [`MutexGuard`] to it.
///
/// The same lock as [`Lock`](crate::Lock) — FIFO hand-off, owner tracking, cancellation,
/// `fast_acquire` — holding a `T`. Unlike `Lock`, it is not a handle: share it with an
/// `Arc` (as a `std::sync::Mutex`), which also gives [`get_mut`](Self::get_mut) and
/// [`into_inner`](Self::into_inner) their meaning.
///
/// The guard may be kept across `.await`s and moved to another task (it is `Send` when
/// `T` is); the lock's [owner](LockStatistics::owner) stays the task that acquired it.
/// There is no poisoning (see the [module docs](self#no-poisoning)).
///
/// # Examples
///
/// ```
/// use anyio::Mutex;
///
/// # anyio::run(|| async {
/// let names = Mutex::new(Vec::new());
/// names.lock().await?.push("ada");
/// names.lock().await?.push("grace");
/// assert_eq!(names.into_inner(), ["ada", "grace"]);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct Mutex<T> {
    core: Core<T>,
    fast_acquire: bool,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`. Taking it when it is free is a schedule point,
    /// as for [`Lock::new`](crate::Lock::new).
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            core: Core::new(value),
            fast_acquire: false,
        }
    }

    /// Sets the `fast_acquire` option: when on, taking the mutex when it is free does not
    /// count as a schedule point (AnyIO 4.5's `fast_acquire=True`, as
    /// [`Lock::with_fast_acquire`](crate::Lock::with_fast_acquire)). Cancellation is still
    /// checked.
    pub fn with_fast_acquire(mut self, fast_acquire: bool) -> Mutex<T> {
        self.fast_acquire = fast_acquire;
        self
    }

    /// Whether the `fast_acquire` option is on.
    pub fn fast_acquire(&self) -> bool {
        self.fast_acquire
    }

    /// Waits until the mutex is free, takes it, and returns the guard to its value.
    ///
    /// # Cancellation
    ///
    /// As [`Lock::lock`](crate::Lock::lock): a checkpoint; a call in a cancelled scope
    /// returns `Cancelled` without the lock; a waiting call that is cancelled leaves the
    /// queue, unless the lock was handed to it first (then it returns the guard, and the
    /// task sees `Cancelled` at its next checkpoint). Dropping the future passes on a lock
    /// it was handed, with the value untouched.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the current task
    /// holds the mutex already (instead of a deadlock);
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let mutex = anyio::Mutex::new(1);
    /// let mut guard = mutex.lock().await?;
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*mutex.lock().await?, 2);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire")]
    pub async fn lock(&self) -> Result<MutexGuard<'_, T>> {
        Ok(MutexGuard {
            held: self.core.lock(self.fast_acquire).await?,
        })
    }

    /// Takes the mutex if it is free now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) when another task holds it;
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the current task
    /// does.
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let mutex = anyio::Mutex::new("idle");
    /// let guard = mutex.try_lock()?;
    /// assert!(mutex.try_lock().is_err());
    /// drop(guard);
    /// assert_eq!(*mutex.try_lock()?, "idle");
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire_nowait")]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>> {
        Ok(MutexGuard {
            held: self.core.try_lock()?,
        })
    }

    /// Whether the mutex is held.
    pub fn locked(&self) -> bool {
        self.core.locked()
    }

    /// Statistics: whether the mutex is held, by which task, and how many tasks wait.
    pub fn statistics(&self) -> LockStatistics {
        self.core.statistics()
    }

    /// The value, through a unique reference: no task can hold the mutex, so no locking is
    /// needed.
    ///
    /// # Panics
    ///
    /// Only when a guard of this mutex was leaked with `std::mem::forget`: the value left
    /// with that guard (and the mutex stayed locked for good).
    pub fn get_mut(&mut self) -> &mut T {
        self.core.get_mut().expect(LEAKED)
    }

    /// The value, consuming the mutex.
    ///
    /// # Panics
    ///
    /// As [`get_mut`](Self::get_mut), only after a guard was leaked.
    pub fn into_inner(self) -> T {
        self.core.into_inner().expect(LEAKED)
    }
}

const LEAKED: &str = "the value of this anyio::Mutex left with a guard leaked by mem::forget";

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        self.core.fmt_fields(&mut d);
        d.field("fast_acquire", &self.fast_acquire)
            .finish_non_exhaustive()
    }
}

/// The value of a [`Mutex`], held; dropping the guard releases the mutex (handing it to
/// the next waiter, if any).
///
/// `Send` when `T` is, so it may be kept across `.await`s in a task and moved to another
/// task; `Sync` when `T` is.
#[must_use = "the mutex is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T> {
    held: Held<'a, T>,
}

impl<T> MutexGuard<'_, T> {
    /// Releases the mutex now (the same as dropping the guard).
    pub fn unlock(self) {}
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.held.value()
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.held.value_mut()
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
