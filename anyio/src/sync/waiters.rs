//! The FIFO queue of blocked tasks that every primitive of this module hands its resource
//! through (a lock's ownership, a semaphore's permit, a limiter's token, a condition's
//! notification), and the future a blocked operation waits in.
//!
//! # The model
//!
//! A primitive keeps its state and one [`WaitQueue`] behind one `std::sync::Mutex`. An
//! operation that cannot complete at once pushes a node and waits in a [`Wait`] future.
//! The side that frees the resource does not free it into the air: it *hands it off* to the
//! first queued node ([`WaitQueue::grant_next`]) and wakes that node's task, so a resource
//! freed while tasks wait is never up for grabs (FIFO fairness, no barging).
//!
//! Cancellation follows trio's abort protocol, adapted to level-triggered scopes:
//!
//! * A hand-off *skips* a node whose cancel scope is already cancelled: it is unlinked and
//!   marked [`Status::Aborted`]; its task, woken by the cancellation, returns `Cancelled`.
//!   So a cancellation that came before the hand-off wins (trio aborts a cancelled waiter
//!   at once) and the resource goes to the next waiter.
//! * A node that was handed the resource before its scope was cancelled keeps it: its
//!   `Wait` returns the resource even though a cancellation is pending (completion wins;
//!   the task sees `Cancelled` at its next checkpoint, and releases the resource as it
//!   unwinds).
//! * A `Wait` dropped before it returned withdraws its node; if the resource had been
//!   handed to it, it is passed on ([`Handoff::pass_on`]).
//!
//! # Invariants
//!
//! 1. A node is in exactly one state: [`Status::Queued`] (linked into the FIFO list),
//!    [`Status::Granted`] or [`Status::Aborted`] (both unlinked). Only the future that owns
//!    a node removes it from the slab, so its key is never reused while the future holds it.
//! 2. Every change happens under the primitive's mutex. A node's waker is stored under that
//!    mutex before its future returns `Pending`, and a hand-off takes the waker under the
//!    same mutex, so a hand-off is never lost; wakers are woken after the mutex is released
//!    ([`WakeList`]).
//! 3. Each primitive keeps "the resource is available ⇒ no node is queued": a release hands
//!    off before it makes anything available, and an acquire that finds the resource
//!    available takes it only when no one is queued.
//!
//! # Deadlock safety
//!
//! A primitive's mutex is the only lock held while the queue changes. Checking a cancel
//! scope under it — a node's scope during a hand-off, the waiting task's own in
//! [`Wait::poll`] — may take that scope's lock (and cancel it, when its deadline has
//! passed); scope code never takes a primitive's mutex, so the order is always primitive,
//! then scope.

use crate::loom::MutexGuard;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

pub(crate) use crate::cell::WakeList;

use crate::cancel::tree::ScopeNode;
use crate::context;
use crate::error::Result;
use crate::lowlevel::Checkpoint;

const NIL: usize = usize::MAX;

/// The one FIFO list of waiters of the crate: a doubly linked list threaded through a slab,
/// so that a waiter leaves from the middle in O(1) and its key stays valid until its owner
/// frees it. [`WaitQueue`] (the sync primitives) and the memory object streams' lists of
/// senders and receivers are both this list.
///
/// An entry is *linked* while it waits; [`pop_front`](WaitList::pop_front) and
/// [`unlink`](WaitList::unlink) take it out of the order but keep it in the slab, so the
/// future that owns it can still read what was left there for it (an item, a grant) before
/// it [`remove`](WaitList::remove)s it.
pub(crate) struct WaitList<W> {
    slab: Slab<Entry<W>>,
    head: usize,
    tail: usize,
    linked: usize,
}

struct Entry<W> {
    value: W,
    prev: usize,
    next: usize,
    linked: bool,
}

impl<W> Default for WaitList<W> {
    fn default() -> Self {
        WaitList::new()
    }
}

impl<W> WaitList<W> {
    /// An empty list (no allocation until the first entry).
    pub(crate) const fn new() -> WaitList<W> {
        WaitList {
            slab: Slab::new(),
            head: NIL,
            tail: NIL,
            linked: 0,
        }
    }

    /// The number of linked (still waiting) entries.
    pub(crate) fn len(&self) -> usize {
        self.linked
    }

