//! Memory object streams: a queue between tasks, with closing, cloning and end-of-stream
//! built in (AnyIO's "Memory object streams", trio's memory channels).
//!
//! # The model
//!
//! [`create_memory_object_stream`] returns a pair of handles: a
//! [`MemoryObjectSendStream`] to put items in and a [`MemoryObjectReceiveStream`] to take
//! them out. They work like a queue for a producer–consumer pattern, with three things a
//! plain queue lacks:
//!
//! * **A buffer of a size you choose.** `0` (the usual choice, and AnyIO's default) makes
//!   every [`send`](MemoryObjectSendStream::send) wait until a task takes the item (a
//!   *rendezvous*): a producer can never run ahead of its consumers. `n` lets producers
//!   run up to `n` items ahead. [`UNBOUNDED`] (`usize::MAX`) never makes a sender wait —
//!   and never stops a runaway producer either, so prefer a bound.
//! * **Clones and closing.** Both handles are [`Clone`] (or [`try_clone`]); each clone is
//!   closed on its own, by [`close`](MemoryObjectSendStream::close) or by dropping it.
//!   An end counts as closed once *every* clone of it is closed:
//!     * when every send handle is closed, receivers first get what is still buffered, then
//!       [`ErrorKind::EndOfStream`] — this is how a producer says "that was all";
//!     * when every receive handle is closed, senders get [`ErrorKind::BrokenResource`], and
//!       their item back inside the [`SendError`];
//!     * a handle used after its own `close` gives [`ErrorKind::ClosedResource`].
//! * **Many producers, many consumers.** Any number of tasks, on any number of threads,
//!   can send and receive on clones of one stream. Each item goes to exactly one receiver,
//!   in the order it was sent; waiting receivers are served first come, first served, and
//!   so are waiting senders. Clones *distribute* items among consumers; they do not
//!   broadcast.
//!
//! [`try_clone`]: MemoryObjectSendStream::try_clone
//!
//! # Cancellation
//!
//! [`send`](MemoryObjectSendStream::send) and [`receive`](MemoryObjectReceiveStream::receive)
//! are [checkpoints](crate::cancel#checkpoints): called in a cancelled scope they fail with
//! `Cancelled` at once, even when they could complete. While one waits, a cancellation makes
//! it withdraw cleanly, with nothing lost:
//!
//! * a cancelled **receive** either returns the item that was already handed to it or
//!   returns `Cancelled` having taken nothing — an item is never lost in between. A sender
//!   also skips a waiting receiver whose scope is already cancelled and serves the next one
//!   (or the buffer), as AnyIO does;
//! * a cancelled **send** either delivered its item (and returns `Ok`) or gives the item
//!   back inside a [`SendError`] of kind `Cancelled` — never both, never neither.
//!
//! Dropping a waiting future instead (from `select!` or a timeout, say) is safe too, and
//! leaves no trace: it reserves no item, holds no place in line and counts as no waiter.
//! A dropped receive puts an item already handed to it back at the head of the queue (or
//! gives it to the next waiting receiver), and a dropped send withdraws (the item, owned by
//! the dropped future, is dropped with it). The same holds for a `next()` on the
//! [`Stream`] impl, which takes an item only in the poll that returns it.
//!
//! On a rendezvous stream (size `0`), a [`send`](MemoryObjectSendStream::send) completes
//! only once a receiver has taken its item, in the receiver's own poll: a receive future
//! dropped before it returned the item never makes a send report success.
//!
//! A checkpoint is also a schedule point under the task's cooperative budget (see
//! [`checkpoint`](crate::lowlevel::checkpoint)): a send or receive that can complete at
//! once yields first when the task has used up its budget, so a busy producer–consumer
//! pair stays fast and still lets every other task run; one that waits has yielded anyway.
//! The yield comes before the operation, so a future dropped while yielding has taken
//! nothing.
//!
//! # Examples
//!
//! A producer and a consumer; the consumer stops when the producer closes its end:
//!
//! ```
//! use futures_lite::StreamExt;
//!
//! # anyio::run(|| async {
//! let (tx, mut rx) = anyio::create_memory_object_stream::<String>(0);
//! anyio::task_group(|tg| async move {
//!     tg.start_soon(async move {
//!         while let Some(item) = rx.next().await {  // AnyIO's `async for`
//!             println!("received {}", item?);
//!         }
//!         Ok::<_, anyio::Error>(())                    // the send side was closed
//!     })?;
//!     for n in 0..10 {
//!         tx.send(format!("number {n}")).await?;
//!     }
//!     drop(tx); // closes the only send handle: the consumer's loop ends
//!     Ok(())
//! })
//! .await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## A worker pool
//!
//! Several workers share one queue of jobs, each through a clone of the receive handle,
//! and report on a second stream. Each task owns its handles, so each closes its end when
//! it is done; the original handles are dropped once the clones are handed out, or the
//! ends would never close.
//!
//! ```
//! # anyio::run(|| async {
//! let (jobs_tx, jobs_rx) = anyio::create_memory_object_stream::<u64>(16);
//! let (results_tx, results_rx) = anyio::create_memory_object_stream::<(usize, u64)>(16);
//! let total = anyio::task_group(|tg| async move {
//!     for worker in 0..4 {
//!         let jobs = jobs_rx.clone();
//!         let results = results_tx.clone();
//!         tg.start_soon(async move {
//!             loop {
//!                 let n = match jobs.receive().await {
//!                     Ok(n) => n,
//!                     Err(e) if e.kind() == anyio::ErrorKind::EndOfStream => break,
//!                     Err(e) => return Err(e),
//!                 };
//!                 results.send((worker, n * n)).await?;
//!             }
//!             Ok(())
//!         })?;
//!     }
//!     drop((jobs_rx, results_tx)); // only the workers hold these ends now
//!     tg.start_soon(async move {
//!         for n in 1..=100 {
//!             jobs_tx.send(n).await?;
//!         }
//!         Ok::<_, anyio::Error>(()) // jobs_tx dropped here: workers drain the queue, stop
//!     })?;
//!     let mut total = 0;
//!     loop {
//!         match results_rx.receive().await {
//!             Ok((_worker, square)) => total += square,
//!             Err(e) if e.kind() == anyio::ErrorKind::EndOfStream => break, // all stopped
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     Ok(total)
//! })
//! .await?;
//! assert_eq!(total, Some((1..=100u64).map(|n| n * n).sum()));
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Graceful shutdown by closing the send side
//!
//! To stop a consumer without losing what is queued, close the send side instead of
//! cancelling: the consumer receives everything still buffered, then sees the end of the
//! stream and finishes on its own. Cancelling would stop it at once, leaving the rest
//! queued.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! # anyio::run(|| async {
//! let written = Arc::new(Mutex::new(Vec::new()));
//! let (mut log_tx, log_rx) = anyio::create_memory_object_stream::<String>(100);
//! let out = written.clone();
//! anyio::task_group(|tg| async move {
//!     tg.start_soon(async move {
//!         // The log writer: runs until every sender is closed and the queue is empty.
//!         loop {
//!             match log_rx.receive().await {
//!                 Ok(line) => out.lock().unwrap().push(line),
//!                 Err(e) if e.kind() == anyio::ErrorKind::EndOfStream => return Ok(()),
//!                 Err(e) => return Err(e),
//!             }
//!         }
//!     })?;
//!     for i in 0..50 {
//!         log_tx.try_send(format!("line {i}"))?; // room for all: no waiting
//!     }
//!     log_tx.close(); // shutdown: no more lines, but the 50 queued are still written
//!     Ok(())
//! })
//! .await?;
//! assert_eq!(written.lock().unwrap().len(), 50);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Synchronous use
//!
//! [`try_send`](MemoryObjectSendStream::try_send) and
//! [`try_receive`](MemoryObjectReceiveStream::try_receive) (AnyIO's `send_nowait` and
//! `receive_nowait`) never wait: they fail with [`ErrorKind::WouldBlock`] instead, so
//! synchronous callbacks can use a stream, and [`close`](MemoryObjectSendStream::close) is
//! synchronous too.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::stream::FusedStream;

