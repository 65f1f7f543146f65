//! Adapters between anyio byte streams and the ecosystem's I/O traits, both ways.
//!
//! # anyio → ecosystem
//!
//! [`Compat`] makes any anyio byte stream a [`futures_io::AsyncRead`] +
//! [`futures_io::AsyncWrite`] and, with the `tokio` feature, a `tokio::io::AsyncRead` +
//! `tokio::io::AsyncWrite` — on **either backend**: the traits only poll the stream, they
//! need no tokio runtime. So hyper (through hyper-util's `TokioIo`),
//! `tokio_util::codec::Framed`, `tokio::io::copy`, async-tungstenite and tokio-rustls run
//! over anyio streams on smol as on tokio. [`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream) and [`TlsStream`](super::tls::TlsStream)
//! implement the four traits themselves, so they need no wrapper.
//!
//! The mapping:
//!
//! * a read returns `Ok(0)` at the end of the stream ([`ErrorKind::EndOfStream`]), and for
//!   an empty buffer;
//! * `poll_shutdown` (tokio) and `poll_close` (futures-io) are
//!   [`send_eof`](super::ByteStream::send_eof) — the sending direction is shut, the
//!   stream can still receive; for a send-only stream ([`Compat::send_only`]) they close it;
//! * `poll_flush` returns at once: a send is written when it returns;
//! * every other error becomes an [`io::Error`] carrying the anyio [`Error`] as its inner
//!   error (`io_error.get_ref()` downcasts to it, and `anyio::Error::from(io_error)` gives
//!   it back with its kind). Its [`io::ErrorKind`] is the OS error's for a
//!   [`ErrorKind::BrokenResource`] (so `ConnectionReset` stays `ConnectionReset`),
//!   `ResourceBusy` for [`ErrorKind::BusyResource`], `NotConnected` for
//!   [`ErrorKind::ClosedResource`].
//!
//! Lossless: a read that returns `Pending` has taken nothing (the poll methods take data
//! only in the poll that returns it), so dropping a `read` future — a `select!` branch
//! that lost, a `tokio::time::timeout` — loses no byte. A write may accept part of its
//! buffer, as `AsyncWrite` allows.
//!
//! ## Cancellation
//!
//! A read or write that would wait, inside a cancelled [cancel scope](crate::CancelScope),
//! returns an `io::Error` carrying the cancellation instead (having taken or written
//! nothing), so a foreign protocol loop stops at anyio's cancellation and the `?` that
//! turns its `io::Error` into an anyio [`Error`] gives [`ErrorKind::Cancelled`] back. A
//! library that wraps `io::Error`s in its own error type (hyper does) loses that kind:
//! await such a library's futures with [`.cancellable()`](crate::CancellableExt).
//!
//! ## Busy
//!
//! Each read (and each write) enters the stream's busy flag for the duration of one poll:
//! while another task is in the stream's own `receive`, a read fails with `ResourceBusy`.
//! A read parked in `Pending` holds nothing, so it leaves no trace when dropped — and so
//! the adapter does not stop another task from receiving on the same stream meanwhile;
//! one reader per direction is the caller's to keep, as with any `AsyncRead`.
//!
//! # ecosystem → anyio
//!
//! [`FromAsyncIo`] wraps a foreign `AsyncRead + AsyncWrite` — a `tokio::io::duplex`, a
//! tokio-rustls stream, a QUIC stream, any futures-io stream — as an anyio
//! [`ByteStream`]: `Ok(0)` from a read is [`ErrorKind::EndOfStream`],
//! I/O errors are [`ErrorKind::BrokenResource`] with the `io::Error` as source,
//! `send_eof` is the foreign shutdown, and the anyio contract holds — checkpoints, the busy
//! flags, `ClosedResource` after `aclose` (waking a task parked in the other direction).
//!
//! # Examples
//!
//! `tokio::io` helpers over an anyio TCP stream, on whichever backend runs:
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use anyio::net::{connect_tcp, create_tcp_listener};
//! use anyio::streams::Listener;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # anyio::run(|| async {
//! let listener = create_tcp_listener().local_host("127.0.0.1").await?;
//! let port = listener.listeners()[0].local_addr()?.port();
//! let mut client = connect_tcp("127.0.0.1", port).await?;
//! let mut server = listener.accept().await?;
//! client.write_all(b"ping").await?; // TcpStream is a tokio AsyncWrite
//! client.shutdown().await?; // = send_eof
//! let mut got = Vec::new();
//! server.read_to_end(&mut got).await?;
//! assert_eq!(got, b"ping");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! # }
//! ```
//!
//! A `tokio::io::duplex` as an anyio byte stream:
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use anyio::streams::compat::FromAsyncIo;
//! use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream};
//! use anyio::ErrorKind;
//!
//! # anyio::run(|| async {
//! let (a, b) = tokio::io::duplex(64);
//! let (a, b) = (FromAsyncIo::tokio(a), FromAsyncIo::tokio(b));
//! a.send(b"hello").await?;
//! a.send_eof().await?;
//! assert_eq!(b.receive(100).await?, b"hello");
//! assert_eq!(b.receive(100).await.unwrap_err().kind(), ErrorKind::EndOfStream);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! # }
//! ```

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, SharedResource,
    TypedAttributeProvider,
};
use crate::context;
use crate::error::{Error, ErrorKind, Result};

