//! The state machine of a memory object stream, shared by all its handles.
//!
//! One mutex guards the state of a stream: the buffer, the open-handle counts, two FIFO
//! lists of waiting operations, and the wakers of the handles' [`Stream`] polls.
//!
//! * A waiting **sender** keeps its item in its own entry until a receiver takes it, in
//!   the receiver's own poll — which completes the send. On a rendezvous stream (size 0)
//!   this is the only way an async send completes, so it completes only once a receiver
//!   has taken the item in a poll that returned it (AnyIO's rendezvous rule).
//! * A waiting **receive future** has a slot in its entry. A sender may fill it (a hand-off)
//!   when nothing is buffered — except an async send on a rendezvous stream, which queues
//!   and *notifies* the receiver instead: it unlinks the entry, marks it notified and wakes
//!   it, and the receiver takes the item from the sender's entry in its next poll. A
//!   receive future dropped with an item gives it to the next receiver or back to the head
//!   of the buffer; dropped (or cancelled) after a notification, it passes the
//!   notification on. Whichever side completes or notifies an operation unlinks it; under
//!   the lock the waiter either finds its operation completed (and returns the result) or
//!   withdraws it (and returns `Cancelled`), never both, never neither.
//! * A [`Stream`] poll is never a *taking* waiter: `poll_next` has no drop signal, so a
//!   registration it leaves behind when its caller gives up could never be withdrawn. It
//!   only leaves a waker in its handle's slot, woken (all of them at once) whenever an
//!   item may have become available, and takes an item only in the poll that returns it.
//!   An abandoned `next()` therefore reserves nothing, holds no place in line and is not
//!   counted in `tasks_waiting_receive`.
//!
//! # Invariants
//!
//! 1. While a receiver is linked, the buffer is empty. Items enter the buffer only when no
//!    receiver is linked, or when a dropped receive future gives one back (then the buffer
//!    may hold more than its size).
//! 2. A linked sender entry holds its item; a linked receiver entry holds none and is not
//!    notified.
//! 3. An entry stays in its list's slab until the operation that created it removes it, so
//!    the key an operation holds is never reused under it; the same for a handle's watcher
//!    slot.
//! 4. Once `open_senders` or `open_receivers` reaches zero it stays zero: only an open
//!    handle can make a new one (a closed handle clones into a closed handle).
//! 5. No item is dropped and no stream waiter is woken while the lock is held: they are
//!    moved out and dropped or woken after unlocking (an item's `Drop` may use a stream
//!    itself, and a woken task may run at once on another thread and want the lock).
//! 6. `watching` is the number of watcher slots holding a waker.
//!
//! # Counters
//!
//! `open_senders` and `open_receivers` count open handles, each of which holds a clone of
//! the stream's `Arc`: they never exceed its strong count, which `Arc` keeps below
//! `isize::MAX` (it aborts beyond), so `+ 1` cannot overflow; `- 1` runs once per open
//! handle, when it closes, so it cannot underflow. The lists count their linked entries
//! (at most their slab's length) and `watching` its slots. A buffer size of `usize::MAX`
//! ([`UNBOUNDED`](super::UNBOUNDED)) is only ever compared with the buffer's length, so
//! it needs no special case: `len < usize::MAX` always holds.
//!
//! # Deadlock safety
//!
//! The stream's lock is the only lock of this module. Under it, reading whether a task is
//! cancelled may take scope-node locks of the cancel tree (`ScopeNode::check`), which never
//! call back into a stream while they hold them (they wake tasks after unlocking). So the
//! order is always stream, then scope node.
//!
//! [`Stream`]: futures_core::Stream

use crate::loom::{Mutex, MutexGuard};
use slab::Slab;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{MemoryObjectStreamStatistics, SendError};
use crate::cancel::tree::ScopeNode;
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel::Checkpoint;
use crate::sync::waiters::{WaitList, WakeList, set_waker};

// ---------------------------------------------------------------------------------------
// The shared state.

pub(super) struct Chan<T> {
    max_buffer_size: usize,
    state: Mutex<State<T>>,
}