use super::{
    AsyncResource, ObjectReceiveStream, ObjectSendStream, SendError, UnreliableObjectReceiveStream,
    UnreliableObjectSendStream,
};
use crate::error::{Error, ErrorKind, Result};

mod chan;
mod sink;

use chan::{Chan, ReceiveFuture, SendFuture, StreamRecv, closed_receive, closed_send};
pub use sink::MemoryObjectSink;

/// The buffer size of a stream whose senders never wait: `usize::MAX`, AnyIO's
/// `math.inf`.
pub const UNBOUNDED: usize = usize::MAX;

/// Creates a memory object stream: a send handle and a receive handle sharing a buffer of
/// `max_buffer_size` items.
///
/// `0` makes a rendezvous stream (a send completes only when a receiver takes the item);
/// [`UNBOUNDED`] (`usize::MAX`) never makes senders wait. Every size is valid and nothing
/// is allocated up front: the size is only compared with the number of items buffered.
/// See the [module docs](self) for the model.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let (tx, rx) = anyio::create_memory_object_stream::<&str>(1);
/// tx.send("hello").await?;
/// assert_eq!(rx.receive().await?, "hello");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn create_memory_object_stream<T>(
    max_buffer_size: usize,
) -> (MemoryObjectSendStream<T>, MemoryObjectReceiveStream<T>) {
    let chan = Arc::new(Chan::new(max_buffer_size));
    (
        MemoryObjectSendStream {
            chan: chan.clone(),
            closed: false,
        },
        MemoryObjectReceiveStream {
            chan,
            closed: false,
            stream: StreamRecv::new(),
            terminated: false,
        },
    )
}