// ---------------------------------------------------------------------------------------
// anyio → ecosystem: the shared poll helpers.

/// The `io::Error` for an anyio error: the anyio error inside, the kind as close to the
/// cause as it can be.
pub(crate) fn to_io_error(e: Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::BrokenResource | ErrorKind::Io => match e.source_as::<io::Error>() {
            Some(src) => src.kind(),
            None if e.kind() == ErrorKind::BrokenResource => io::ErrorKind::BrokenPipe,
            None => io::ErrorKind::Other,
        },
        ErrorKind::BusyResource => io::ErrorKind::ResourceBusy,
        ErrorKind::ClosedResource => io::ErrorKind::NotConnected,
        _ => return io::Error::from(e),
    };
    io::Error::new(kind, e)
}

/// `Pending` from a poll method, seen by an adapter: fails with the cancellation when the
/// scope is cancelled (nothing was taken), else marks the task blocked so that deadlines
/// arm and the watchdog does not take the wait for a foreign one.
fn pending_or_cancelled<T>() -> Poll<io::Result<T>> {
    if let Some(e) = context::check_cancelled() {
        return Poll::Ready(Err(to_io_error(e)));
    }
    context::mark_blocked();
    Poll::Pending
}

/// One `AsyncRead::poll_read` over an anyio receive stream.
fn read<S: ByteReceiveStream + ?Sized>(
    s: &S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let _busy = match s.receive_busy().enter("receiving") {
        Ok(guard) => guard,
        Err(e) => return Poll::Ready(Err(to_io_error(e))),
    };
    match s.poll_receive(cx, buf) {
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(n.min(buf.len()))),
        Poll::Ready(Err(e)) if e.kind() == ErrorKind::EndOfStream => Poll::Ready(Ok(0)),
        Poll::Ready(Err(e)) => Poll::Ready(Err(to_io_error(e))),
        Poll::Pending => pending_or_cancelled(),
    }
}

/// One `AsyncWrite::poll_write` over an anyio send stream.
fn write<S: ByteSendStream + ?Sized>(
    s: &S,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let _busy = match s.send_busy().enter("sending") {
        Ok(guard) => guard,
        Err(e) => return Poll::Ready(Err(to_io_error(e))),
    };
    match s.poll_send(cx, buf) {
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(n.min(buf.len()))),
        Poll::Ready(Err(e)) => Poll::Ready(Err(to_io_error(e))),
        Poll::Pending => pending_or_cancelled(),
    }
}

