//! The crate's two concurrent cells below every other layer: the list of wakers woken
//! after a lock is released ([`WakeList`]) and the one-shot value cell ([`oneshot`]) under
//! task outcomes, thread results and `TaskGroup::start`. They know nothing of tasks,
//! scopes or backends.

pub(crate) mod oneshot;
mod wake;

pub(crate) use wake::WakeList;