    /// Links a new entry at the back.
    pub(crate) fn push_back(&mut self, value: W) -> usize {
        let key = self.slab.insert(Entry {
            value,
            prev: self.tail,
            next: NIL,
            linked: true,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.slab[tail].next = key,
        }
        self.tail = key;
        self.linked += 1;
        key
    }

    /// Links a new entry at the front (a waiter woken for nothing keeps its place).
    pub(crate) fn push_front(&mut self, value: W) -> usize {
        let key = self.slab.insert(Entry {
            value,
            prev: NIL,
            next: self.head,
            linked: true,
        });
        match self.head {
            NIL => self.tail = key,
            head => self.slab[head].prev = key,
        }
        self.head = key;
        self.linked += 1;
        key
    }

    /// Unlinks the first entry and returns its key; the entry stays in the slab.
    pub(crate) fn pop_front(&mut self) -> Option<usize> {
        match self.head {
            NIL => None,
            key => {
                self.unlink(key);
                Some(key)
            }
        }
    }

    /// Whether the entry still waits in the list.
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.slab[key].linked
    }

    /// The entry's value.
    pub(crate) fn get(&self, key: usize) -> &W {
        &self.slab[key].value
    }

    /// The entry's value.
    pub(crate) fn get_mut(&mut self, key: usize) -> &mut W {
        &mut self.slab[key].value
    }

    /// Takes the entry out of the order (if it is still in it); it stays in the slab.
    pub(crate) fn unlink(&mut self, key: usize) {
        let entry = &mut self.slab[key];
        if !entry.linked {
            return;
        }
        entry.linked = false;
        let (prev, next) = (entry.prev, entry.next);
        entry.prev = NIL;
        entry.next = NIL;
        match prev {
            NIL => self.head = next,
            prev => self.slab[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slab[next].prev = prev,
        }
        self.linked -= 1;
    }

    /// Unlinks (if need be) and frees the entry.
    pub(crate) fn remove(&mut self, key: usize) -> W {
        self.unlink(key);
        self.slab.remove(key).value
    }

    /// Every entry, linked or not.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut W)> {
        self.slab.iter_mut().map(|(k, e)| (k, &mut e.value))
    }
}

/// Where a node stands (see invariant 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Linked into the queue, waiting for a hand-off.
    Queued,
    /// The resource was handed to this node.
    Granted,
    /// A hand-off skipped this node because its scope was cancelled.
    Aborted,
}

struct Node<D> {
    status: Status,
    waker: Option<Waker>,
    /// The cancel scope of the waiting task; `None` for a wait that cannot be cancelled.
    scope: Option<Arc<ScopeNode>>,
    data: D,
}

/// The hand-off queue of a sync primitive: a [`WaitList`] of nodes that remember their
/// waker, their cancel scope and what they were granted.
pub(crate) struct WaitQueue<D> {
    list: WaitList<Node<D>>,
}

impl<D> fmt::Debug for WaitQueue<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue")
            .field("queued", &self.list.len())
            .finish_non_exhaustive()
    }
}

impl<D> Default for WaitQueue<D> {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl<D> WaitQueue<D> {
    pub(crate) const fn new() -> WaitQueue<D> {
        WaitQueue {
            list: WaitList::new(),
        }
    }

    /// The number of queued nodes (granted and aborted ones no longer count).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    fn node(data: D, cancellable: bool) -> Node<D> {
        let scope = if cancellable {
            context::current_scope()
        } else {
            None
        };
        Node {
            status: Status::Queued,
            waker: None,
            scope,
            data,
        }
    }

    /// Queues a waiter of the current task at the back. A `cancellable` node remembers the
    /// current cancel scope, so that a hand-off can skip it once that scope is cancelled.
    pub(crate) fn push_back(&mut self, data: D, cancellable: bool) -> usize {
        self.list.push_back(Self::node(data, cancellable))
    }

    /// Queues a waiter at the front (a waiter that was skipped but is not cancelled after
    /// all, because a shield was raised meanwhile, keeps its place).
    pub(crate) fn push_front(&mut self, data: D, cancellable: bool) -> usize {
        self.list.push_front(Self::node(data, cancellable))
    }

    pub(crate) fn status(&self, key: usize) -> Status {
        self.list.get(key).status
    }

    /// Stores the waker to wake at the hand-off (cloning it only when it changed).
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        set_waker(&mut self.list.get_mut(key).waker, waker);
    }

    /// Removes a node, whatever its state; returns the state it was in and its data.
    pub(crate) fn remove(&mut self, key: usize) -> (Status, D) {
        let node = self.list.remove(key);
        (node.status, node.data)
    }

    /// Hands the resource to the first queued node whose scope is not cancelled, and
    /// returns that node's data for the primitive to record the new holder. Cancelled nodes
    /// met on the way are aborted. Returns `None` (and changes nothing but the aborted
    /// nodes) when no node can take it.
    pub(crate) fn grant_next(&mut self, wake: &mut WakeList) -> Option<&mut D> {
        while let Some(key) = self.list.pop_front() {
            let node = self.list.get_mut(key);
            let cancelled = node
                .scope
                .as_ref()
                .is_some_and(|s| s.effectively_cancelled());
            node.status = if cancelled {
                Status::Aborted
            } else {
                Status::Granted
            };
            wake.push(node.waker.take());
            if !cancelled {
                return Some(&mut self.list.get_mut(key).data);
            }
        }
        None
    }
}