/// A snapshot of a memory object stream's state (AnyIO's `MemoryObjectStreamStatistics`),
/// the same from every handle of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MemoryObjectStreamStatistics {
    /// Items in the buffer.
    pub current_buffer_used: usize,
    /// The most items the buffer holds ([`UNBOUNDED`] for no limit).
    pub max_buffer_size: usize,
    /// Send handles not yet closed.
    pub open_send_streams: usize,
    /// Receive handles not yet closed.
    pub open_receive_streams: usize,
    /// Tasks waiting in [`send`](MemoryObjectSendStream::send).
    pub tasks_waiting_send: usize,
    /// Tasks waiting in [`receive`](MemoryObjectReceiveStream::receive). A task waiting
    /// in the [`Stream`] impl (`next()`) is not counted: a `Stream` poll cannot be
    /// withdrawn when its caller gives up, so it never counts as a waiter.
    pub tasks_waiting_receive: usize,
}

// ---------------------------------------------------------------------------------------
// The send handle.

/// The sending end of a memory object stream (AnyIO's `MemoryObjectSendStream`).
///
/// Clone it to give each producer a handle of its own; the receivers see the end of the
/// stream once every clone is closed or dropped. See the [module docs](self).
pub struct MemoryObjectSendStream<T> {
    chan: Arc<Chan<T>>,
    closed: bool,
}