/// One `poll_shutdown`/`poll_close`: `eof` is `send_eof` (or `close` for a send-only
/// stream).
fn shutdown<S: ?Sized>(
    s: &S,
    cx: &mut Context<'_>,
    eof: fn(&S, &mut Context<'_>) -> Poll<Result<()>>,
) -> Poll<io::Result<()>> {
    match eof(s, cx) {
        Poll::Ready(r) => Poll::Ready(r.map_err(to_io_error)),
        Poll::Pending => pending_or_cancelled(),
    }
}

fn send_eof<S: ByteStream + ?Sized>(s: &S, cx: &mut Context<'_>) -> Poll<Result<()>> {
    s.poll_send_eof(cx)
}

fn close<S: SharedResource + ?Sized>(s: &S, cx: &mut Context<'_>) -> Poll<Result<()>> {
    s.poll_close(cx)
}

// ---------------------------------------------------------------------------------------
// anyio → ecosystem: `Compat`.

/// An anyio byte stream as `futures_io::{AsyncRead, AsyncWrite}` and (feature `tokio`)
/// `tokio::io::{AsyncRead, AsyncWrite}`. See the [module docs](self) for the mapping.
///
/// `S` may be any byte stream — `Box<dyn ByteStream>`, an `Arc` or a reference to one, a
/// [`TlsStream`](super::tls::TlsStream), a [pipe](super::pipe) half. The read traits need
/// `S: ByteReceiveStream`, the write traits `S: ByteSendStream`.
///
/// # Examples
///
/// ```
/// use anyio::streams::compat::Compat;
/// use anyio::streams::pipe::create_byte_pipe;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
///
/// # anyio::run(|| async {
/// let (tx, rx) = create_byte_pipe(64)?; // room for the whole message
/// let (mut tx, mut rx) = (Compat::send_only(tx), Compat::receive_only(rx));
/// tx.write_all(b"through futures-io").await?;
/// tx.close().await?; // a send-only stream: closing it is the end of the stream
/// let mut got = String::new();
/// rx.read_to_string(&mut got).await?;
/// assert_eq!(got, "through futures-io");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct Compat<S> {
    inner: S,
    eof: fn(&S, &mut Context<'_>) -> Poll<Result<()>>,
}

impl<S> fmt::Debug for Compat<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat").finish_non_exhaustive()
    }
}

impl<S: ByteStream> Compat<S> {
    /// Wraps a stream of both directions; shutting the writer down is
    /// [`send_eof`](ByteStream::send_eof).
    pub fn new(stream: S) -> Compat<S> {
        Compat {
            inner: stream,
            eof: send_eof::<S>,
        }
    }
}

impl<S: ByteSendStream> Compat<S> {
    /// Wraps a send-only stream (a [pipe](super::pipe) sender, say): shutting the writer down
    /// closes it, which is the end of the stream for its peer.
    pub fn send_only(stream: S) -> Compat<S> {
        Compat {
            inner: stream,
            eof: close::<S>,
        }
    }
}

impl<S: ByteReceiveStream> Compat<S> {
    /// Wraps a receive-only stream (as a reader; should `S` send too, shutting the writer
    /// down closes the stream).
    pub fn receive_only(stream: S) -> Compat<S> {
        Compat {
            inner: stream,
            eof: close::<S>,
        }
    }
}

impl<S> Compat<S> {
    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for Compat<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.inner.provide_attributes(request);
    }
}

impl<S: ByteReceiveStream> futures_io::AsyncRead for Compat<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        read(&self.inner, cx, buf)
    }
}

impl<S: ByteSendStream> futures_io::AsyncWrite for Compat<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        write(&self.inner, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        shutdown(&self.inner, cx, self.eof)
    }
}

#[cfg(feature = "tokio")]
fn read_buf<S: ByteReceiveStream + ?Sized>(
    s: &S,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    let n = std::task::ready!(read(s, cx, buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

#[cfg(feature = "tokio")]
impl<S: ByteReceiveStream> tokio::io::AsyncRead for Compat<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_buf(&self.inner, cx, buf)
    }
}

#[cfg(feature = "tokio")]
impl<S: ByteSendStream> tokio::io::AsyncWrite for Compat<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        write(&self.inner, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        shutdown(&self.inner, cx, self.eof)
    }
}