/// Stores `waker` in `slot`, cloning it only when it would not wake the same task.
pub(crate) fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// What a primitive tells [`Wait`] about itself.
pub(crate) trait Handoff {
    /// The state behind the primitive's mutex.
    type State;
    /// What a waiter carries (who it waits for; what it was granted).
    type Data;

    fn state(&self) -> MutexGuard<'_, Self::State>;

    fn queue(state: &mut Self::State) -> &mut WaitQueue<Self::Data>;

    /// Takes the resource at once for a waiter that a hand-off skipped but that is not
    /// cancelled after all. Called with no node queued ahead (the waiter was at the front).
    fn try_take(state: &mut Self::State, data: &mut Self::Data) -> bool;

    /// A waiter that had been handed the resource gave it up (its future was dropped):
    /// release the resource, handing it to the next waiter.
    fn pass_on(state: &mut Self::State, data: Self::Data, wake: &mut WakeList);

    /// A waiter left without being handed anything.
    fn withdrawn(_state: &mut Self::State, _data: &Self::Data) {}
}

/// A primitive whose acquisitions start inside [`Acquisition`]: the attempt to take the
/// resource, and the queueing when it is not free, happen in one critical section of the
/// first poll (with the waker stored there too), so a contended acquisition takes the
/// primitive's mutex twice (queue, then collect the hand-off) rather than three times.
pub(crate) trait Acquire: Handoff {
    /// What a new acquisition carries, made before the mutex is taken (a lock's waiter
    /// remembers its task: a reference-count increment better kept out of the critical
    /// section).
    fn data(&self) -> Self::Data;

    /// Takes the resource for a new acquisition if it is free: `Ok(true)` (and `data` holds
    /// what was taken), `Ok(false)` to queue `data`, or the error that refuses the
    /// acquisition (a lock the task already holds). By invariant 3, a free resource has no
    /// node queued, so taking it at once is no barging.
    fn begin(state: &mut Self::State, data: &mut Self::Data) -> Result<bool>;
}

/// A whole acquisition: its checkpoint, the attempt, and (when the resource is not free)
/// the [`Wait`] for a hand-off — the future behind `Semaphore::acquire`, `Lock::lock` and
/// `Mutex::lock`.
///
/// The prelude is the crate's [`Checkpoint`]: a cancellation check and a budgeted schedule
/// point that, when it yields, yields *before* the attempt, so a future dropped during that
/// yield has taken nothing. A `fast_acquire` acquisition checks for cancellation only; a
/// shielded one (not `cancellable`) does neither.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Acquisition<'a, P: Acquire> {
    prim: &'a P,
    /// The prelude's schedule point; `None` when the acquisition is not one.
    checkpoint: Option<Checkpoint>,
    cancellable: bool,
    /// # Invariant
    /// `Some` once the first attempt queued a node (the `Wait` owns it from then on).
    wait: Option<Wait<'a, P>>,
}

impl<'a, P: Acquire> Acquisition<'a, P> {
    /// An acquisition of `prim`: a schedule point first when `schedule`, a cancellation
    /// check when `cancellable` (a shielded acquisition is neither).
    pub(crate) fn new(prim: &'a P, schedule: bool, cancellable: bool) -> Acquisition<'a, P> {
        Acquisition {
            prim,
            checkpoint: (schedule && cancellable).then(Checkpoint::new),
            cancellable,
            wait: None,
        }
    }
}

impl<P: Acquire> Future for Acquisition<'_, P> {
    type Output = Result<P::Data>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(wait) = &mut this.wait {
            return Pin::new(wait).poll(cx);
        }
        match &mut this.checkpoint {
            Some(checkpoint) => {
                if let Err(e) = std::task::ready!(checkpoint.poll_in_place(cx)) {
                    return Poll::Ready(Err(e));
                }
            }
            None if this.cancellable => Checkpoint::check()?,
            None => {}
        }
        let mut data = this.prim.data();
        let mut guard = this.prim.state();
        let state = &mut *guard;
        if P::begin(state, &mut data)? {
            return Poll::Ready(Ok(data));
        }
        let queue = P::queue(state);
        let key = queue.push_back(data, this.cancellable);
        queue.set_waker(key, cx.waker());
        drop(guard);
        // From now on every poll is a later one: it checks for cancellation itself.
        this.wait = Some(Wait {
            prim: this.prim,
            key: Some(key),
            cancellable: this.cancellable,
            checked: false,
        });
        if this.cancellable {
            // See the end of `Wait::poll`.
            context::mark_blocked();
        }
        Poll::Pending
    }
}

