//! Streams: moving objects (and, with the networking chapter, bytes) from one place to
//! another (AnyIO's "Streams" chapter).
//!
//! # The model
//!
//! A *stream* in anyio is a small interface for transporting information from one place
//! to another, in the same process or over a network. Streams come in two families:
//!
//! * **Object streams** ("channels" in trio) carry whole Rust values, one at a time:
//!   what is sent as one item is received as one item. The most used implementation is
//!   the [memory object stream](memory), a queue between tasks with closing, cloning and
//!   end-of-stream built in.
//! * **Byte streams** carry bytes with no message boundaries, as stream sockets do: two
//!   sends of `b"hello "` and `b"world"` may arrive as `b"hello world"` or as
//!   `b"hel"`, `b"lo wo"`, `b"rld"`. They come with the networking chapter (TCP, UNIX
//!   sockets, TLS), next to listeners and typed attributes.
//!
//! Many streams wrap other streams: a [`StapledObjectStream`] joins a send stream and a
//! receive stream into one bidirectional stream, say. The byte-stream wrappers stack on
//! any byte stream (a socket, a [`pipe`], a `Box<dyn ByteStream>`):
//!
//! | module | AnyIO | what it adds |
//! |---|---|---|
//! | [`buffered`] | `streams.buffered` | `receive_exactly`, `receive_until`, `feed_data` |
//! | [`text`] | `streams.text` | `String`s in and out, UTF-8 |
//! | [`stapled`] | `streams.stapled` | a send half and a receive half as one stream |
//! | [`file`](mod@file) | `streams.file` | a file read or written as a byte stream |
//! | [`memory_bytes`] | "any byte stream" | memory object streams of `Vec<u8>` as byte streams |
//!
//! # The traits
//!
//! The traits here are the contract a stream implements, so that code written against
//! them works with every implementation (AnyIO's `anyio.abc`):
//!
//! | trait | AnyIO | what it adds |
//! |---|---|---|
//! | [`AsyncResource`] | `AsyncResource` | [`aclose`](AsyncResource::aclose) |
//! | [`UnreliableObjectReceiveStream`] | same | [`receive`](UnreliableObjectReceiveStream::receive) |
//! | [`UnreliableObjectSendStream`] | same | [`send`](UnreliableObjectSendStream::send) |
//! | [`ObjectReceiveStream`], [`ObjectSendStream`] | same | the promise: in order, none lost |
//! | [`ObjectStream`] | same | both directions, [`send_eof`](ObjectStream::send_eof) |
//!
//! The *unreliable* traits make no promise about order or delivery (a UDP socket is an
//! unreliable object stream); the reliable ones add that promise and nothing else, so
//! generic code that can live with loss accepts both.
//!
//! Every method takes `&mut self`, the most a stream implementation may need; concrete
//! types such as the memory object streams offer `&self` methods of their own. The futures
//! are `Send`, so generic code built on these traits can run in spawned tasks.
//!
//! ## Errors
//!
//! A stream reports failures as an [`Error`] whose [`kind`](Error::kind) tells what
//! happened, as AnyIO's exceptions do:
//!
//! * [`ErrorKind::EndOfStream`]: the other side closed its end; nothing more will arrive.
//! * [`ErrorKind::ClosedResource`]: this handle was closed, by this side.
//! * [`ErrorKind::BrokenResource`]: the stream is unusable because of the other side (every
//!   receiver is gone) or an outside cause.
//! * [`ErrorKind::Cancelled`]: the enclosing cancel scope was cancelled.
//!
//! A failed send gives the item back inside a [`SendError`], so nothing is dropped
//! silently; `?` turns it into an [`Error`] when the item is not wanted.
//!
//! # Implementing a stream
//!
//! ```
//! use std::collections::VecDeque;
//! use anyio::streams::{
//!     AsyncResource, ObjectReceiveStream, UnreliableObjectReceiveStream,
//! };
//! use anyio::{Error, ErrorKind, Result};
//!
//! /// Replays a fixed list of items, then reports the end of the stream.
//! struct Replay(VecDeque<String>);
//!
//! impl AsyncResource for Replay {
//!     async fn aclose(&mut self) -> Result<()> {
//!         self.0.clear();
//!         Ok(())
//!     }
//! }
//!
//! impl UnreliableObjectReceiveStream<String> for Replay {
//!     async fn receive(&mut self) -> Result<String> {
//!         anyio::lowlevel::checkpoint().await?; // every receive is a checkpoint
//!         self.0
//!             .pop_front()
//!             .ok_or_else(|| Error::new(ErrorKind::EndOfStream, "the replay is over"))
//!     }
//! }
//!
//! impl ObjectReceiveStream<String> for Replay {} // in order, none lost
//!
//! async fn count<S: ObjectReceiveStream<String>>(mut stream: S) -> Result<usize> {
//!     let mut n = 0;
//!     loop {
//!         match stream.receive().await {
//!             Ok(_) => n += 1,
//!             Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(n),
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! # anyio::run(|| async {
//! let replay = Replay(VecDeque::from(["a".to_string(), "b".to_string()]));
//! assert_eq!(count(replay).await?, 2);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