impl<T> MemoryObjectSendStream<T> {
    /// Sends `item`, waiting until a receiver takes it or there is room in the buffer.
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope it fails at once. Cancelled while waiting, it
    /// either delivered the item (and returns `Ok`) or returns the item inside a
    /// [`SendError`] of kind `Cancelled` — never both, never neither. Dropping the future
    /// while it waits withdraws the item (and drops it).
    ///
    /// # Errors
    ///
    /// A [`SendError`] holding the item, of kind:
    /// [`ErrorKind::ClosedResource`] when this handle was closed;
    /// [`ErrorKind::BrokenResource`] when every receive handle is closed (also while
    /// waiting); [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(0);
    /// anyio::task_group(|tg| async move {
    ///     tg.start_soon(async move { tx.send(42).await.map_err(anyio::Error::from) })?;
    ///     assert_eq!(rx.receive().await?, 42); // the send completes now
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        SendFuture::new(&self.chan, self.closed, item).await
    }

    /// Sends `item` if that needs no waiting: a task is waiting in
    /// [`receive`](MemoryObjectReceiveStream::receive) for it, or the buffer has room
    /// (AnyIO's `send_nowait`). Not a checkpoint.
    ///
    /// On a rendezvous stream the item goes straight to the waiting receive. If that
    /// receive's future is then dropped before it returns the item, the item goes to the
    /// next waiting receiver or to the head of the buffer: it is not lost while a receive
    /// handle is open. A task waiting in the [`Stream`] impl (`next()`) does not count as
    /// waiting here (see its docs); [`send`](Self::send) reaches it.
    ///
    /// # Errors
    ///
    /// A [`SendError`] holding the item, of kind [`ErrorKind::WouldBlock`] when the buffer
    /// is full and no receiver waits; [`ErrorKind::ClosedResource`] when this handle was
    /// closed; [`ErrorKind::BrokenResource`] when every receive handle is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::ErrorKind;
    ///
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(1);
    /// tx.try_send(1)?;
    /// let full = tx.try_send(2).unwrap_err();
    /// assert_eq!(full.kind(), ErrorKind::WouldBlock);
    /// assert_eq!(full.into_item(), 2);
    /// assert_eq!(rx.try_receive()?, 1);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    #[doc(alias = "send_nowait")]
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        if self.closed {
            return Err(SendError::new(closed_send(), item));
        }
        self.chan.try_send(item)
    }

    /// Closes this handle (AnyIO's `close`). Once every send handle is closed, receivers
    /// get what is left in the buffer, then [`ErrorKind::EndOfStream`]. Using this handle
    /// afterwards gives [`ErrorKind::ClosedResource`]; closing it again does nothing.
    /// Dropping a handle closes it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::ErrorKind;
    ///
    /// let (mut tx, rx) = anyio::create_memory_object_stream::<u32>(1);
    /// tx.try_send(1)?;
    /// tx.close();
    /// assert_eq!(tx.try_send(2).unwrap_err().kind(), ErrorKind::ClosedResource);
    /// assert_eq!(rx.try_receive()?, 1); // what was sent is still received
    /// assert_eq!(rx.try_receive().unwrap_err().kind(), ErrorKind::EndOfStream);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        self.chan.close_sender();
    }

    /// Whether [`close`](Self::close) was called on this handle.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A new handle to the same stream (AnyIO's `clone()`), counted as open until it is
    /// closed or dropped.
    ///
    /// [`Clone`] does the same, except that cloning a closed handle gives a closed handle
    /// instead of an error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when this handle was closed.
    pub fn try_clone(&self) -> Result<MemoryObjectSendStream<T>> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::ClosedResource,
                "cloning a memory object stream handle that was closed",
            ));
        }
        Ok(self.clone())
    }

    /// The state of the stream (the same from every handle).
    pub fn statistics(&self) -> MemoryObjectStreamStatistics {
        self.chan.statistics()
    }

    /// Turns this handle into a [`futures_sink::Sink`].
    pub fn into_sink(self) -> MemoryObjectSink<T> {
        MemoryObjectSink::new(self)
    }
}

impl<T> Clone for MemoryObjectSendStream<T> {
    fn clone(&self) -> Self {
        if !self.closed {
            self.chan.add_sender();
        }
        MemoryObjectSendStream {
            chan: self.chan.clone(),
            closed: self.closed,
        }
    }
}

impl<T> Drop for MemoryObjectSendStream<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for MemoryObjectSendStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryObjectSendStream")
            .field("closed", &self.closed)
            .field("statistics", &self.statistics())
            .finish()
    }
}