/// The four traits on a concrete stream of both directions, without a wrapper.
macro_rules! direct_impls {
    ($([$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($generics)*> futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                read(&*self, cx, buf)
            }
        }

        impl<$($generics)*> futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                write(&*self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                shutdown(&*self, cx, send_eof::<Self>)
            }
        }

        #[cfg(feature = "tokio")]
        impl<$($generics)*> tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                read_buf(&*self, cx, buf)
            }
        }

        #[cfg(feature = "tokio")]
        impl<$($generics)*> tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                write(&*self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                shutdown(&*self, cx, send_eof::<Self>)
            }
        }
    )*};
}

direct_impls!([] crate::net::TcpStream, [] crate::net::UnixStream);
#[cfg(feature = "tls")]
direct_impls!([S: ByteStream] super::tls::TlsStream<S>);

// ---------------------------------------------------------------------------------------
// ecosystem → anyio: `FromAsyncIo`.

/// A foreign bidirectional I/O object [`FromAsyncIo`] can wrap: the poll methods of
/// `AsyncRead + AsyncWrite`, whichever crate's. [`Tokio`] and [`Futures`] implement it for
/// the tokio and futures-io traits; implement it yourself for a type with poll methods of
/// its own.
pub trait ForeignIo: Send {
    /// Reads into `buf` (not empty); `Ok(0)` is the end of the stream.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;
    /// Writes a prefix of `buf` (not empty); returns its length.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;
    /// Writes out whatever the object buffered.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Flushes, then shuts the writing direction.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

#[cfg(feature = "tokio")]
pin_project_lite::pin_project! {
    /// A `tokio::io::AsyncRead + AsyncWrite` as a [`ForeignIo`] (feature `tokio`); made by
    /// [`FromAsyncIo::tokio`].
    #[derive(Debug)]
    pub struct Tokio<T> {
        #[pin]
        io: T,
    }
}

#[cfg(feature = "tokio")]
impl<T> Tokio<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> Tokio<T> {
        Tokio { io }
    }

    /// The wrapped object.
    pub fn into_inner(self) -> T {
        self.io
    }
}

#[cfg(feature = "tokio")]
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send> ForeignIo for Tokio<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = tokio::io::ReadBuf::new(buf);
        std::task::ready!(self.project().io.poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// A `futures_io::AsyncRead + AsyncWrite` as a [`ForeignIo`]; made by
    /// [`FromAsyncIo::futures`].
    #[derive(Debug)]
    pub struct Futures<T> {
        #[pin]
        io: T,
    }
}

impl<T> Futures<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> Futures<T> {
        Futures { io }
    }

    /// The wrapped object.
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Send> ForeignIo for Futures<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_read(cx, buf)
    }
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_close(cx)
    }
}

/// A foreign `AsyncRead + AsyncWrite` as an anyio [`ByteStream`]. See the
/// [module docs](self).
///
/// The foreign object sits behind a lock held only during one of its polls, so one task
/// can receive while another sends, as with any anyio stream.
///
/// # Sending and flushing
///
/// A [`send`](ByteSendStream::send) completes once the foreign object has flushed the
/// last of its data: an object that buffers (tokio-rustls, a `BufWriter`) does not keep
/// the tail of a message. A send cancelled while that flush waits has written its data
/// (trio's caveat for a cancelled send, as for every stream).
///
/// # Closing
///
/// [`aclose`](SharedResource::aclose) shuts the foreign object down (its `poll_shutdown`,
/// whose errors are ignored: the peer may be gone) and drops it; in a cancelled scope
/// ([`aclose_forcefully`](super::aclose_forcefully)) it drops it at once. A task parked
/// in a receive or a send is woken and fails with [`ErrorKind::ClosedResource`].
pub struct FromAsyncIo<F> {
    state: Mutex<State<F>>,
    receive_busy: BusyFlag,
    send_busy: BusyFlag,
}

