//! The sync waiter queue (`sync/waiters.rs`): a resource handed off through [`WaitQueue`]
//! and waited for in [`Wait`] is never lost — not when the waiter it was handed to is
//! dropped at the same moment, nor when a release races a waiter arriving — and a blocked
//! waiter is always woken (a lost wake-up leaves a loom thread parked forever, which loom
//! reports as a deadlock).
//!
//! The models drive a one-token primitive written against [`Handoff`] the way the crate's
//! semaphore is. Its waits are not cancellable: a cancellable wait reads the task's scope
//! from the thread-local anyio context, which loom threads (coroutines on one OS thread)
//! cannot have one each of; a hand-off's skipping of cancelled waiters is covered by the
//! stress tests instead.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Context;

use loom::future::block_on;
use loom::thread;

use super::Flag;
use crate::loom::{Mutex, MutexGuard};
use crate::sync::waiters::{Acquire, Acquisition, Handoff, WaitQueue, WakeList};

/// A wait that is not cancellable always gets its token.
const GETS_IT: &str = "a wait that is not cancellable always gets its token";

/// A primitive with tokens: a binary semaphore in miniature.
struct Tokens {
    state: Mutex<State>,
}

struct State {
    free: usize,
    queue: WaitQueue<()>,
}

impl Tokens {
    fn new(free: usize) -> Arc<Tokens> {
        Arc::new(Tokens {
            state: Mutex::new(State {
                free,
                queue: WaitQueue::new(),
            }),
        })
    }

    /// Gives a token back: to the first waiter if there is one (hand-off), else to the pool.
    fn release(&self) {
        let mut wake = WakeList::new();
        release_locked(&mut self.state.lock(), &mut wake);
        wake.wake_all();
    }

    /// The crate's own acquisition future (`Acquisition`, as the semaphore's `acquire`
    /// uses), shielded: no checkpoint, so no anyio context is read.
    fn acquire(&self) -> Acquisition<'_, Tokens> {
        Acquisition::new(self, false, false)
    }

    /// Tokens in the pool, once every thread is done; and no waiter may be left queued.
    fn settled_free(&self) -> usize {
        let st = self.state.lock();
        assert!(st.queue.is_empty(), "a waiter was left in the queue");
        st.free
    }
}

fn release_locked(st: &mut State, wake: &mut WakeList) {
    if st.queue.grant_next(wake).is_none() {
        st.free += 1;
    }
}

impl Handoff for Tokens {
    type State = State;
    type Data = ();

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn queue(state: &mut State) -> &mut WaitQueue<()> {
        &mut state.queue
    }

    fn try_take(state: &mut State, _: &mut ()) -> bool {
        if state.free > 0 {
            state.free -= 1;
            true
        } else {
            false
        }
    }

    fn pass_on(state: &mut State, _: (), wake: &mut WakeList) {
        release_locked(state, wake);
    }
}

impl Acquire for Tokens {
    fn data(&self) {}

    /// Takes a free token (invariant 3: then no one is queued), else queues.
    fn begin(state: &mut State, data: &mut ()) -> crate::Result<bool> {
        Ok(Self::try_take(state, data))
    }
}

/// Polls `acquire` once and then drops it, as a `select!` that lost does: whether it got
/// the token (which it then gives back) or was still queued, nothing may be lost.
fn poll_once_then_drop(tokens: &Tokens) {
    let flag = Flag::new();
    let waker = flag.waker();
    let mut acq = pin!(tokens.acquire());
    if acq
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready()
    {
        tokens.release();
    }
}

/// A token released to a queued waiter whose future is dropped at that moment goes on to
/// the next waiter (or back to the pool): the blocked waiter always gets it.
#[test]
fn loom_handoff_to_a_dropped_waiter_passes_the_token_on() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let dropped = {
            let t = tokens.clone();
            thread::spawn(move || poll_once_then_drop(&t))
        };
        let blocked = {
            let t = tokens.clone();
            thread::spawn(move || {
                block_on(t.acquire()).expect(GETS_IT);
                t.release();
            })
        };
        tokens.release();
        dropped.join().unwrap();
        blocked.join().unwrap();
        assert_eq!(tokens.settled_free(), 1, "a token was lost or made up");
    });
}

/// Two waiters block on one token that is released once and then passed from hand to
/// hand: each gets it in turn and it ends back in the pool.
#[test]
fn loom_two_waiters_share_one_token() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let t = tokens.clone();
                thread::spawn(move || {
                    block_on(t.acquire()).expect(GETS_IT);
                    t.release();
                })
            })
            .collect();
        tokens.release();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(tokens.settled_free(), 1, "a token was lost or made up");
    });
}

/// A release racing a waiter that is arriving, while the releaser comes straight back
/// for the token: a queued waiter is never overtaken by the fast path (invariant 3 — "a
/// free token means no one is queued"), nobody sleeps through a hand-off, and the token
/// ends back in the pool.
#[test]
fn loom_release_racing_an_arriving_waiter_and_a_returning_holder() {
    loom::model(|| {
        let tokens = Tokens::new(0);
        let waiter = {
            let t = tokens.clone();
            thread::spawn(move || {
                block_on(t.acquire()).expect(GETS_IT);
                t.release();
            })
        };
        tokens.release();
        block_on(tokens.acquire()).expect(GETS_IT);
        {
            let st = tokens.state.lock();
            assert!(
                st.queue.is_empty() || st.free == 0,
                "a token is free while a waiter is queued"
            );
        }
        tokens.release();
        waiter.join().unwrap();
        assert_eq!(tokens.settled_free(), 1, "a token was lost or made up");
    });
}
