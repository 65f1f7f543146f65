//! A one-shot slot that carries one value from the task that produces it (a portal's task,
//! or the task a worker thread started with `from_thread::run`) to the sync thread that
//! blocks for it (`wait`, `wait_timeout`). (`to_thread` does not need one: it awaits the
//! blocking pool's own join handle, `backend::BlockingJob`.)
//!
//! # Invariants
//!
//! 1. The state moves only forward: `Waiting` → `Full` → `Taken`, or `Waiting` → `Closed`
//!    (the [`Sender`] was dropped without sending: the producer is gone).
//! 2. A waiter's waker is stored under the same lock the sender takes to fill the slot, so
//!    a value sent between a waiter's check and its registration is never missed (the
//!    cell's invariant 2: the slot is a [`Oneshot`](crate::cell::oneshot::Oneshot)).

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::cell::oneshot::Oneshot;

/// Where the slot stands (invariant 1).
enum State<T> {
    Waiting,
    Full(T),
    Taken,
    Closed,
}

/// The receiving side: a thread waits on it (a [`Oneshot`] cell underneath).
pub(crate) struct Slot<T> {
    cell: Oneshot<State<T>>,
}

/// The producing side; dropping it without sending closes the slot.
pub(crate) struct Sender<T> {
    slot: Arc<Slot<T>>,
    sent: bool,
}

impl<T> Slot<T> {
    /// A fresh slot and its sender.
    pub(crate) fn new() -> (Sender<T>, Arc<Slot<T>>) {
        let slot = Arc::new(Slot {
            cell: Oneshot::new(State::Waiting),
        });
        let sender = Sender {
            slot: slot.clone(),
            sent: false,
        };
        (sender, slot)
    }

    /// Whether the value arrived (or the sender is gone).
    pub(crate) fn is_done(&self) -> bool {
        self.cell.with(|st| !matches!(st, State::Waiting))
    }

    /// Blocks the calling thread until the value arrives (`None`: the sender is gone).
    pub(crate) fn wait(&self) -> Option<T> {
        self.cell.wait(ready)
    }

    /// [`wait`](Self::wait) for at most `timeout`; `Err` when it ran out first.
    pub(crate) fn wait_timeout(&self, timeout: Duration) -> Result<Option<T>, ()> {
        self.cell.wait_timeout(timeout, ready).ok_or(())
    }

    fn finish(&self, new: State<T>) {
        self.cell.update(|st| match st {
            State::Waiting => {
                *st = new;
                (true, ())
            }
            // Unreachable by invariant 1 (a sender finishes once); keep the old state.
            _ => (false, ()),
        });
    }
}

fn ready<T>(st: &mut State<T>) -> Poll<Option<T>> {
    match st {
        State::Waiting => Poll::Pending,
        st => Poll::Ready(take(st)),
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