impl<T: Send> AsyncResource for MemoryObjectSendStream<T> {
    /// Closes this handle, as [`close`](MemoryObjectSendStream::close); never fails.
    async fn aclose(&mut self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl<T: Send> UnreliableObjectSendStream<T> for MemoryObjectSendStream<T> {
    /// As [`MemoryObjectSendStream::send`].
    fn send(&mut self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send {
        MemoryObjectSendStream::send(self, item)
    }
}

impl<T: Send> ObjectSendStream<T> for MemoryObjectSendStream<T> {}

// ---------------------------------------------------------------------------------------
// The receive handle.

/// The receiving end of a memory object stream (AnyIO's `MemoryObjectReceiveStream`).
///
/// Receive with [`receive`](Self::receive), or iterate: it is a
/// [`Stream`] of `Result<T>` that ends at the end of the stream.
/// Clone it to give each consumer a handle of its own; each item goes to one of them.
/// See the [module docs](self).
pub struct MemoryObjectReceiveStream<T> {
    chan: Arc<Chan<T>>,
    closed: bool,
    /// The [`Stream`] impl's checkpoint phase and watcher slot (never an item).
    stream: StreamRecv,
    /// The [`Stream`] impl reported the end of the stream.
    terminated: bool,
}

impl<T> MemoryObjectReceiveStream<T> {
    /// Receives the next item, waiting until there is one.
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope it fails at once. Cancelled while waiting, it
    /// returns the item that was already handed to it, or `Cancelled` having taken
    /// nothing: no item is lost. Dropping the future while it waits is safe too: an item
    /// already handed to it goes back to the head of the queue.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::EndOfStream`] when every send handle is closed and the buffer is
    /// empty; [`ErrorKind::ClosedResource`] when this handle was closed;
    /// [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(1);
    /// let nothing = anyio::move_on_after(Duration::from_millis(10), rx.receive()).await?;
    /// assert_eq!(nothing, None); // timed out, took nothing
    /// tx.send(5).await?;
    /// assert_eq!(rx.receive().await?, 5);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(&self) -> Result<T> {
        ReceiveFuture::new(&self.chan, self.closed).await
    }

    /// Receives the next item if that needs no waiting (AnyIO's `receive_nowait`). Not a
    /// checkpoint.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when the buffer is empty and no sender waits;
    /// [`ErrorKind::EndOfStream`] when it is empty and every send handle is closed;
    /// [`ErrorKind::ClosedResource`] when this handle was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::ErrorKind;
    ///
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(1);
    /// assert_eq!(rx.try_receive().unwrap_err().kind(), ErrorKind::WouldBlock);
    /// tx.try_send(3)?;
    /// assert_eq!(rx.try_receive()?, 3);
    /// # Ok::<_, anyio::Error>(())
    /// ```
    #[doc(alias = "receive_nowait")]
    pub fn try_receive(&self) -> Result<T> {
        if self.closed {
            return Err(closed_receive());
        }
        self.chan.try_receive()
    }

    /// Closes this handle (AnyIO's `close`). Once every receive handle is closed, senders
    /// get [`ErrorKind::BrokenResource`] (with their item back) and what is left in the
    /// buffer is dropped. Using this handle afterwards gives
    /// [`ErrorKind::ClosedResource`]; closing it again does nothing. Dropping a handle
    /// closes it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::ErrorKind;
    ///
    /// let (tx, mut rx) = anyio::create_memory_object_stream::<u32>(1);
    /// rx.close();
    /// assert_eq!(rx.try_receive().unwrap_err().kind(), ErrorKind::ClosedResource);
    /// assert_eq!(tx.try_send(1).unwrap_err().kind(), ErrorKind::BrokenResource);
    /// ```
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        // The Stream impl's watcher slot (if any) is freed with the handle's count.
        self.chan.close_receiver(self.stream.take_watch());
    }

    /// Whether [`close`](Self::close) was called on this handle.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A new handle to the same stream (AnyIO's `clone()`), counted as open until it is
    /// closed or dropped.
    ///
    /// [`Clone`] does the same, except that cloning a closed handle gives a closed handle
    /// instead of an error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when this handle was closed.
    pub fn try_clone(&self) -> Result<MemoryObjectReceiveStream<T>> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::ClosedResource,
                "cloning a memory object stream handle that was closed",
            ));
        }
        Ok(self.clone())
    }

    /// The state of the stream (the same from every handle).
    pub fn statistics(&self) -> MemoryObjectStreamStatistics {
        self.chan.statistics()
    }
}

