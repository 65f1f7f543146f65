//! Loom models of the cross-thread core (built and run only with `--cfg loom`, see
//! `.ci/run`): every interleaving of a few threads driving the internal types directly.
//!
//! The models never start an executor, a timer or a thread-local anyio context: loom runs
//! its threads as coroutines on one OS thread and cannot see through an executor's queues.
//! A task is modelled by a loom thread; its waker by [`Flag`], which records that it was
//! woken on a loom atomic, so "no lost wake-up" is an assertion on the flag after the
//! threads are joined.

mod memory;
mod start_slot;
mod tree;
mod waiters;

use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::atomic::{AtomicBool, Ordering};

/// A waker that records it was woken.
pub(crate) struct Flag(AtomicBool);

impl Flag {
    /// A fresh, not yet woken flag.
    pub(crate) fn new() -> Arc<Flag> {
        Arc::new(Flag(AtomicBool::new(false)))
    }

    /// A waker that sets this flag.
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    /// Whether the waker was woken.
    pub(crate) fn woken(&self) -> bool {
        // SeqCst: read after the joins, which already order it; the strongest is cheapest
        // to reason about in a model.
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst: see `woken`.
        self.0.store(true, Ordering::SeqCst);
    }
}