struct State<T> {
    buffer: VecDeque<T>,
    senders: WaitList<SendWaiter<T>>,
    receivers: WaitList<RecvWaiter<T>>,
    /// One slot per receive handle whose [`Stream`](futures_core::Stream) impl waited.
    watchers: Slab<Option<Waker>>,
    /// Slots of `watchers` holding a waker (invariant 6).
    watching: usize,
    open_senders: usize,
    open_receivers: usize,
}

struct SendWaiter<T> {
    /// # Invariant
    /// `Some` while linked; `None` once a receiver took it (the send completed).
    item: Option<T>,
    waker: Option<Waker>,
}

struct RecvWaiter<T> {
    /// Filled by the sender that hands its item to this receive.
    item: Option<T>,
    waker: Option<Waker>,
    /// The scope the receive waits in: a sender skips this receiver when it is cancelled.
    scope: Option<Arc<ScopeNode>>,
    /// Woken (and unlinked) to take an item from a waiting sender. A receive that then
    /// does not take one (cancelled, dropped) passes the notification on.
    notified: bool,
}

/// Why a non-waiting send did not go through.
enum TrySendError<T> {
    Full(T),
    Broken(T),
}

/// Why a non-waiting receive did not go through.
enum TryRecvError {
    Empty,
    Ended,
}

impl<T> Chan<T> {
    pub(super) fn new(max_buffer_size: usize) -> Chan<T> {
        Chan {
            max_buffer_size,
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                senders: WaitList::new(),
                receivers: WaitList::new(),
                watchers: Slab::new(),
                watching: 0,
                open_senders: 1,
                open_receivers: 1,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent before it can panic (only a
        // user's code could, and none runs under the lock), so a poisoned lock is usable.
        self.state.lock()
    }

    pub(super) fn statistics(&self) -> MemoryObjectStreamStatistics {
        let st = self.lock();
        MemoryObjectStreamStatistics {
            current_buffer_used: st.buffer.len(),
            max_buffer_size: self.max_buffer_size,
            open_send_streams: st.open_senders,
            open_receive_streams: st.open_receivers,
            tasks_waiting_send: st.senders.len(),
            tasks_waiting_receive: st.receivers.len(),
        }
    }

    /// A send that never waits (`try_send`). It may hand the item to a waiting receive
    /// future even on a rendezvous stream: it cannot wait for the receiver's poll.
    pub(super) fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        match st.try_send(item, self.max_buffer_size, true, &mut wake) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(item)) => Err(SendError::new(send_would_block(), item)),
            Err(TrySendError::Broken(item)) => Err(SendError::new(broken(), item)),
        }
    }

    /// A receive that never waits (`try_receive`).
    pub(super) fn try_receive(&self) -> Result<T> {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        match st.try_receive(&mut wake) {
            Ok(item) => Ok(item),
            Err(TryRecvError::Empty) => Err(receive_would_block()),
            Err(TryRecvError::Ended) => Err(end_of_stream()),
        }
    }

    /// A send handle was cloned (see "Counters" above: this cannot overflow).
    pub(super) fn add_sender(&self) {
        self.lock().open_senders += 1;
    }

    /// A receive handle was cloned (see "Counters" above: this cannot overflow).
    pub(super) fn add_receiver(&self) {
        self.lock().open_receivers += 1;
    }

    /// A send handle was closed. After the last one, nothing more will come: every waiting
    /// receiver and watcher is woken empty-handed and sees the end of the stream once the
    /// buffer is empty.
    pub(super) fn close_sender(&self) {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        st.open_senders -= 1;
        if st.open_senders == 0 {
            while let Some(key) = st.receivers.pop_front() {
                let waker = st.receivers.get_mut(key).waker.take();
                wake.push(waker);
            }
            st.wake_watchers(&mut wake);
        }
    }

    /// A receive handle was closed; `watch` is its watcher slot, freed here. After the last
    /// one, nobody can receive any more: waiting senders are woken (they withdraw with
    /// `BrokenResource`, item in hand), and the buffered items are dropped — after
    /// unlocking.
    pub(super) fn close_receiver(&self, watch: Option<usize>) {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        // The slot's waker is dropped after unlocking (invariant 5).
        let stale = watch.and_then(|key| st.unwatch(key));
        st.open_receivers -= 1;
        if st.open_receivers > 0 {
            drop(st);
            drop(stale);
            return;
        }
        for (_, w) in st.senders.iter_mut() {
            wake.push(w.waker.take());
        }
        let dropped = std::mem::take(&mut st.buffer);
        drop(st);
        drop((dropped, stale));
    }
}