struct State<F> {
    /// `None` once closed.
    io: Option<Pin<Box<F>>>,
    /// `aclose` started: every poll method but `poll_close` fails.
    closing: bool,
    eof_sent: bool,
    /// Bytes the foreign object accepted for the send whose buffer starts at `ptr` and has
    /// `len` bytes, reported once its flush completes.
    owed: Option<Owed>,
    /// The tasks parked in a receive and in a send, woken by `aclose`.
    receive_waker: Option<Waker>,
    send_waker: Option<Waker>,
}

/// What a send that waits for its flush was accepted: recognised by its buffer (address,
/// length and the accepted bytes), so a different send after a cancelled one is not
/// mistaken for it.
struct Owed {
    ptr: usize,
    len: usize,
    accepted: Vec<u8>,
}

impl<F> fmt::Debug for FromAsyncIo<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("FromAsyncIo")
            .field("closed", &st.io.is_none())
            .field("eof_sent", &st.eof_sent)
            .finish_non_exhaustive()
    }
}

impl<F: ForeignIo> FromAsyncIo<F> {
    /// Wraps any [`ForeignIo`].
    pub fn new(io: F) -> FromAsyncIo<F> {
        FromAsyncIo {
            state: Mutex::new(State {
                io: Some(Box::pin(io)),
                closing: false,
                eof_sent: false,
                owed: None,
                receive_waker: None,
                send_waker: None,
            }),
            receive_busy: BusyFlag::new(),
            send_busy: BusyFlag::new(),
        }
    }
}

#[cfg(feature = "tokio")]
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send> FromAsyncIo<Tokio<T>> {
    /// Wraps a `tokio::io::AsyncRead + AsyncWrite` (a `tokio::io::duplex` half, a
    /// tokio-rustls stream...). Feature `tokio`; runs on either backend when `T` itself
    /// needs no tokio runtime.
    pub fn tokio(io: T) -> FromAsyncIo<Tokio<T>> {
        FromAsyncIo::new(Tokio::new(io))
    }
}

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Send> FromAsyncIo<Futures<T>> {
    /// Wraps a `futures_io::AsyncRead + AsyncWrite`.
    pub fn futures(io: T) -> FromAsyncIo<Futures<T>> {
        FromAsyncIo::new(Futures::new(io))
    }
}

impl<F: Unpin> FromAsyncIo<F> {
    /// Gives the foreign object back.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when the stream was closed (the object was dropped).
    pub fn into_inner(self) -> Result<F> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        match st.io {
            Some(io) => Ok(*Pin::into_inner(io)),
            None => Err(closed_error("into_inner")),
        }
    }
}

impl<F> FromAsyncIo<F> {
    fn lock(&self) -> MutexGuard<'_, State<F>> {
        // A panic in a foreign poll leaves the state consistent: nothing is half updated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn closed_error(action: &'static str) -> Error {
    Error::new(
        ErrorKind::ClosedResource,
        format!("{action} on a closed stream"),
    )
}

/// A foreign I/O error: the anyio error it carries (a stream wrapped twice), or
/// `BrokenResource` with it as the source.
fn foreign_error(action: &'static str, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|r| r.is::<Error>()) {
        return Error::from(e);
    }
    super::bytes::broken(action, e)
}

impl<F> State<F> {
    fn usable(&mut self, action: &'static str) -> Result<Pin<&mut F>> {
        match self.io.as_mut() {
            Some(io) if !self.closing => Ok(io.as_mut()),
            _ => Err(closed_error(action)),
        }
    }
}

