//! [`WakeList`]: wakers gathered under a lock and woken after it.

use std::task::Waker;

/// The one list of wakers of the crate: wakers collected under a lock, woken after it is
/// released — explicitly by [`wake_all`](WakeList::wake_all), or when the list is dropped
/// (declared before the lock's guard, it drops after it: locals drop in reverse order).
/// One waker, the common case, needs no allocation; the rest sit behind one pointer, so an
/// idle list (one per task outcome, per one-shot cell) costs 24 bytes, not 40.
///
#[derive(Default)]
pub(crate) struct WakeList {
    one: Option<Waker>,
    // Boxed on purpose: one pointer while idle (every task's outcome cell holds a list),
    // the second allocation only once a second waker arrives.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Waker>>>,
}

impl WakeList {
    /// An empty list (no allocation).
    pub(crate) const fn new() -> WakeList {
        WakeList {
            one: None,
            more: None,
        }
    }

    /// Adds a waker to wake (nothing for `None`).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        let Some(w) = waker else { return };
        if self.one.is_none() {
            self.one = Some(w);
        } else {
            self.more.get_or_insert_with(Box::default).push(w);
        }
    }

    /// Adds `waker` unless a waker in the list already wakes the same task.
    pub(crate) fn register(&mut self, waker: &Waker) {
        let known = self.one.as_ref().is_some_and(|w| w.will_wake(waker))
            || self
                .more
                .iter()
                .flat_map(|m| m.iter())
                .any(|w| w.will_wake(waker));
        if !known {
            self.push(Some(waker.clone()));
        }
    }

    /// Moves every waker out, leaving the list empty.
    pub(crate) fn take(&mut self) -> WakeList {
        std::mem::take(self)
    }

    /// Wakes every waker (the same as dropping the list; says so at the call).
    pub(crate) fn wake_all(self) {
        drop(self);
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        if let Some(w) = self.one.take() {
            w.wake();
        }
        // Almost always empty: keep the common path free of the iterator.
        if let Some(more) = self.more.take() {
            for w in *more {
                w.wake();
            }
        }
    }
}
