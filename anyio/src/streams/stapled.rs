//! Stapled streams: a send stream and a receive stream joined into one bidirectional
//! stream (AnyIO's `anyio.streams.stapled`).
//!
//! [`StapledObjectStream`] combines any [`ObjectSendStream`] with any
//! [`ObjectReceiveStream`] of the same item type, forming an [`ObjectStream`]: a way to
//! hand one value to code that expects a two-way connection — two memory object streams
//! crossed over make an in-process "connection" for tests, say. [`StapledByteStream`]
//! does the same for byte streams, forming a [`ByteStream`] (two crossed
//! [byte pipes](super::pipe) make an in-process connection).
//!
//! ```
//! use anyio::streams::{
//!     StapledObjectStream, UnreliableObjectReceiveStream, UnreliableObjectSendStream,
//! };
//!
//! # anyio::run(|| async {
//! // Two crossed memory streams: what one end sends, the other receives.
//! let (a_tx, b_rx) = anyio::create_memory_object_stream::<String>(4);
//! let (b_tx, a_rx) = anyio::create_memory_object_stream::<String>(4);
//! let mut a = StapledObjectStream::new(a_tx, a_rx);
//! let mut b = StapledObjectStream::new(b_tx, b_rx);
//! a.send("ping".to_string()).await?;
//! assert_eq!(b.receive().await?, "ping");
//! b.send("pong".to_string()).await?;
//! assert_eq!(a.receive().await?, "pong");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use pin_project_lite::pin_project;

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, SharedResource,
    TypedAttributeProvider,
};
use super::{
    AsyncResource, MemoryObjectSendStream, ObjectReceiveStream, ObjectSendStream, ObjectStream,
    SendError, UnreliableObjectReceiveStream, UnreliableObjectSendStream,
};
use crate::error::Result;

pin_project! {
    /// A send stream and a receive stream joined into one bidirectional object stream
    /// (AnyIO's `StapledObjectStream`).
    ///
    /// Sending goes to the send stream, receiving comes from the receive stream;
    /// [`send_eof`](ObjectStream::send_eof) closes the send stream only, and
    /// [`aclose`](AsyncResource::aclose) closes both. When the parts are a
    /// [`Stream`] or a [`Sink`], so is the
    /// stapled stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::{AsyncResource, StapledObjectStream, UnreliableObjectReceiveStream};
    /// use anyio::ErrorKind;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(2);
    /// let mut loopback = StapledObjectStream::new(tx, rx);
    /// loopback.try_send(1)?;                          // the memory stream's try_send
    /// assert_eq!(loopback.receive().await?, 1);
    /// loopback.aclose().await?;
    /// assert_eq!(loopback.receive().await.unwrap_err().kind(), ErrorKind::ClosedResource);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[derive(Debug)]
    pub struct StapledObjectStream<S, R> {
        #[pin]
        send_stream: S,
        #[pin]
        receive_stream: R,
    }
}

impl<S, R> StapledObjectStream<S, R> {
    /// Joins `send_stream` and `receive_stream`.
    pub fn new(send_stream: S, receive_stream: R) -> StapledObjectStream<S, R> {
        StapledObjectStream {
            send_stream,
            receive_stream,
        }
    }

    /// The sending part.
    pub fn send_stream(&self) -> &S {
        &self.send_stream
    }

    /// The sending part, mutably.
    pub fn send_stream_mut(&mut self) -> &mut S {
        &mut self.send_stream
    }

    /// The receiving part.
    pub fn receive_stream(&self) -> &R {
        &self.receive_stream
    }

    /// The receiving part, mutably.
    pub fn receive_stream_mut(&mut self) -> &mut R {
        &mut self.receive_stream
    }

    /// Takes the two parts apart again: `(send_stream, receive_stream)`.
    pub fn into_parts(self) -> (S, R) {
        (self.send_stream, self.receive_stream)
    }
}

impl<T, R> StapledObjectStream<MemoryObjectSendStream<T>, R> {
    /// Sends `item` without waiting, through the memory object stream's
    /// [`try_send`](MemoryObjectSendStream::try_send) (AnyIO's `send_nowait`, available
    /// here when the send part is a memory object stream).
    ///
    /// # Errors
    ///
    /// As [`MemoryObjectSendStream::try_send`].
    #[doc(alias = "send_nowait")]
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        self.send_stream.try_send(item)
    }
}

impl<S: AsyncResource + Send, R: AsyncResource + Send> AsyncResource for StapledObjectStream<S, R> {
    /// Closes the send stream, then the receive stream — both, even when the first fails
    /// (its error is returned then).
    async fn aclose(&mut self) -> Result<()> {
        let sent = self.send_stream.aclose().await;
        let received = self.receive_stream.aclose().await;
        sent.and(received)
    }
}

