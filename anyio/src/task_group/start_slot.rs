//! The one-shot cell between [`TaskGroup::start`](crate::TaskGroup::start) and the child
//! it starts.
//!
//! Three parties touch it, possibly on three threads: the *starter* (the task awaiting
//! `start`), whoever holds the child's [`TaskStatus`](crate::TaskStatus) (the child, or a
//! task it handed the status to), and the child's wrapper when the child ends.
//!
//! # Invariants
//!
//! 1. Every transition happens under the one lock, so "has the child started?" and "then
//!    the error is the starter's" are decided together: a child's error goes to exactly one
//!    place — the starter while the child has not started, the group once it has.
//! 2. The state only moves forward: `Waiting` → (`Dropped` →) `Finished`, or `Waiting` →
//!    `Started`. `started` after `Finished` is ignored (the child's end already told the
//!    starter), so the value and the error can never both reach the starter.
//! 3. The starter's waker is stored under the same lock as the state it checks, and every
//!    transition wakes it after releasing the lock: a transition between its check and its
//!    registration cannot be missed.
//!
//! The lock, the waker and the wake-after-unlock are the crate's one-shot cell
//! ([`Oneshot`]); this file keeps only the states and their transitions. The type needs no
//! runtime: a loom model can drive it with plain wakers.

use std::task::Waker;

use crate::cell::oneshot::Oneshot;
use crate::error::Error;

/// Where the starter stands, as [`StartSlot::poll`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Neither started nor finished: the waker is registered.
    Waiting,
    /// The status was dropped without `started` and the child has not finished: the starter
    /// should cancel the child and keep waiting (the waker is registered).
    StatusDropped,
    /// Started or finished: [`StartSlot::take`] gives the outcome.
    Settled,
}

enum State<V> {
    Waiting,
    Dropped,
    /// Started; the value until the starter takes it.
    Started(Option<V>),
    /// Ended before starting, with the error that belongs to the starter (if any; `None`
    /// also once taken).
    Finished(Option<Error>),
}

/// The cell shared by a starter, a [`TaskStatus`](crate::TaskStatus) and the child's end.
pub(crate) struct StartSlot<V> {
    cell: Oneshot<State<V>>,
}

impl<V> StartSlot<V> {
    /// A slot waiting for its child.
    pub(crate) fn new() -> StartSlot<V> {
        StartSlot {
            cell: Oneshot::new(State::Waiting),
        }
    }

    /// Applies `step` under the lock, then wakes the starter if `step` changed anything.
    fn transition<R>(&self, step: impl FnOnce(&mut State<V>) -> (bool, R)) -> R {
        self.cell.update(step)
    }

    /// `TaskStatus::started(value)`: returns `false` (and drops `value`) when the child had
    /// already finished.
    pub(crate) fn started(&self, value: V) -> bool {
        self.transition(|st| match st {
            State::Waiting => {
                *st = State::Started(Some(value));
                (true, true)
            }
            _ => (false, false),
        })
    }

    /// The status was dropped without `started`.
    pub(crate) fn status_dropped(&self) {
        self.transition(|st| match st {
            State::Waiting => {
                *st = State::Dropped;
                (true, ())
            }
            _ => (false, ()),
        })
    }

    /// The child ended, with `error` if it failed (or ended with a cancellation its own
    /// scope did not absorb). Returns the error when it belongs to the group (the child had
    /// started), `None` when the starter gets it (or there was none).
    pub(crate) fn child_finished(&self, error: Option<Error>) -> Option<Error> {
        self.transition(|st| match st {
            State::Started(_) => (false, error),
            State::Waiting | State::Dropped => {
                *st = State::Finished(error);
                (true, None)
            }
            // A child ends once; a second end has nobody left to tell.
            State::Finished(_) => (false, error),
        })
    }

    /// Where the starter stands; registers `waker` unless settled.
    pub(crate) fn poll(&self, waker: &Waker) -> Progress {
        self.cell.poll_with(waker, |st| match st {
            State::Waiting => (Progress::Waiting, true),
            State::Dropped => (Progress::StatusDropped, true),
            State::Started(_) | State::Finished(_) => (Progress::Settled, false),
        })
    }

    /// The starter's outcome, once settled: `Ok(value)` when the child started, `Err(Some(e))`
    /// when it failed first, `Err(None)` when it ended without starting (or this was
    /// already taken).
    pub(crate) fn take(&self) -> Result<V, Option<Error>> {
        self.cell.with(|st| match st {
            State::Started(v) => v.take().ok_or(None),
            State::Finished(e) => Err(e.take()),
            State::Waiting | State::Dropped => Err(None),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::cell::counting_waker::counting;
    use crate::error::ErrorKind;

    #[test]
    fn error_after_started_goes_to_the_group() {
        let slot = StartSlot::new();
        let (count, waker) = counting();
        assert_eq!(slot.poll(&waker), Progress::Waiting);
        assert!(slot.started(7));
        assert_eq!(count.get(), 1);
        let e = Error::new(ErrorKind::Other, "late");
        assert_eq!(slot.child_finished(Some(e)).unwrap().message(), "late");
        assert_eq!(slot.poll(&waker), Progress::Settled);
        assert_eq!(slot.take().unwrap(), 7);
    }

    #[test]
    fn error_before_started_goes_to_the_starter_and_a_late_started_is_ignored() {
        let slot = StartSlot::new();
        let e = Error::new(ErrorKind::Other, "early");
        assert!(slot.child_finished(Some(e)).is_none());
        assert!(!slot.started(1));
        assert_eq!(slot.take().unwrap_err().unwrap().message(), "early");
    }

    #[test]
    fn dropped_status_is_reported_until_the_child_ends() {
        let slot = StartSlot::<u8>::new();
        let (count, waker) = counting();
        slot.status_dropped();
        assert_eq!(slot.poll(&waker), Progress::StatusDropped);
        assert!(slot.child_finished(None).is_none());
        assert_eq!(count.get(), 1);
        assert_eq!(slot.poll(&waker), Progress::Settled);
        assert!(slot.take().unwrap_err().is_none());
    }
}