pub mod buffered;
pub mod bytes;
pub mod compat;
pub mod file;
pub mod memory;
pub mod memory_bytes;
pub mod pipe;
pub mod stapled;
pub mod text;
#[cfg(feature = "tls")]
pub mod tls;

use std::fmt;
use std::future::Future;
use std::io;

pub use buffered::{BufferedByteReceiveStream, BufferedByteStream};
pub use bytes::{
    AttributeRequest, BusyFlag, BusyGuard, ByteReceiveStream, ByteSendStream, ByteStream, Listener,
    SharedResource, TypedAttribute, TypedAttributeProvider, aclose_forcefully,
};
pub use file::{FileReadStream, FileWriteStream};
pub use memory::{
    MemoryObjectReceiveStream, MemoryObjectSendStream, MemoryObjectSink,
    MemoryObjectStreamStatistics, create_memory_object_stream,
};
pub use stapled::{StapledByteStream, StapledObjectStream};
pub use text::{TextReceiveStream, TextSendStream, TextStream};

use crate::error::{Error, ErrorKind, Result};

/// A resource that must be closed, and may need to wait while it closes (AnyIO's
/// `AsyncResource`).
///
/// Dropping a resource closes it too, as far as that can be done without waiting; call
/// [`aclose`](Self::aclose) where the closing work must finish (a TLS `close_notify`, say)
/// or its errors matter.
pub trait AsyncResource {
    /// Closes the resource. Closing a closed resource does nothing.
    ///
    /// # Cancellation
    ///
    /// Implementations close the resource even when cancelled (the resource is then closed
    /// abruptly, if need be), so a cancelled `aclose` never leaves it open.
    ///
    /// # Errors
    ///
    /// Whatever closing reports; the resource is closed anyway.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::AsyncResource;
    ///
    /// # anyio::run(|| async {
    /// let (mut tx, _rx) = anyio::create_memory_object_stream::<u32>(1);
    /// tx.aclose().await?;
    /// assert!(tx.is_closed());
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    fn aclose(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// Receives objects, with no promise that they arrive in order or at all (AnyIO's
/// `UnreliableObjectReceiveStream`, implemented by a UDP socket, say).
pub trait UnreliableObjectReceiveStream<T>: AsyncResource {
    /// Receives the next item, waiting for one if need be.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A cancelled receive takes nothing from the stream: it returns either
    /// the item it had already taken or `Cancelled`, never both.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::EndOfStream`] once the other side has closed and nothing is left;
    /// [`ErrorKind::ClosedResource`] when this stream was closed;
    /// [`ErrorKind::BrokenResource`] when it became unusable for an outside cause;
    /// [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::UnreliableObjectReceiveStream;
    ///
    /// async fn first<T, S: UnreliableObjectReceiveStream<T>>(s: &mut S) -> anyio::Result<T> {
    ///     s.receive().await
    /// }
    ///
    /// # anyio::run(|| async {
    /// let (tx, mut rx) = anyio::create_memory_object_stream::<u32>(1);
    /// tx.try_send(7)?;
    /// assert_eq!(first(&mut rx).await?, 7);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    fn receive(&mut self) -> impl Future<Output = Result<T>> + Send;
}

/// Sends objects, with no promise that they arrive in order or at all (AnyIO's
/// `UnreliableObjectSendStream`).
pub trait UnreliableObjectSendStream<T>: AsyncResource {
    /// Sends an item, waiting for room if need be.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A cancelled send either sent its item (and returns `Ok`) or returns
    /// it inside the [`SendError`] — never both, never neither.
    ///
    /// # Errors
    ///
    /// A [`SendError`] holding the item, of kind [`ErrorKind::ClosedResource`] when this
    /// stream was closed, [`ErrorKind::BrokenResource`] when the receiving side is gone,
    /// or [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::UnreliableObjectSendStream;
    ///
    /// async fn greet<S: UnreliableObjectSendStream<String>>(s: &mut S) -> anyio::Result<()> {
    ///     s.send("hello".to_string()).await?; // `?` drops the item on failure
    ///     Ok(())
    /// }
    ///
    /// # anyio::run(|| async {
    /// let (mut tx, rx) = anyio::create_memory_object_stream::<String>(1);
    /// greet(&mut tx).await?;
    /// assert_eq!(rx.try_receive()?, "hello");
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    fn send(&mut self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send;
}

/// Receives objects in the order they were sent, none missing (AnyIO's
/// `ObjectReceiveStream`).
///
/// This adds no method to [`UnreliableObjectReceiveStream`]: implementing it is the
/// promise that items arrive in order and none is lost in the middle.
pub trait ObjectReceiveStream<T>: UnreliableObjectReceiveStream<T> {}

/// Sends objects that arrive in the order they were sent, none missing (AnyIO's
/// `ObjectSendStream`).
///
/// This adds no method to [`UnreliableObjectSendStream`]: implementing it is the promise
/// that items are delivered in order and none is lost in the middle.
pub trait ObjectSendStream<T>: UnreliableObjectSendStream<T> {}

/// A reliable object stream in both directions (AnyIO's `ObjectStream`).
pub trait ObjectStream<T>: ObjectReceiveStream<T> + ObjectSendStream<T> {
    /// Tells the other side that nothing more will be sent, keeping the receiving
    /// direction open. Calling it again does nothing.
    ///
    /// # Cancellation
    ///
    /// As [`AsyncResource::aclose`]: the sending direction is closed even when cancelled.
    ///
    /// # Errors
    ///
    /// Whatever closing the sending direction reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::{ObjectStream, StapledObjectStream, UnreliableObjectSendStream};
    /// use anyio::ErrorKind;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = anyio::create_memory_object_stream::<u32>(1);
    /// let mut both = StapledObjectStream::new(tx, rx);
    /// both.send_eof().await?;
    /// let err = both.send(1).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::ClosedResource);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    fn send_eof(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// A failed send: why it failed, and the item that was not sent.
///
/// Converts into an [`Error`] (dropping the item) with `?`, and into a
/// [`std::io::Error`]. As an [`std::error::Error`], its source is the [`Error`] itself,
/// so a cancellation stays recognisable through `Box<dyn Error>` and `anyhow::Error`.
///
/// # Examples
///
/// ```
/// use anyio::ErrorKind;
///
/// # anyio::run(|| async {
/// let (tx, rx) = anyio::create_memory_object_stream::<String>(1);
/// drop(rx);
/// let err = tx.send("lost?".to_string()).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BrokenResource);
/// assert_eq!(err.into_item(), "lost?"); // not lost: the item comes back
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct SendError<T> {
    error: Error,
    item: T,
}

impl<T> SendError<T> {
    /// A send error of `error`, giving back `item`.
    pub fn new(error: Error, item: T) -> SendError<T> {
        SendError { error, item }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// True when the send was cancelled (kind [`ErrorKind::Cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.error.is_cancelled()
    }

    /// Why the send failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The item that was not sent.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// Takes the item back.
    pub fn into_item(self) -> T {
        self.item
    }

    /// Why the send failed, dropping the item.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// Both parts: why the send failed, and the item.
    pub fn into_parts(self) -> (Error, T) {
        (self.error, self.item)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for SendError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<SendError<T>> for Error {
    fn from(e: SendError<T>) -> Error {
        e.error
    }
}

impl<T> From<SendError<T>> for io::Error {
    fn from(e: SendError<T>) -> io::Error {
        io::Error::from(e.error)
    }
}