impl<T> Clone for MemoryObjectReceiveStream<T> {
    fn clone(&self) -> Self {
        if !self.closed {
            self.chan.add_receiver();
        }
        MemoryObjectReceiveStream {
            chan: self.chan.clone(),
            closed: self.closed,
            stream: StreamRecv::new(),
            terminated: false,
        }
    }
}

impl<T> Drop for MemoryObjectReceiveStream<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for MemoryObjectReceiveStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryObjectReceiveStream")
            .field("closed", &self.closed)
            .field("statistics", &self.statistics())
            .finish()
    }
}

/// Items until the end of the stream (AnyIO's `async for`): `Some(Ok(item))` for each
/// item, `Some(Err(e))` for a failure — `Cancelled` in a cancelled scope,
/// `ClosedResource` after [`close`](MemoryObjectReceiveStream::close) — and `None` once
/// every send handle is closed and the buffer is empty.
///
/// Each poll is a checkpoint with the same cancellation guarantees as
/// [`receive`](MemoryObjectReceiveStream::receive): no item is lost. Unlike a receive
/// future, a poll that waits is not a *taking* waiter: `poll_next` has no way to learn that
/// its caller gave up (a `next()` dropped by `select!` or a timeout), so it reserves
/// nothing — it leaves a waker, woken whenever an item may be there, and takes an item
/// only in the poll that returns it. So an abandoned `next()` catches no item meant for
/// another receiver, is not counted in
/// [`tasks_waiting_receive`](MemoryObjectStreamStatistics::tasks_waiting_receive), and does
/// not let [`try_send`](MemoryObjectSendStream::try_send) succeed on a rendezvous stream
/// (only a waiting `receive` can take an item that way); a
/// [`send`](MemoryObjectSendStream::send) waits until the stream's next poll takes it.
impl<T> Stream for MemoryObjectReceiveStream<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        if this.terminated {
            return Poll::Ready(None);
        }
        match std::task::ready!(this.stream.poll(&this.chan, this.closed, cx)) {
            Ok(item) => Poll::Ready(Some(Ok(item))),
            Err(e) if e.kind() == ErrorKind::EndOfStream => {
                this.terminated = true;
                Poll::Ready(None)
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<T> FusedStream for MemoryObjectReceiveStream<T> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<T: Send> AsyncResource for MemoryObjectReceiveStream<T> {
    /// Closes this handle, as [`close`](MemoryObjectReceiveStream::close); never fails.
    async fn aclose(&mut self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl<T: Send> UnreliableObjectReceiveStream<T> for MemoryObjectReceiveStream<T> {
    /// As [`MemoryObjectReceiveStream::receive`].
    fn receive(&mut self) -> impl Future<Output = Result<T>> + Send {
        MemoryObjectReceiveStream::receive(self)
    }
}

impl<T: Send> ObjectReceiveStream<T> for MemoryObjectReceiveStream<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_and_unpin() {
        fn check<X: Send + Sync + Unpin>() {}
        check::<MemoryObjectSendStream<String>>();
        check::<MemoryObjectReceiveStream<String>>();
        check::<MemoryObjectSink<String>>();
        fn check_fut<F: Future + Send>(_: F) {}
        let (tx, rx) = create_memory_object_stream::<String>(0);
        check_fut(tx.send(String::new()));
        check_fut(rx.receive());
    }
}