impl<P: Acquire> fmt::Debug for Acquisition<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquisition")
            .field("wait", &self.wait)
            .field("cancellable", &self.cancellable)
            .finish_non_exhaustive()
    }
}

/// The future a blocked operation waits in (see the module docs for the protocol).
///
/// Resolves to the node's data once the resource was handed to it, or to `Cancelled`
/// (after withdrawing the node) when the enclosing scope is cancelled first. A wait that is
/// not `cancellable` (a shielded re-acquisition) ignores cancellation.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Wait<'a, P: Handoff> {
    prim: &'a P,
    /// # Invariant
    /// `Some` while this future owns a node.
    key: Option<usize>,
    cancellable: bool,
    /// The caller checked for cancellation in the poll that queued the node, so the first
    /// poll (part of that same poll) need not check again.
    checked: bool,
}

impl<'a, P: Handoff> Wait<'a, P> {
    /// Waits on the node `key`, queued by the caller under `prim`'s mutex after it checked
    /// for cancellation, in the poll that polls this future first.
    pub(crate) fn new(prim: &'a P, key: usize, cancellable: bool) -> Wait<'a, P> {
        Wait {
            prim,
            key: Some(key),
            cancellable,
            checked: true,
        }
    }
}

impl<P: Handoff> Future for Wait<'_, P> {
    type Output = Result<P::Data>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let key = this.key.expect("`Wait` polled after it completed");
        let checked = std::mem::take(&mut this.checked);
        let mut guard = this.prim.state();
        let state = &mut *guard;
        let queue = P::queue(state);
        let status = queue.status(key);
        if status == Status::Granted {
            // Completion wins: no need to look at the scope.
            let (_, data) = queue.remove(key);
            this.key = None;
            return Poll::Ready(Ok(data));
        }
        // Under the mutex, which is the documented lock order (primitive, then scope). A
        // cancellation that lands after this check wakes the task again: the scope
        // re-checks after the task blocks (scope-tree invariant 4).
        let cancelled = if this.cancellable && !checked {
            context::check_cancelled()
        } else {
            None
        };
        let queue = P::queue(state);
        if let Some(e) = cancelled {
            let (_, data) = queue.remove(key);
            this.key = None;
            P::withdrawn(state, &data);
            return Poll::Ready(Err(e));
        }
        if status == Status::Aborted {
            // Skipped as cancelled, but a shield hides the cancellation now.
            let (_, mut data) = queue.remove(key);
            if P::try_take(state, &mut data) {
                this.key = None;
                return Poll::Ready(Ok(data));
            }
            let key = P::queue(state).push_front(data, this.cancellable);
            this.key = Some(key);
            P::queue(state).set_waker(key, cx.waker());
        } else {
            queue.set_waker(key, cx.waker());
        }
        drop(guard);
        if this.cancellable {
            // Not for a shielded wait: a blocked task is re-woken by its cancelled scope
            // (scope-tree invariant 4), which a wait that ignores cancellation would turn
            // into a busy loop.
            context::mark_blocked();
        }
        Poll::Pending
    }
}

impl<P: Handoff> Drop for Wait<'_, P> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut wake = WakeList::new();
        {
            let mut guard = self.prim.state();
            let state = &mut *guard;
            let (status, data) = P::queue(state).remove(key);
            if status == Status::Granted {
                P::pass_on(state, data, &mut wake);
            } else {
                P::withdrawn(state, &data);
            }
        }
        wake.wake_all();
    }
}

impl<P: Handoff> fmt::Debug for Wait<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("key", &self.key)
            .field("cancellable", &self.cancellable)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wait_list_is_fifo_and_removes_from_the_middle() {
        let mut list = WaitList::new();
        let a = list.push_back('a');
        let b = list.push_back('b');
        let c = list.push_back('c');
        assert_eq!(list.len(), 3);
        assert_eq!(list.remove(b), 'b');
        assert_eq!(list.pop_front(), Some(a));
        assert!(!list.is_linked(a));
        assert_eq!(*list.get(a), 'a'); // still in the slab for its owner
        assert_eq!(list.pop_front(), Some(c));
        assert_eq!(list.pop_front(), None);
        assert_eq!(list.len(), 0);
        let d = list.push_back('d');
        let e = list.push_front('e');
        assert_eq!(list.pop_front(), Some(e));
        assert_eq!(list.pop_front(), Some(d));
        for key in [e, a, c, d] {
            list.remove(key);
        }
        assert!(list.slab.is_empty());
    }
}
