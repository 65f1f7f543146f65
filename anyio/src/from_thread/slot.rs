//! A one-shot slot that carries one value from the thread (or task) that produces it to
//! the one that waits for it — by blocking (`wait`, for sync threads) or by polling
//! (`poll_take`, for async tasks). One state machine serves both, as async-channel's
//! `recv` and `recv_blocking` do.
//!
//! # Invariants
//!
//! 1. The state moves only forward: `Waiting` → `Full` → `Taken`, or `Waiting` → `Closed`
//!    (the [`Sender`] was dropped without sending: the producer is gone).
//! 2. A waiter's waker is stored under the same lock the sender takes to fill the slot, so
//!    a value sent between a waiter's check and its registration is never missed.

use crate::loom::{Condvar, Mutex, MutexGuard};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

enum State<T> {
    Waiting(Option<Waker>),
    Full(T),
    Taken,
    Closed,
}

/// The receiving side: shared by whoever waits (see the module docs).
pub(crate) struct Slot<T> {
    state: Mutex<Inner<T>>,
    filled: Condvar,
}

struct Inner<T> {
    state: State<T>,
    /// Threads blocked in `wait`: the condvar is notified only when there are some (a
    /// notification is a system call, and most slots are awaited by a task instead).
    sleepers: usize,
}

/// The producing side. Dropping it unsent closes the slot, so no waiter hangs.
pub(crate) struct Sender<T> {
    slot: Arc<Slot<T>>,
    sent: bool,
}

impl<T> Slot<T> {
    /// A new empty slot and its sender.
    pub(crate) fn new() -> (Sender<T>, Arc<Slot<T>>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(Inner {
                state: State::Waiting(None),
                sleepers: 0,
            }),
            filled: Condvar::new(),
        });
        let sender = Sender {
            slot: slot.clone(),
            sent: false,
        };
        (sender, slot)
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Every critical section is one assignment: a poisoned lock is still consistent.
        self.state.lock()
    }

    /// Whether the value was sent (and perhaps taken) or the sender is gone.
    pub(crate) fn is_done(&self) -> bool {
        !matches!(self.lock().state, State::Waiting(_))
    }

    /// Takes the value once sent; `Ready(None)` when the sender is gone or the value was
    /// taken before. Registers `cx`'s waker otherwise.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.lock();
        match &mut st.state {
            State::Waiting(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            state => Poll::Ready(take(state)),
        }
    }

    /// Blocks the thread until the value is sent, and takes it; `None` when the sender is
    /// gone or the value was taken before.
    pub(crate) fn wait(&self) -> Option<T> {
        let mut st = self.lock();
        st.sleepers += 1;
        while matches!(st.state, State::Waiting(_)) {
            st = self.filled.wait(st);
        }
        st.sleepers -= 1;
        take(&mut st.state)
    }

    /// As [`wait`](Self::wait), for at most `timeout`: `Err(())` when it ran out first.
    pub(crate) fn wait_timeout(&self, timeout: Duration) -> Result<Option<T>, ()> {
        let mut st = self.lock();
        st.sleepers += 1;
        let (mut st, _) = self
            .filled
            .wait_timeout_while(st, timeout, |st| matches!(st.state, State::Waiting(_)));
        st.sleepers -= 1;
        match st.state {
            State::Waiting(_) => Err(()),
            ref mut state => Ok(take(state)),
        }
    }

    fn finish(&self, new: State<T>) {
        let (waker, sleepers) = {
            let mut st = self.lock();
            let waker = match std::mem::replace(&mut st.state, new) {
                State::Waiting(waker) => waker,
                // Unreachable by invariant 1 (a sender finishes once); keep the old state.
                old => {
                    st.state = old;
                    None
                }
            };
            (waker, st.sleepers)
        };
        if sleepers > 0 {
            self.filled.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn take<T>(st: &mut State<T>) -> Option<T> {
    match std::mem::replace(st, State::Taken) {
        State::Full(v) => Some(v),
        State::Closed => {
            *st = State::Closed;
            None
        }
        _ => None,
    }
}

impl<T> Sender<T> {
    /// Fills the slot and wakes its waiter.
    pub(crate) fn send(mut self, value: T) {
        self.sent = true;
        self.slot.finish(State::Full(value));
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if !self.sent {
            self.slot.finish(State::Closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_crosses_threads() {
        let (tx, slot) = Slot::new();
        let t = std::thread::spawn(move || tx.send(7));
        assert_eq!(slot.wait(), Some(7));
        assert_eq!(slot.wait(), None);
        t.join().unwrap();
    }

    #[test]
    fn dropped_sender_closes() {
        let (tx, slot) = Slot::<u8>::new();
        drop(tx);
        assert!(slot.is_done());
        assert_eq!(slot.wait(), None);
    }
}