impl<T> State<T> {
    /// Gives `item` to the first waiting receiver whose scope is not cancelled; the
    /// cancelled ones met on the way are unlinked and woken empty-handed (they will return
    /// `Cancelled`). Returns the item when no receiver took it.
    #[inline]
    fn hand_to_receiver(&mut self, item: T, wake: &mut WakeList) -> Option<T> {
        match self.next_live_receiver(wake) {
            Some(key) => {
                self.receivers.get_mut(key).item = Some(item);
                None
            }
            None => Some(item),
        }
    }

    /// Unlinks waiting receivers, waking each, up to the first whose scope is not
    /// cancelled, whose key it returns (its waker already queued in `wake`).
    #[inline]
    fn next_live_receiver(&mut self, wake: &mut WakeList) -> Option<usize> {
        while let Some(key) = self.receivers.pop_front() {
            let w = self.receivers.get_mut(key);
            wake.push(w.waker.take());
            if !w.scope.as_ref().is_some_and(|s| s.effectively_cancelled()) {
                return Some(key);
            }
        }
        None
    }

    /// Wakes the first live waiting receiver to take an item from a waiting sender.
    fn notify_receiver(&mut self, wake: &mut WakeList) {
        if self.receivers.len() == 0 {
            return;
        }
        if let Some(key) = self.next_live_receiver(wake) {
            self.receivers.get_mut(key).notified = true;
        }
    }

    /// A notified receive did not take an item: wake another one if items wait.
    fn pass_notification_on(&mut self, wake: &mut WakeList) {
        if self.senders.len() > 0 || !self.buffer.is_empty() {
            self.notify_receiver(wake);
        }
    }

    /// Wakes every waiting [`Stream`](futures_core::Stream) poll: an item may be there.
    #[inline]
    fn wake_watchers(&mut self, wake: &mut WakeList) {
        if self.watching == 0 {
            return;
        }
        for (_, slot) in self.watchers.iter_mut() {
            wake.push(slot.take());
        }
        self.watching = 0;
    }

    /// Frees a handle's watcher slot; returns the waker it held, to drop after unlocking.
    fn unwatch(&mut self, key: usize) -> Option<Waker> {
        let waker = self.watchers.remove(key);
        if waker.is_some() {
            self.watching -= 1;
        }
        waker
    }

    /// Empties a handle's watcher slot; returns the waker it held.
    fn clear_watch(&mut self, key: usize) -> Option<Waker> {
        let waker = self.watchers[key].take();
        if waker.is_some() {
            self.watching -= 1;
        }
        waker
    }

    /// A send that does not wait. `hand_off`: the item may go straight into a waiting
    /// receive's slot (not for an async send on a rendezvous stream, which must wait for
    /// the receiver to take it).
    fn try_send(
        &mut self,
        item: T,
        max: usize,
        hand_off: bool,
        wake: &mut WakeList,
    ) -> Result<(), TrySendError<T>> {
        if self.open_receivers == 0 {
            return Err(TrySendError::Broken(item));
        }
        let item = if hand_off && self.buffer.is_empty() {
            match self.hand_to_receiver(item, wake) {
                None => return Ok(()),
                Some(item) => item,
            }
        } else {
            item
        };
        if self.buffer.len() < max {
            self.buffer.push_back(item);
            self.wake_watchers(wake);
            Ok(())
        } else {
            Err(TrySendError::Full(item))
        }
    }

