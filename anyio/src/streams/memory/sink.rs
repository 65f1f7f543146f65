//! The [`Sink`] adapter of a memory object send stream.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_sink::Sink;

use super::MemoryObjectSendStream;
use super::chan::{SendOp, closed_send};
use crate::error::{Error, ErrorKind, Result};

/// A send handle as a [`futures_sink::Sink`], made by
/// [`MemoryObjectSendStream::into_sink`].
///
/// [`start_send`](Sink::start_send) accepts one item; [`poll_ready`](Sink::poll_ready),
/// [`poll_flush`](Sink::poll_flush) and [`poll_close`](Sink::poll_close) send it, waiting
/// as [`send`](MemoryObjectSendStream::send) does, and `poll_close` then closes the handle.
/// On a rendezvous stream a flush completes only once a receiver has taken the item.
///
/// The accepted item belongs to the sink, not to a poll: a flush that waits queues it as a
/// waiting send (counted in `tasks_waiting_send`), and it stays queued when the flush is
/// abandoned (a `select!` or timeout that lost), so a receiver may still take it; the
/// sink's next poll then reports it sent. Dropping the sink withdraws it.
///
/// # Cancellation
///
/// Each poll that sends is a checkpoint. A cancelled poll returns `Cancelled` and keeps the
/// item, withdrawn, in the sink: the next poll sends it again. An item still in the sink
/// when it is dropped is dropped with it.
///
/// # Errors
///
/// As [`send`](MemoryObjectSendStream::send), as an [`Error`]: the item that could not be
/// sent (the stream is closed or broken) is dropped — use `send` to get it back.
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use std::pin::Pin;
/// use futures_sink::Sink;
///
/// # anyio::run(|| async {
/// let (tx, rx) = anyio::create_memory_object_stream::<u32>(1);
/// let mut sink = tx.into_sink();
/// poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await?;
/// Pin::new(&mut sink).start_send(9)?;
/// poll_fn(|cx| Pin::new(&mut sink).poll_close(cx)).await?;
/// assert_eq!(rx.receive().await?, 9);
/// assert_eq!(rx.receive().await.unwrap_err().kind(), anyio::ErrorKind::EndOfStream);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct MemoryObjectSink<T> {
    stream: MemoryObjectSendStream<T>,
    op: SendOp<T>,
}

// The item is never pinned: it is moved in and out freely.
impl<T> Unpin for MemoryObjectSink<T> {}

impl<T> MemoryObjectSink<T> {
    pub(super) fn new(stream: MemoryObjectSendStream<T>) -> MemoryObjectSink<T> {
        MemoryObjectSink {
            stream,
            op: SendOp::new(None),
        }
    }

    /// The send handle inside (for its statistics, or to clone it).
    pub fn get_ref(&self) -> &MemoryObjectSendStream<T> {
        &self.stream
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.op.is_idle() {
            return Poll::Ready(Ok(()));
        }
        match std::task::ready!(self.op.poll(&self.stream.chan, self.stream.closed, cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) if e.is_cancelled() => {
                let (e, item) = e.into_parts();
                self.op.put(item);
                Poll::Ready(Err(e))
            }
            Err(e) => Poll::Ready(Err(e.into_error())),
        }
    }
}

impl<T> Sink<T> for MemoryObjectSink<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<()> {
        let this = self.get_mut();
        if this.stream.closed {
            return Err(closed_send());
        }
        if !this.op.is_idle() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "start_send called on a memory object sink without a successful poll_ready",
            ));
        }
        this.op.put(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        this.stream.close();
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for MemoryObjectSink<T> {
    fn drop(&mut self) {
        drop(self.op.abandon(&self.stream.chan));
    }
}

impl<T> fmt::Debug for MemoryObjectSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryObjectSink")
            .field("stream", &self.stream)
            .field("pending", &!self.op.is_idle())
            .finish()
    }
}
