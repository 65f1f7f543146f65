//! The one one-shot cell of the crate: a state behind a lock that moves forward once (or a
//! few times) and wakes whoever waits for it — tasks by their wakers, threads by a condition
//! variable. Each user keeps its own state enum and its own transitions; the cell keeps the
//! protocol that makes them lossless:
//!
//! * `from_thread::Slot` (a portal task's or `from_thread::run`'s result, waited for
//!   by a sync thread),
//! * `task_group::StartSlot` (between `TaskGroup::start` and the child it starts),
//! * a task's outcome for its handles (`task.rs`'s `TaskCore::outcome`: an
//!   `Oneshot<Option<Outcome>>` whose `complete` is an [`update`](Oneshot::update) and whose
//!   `poll_finished` a [`poll`](Oneshot::poll); several handles may wait, each waker is
//!   kept once).
//!
//! # Invariants
//!
//! 1. The state changes only under the lock, in [`update`](Oneshot::update) (which wakes)
//!    or [`with`](Oneshot::with) (a change nobody waits for: taking a value out).
//! 2. A waiter's waker is stored under the same lock as the state it checked
//!    ([`poll`](Oneshot::poll)), and [`update`](Oneshot::update) takes the wakers under
//!    that lock: a change between a waiter's check and its registration cannot be missed.
//!    Wakers are woken after the lock is released.
//! 3. A blocked thread counts itself in `sleepers` under the lock before it sleeps, so an
//!    update notifies the condition variable exactly when someone may sleep on it.
//!
//! The type needs no runtime: a loom model drives it with plain wakers and threads.

use std::task::{Poll, Waker};
use std::time::Duration;

use super::WakeList;
use crate::loom::{Condvar, Mutex, MutexGuard};

/// A one-shot cell over the state `S` (see the module docs).
pub(crate) struct Oneshot<S> {
    inner: Mutex<Inner<S>>,
    filled: Condvar,
}

struct Inner<S> {
    state: S,
    /// The tasks waiting for a change, each once.
    wakers: WakeList,
    /// The threads blocked in `wait`/`wait_timeout`.
    sleepers: usize,
}

impl<S> Oneshot<S> {
    /// A cell in its first state.
    pub(crate) fn new(state: S) -> Oneshot<S> {
        Oneshot {
            inner: Mutex::new(Inner {
                state,
                wakers: WakeList::new(),
                sleepers: 0,
            }),
            filled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        // Every critical section is a short state step: a poisoned lock is still
        // consistent.
        self.inner.lock()
    }

    /// Runs a transition under the lock. When `step` says the state changed, every waiting
    /// task is woken (after the lock is released) and every blocked thread notified.
    pub(crate) fn update<R>(&self, step: impl FnOnce(&mut S) -> (bool, R)) -> R {
        let (_wake, out) = {
            let mut inner = self.lock();
            let (changed, out) = step(&mut inner.state);
            if !changed {
                return out;
            }
            if inner.sleepers > 0 {
                self.filled.notify_all();
            }
            (inner.wakers.take(), out)
        };
        // `_wake` drops here, after the guard: the wakers run without the lock.
        out
    }

    /// Reads or changes the state under the lock, waking no one.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock().state)
    }

    /// Looks at the state for a task: `f` says what to report and whether to wait; a
    /// waiting task's waker is kept (once) under the same lock (invariant 2).
    pub(crate) fn poll_with<R>(&self, waker: &Waker, f: impl FnOnce(&mut S) -> (R, bool)) -> R {
        let mut inner = self.lock();
        let (out, wait) = f(&mut inner.state);
        if wait {
            inner.wakers.register(waker);
        }
        out
    }

    /// [`poll_with`](Self::poll_with) for the common shape: `Pending` waits.
    pub(crate) fn poll<R>(&self, waker: &Waker, f: impl FnOnce(&mut S) -> Poll<R>) -> Poll<R> {
        self.poll_with(waker, |st| {
            let p = f(st);
            let pending = p.is_pending();
            (p, pending)
        })
    }

    /// Blocks the calling thread until `f` is ready.
    pub(crate) fn wait<R>(&self, mut f: impl FnMut(&mut S) -> Poll<R>) -> R {
        let mut inner = self.lock();
        inner.sleepers += 1;
        let out = loop {
            if let Poll::Ready(v) = f(&mut inner.state) {
                break v;
            }
            inner = self.filled.wait(inner);
        };
        inner.sleepers -= 1;
        out
    }

    /// [`wait`](Self::wait) for at most `timeout`; `None` when it ran out first.
    pub(crate) fn wait_timeout<R>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&mut S) -> Poll<R>,
    ) -> Option<R> {
        let mut inner = self.lock();
        inner.sleepers += 1;
        let mut out = None;
        let (mut inner, _) =
            self.filled
                .wait_timeout_while(inner, timeout, |inner| match f(&mut inner.state) {
                    Poll::Ready(v) => {
                        out = Some(v);
                        false
                    }
                    Poll::Pending => true,
                });
        inner.sleepers -= 1;
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::cell::counting_waker::counting;
    use std::sync::Arc;

    #[test]
    fn an_update_wakes_each_waiting_task_once_and_a_no_op_wakes_none() {
        let cell = Oneshot::new(None::<u8>);
        let (count, waker) = counting();
        for _ in 0..3 {
            assert!(
                cell.poll(&waker, |s| s.map_or(Poll::Pending, Poll::Ready))
                    .is_pending()
            );
        }
        assert!(!cell.update(|_| (false, false)));
        assert_eq!(count.get(), 0);
        cell.update(|s| (s.replace(5).is_none(), ()));
        assert_eq!(count.get(), 1);
        assert_eq!(
            cell.poll(&waker, |s| s.map_or(Poll::Pending, Poll::Ready)),
            Poll::Ready(5)
        );
    }

    #[test]
    fn a_blocked_thread_sees_the_update_and_a_timeout_runs_out() {
        let cell = Arc::new(Oneshot::new(None::<u8>));
        let ready = |s: &mut Option<u8>| s.map_or(Poll::Pending, Poll::Ready);
        assert_eq!(cell.wait_timeout(Duration::from_millis(1), ready), None);
        let c = cell.clone();
        let t = std::thread::spawn(move || c.update(|s| (s.replace(9).is_none(), ())));
        assert_eq!(cell.wait(ready), 9);
        t.join().unwrap();
        assert_eq!(cell.wait_timeout(Duration::ZERO, ready), Some(9));
    }
}