impl<F> TypedAttributeProvider for FromAsyncIo<F> {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl<F: ForeignIo> SharedResource for FromAsyncIo<F> {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.lock();
        if !st.closing {
            st.closing = true;
            for waker in [st.receive_waker.take(), st.send_waker.take()]
                .into_iter()
                .flatten()
            {
                waker.wake();
            }
        }
        let graceful = context::check_cancelled().is_none() && !st.eof_sent;
        if let Some(io) = st.io.as_mut() {
            if graceful && io.as_mut().poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
        }
        st.io = None;
        Poll::Ready(Ok(()))
    }
}

impl<F: ForeignIo> ByteReceiveStream for FromAsyncIo<F> {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let mut st = self.lock();
        let io = st.usable("receiving")?;
        match io.poll_read(cx, buf) {
            Poll::Ready(Ok(0)) if !buf.is_empty() => Poll::Ready(Err(super::bytes::eof())),
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(n.min(buf.len()))),
            Poll::Ready(Err(e)) => {
                Poll::Ready(Err(foreign_error("receiving from a wrapped stream", e)))
            }
            Poll::Pending => {
                st.receive_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.receive_busy
    }
}

impl<F: ForeignIo> ByteSendStream for FromAsyncIo<F> {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let mut st = self.lock();
        st.usable("sending")?;
        if st.eof_sent {
            return Poll::Ready(Err(Error::new(
                ErrorKind::ClosedResource,
                "sending after send_eof on a wrapped stream",
            )));
        }
        let r = Self::send_locked(&mut st, cx, buf);
        if r.is_pending() {
            st.send_waker = Some(cx.waker().clone());
        }
        r
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.send_busy
    }
}

impl<F: ForeignIo> FromAsyncIo<F> {
    /// The body of `poll_send`, on a usable stream.
    fn send_locked(st: &mut State<F>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        const ACTION: &str = "sending to a wrapped stream";
        let Some(io) = st.io.as_mut() else {
            return Poll::Ready(Err(closed_error("sending")));
        };
        if let Some(owed) = &st.owed {
            std::task::ready!(io.as_mut().poll_flush(cx)).map_err(|e| foreign_error(ACTION, e))?;
            let same = owed.ptr == buf.as_ptr() as usize
                && owed.len == buf.len()
                && buf.get(..owed.accepted.len()) == Some(&owed.accepted[..]);
            let accepted = owed.accepted.len();
            st.owed = None;
            if same {
                return Poll::Ready(Ok(accepted));
            }
            // Those bytes belonged to a send that was cancelled or dropped: they were its
            // prefix, written now. Go on with this one.
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let accepted = match std::task::ready!(io.as_mut().poll_write(cx, buf)) {
            Ok(0) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "the stream accepted no byte");
                return Poll::Ready(Err(foreign_error(ACTION, e)));
            }
            Ok(n) => n.min(buf.len()),
            Err(e) => return Poll::Ready(Err(foreign_error(ACTION, e))),
        };
        match io.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(accepted)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(foreign_error(ACTION, e))),
            // More of this send follows: its next poll flushes before it writes.
            Poll::Pending if accepted < buf.len() => {
                st.owed = Some(Owed {
                    ptr: 0,
                    len: 0,
                    accepted: Vec::new(),
                });
                Poll::Ready(Ok(accepted))
            }
            // The last of this send: it completes only once flushed.
            Poll::Pending => {
                st.owed = Some(Owed {
                    ptr: buf.as_ptr() as usize,
                    len: buf.len(),
                    accepted: buf[..accepted].to_vec(),
                });
                Poll::Pending
            }
        }
    }
}

impl<F: ForeignIo> ByteStream for FromAsyncIo<F> {
    /// The foreign `poll_shutdown` (which flushes first).
    fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.lock();
        let eof_sent = st.eof_sent;
        let io = st.usable("send_eof")?;
        if eof_sent {
            return Poll::Ready(Ok(()));
        }
        match std::task::ready!(io.poll_shutdown(cx)) {
            Ok(()) => {
                st.eof_sent = true;
                st.owed = None;
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(foreign_error("shutting down a wrapped stream", e))),
        }
    }
}
