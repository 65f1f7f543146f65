//! The one door to `std::sync`'s locks and atomics, so that `--cfg loom` can swap them for
//! loom's model-checked ones.
//!
//! Everything the crate shares between threads goes through here: [`Mutex`] and
//! [`Condvar`] (whose `lock`/`wait` ignore poisoning, see below) and the atomics. Under
//! `RUSTFLAGS="--cfg loom"` they are loom's, and the models in `loom_models` explore every
//! interleaving of the code that uses them. `Arc`, `Weak` and `OnceLock` stay std's in
//! both builds (loom's `Arc` has no `Weak`): reference counts are not what the models check.
//!
//! Statics that must be `const`-initialised (id counters) use `std` atomics directly; they
//! are counters no model depends on.

use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;
use std::time::Duration;

#[cfg(loom)]
use loom::sync as imp;
#[cfg(not(loom))]
use std::sync as imp;

pub(crate) use imp::atomic;

/// A mutex whose `lock` ignores poisoning.
///
/// Every critical section in the crate only moves fields around and runs no user code, so
/// a panic inside one (there is none to expect) cannot leave the data inconsistent: a
/// poisoned lock is still usable, and ignoring the poison keeps one panic from turning into
/// a cascade of panics in unrelated tasks.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(imp::Mutex<T>);

/// The guard of a [`Mutex`].
#[derive(Debug)]
pub(crate) struct MutexGuard<'a, T>(imp::MutexGuard<'a, T>);

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(imp::Mutex::new(value))
    }

    /// Locks the mutex, blocking the thread until it is free.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The data, through a unique reference (no locking needed).
    #[allow(dead_code)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A condition variable for [`Mutex`], ignoring poisoning as it does.
#[derive(Debug, Default)]
pub(crate) struct Condvar(imp::Condvar);

impl Condvar {
    /// A new condition variable.
    pub(crate) fn new() -> Self {
        Condvar(imp::Condvar::new())
    }

    /// Blocks the thread until notified (or spuriously woken), releasing `guard` meanwhile.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        MutexGuard(self.0.wait(guard.0).unwrap_or_else(PoisonError::into_inner))
    }

    /// Blocks while `condition` holds, for at most `timeout`; the flag says whether the
    /// time ran out.
    #[cfg(not(loom))]
    pub(crate) fn wait_timeout_while<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
        condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, bool) {
        let (guard, res) = self
            .0
            .wait_timeout_while(guard.0, timeout, condition)
            .unwrap_or_else(PoisonError::into_inner);
        (MutexGuard(guard), res.timed_out())
    }

    /// Under loom there is no time: waits as [`wait`](Self::wait) does while `condition`
    /// holds, and never times out.
    #[cfg(loom)]
    pub(crate) fn wait_timeout_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        _timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, bool) {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        (guard, false)
    }

    /// Wakes one blocked thread.
    #[allow(dead_code)]
    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every blocked thread.
    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}
