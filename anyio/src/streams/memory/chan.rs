//! The state machine of a memory object stream, shared by all its handles.
//!
//! One mutex guards the state of a stream: the buffer, the open-handle counts, and two FIFO
//! lists of waiting operations. A waiting sender keeps its item in its own entry; a
//! receiver that takes it moves it straight into the buffer (or into its hands), which
//! completes the send. A waiting receiver has an empty slot in its entry that a sender
//! fills. Whichever side completes an operation also unlinks it from its list; the waiting
//! future finds the result in its entry the next time it is polled, and removes the entry.
//! That is the whole abort protocol: under the lock, the waiter either finds its operation
//! completed (and returns the result) or withdraws it (and returns `Cancelled`), so a
//! completion and a cancellation can never both happen, nor neither.
//!
//! # Invariants
//!
//! 1. While a receiver is waiting (linked), the buffer is empty; while a sender is waiting
//!    (linked), the buffer is full — or every receiver is gone and the sender has yet to
//!    notice. Only a dropped receive future that gives its item back may fill the buffer
//!    one past its size.
//! 2. A linked sender entry holds its item; a linked receiver entry holds none.
//! 3. An entry stays in its list's slab until the operation that created it removes it, so
//!    the key an operation holds is never reused under it.
//! 4. Once `open_senders` or `open_receivers` reaches zero it stays zero: only an open
//!    handle can make a new one (a closed handle clones into a closed handle).
//! 5. No item is dropped and no stream waiter is woken while the lock is held: they are
//!    moved out and dropped or woken after unlocking (an item's `Drop` may use a stream
//!    itself, and a woken task may run at once on another thread and want the lock).
//!
//! # Deadlock safety
//!
//! The stream's lock is the only lock of this module. Under it, reading whether a task is
//! cancelled may take scope-node locks of the cancel tree (`ScopeNode::check`), which never
//! call back into a stream while they hold them (they wake tasks after unlocking). So the
//! order is always stream, then scope node.

use crate::loom::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::wait_list::WaitList;
use super::{MemoryObjectStreamStatistics, SendError};
use crate::cancel::tree::ScopeNode;
use crate::context;
use crate::error::{Error, ErrorKind, Result};

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
    /// Filled by the sender that completes this receive.
    item: Option<T>,
    waker: Option<Waker>,
    /// The scope the receive waits in: a sender skips this receiver when it is cancelled.
    scope: Option<Arc<ScopeNode>>,
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

    /// A send that never waits (`try_send`).
    pub(super) fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        match st.try_send(item, self.max_buffer_size, &mut wake) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(item)) => Err(SendError::new(send_would_block(), item)),
            Err(TrySendError::Broken(item)) => Err(SendError::new(broken(), item)),
        }
    }

    /// A receive that never waits (`try_receive`); `parked` is the handle's own Stream
    /// receive, if one is in progress (see [`State::unpark`]).
    pub(super) fn try_receive(&self, parked: Option<usize>) -> Result<T> {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        if let Some(item) = st.unpark(parked) {
            return Ok(item);
        }
        match st.try_receive(&mut wake) {
            Ok(item) => Ok(item),
            Err(TryRecvError::Empty) => Err(receive_would_block()),
            Err(TryRecvError::Ended) => Err(end_of_stream()),
        }
    }

    /// A send handle was cloned.
    pub(super) fn add_sender(&self) {
        self.lock().open_senders += 1;
    }

    /// A receive handle was cloned.
    pub(super) fn add_receiver(&self) {
        self.lock().open_receivers += 1;
    }

    /// A send handle was closed. After the last one, nothing more will come: every waiting
    /// receiver is woken empty-handed and sees the end of the stream (by invariant 1 the
    /// buffer is empty while receivers wait).
    pub(super) fn close_sender(&self) {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        st.open_senders -= 1;
        if st.open_senders == 0 {
            while let Some(key) = st.receivers.pop_front() {
                let waker = st.receivers.get_mut(key).waker.take();
                wake.push(waker);
            }
        }
    }

    /// A receive handle was closed. After the last one, nobody can receive any more:
    /// waiting senders are woken (they withdraw with `BrokenResource`, item in hand), and
    /// the buffered items are dropped — after unlocking.
    pub(super) fn close_receiver(&self) {
        let mut wake = WakeList::new();
        let mut st = self.lock();
        st.open_receivers -= 1;
        if st.open_receivers > 0 {
            return;
        }
        for (_, w) in st.senders.iter_mut() {
            wake.push(w.waker.take());
        }
        let dropped = std::mem::take(&mut st.buffer);
        drop(st);
        drop(dropped);
    }
}

