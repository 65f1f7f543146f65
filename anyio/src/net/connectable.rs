//! Connectables (AnyIO 4.10's `ByteStreamConnectable`, `TCPConnectable`,
//! `UNIXConnectable`): a description of where to connect, handed to code that makes the
//! connection when (and as often as) it needs one — a connection pool, a reconnecting
//! client, a TLS wrapper.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::error::Result;
use crate::net::{TcpStream, UnixStream};
use crate::streams::ByteStream;

/// Something that makes byte-stream connections (AnyIO's `ByteStreamConnectable`).
///
/// Generic code takes `C: ByteStreamConnectable` and gets the concrete stream type; code
/// that must hold "any connectable" uses the object-safe [`AnyByteStreamConnectable`],
/// which every `ByteStreamConnectable` implements.
///
/// # Examples
///
/// ```
/// use anyio::net::{ByteStreamConnectable, TcpConnectable, create_tcp_listener};
/// use anyio::streams::{ByteReceiveStream, ByteSendStream, Listener};
///
/// async fn hello<C: ByteStreamConnectable>(to: &C) -> anyio::Result<()> {
///     to.connect().await?.send(b"hello").await
/// }
///
/// # anyio::run(|| async {
/// let listener = create_tcp_listener().local_host("127.0.0.1").await?;
/// let port = listener.listeners()[0].local_addr()?.port();
/// hello(&TcpConnectable::new("127.0.0.1", port)).await?;
/// assert_eq!(listener.accept().await?.receive(5).await?, b"hello");
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub trait ByteStreamConnectable: Send + Sync {
    /// The stream a connection gives.
    type Stream: ByteStream + 'static;

    /// Makes a new connection.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled connect leaves no connection open.
    ///
    /// # Errors
    ///
    /// Whatever connecting reports.
    fn connect(&self) -> impl Future<Output = Result<Self::Stream>> + Send;
}

/// The future of [`AnyByteStreamConnectable::connect_boxed`].
pub type ConnectBoxed<'a> = Pin<Box<dyn Future<Output = Result<Box<dyn ByteStream>>> + Send + 'a>>;

/// The object-safe form of [`ByteStreamConnectable`]: connections come as
/// `Box<dyn ByteStream>`, so `Box<dyn AnyByteStreamConnectable>` can hold a TCP and a
/// UNIX connectable alike. Implemented for every [`ByteStreamConnectable`].
pub trait AnyByteStreamConnectable: Send + Sync {
    /// Makes a new connection, boxed.
    ///
    /// # Errors
    ///
    /// As [`ByteStreamConnectable::connect`].
    fn connect_boxed(&self) -> ConnectBoxed<'_>;
}

impl<C: ByteStreamConnectable> AnyByteStreamConnectable for C {
    fn connect_boxed(&self) -> ConnectBoxed<'_> {
        Box::pin(async move {
            let stream = self.connect().await?;
            Ok(Box::new(stream) as Box<dyn ByteStream>)
        })
    }
}

/// Connects with [`connect_tcp`](super::connect_tcp) (AnyIO's `TCPConnectable`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpConnectable {
    /// The host: a name or an IP literal.
    pub host: String,
    /// The port (0 is refused when connecting).
    pub port: u16,
}

impl TcpConnectable {
    /// A connectable for `host` at `port`.
    pub fn new(host: impl Into<String>, port: u16) -> TcpConnectable {
        TcpConnectable {
            host: host.into(),
            port,
        }
    }
}

impl ByteStreamConnectable for TcpConnectable {
    type Stream = TcpStream;

    fn connect(&self) -> impl Future<Output = Result<TcpStream>> + Send {
        std::future::IntoFuture::into_future(super::connect_tcp(self.host.clone(), self.port))
    }
}

/// Connects with [`connect_unix`](super::connect_unix) (AnyIO's `UNIXConnectable`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnixConnectable {
    /// The socket's path (`"\0name"`: abstract).
    pub path: PathBuf,
}

impl UnixConnectable {
    /// A connectable for the UNIX socket at `path`.
    pub fn new(path: impl Into<PathBuf>) -> UnixConnectable {
        UnixConnectable { path: path.into() }
    }
}

impl ByteStreamConnectable for UnixConnectable {
    type Stream = UnixStream;

    fn connect(&self) -> impl Future<Output = Result<UnixStream>> + Send {
        let path = self.path.clone();
        async move { super::connect_unix(path).await }
    }
}
