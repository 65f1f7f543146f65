//! Stapled streams: a send stream and a receive stream joined into one bidirectional
//! stream (AnyIO's `anyio.streams.stapled`).
//!
//! [`StapledObjectStream`] combines any [`ObjectSendStream`] with any
//! [`ObjectReceiveStream`] of the same item type, forming an [`ObjectStream`]: a way to
//! hand one value to code that expects a two-way connection — two memory object streams
//! crossed over make an in-process "connection" for tests, say. The byte-stream variant
//! comes with the networking chapter.
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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use pin_project_lite::pin_project;

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