impl<T, S, R> UnreliableObjectSendStream<T> for StapledObjectStream<S, R>
where
    S: UnreliableObjectSendStream<T> + Send,
    R: AsyncResource + Send,
{
    /// Sends through the send stream.
    fn send(&mut self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send {
        self.send_stream.send(item)
    }
}

impl<T, S, R> UnreliableObjectReceiveStream<T> for StapledObjectStream<S, R>
where
    S: AsyncResource + Send,
    R: UnreliableObjectReceiveStream<T> + Send,
{
    /// Receives from the receive stream.
    fn receive(&mut self) -> impl Future<Output = Result<T>> + Send {
        self.receive_stream.receive()
    }
}

impl<T, S, R> ObjectSendStream<T> for StapledObjectStream<S, R>
where
    S: ObjectSendStream<T> + Send,
    R: AsyncResource + Send,
{
}

impl<T, S, R> ObjectReceiveStream<T> for StapledObjectStream<S, R>
where
    S: AsyncResource + Send,
    R: ObjectReceiveStream<T> + Send,
{
}

impl<T, S, R> ObjectStream<T> for StapledObjectStream<S, R>
where
    S: ObjectSendStream<T> + Send,
    R: ObjectReceiveStream<T> + Send,
{
    /// Closes the send stream (the receive stream stays open).
    fn send_eof(&mut self) -> impl Future<Output = Result<()>> + Send {
        self.send_stream.aclose()
    }
}

/// The receive stream's items.
impl<S, R: Stream> Stream for StapledObjectStream<S, R> {
    type Item = R::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R::Item>> {
        self.project().receive_stream.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.receive_stream.size_hint()
    }
}

/// Sends into the send stream.
impl<T, S: Sink<T>, R> Sink<T> for StapledObjectStream<S, R> {
    type Error = S::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().send_stream.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), S::Error> {
        self.project().send_stream.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().send_stream.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().send_stream.poll_close(cx)
    }
}

// ---------------------------------------------------------------------------------------
// Byte streams.

/// A byte send stream and a byte receive stream joined into one [`ByteStream`] (AnyIO's
/// `StapledByteStream`).
///
/// Sending goes to the send half, receiving comes from the receive half;
/// [`send_eof`](ByteStream::send_eof) closes the send half (AnyIO's rule: a send stream
/// has no half-close of its own), and [`aclose`](SharedResource::aclose) closes the send
/// half, then the receive half. Typed attributes come from both halves, the receive half's
/// winning where both provide one (as AnyIO merges them).
///
/// # Examples
///
/// ```
/// use anyio::streams::pipe::create_byte_pipe;
/// use anyio::streams::stapled::StapledByteStream;
/// use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream};
/// use anyio::ErrorKind;
///
/// # anyio::run(|| async {
/// // Two crossed pipes: an in-process connection.
/// let (a_tx, b_rx) = create_byte_pipe(64)?;
/// let (b_tx, a_rx) = create_byte_pipe(64)?;
/// let a = StapledByteStream::new(a_tx, a_rx);
/// let b = StapledByteStream::new(b_tx, b_rx);
/// a.send(b"ping").await?;
/// a.send_eof().await?;
/// assert_eq!(b.receive(16).await?, b"ping");
/// assert_eq!(b.receive(16).await.unwrap_err().kind(), ErrorKind::EndOfStream);
/// b.send(b"pong").await?; // b's own direction is still open
/// assert_eq!(a.receive(16).await?, b"pong");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct StapledByteStream<S, R> {
    send_stream: S,
    receive_stream: R,
    /// The send half's close outcome, once it finished, while the receive half's close
    /// is still pending (so its error is not lost to a later poll).
    send_closed: Mutex<Option<Result<()>>>,
}

impl<S, R> fmt::Debug for StapledByteStream<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StapledByteStream").finish_non_exhaustive()
    }
}

impl<S, R> StapledByteStream<S, R> {
    /// Joins `send_stream` and `receive_stream`.
    pub fn new(send_stream: S, receive_stream: R) -> StapledByteStream<S, R> {
        StapledByteStream {
            send_stream,
            receive_stream,
            send_closed: Mutex::new(None),
        }
    }

    /// The sending half.
    pub fn send_stream(&self) -> &S {
        &self.send_stream
    }

    /// The receiving half.
    pub fn receive_stream(&self) -> &R {
        &self.receive_stream
    }

    /// Takes the two halves apart again: `(send_stream, receive_stream)`.
    pub fn into_parts(self) -> (S, R) {
        (self.send_stream, self.receive_stream)
    }
}

impl<S: TypedAttributeProvider, R: TypedAttributeProvider> TypedAttributeProvider
    for StapledByteStream<S, R>
{
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        // The first provider wins: the receive half first, as AnyIO's merge lets it win.
        self.receive_stream.provide_attributes(request);
        self.send_stream.provide_attributes(request);
    }
}

impl<S: SharedResource, R: SharedResource> SharedResource for StapledByteStream<S, R> {
    /// Closes the send half, then the receive half — both, even when the first fails (its
    /// error is returned then).
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut sent = self.send_closed.lock().unwrap_or_else(|e| e.into_inner());
        if sent.is_none() {
            *sent = Some(std::task::ready!(self.send_stream.poll_close(cx)));
        }
        let received = std::task::ready!(self.receive_stream.poll_close(cx));
        // Done: a later close polls both again (closing a closed half does nothing).
        let sent = sent.take().unwrap_or(Ok(()));
        Poll::Ready(sent.and(received))
    }
}

impl<S: SharedResource, R: ByteReceiveStream> ByteReceiveStream for StapledByteStream<S, R> {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        self.receive_stream.poll_receive(cx, buf)
    }

    fn poll_receive_vec(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<()>> {
        self.receive_stream.poll_receive_vec(cx, max_bytes, buf)
    }

    fn receive_busy(&self) -> &BusyFlag {
        self.receive_stream.receive_busy()
    }
}

impl<S: ByteSendStream, R: SharedResource> ByteSendStream for StapledByteStream<S, R> {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        self.send_stream.poll_send(cx, buf)
    }

    fn send_busy(&self) -> &BusyFlag {
        self.send_stream.send_busy()
    }
}

impl<S: ByteSendStream, R: ByteReceiveStream> ByteStream for StapledByteStream<S, R> {
    /// Closes the send half (AnyIO's `send_eof`).
    fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.send_stream.poll_close(cx)
    }
}
