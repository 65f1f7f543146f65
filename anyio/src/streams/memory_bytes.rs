//! Memory object streams of byte chunks as byte streams (AnyIO's "any byte stream": its
//! buffered and text wrappers accept an `ObjectReceiveStream[bytes]` as well).
//!
//! [`MemoryByteReceiveStream`] makes a [`MemoryObjectReceiveStream<Vec<u8>>`] a
//! [`ByteReceiveStream`], and [`MemoryByteSendStream`] makes a
//! [`MemoryObjectSendStream<Vec<u8>>`] a [`ByteSendStream`], so the
//! [buffered](super::buffered) and [text](super::text) wrappers (and TLS) stack on memory
//! streams as they do on sockets and [pipes](super::pipe). Each send is one chunk; a chunk
//! bigger than a receive's `max_bytes` is handed out over several receives, and empty
//! chunks are skipped (a byte stream never returns an empty chunk).
//!
//! # Cancellation
//!
//! A receive is lossless: a chunk is taken from the memory stream only in the poll that
//! returns (part of) it, and its rest stays in the adapter. A send that returned has handed
//! its chunk to the memory stream (queued as a waiting send when the buffer is full: the
//! next send, or [`aclose`](SharedResource::aclose), waits until a receiver has taken it).
//!
//! # Examples
//!
//! ```
//! use anyio::streams::buffered::BufferedByteReceiveStream;
//! use anyio::streams::memory_bytes::{MemoryByteReceiveStream, MemoryByteSendStream};
//! use anyio::streams::{ByteSendStream, SharedResource};
//!
//! # anyio::run(|| async {
//! let (tx, rx) = anyio::create_memory_object_stream::<Vec<u8>>(4);
//! let tx = MemoryByteSendStream::new(tx);
//! let rx = BufferedByteReceiveStream::new(MemoryByteReceiveStream::new(rx));
//! tx.send(b"one\ntw").await?;
//! tx.send(b"o\n").await?;
//! tx.aclose().await?;
//! assert_eq!(rx.receive_until(b"\n", 16).await?, b"one");
//! assert_eq!(rx.receive_until(b"\n", 16).await?, b"two");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, SharedResource,
    TypedAttributeProvider, closed, eof,
};
use super::{MemoryObjectReceiveStream, MemoryObjectSendStream, MemoryObjectSink};
use crate::error::Result;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock, valid after a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

fn remember(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[derive(Debug)]
struct ReceiveState {
    rx: MemoryObjectReceiveStream<Vec<u8>>,
    /// `chunk[pos..]` is the rest of a chunk bigger than a receive asked for.
    chunk: Vec<u8>,
    pos: usize,
    /// The receive waiting in the memory stream, woken by a close.
    waker: Option<Waker>,
}

/// A memory object stream of byte chunks as a [`ByteReceiveStream`]. See the
/// [module docs](self).
///
/// Closing it closes the memory stream's receive handle (senders then get
/// [`ErrorKind::BrokenResource`](crate::ErrorKind::BrokenResource)).
pub struct MemoryByteReceiveStream {
    state: Mutex<ReceiveState>,
    busy: BusyFlag,
}

impl fmt::Debug for MemoryByteReceiveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryByteReceiveStream")
            .finish_non_exhaustive()
    }
}

impl MemoryByteReceiveStream {
    /// Receives bytes from the chunks `rx` delivers.
    pub fn new(rx: MemoryObjectReceiveStream<Vec<u8>>) -> MemoryByteReceiveStream {
        MemoryByteReceiveStream {
            state: Mutex::new(ReceiveState {
                rx,
                chunk: Vec::new(),
                pos: 0,
                waker: None,
            }),
            busy: BusyFlag::new(),
        }
    }
}

impl TypedAttributeProvider for MemoryByteReceiveStream {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl SharedResource for MemoryByteReceiveStream {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = lock(&self.state);
        s.rx.close();
        s.chunk = Vec::new();
        s.pos = 0;
        wake(&mut s.waker);
        Poll::Ready(Ok(()))
    }
}

impl ByteReceiveStream for MemoryByteReceiveStream {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let mut s = lock(&self.state);
        if s.rx.is_closed() {
            return Poll::Ready(Err(closed("receiving")));
        }
        while s.pos == s.chunk.len() {
            match Pin::new(&mut s.rx).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    s.chunk = chunk;
                    s.pos = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Err(eof())),
                Poll::Pending => {
                    remember(&mut s.waker, cx);
                    return Poll::Pending;
                }
            }
        }
        let n = buf.len().min(s.chunk.len() - s.pos);
        buf[..n].copy_from_slice(&s.chunk[s.pos..s.pos + n]);
        s.pos += n;
        if s.pos == s.chunk.len() {
            s.chunk = Vec::new();
            s.pos = 0;
        }
        Poll::Ready(Ok(n))
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.busy
    }
}

#[derive(Debug)]
struct SendState {
    /// `None` once closed.
    sink: Option<MemoryObjectSink<Vec<u8>>>,
    /// The send waiting for room, woken by a close.
    waker: Option<Waker>,
}

/// A memory object stream of byte chunks as a [`ByteSendStream`]: each send is one chunk.
/// See the [module docs](self).
///
/// [`aclose`](SharedResource::aclose) waits until a receiver took the last chunk (or
/// every receiver is gone), then closes the send handle: the receivers get the end of the
/// stream. A close in a cancelled scope closes at once and drops a chunk no receiver took.
pub struct MemoryByteSendStream {
    state: Mutex<SendState>,
    busy: BusyFlag,
}

impl fmt::Debug for MemoryByteSendStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryByteSendStream")
            .finish_non_exhaustive()
    }
}

impl MemoryByteSendStream {
    /// Sends byte chunks into `tx`.
    pub fn new(tx: MemoryObjectSendStream<Vec<u8>>) -> MemoryByteSendStream {
        MemoryByteSendStream {
            state: Mutex::new(SendState {
                sink: Some(tx.into_sink()),
                waker: None,
            }),
            busy: BusyFlag::new(),
        }
    }
}

impl TypedAttributeProvider for MemoryByteSendStream {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl SharedResource for MemoryByteSendStream {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = lock(&self.state);
        let Some(sink) = s.sink.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = match Pin::new(sink).poll_close(cx) {
            Poll::Pending => return Poll::Pending,
            // Cancelled while a chunk waits: close anyway (dropping the sink withdraws it).
            Poll::Ready(Err(e)) if e.is_cancelled() => Ok(()),
            Poll::Ready(r) => r,
        };
        s.sink = None;
        wake(&mut s.waker);
        Poll::Ready(r)
    }
}

impl ByteSendStream for MemoryByteSendStream {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let mut s = lock(&self.state);
        let Some(sink) = s.sink.as_mut() else {
            return Poll::Ready(Err(closed("sending")));
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut sink = Pin::new(sink);
        match sink.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                remember(&mut s.waker, cx);
                return Poll::Pending;
            }
        }
        sink.as_mut().start_send(buf.to_vec())?;
        // Hand it to the memory stream now: into the buffer, or queued as a waiting send
        // that a receiver can take (the next `poll_ready` waits for that).
        if let Poll::Ready(Err(e)) = sink.poll_flush(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.busy
    }
}
