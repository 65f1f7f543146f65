//! The crate's two concurrent cells below every other layer: the list of wakers woken
//! after a lock is released ([`WakeList`]) and the one-shot value cell ([`oneshot`]) under
//! task outcomes, thread results and `TaskGroup::start`. They know nothing of tasks,
//! scopes or backends.

pub(crate) mod oneshot;
mod wake;

pub(crate) use wake::WakeList;

/// A waker that counts its wakes, for the cells' and their users' unit tests.
#[cfg(all(test, not(loom)))]
pub(crate) mod counting_waker {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// The count behind a [`counting`] waker.
    pub(crate) struct Count(AtomicUsize);

    impl Count {
        /// How many times the waker was woken so far.
        pub(crate) fn get(&self) -> usize {
            // Relaxed: tests read the count after the wakes, on the thread that woke.
            self.0.load(Ordering::Relaxed)
        }
    }

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            // Relaxed: a counter read after the wakes, on the same thread.
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fresh waker and its count.
    pub(crate) fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }
}