impl<T> State<T> {
    /// Gives `item` to the first waiting receiver whose scope is not cancelled; the
    /// cancelled ones met on the way are unlinked and woken empty-handed (they will return
    /// `Cancelled`). Returns the item when no receiver took it.
    #[inline]
    fn hand_to_receiver(&mut self, item: T, wake: &mut WakeList) -> Option<T> {
        if self.receivers.len() == 0 {
            return Some(item);
        }
        while let Some(key) = self.receivers.pop_front() {
            let w = self.receivers.get_mut(key);
            wake.push(w.waker.take());
            if w.scope.as_ref().is_some_and(|s| s.effectively_cancelled()) {
                continue;
            }
            w.item = Some(item);
            return None;
        }
        Some(item)
    }

    fn try_send(
        &mut self,
        item: T,
        max: usize,
        wake: &mut WakeList,
    ) -> Result<(), TrySendError<T>> {
        if self.open_receivers == 0 {
            return Err(TrySendError::Broken(item));
        }
        let Some(item) = self.hand_to_receiver(item, wake) else {
            return Ok(());
        };
        if self.buffer.len() < max {
            self.buffer.push_back(item);
            Ok(())
        } else {
            Err(TrySendError::Full(item))
        }
    }

    /// The handle's Stream receive (`parked`) is not being polled while the handle receives
    /// by other means: take it out of line, so it takes no more items, and take back an
    /// item already handed to it — it came first. Its next poll finds itself woken
    /// empty-handed and starts afresh; its key stays valid (invariant 3).
    fn unpark(&mut self, parked: Option<usize>) -> Option<T> {
        let key = parked?;
        self.receivers.unlink(key);
        self.receivers.get_mut(key).item.take()
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

/// Wakers collected under the lock, woken when this is dropped — after the guard, when it
/// is declared before the guard (locals drop in reverse order).
struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    fn new() -> WakeList {
        WakeList {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waker: Option<Waker>) {
        let Some(w) = waker else { return };
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.rest.push(w);
        }
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        if let Some(w) = self.first.take() {
            w.wake();
        }
        // Almost always empty (it fills only on close and when cancelled receivers are
        // skipped): keep the common path free of the iterator.
        if !self.rest.is_empty() {
            for w in std::mem::take(&mut self.rest) {
                w.wake();
            }
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
// The checkpoint at the start of every operation.

/// A real wait begins: tell the enclosing scopes, so they arm their deadline timers and
/// link themselves for cancellation wake-ups.
fn park() {
    context::mark_blocked();
}

fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// Where an operation is: the checkpoint at its start, or the work itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not polled yet: check for cancellation, maybe yield.
    Start,
    /// Yielded once at the start; check for cancellation again when resumed.
    Yielded,
    /// Past the checkpoint: trying, or waiting in a list.
    Running,
}

/// The checkpoint every operation starts with. `Ready(Some(e))`: cancelled;
/// `Ready(None)`: go on to the work.
fn poll_checkpoint(phase: &mut Phase, cx: &mut Context<'_>) -> Poll<Option<Error>> {
    match *phase {
        Phase::Start => {
            // A schedule point under the task's cooperative budget (see `lowlevel`). It
            // comes *before* the operation, so a future dropped while it yields has taken
            // nothing. The wake-up is immediate: the executor runs the task again after the
            // other ready ones.
            let must_yield = match context::check_and_spend() {
                Ok(must_yield) => must_yield,
                Err(e) => return Poll::Ready(Some(e)),
            };
            if must_yield {
                *phase = Phase::Yielded;
                context::mark_yielded();
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        Phase::Yielded => {
            if let Some(e) = context::check_cancelled() {
                return Poll::Ready(Some(e));
            }
        }
        Phase::Running => {}
    }
    *phase = Phase::Running;
    Poll::Ready(None)
}

// ---------------------------------------------------------------------------------------
// One receive operation: the state a receive future (or the Stream impl) keeps.

#[derive(Debug)]
pub(super) struct RecvOp {
    phase: Phase,
    /// Our entry in `receivers`, once we waited.
    key: Option<usize>,
}

impl RecvOp {
    /// Our entry, while we wait or hold an item handed to us.
    pub(super) fn key(&self) -> Option<usize> {
        self.key
    }

    pub(super) fn new() -> RecvOp {
        RecvOp {
            phase: Phase::Start,
            key: None,
        }
    }

    /// Polls the receive. `parked` is the handle's Stream receive when this is another
    /// receive on the same handle (see [`State::unpark`]).
    pub(super) fn poll<T>(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        parked: Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T>> {
        let out = self.poll_inner(chan, closed, parked, cx);
        if out.is_ready() {
            self.phase = Phase::Start;
        }
        out
    }

    fn poll_inner<T>(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        parked: Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T>> {
        if let Some(e) = std::task::ready!(poll_checkpoint(&mut self.phase, cx)) {
            return Poll::Ready(Err(e));
        }
        if closed && self.key.is_none() {
            return Poll::Ready(Err(closed_receive()));
        }
        let mut wake = WakeList::new();
        let mut st = chan.lock();
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
                set_waker(&mut st.receivers.get_mut(key).waker, cx);
                drop(st);
                park();
                return Poll::Pending;
            }
            // Woken empty-handed: skipped as cancelled, or the send side closed. A cancelled
            // receive must not take an item from the buffer now.
            st.receivers.remove(key);
            self.key = None;
            if let Some(e) = context::check_cancelled() {
                return Poll::Ready(Err(e));
            }
        }
        if let Some(item) = st.unpark(parked) {
            return Poll::Ready(Ok(item));
        }
        match st.try_receive(&mut wake) {
            Ok(item) => Poll::Ready(Ok(item)),
            Err(TryRecvError::Ended) => Poll::Ready(Err(end_of_stream())),
            Err(TryRecvError::Empty) => {
                self.key = Some(st.receivers.push_back(RecvWaiter {
                    item: None,
                    waker: Some(cx.waker().clone()),
                    scope: context::current_scope(),
                }));
                drop(st);
                park();
                Poll::Pending
            }
        }
    }

    /// Withdraws a waiting receive that will not be polled again. An item already handed
    /// to it goes to the next waiting receiver or back to the head of the buffer.
    pub(super) fn abandon<T>(&mut self, chan: &Chan<T>) {
        self.phase = Phase::Start;
        let Some(key) = self.key.take() else { return };
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        let w = st.receivers.remove(key);
        if let Some(item) = w.item {
            if let Some(item) = st.hand_to_receiver(item, &mut wake) {
                st.buffer.push_front(item);
            }
        }
        drop(st);
        drop(w.waker);
    }
}

/// The future of [`MemoryObjectReceiveStream::receive`].
pub(super) struct ReceiveFuture<'a, T> {
    chan: &'a Chan<T>,
    closed: bool,
    /// The handle's Stream receive, if one is in progress.
    parked: Option<usize>,
    op: RecvOp,
}

impl<'a, T> ReceiveFuture<'a, T> {
    pub(super) fn new(
        chan: &'a Chan<T>,
        closed: bool,
        parked: Option<usize>,
    ) -> ReceiveFuture<'a, T> {
        ReceiveFuture {
            chan,
            closed,
            parked,
            op: RecvOp::new(),
        }
    }
}

impl<T> Future for ReceiveFuture<'_, T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        this.op.poll(this.chan, this.closed, this.parked, cx)
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
// One send operation.

pub(super) struct SendOp<T> {
    phase: Phase,
    /// The item, until it is sent or queued in our entry.
    item: Option<T>,
    /// Our entry in `senders`, once we waited.
    key: Option<usize>,
}

impl<T> SendOp<T> {
    pub(super) fn new(item: Option<T>) -> SendOp<T> {
        SendOp {
            phase: Phase::Start,
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
            self.phase = Phase::Start;
        }
        out
    }

    fn poll_inner(
        &mut self,
        chan: &Chan<T>,
        closed: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        if let Some(e) = std::task::ready!(poll_checkpoint(&mut self.phase, cx)) {
            return Poll::Ready(Err(self.fail(e)));
        }
        if closed && self.key.is_none() {
            return Poll::Ready(Err(self.fail(closed_send())));
        }
        let mut wake = WakeList::new();
        let mut st = chan.lock();
        if let Some(key) = self.key {
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
            set_waker(&mut st.senders.get_mut(key).waker, cx);
            drop(st);
            park();
            return Poll::Pending;
        }
        let item = self
            .item
            .take()
            .expect("a send holds its item until it is queued");
        match st.try_send(item, chan.max_buffer_size, &mut wake) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TrySendError::Broken(item)) => Poll::Ready(Err(SendError::new(broken(), item))),
            Err(TrySendError::Full(item)) => {
                self.key = Some(st.senders.push_back(SendWaiter {
                    item: Some(item),
                    waker: Some(cx.waker().clone()),
                }));
                drop(st);
                park();
                Poll::Pending
            }
        }
    }

    /// Starts over with `item` (the op must be idle, or just failed and not queued).
    pub(super) fn put(&mut self, item: T) {
        debug_assert!(
            self.key.is_none(),
            "a queued send keeps its item in its entry"
        );
        self.phase = Phase::Start;
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
    /// not taken (the caller drops it, outside the lock).
    pub(super) fn abandon(&mut self, chan: &Chan<T>) -> Option<T> {
        let key = self.key.take()?;
        let w = chan.lock().senders.remove(key);
        w.item
    }
}

/// The future of [`MemoryObjectSendStream::send`].
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