    fn try_receive(&mut self, wake: &mut WakeList) -> Result<T, TryRecvError> {
        // The first waiting sender's item goes to the back of the buffer (behind the items
        // sent before it), which completes its send.
        if let Some(key) = self.senders.pop_front() {
            let w = self.senders.get_mut(key);
            wake.push(w.waker.take());
            let item = w.item.take().expect("a linked sender holds its item");
            self.buffer.push_back(item);
        }
        match self.buffer.pop_front() {
            Some(item) => Ok(item),
            None if self.open_senders == 0 => Err(TryRecvError::Ended),
            None => Err(TryRecvError::Empty),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors.

pub(super) fn closed_send() -> Error {
    Error::new(
        ErrorKind::ClosedResource,
        "sending on a memory object stream handle that was closed",
    )
}

pub(super) fn closed_receive() -> Error {
    Error::new(
        ErrorKind::ClosedResource,
        "receiving on a memory object stream handle that was closed",
    )
}

fn broken() -> Error {
    Error::new(
        ErrorKind::BrokenResource,
        "sending on a memory object stream whose receiving end is closed",
    )
}

fn end_of_stream() -> Error {
    Error::new(
        ErrorKind::EndOfStream,
        "the sending end of the memory object stream is closed and its buffer is empty",
    )
}

fn send_would_block() -> Error {
    Error::new(
        ErrorKind::WouldBlock,
        "the memory object stream's buffer is full and no task is waiting to receive",
    )
}

fn receive_would_block() -> Error {
    Error::new(
        ErrorKind::WouldBlock,
        "the memory object stream's buffer is empty and no task is waiting to send",
    )
}

// ---------------------------------------------------------------------------------------
// Waiting. (The checkpoint every operation starts with is `lowlevel::Checkpoint`.)

/// A real wait begins: tell the enclosing scopes, so they arm their deadline timers and
/// link themselves for cancellation wake-ups.
fn park() {
    context::mark_blocked();
}

// ---------------------------------------------------------------------------------------
// One receive operation: the state a receive future keeps.

#[derive(Debug)]
struct RecvOp {
    /// The checkpoint every operation starts with.
    checkpoint: Checkpoint,
    /// Our entry in `receivers`, once we waited.
    key: Option<usize>,
}

impl RecvOp {
    fn new() -> RecvOp {
        RecvOp {
            checkpoint: Checkpoint::new(),
            key: None,
        }
    }

    fn poll<T>(&mut self, chan: &Chan<T>, closed: bool, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let out = self.poll_inner(chan, closed, cx);
        if out.is_ready() {
            self.checkpoint.reset();
        }
        out
    }

    fn poll_inner<T>(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T>> {
        if let Err(e) = std::task::ready!(self.checkpoint.poll_in_place(cx)) {
            return Poll::Ready(Err(e));
        }
        if closed && self.key.is_none() {
            return Poll::Ready(Err(closed_receive()));
        }
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        let mut woken = false;
        if let Some(key) = self.key {
            let w = st.receivers.get_mut(key);
            if let Some(item) = w.item.take() {
                // Completed for us: the item wins over any cancellation.
                st.receivers.remove(key);
                self.key = None;
                return Poll::Ready(Ok(item));
            }
            if st.receivers.is_linked(key) {
                if let Some(e) = context::check_cancelled() {
                    st.receivers.remove(key);
                    self.key = None;
                    return Poll::Ready(Err(e));
                }
                set_waker(&mut st.receivers.get_mut(key).waker, cx.waker());
                drop(st);
                park();
                return Poll::Pending;
            }
            // Woken empty-handed: notified to take a waiting sender's item, skipped as
            // cancelled, or the send side closed. A cancelled receive must not take an
            // item now; a notification it does not use goes to the next receiver.
            let w = st.receivers.remove(key);
            self.key = None;
            if let Some(e) = context::check_cancelled() {
                if w.notified {
                    st.pass_notification_on(&mut wake);
                }
                return Poll::Ready(Err(e));
            }
            woken = true;
        }
        match st.try_receive(&mut wake) {
            Ok(item) => Poll::Ready(Ok(item)),
            Err(TryRecvError::Ended) => Poll::Ready(Err(end_of_stream())),
            Err(TryRecvError::Empty) => {
                let w = RecvWaiter {
                    item: None,
                    waker: Some(cx.waker().clone()),
                    scope: context::current_scope(),
                    notified: false,
                };
                // Woken for nothing (another receive came first): keep our place in line.
                self.key = Some(if woken {
                    st.receivers.push_front(w)
                } else {
                    st.receivers.push_back(w)
                });
                drop(st);
                park();
                Poll::Pending
            }
        }
    }

    /// Withdraws a waiting receive that will not be polled again. An item already handed
    /// to it goes to the next waiting receiver or back to the head of the buffer; a
    /// notification goes to the next receiver.
    fn abandon<T>(&mut self, chan: &Chan<T>) {
        self.checkpoint.reset();
        let Some(key) = self.key.take() else { return };
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        let linked = st.receivers.is_linked(key);
        let w = st.receivers.remove(key);
        if let Some(item) = w.item {
            if let Some(item) = st.hand_to_receiver(item, &mut wake) {
                st.buffer.push_front(item);
                st.wake_watchers(&mut wake);
            }
        } else if w.notified && !linked {
            st.pass_notification_on(&mut wake);
        }
        drop(st);
        drop(w.waker);
    }
}

/// The future of [`MemoryObjectReceiveStream::receive`](super::MemoryObjectReceiveStream::receive).
pub(super) struct ReceiveFuture<'a, T> {
    chan: &'a Chan<T>,
    closed: bool,
    op: RecvOp,
}

impl<'a, T> ReceiveFuture<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, closed: bool) -> ReceiveFuture<'a, T> {
        ReceiveFuture {
            chan,
            closed,
            op: RecvOp::new(),
        }
    }
}

impl<T> Future for ReceiveFuture<'_, T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        this.op.poll(this.chan, this.closed, cx)
    }
}

impl<T> Drop for ReceiveFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.op.key.is_some() {
            self.op.abandon(self.chan);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Stream impl's receive: a watcher, never a taking waiter.

/// What a receive handle keeps for its [`Stream`](futures_core::Stream) impl: where its
/// checkpoint is, and its watcher slot (allocated at its first wait, freed when the handle
/// closes). Nothing here reserves an item or a place in line, so a `next()` future
/// dropped at any point leaves no trace.
#[derive(Debug)]
pub(super) struct StreamRecv {
    /// The checkpoint every operation starts with.
    checkpoint: Checkpoint,
    watch: Option<usize>,
}

impl StreamRecv {
    pub(super) fn new() -> StreamRecv {
        StreamRecv {
            checkpoint: Checkpoint::new(),
            watch: None,
        }
    }

    /// Takes the watcher slot (to free it when the handle closes).
    pub(super) fn take_watch(&mut self) -> Option<usize> {
        self.watch.take()
    }

    /// One poll of the handle's stream: an item taken in this very poll, the end of the
    /// stream (`Err` of kind `EndOfStream`), or `Pending` with only a waker left behind.
    pub(super) fn poll<T>(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T>> {
        let out = self.poll_inner(chan, closed, cx);
        if out.is_ready() {
            self.checkpoint.reset();
        }
        out
    }

    fn poll_inner<T>(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T>> {
        if self.checkpoint.is_done() {
            // Polled again after waiting: a cancelled receive takes nothing.
            if let Some(e) = context::check_cancelled() {
                return Poll::Ready(Err(e));
            }
        }
        if let Err(e) = std::task::ready!(self.checkpoint.poll_in_place(cx)) {
            return Poll::Ready(Err(e));
        }
        if closed {
            return Poll::Ready(Err(closed_receive()));
        }
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        match st.try_receive(&mut wake) {
            Ok(item) => {
                // No waker left behind for a later item to wake for nothing; it is
                // dropped after unlocking (invariant 5).
                let stale = self.watch.and_then(|key| st.clear_watch(key));
                drop(st);
                drop(stale);
                Poll::Ready(Ok(item))
            }
            Err(TryRecvError::Ended) => Poll::Ready(Err(end_of_stream())),
            Err(TryRecvError::Empty) => {
                let key = *self.watch.get_or_insert_with(|| st.watchers.insert(None));
                if st.watchers[key].is_none() {
                    st.watching += 1;
                }
                set_waker(&mut st.watchers[key], cx.waker());
                drop(st);
                park();
                Poll::Pending
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// One send operation.

pub(super) struct SendOp<T> {
    /// The checkpoint every operation starts with.
    checkpoint: Checkpoint,
    /// The item, until it is sent or queued in our entry.
    item: Option<T>,
    /// Our entry in `senders`, once we waited.
    key: Option<usize>,
}

impl<T> SendOp<T> {
    pub(super) fn new(item: Option<T>) -> SendOp<T> {
        SendOp {
            checkpoint: Checkpoint::new(),
            item,
            key: None,
        }
    }

    pub(super) fn is_idle(&self) -> bool {
        self.item.is_none() && self.key.is_none()
    }

    pub(super) fn poll(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        let out = self.poll_inner(chan, closed, cx);
        if out.is_ready() {
            self.checkpoint.reset();
        }
        out
    }

    fn poll_inner(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        if let Err(e) = std::task::ready!(self.checkpoint.poll_in_place(cx)) {
            return Poll::Ready(Err(self.fail(e)));
        }
        if closed && self.key.is_none() {
            return Poll::Ready(Err(self.fail(closed_send())));
        }
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        if let Some(key) = self.key {
            return self.poll_queued(key, st, cx);
        }
        let item = self
            .item
            .take()
            .expect("a send holds its item until it is queued");
        // A rendezvous send never hands its item over: it waits for a receiver to take it.
        let hand_off = chan.max_buffer_size > 0;
        match st.try_send(item, chan.max_buffer_size, hand_off, &mut wake) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TrySendError::Broken(item)) => Poll::Ready(Err(SendError::new(broken(), item))),
            Err(TrySendError::Full(item)) => {
                self.key = Some(st.senders.push_back(SendWaiter {
                    item: Some(item),
                    waker: Some(cx.waker().clone()),
                }));
                st.notify_receiver(&mut wake);
                st.wake_watchers(&mut wake);
                drop(st);
                park();
                Poll::Pending
            }
        }
    }

    /// A poll of a queued send: taken (sent), failed (withdrawn), or still waiting.
    fn poll_queued(
        &mut self,
        key: usize,
        mut st: MutexGuard<'_, State<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        if st.senders.get_mut(key).item.is_none() {
            // A receiver took the item: the send completed, whatever else happened.
            st.senders.remove(key);
            self.key = None;
            return Poll::Ready(Ok(()));
        }
        let failure = if st.open_receivers == 0 {
            Some(broken())
        } else {
            context::check_cancelled()
        };
        if let Some(e) = failure {
            let w = st.senders.remove(key);
            self.key = None;
            let item = w.item.expect("a sender entry not taken holds its item");
            return Poll::Ready(Err(SendError::new(e, item)));
        }
        set_waker(&mut st.senders.get_mut(key).waker, cx.waker());
        drop(st);
        park();
        Poll::Pending
    }

    /// Starts over with `item` (the op must be idle, or just failed and not queued).
    pub(super) fn put(&mut self, item: T) {
        debug_assert!(
            self.key.is_none(),
            "a queued send keeps its item in its entry"
        );
        self.checkpoint.reset();
        self.item = Some(item);
    }

    /// The send fails before it was queued: give the item back with `e`.
    fn fail(&mut self, e: Error) -> SendError<T> {
        debug_assert!(
            self.key.is_none(),
            "a queued send fails only under the lock"
        );
        let item = self.item.take().expect("a send not queued holds its item");
        SendError::new(e, item)
    }

    /// Withdraws a queued send that will not be polled again; returns the item when it was
    /// not taken (the caller drops it, outside the lock). A receiver notified for it finds
    /// nothing and waits on.
    pub(super) fn abandon(&mut self, chan: &Chan<T>) -> Option<T> {
        self.checkpoint.reset();
        let key = self.key.take()?;
        let w = chan.lock().senders.remove(key);
        w.item
    }
}

/// The future of [`MemoryObjectSendStream::send`](super::MemoryObjectSendStream::send).
pub(super) struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    closed: bool,
    op: SendOp<T>,
}

impl<'a, T> SendFuture<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, closed: bool, item: T) -> SendFuture<'a, T> {
        SendFuture {
            chan,
            closed,
            op: SendOp::new(Some(item)),
        }
    }
}

// The item is never pinned: it is moved in and out freely.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll(this.chan, this.closed, cx)
    }
}

impl<T> Drop for SendFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.op.key.is_some() {
            drop(self.op.abandon(self.chan));
        }
    }
}
