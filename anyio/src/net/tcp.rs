//! TCP streams and listeners.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use socket2::{SockRef, Socket};

use crate::backend::io::{Direction, Registered, SocketKind};
use crate::error::{Error, ErrorKind, Result};
use crate::net::socket::SocketCore;
use crate::streams::bytes::{broken, eof, os_error};
use crate::streams::{
    AsyncResource, AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream,
    Listener, SharedResource, TypedAttributeProvider,
};

/// A TCP connection (AnyIO's `SocketStream` over TCP): a [`ByteStream`].
///
/// Clones are handles to one connection: one task can receive while another sends, and
/// closing any handle closes the connection for all (unlike the clones of a memory object
/// stream). Dropping the last handle closes the socket.
///
/// TCP_NODELAY is on (Nagle's algorithm off) for every stream anyio connects or accepts,
/// as AnyIO does.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalAddress`](super::attr::LocalAddress),
/// [`LocalPort`](super::attr::LocalPort), [`RemoteAddress`](super::attr::RemoteAddress),
/// [`RemotePort`](super::attr::RemotePort), [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct TcpStream {
    core: Arc<SocketCore>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("remote", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_registered(io: Registered) -> TcpStream {
        TcpStream {
            core: Arc::new(SocketCore::new(io)),
        }
    }

    /// Wraps a connected `std::net::TcpStream`, registering it with the backend that serves
    /// this call and turning TCP_NODELAY on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not connected (or not TCP);
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(stream: std::net::TcpStream) -> Result<TcpStream> {
        let socket = Socket::from(stream);
        match socket.r#type() {
            Ok(socket2::Type::STREAM) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "TcpStream::from_std: not a stream socket",
                ));
            }
        }
        if let Err(e) = socket.peer_addr() {
            return Err(Error::with_source(
                ErrorKind::InvalidArgument,
                "TcpStream::from_std: the socket is not connected",
                e,
            ));
        }
        let _ = socket.set_tcp_nodelay(true);
        Ok(TcpStream::from_registered(Registered::new(
            socket,
            SocketKind::TcpStream,
        )?))
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.sock_addr("reading the local address", |s| s.local_addr())
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.sock_addr("reading the peer address", |s| s.peer_addr())
    }

    fn sock_addr(
        &self,
        action: &'static str,
        f: impl FnOnce(&SockRef<'_>) -> io::Result<socket2::SockAddr>,
    ) -> Result<SocketAddr> {
        self.core.with_fd(action, |fd| {
            let addr = f(&SockRef::from(&fd)).map_err(|e| os_error(action, e))?;
            addr.as_socket()
                .ok_or_else(|| Error::new(ErrorKind::Io, "not an IP socket address"))
        })?
    }

    /// Runs `f` on the socket's fd, for options anyio has no method for.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed.
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Result<R> {
        self.core.with_fd("using the socket", f)
    }

    /// Closes the connection for every handle; returns once the fd is closed.
    ///
    /// # Cancellation
    ///
    /// Not a cancellation point: the stream is closed even in a cancelled scope.
    ///
    /// # Errors
    ///
    /// None today; the signature leaves room for streams whose close can fail.
    pub async fn aclose(&self) -> Result<()> {
        self.core.close();
        Ok(())
    }

    /// True once the stream was closed (through any handle).
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }
}

/// The raw fd, or -1 once closed.
impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.core.with_fd("", |fd| fd.as_raw_fd()).unwrap_or(-1)
    }
}

impl TypedAttributeProvider for TcpStream {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.core.provide_attributes(request);
    }
}

impl SharedResource for TcpStream {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.core.close();
        Poll::Ready(Ok(()))
    }
}

impl AsyncResource for TcpStream {
    async fn aclose(&mut self) -> Result<()> {
        self.core.close();
        Ok(())
    }
}

const RECEIVING: &str = "receiving from a TCP stream";
const SENDING: &str = "sending on a TCP stream";

fn received(n: usize) -> Result<usize> {
    if n == 0 { Err(eof()) } else { Ok(n) }
}

impl ByteReceiveStream for TcpStream {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        self.core
            .poll_io(Direction::Read, cx, RECEIVING, |fd| {
                rustix::io::read(fd, &mut *buf).map_err(io::Error::from)
            })
            .map(|r| r?.map_err(|e| broken(RECEIVING, e)).and_then(received))
    }

    fn poll_receive_vec(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<()>> {
        let want = max_bytes.clamp(1, crate::streams::bytes::RECEIVE_LIMIT);
        if buf.capacity() < want {
            // `with_capacity` gives exactly `want`, so the read below takes at most that.
            *buf = Vec::with_capacity(want);
        }
        self.core
            .poll_io(Direction::Read, cx, RECEIVING, |fd| {
                buf.clear();
                rustix::io::read(fd, rustix::buffer::spare_capacity(&mut *buf))
                    .map_err(io::Error::from)
            })
            .map(|r| {
                let n = r?.map_err(|e| broken(RECEIVING, e))?;
                received(n).map(drop)
            })
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.core.receive_busy
    }
}

impl ByteSendStream for TcpStream {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(self.core.with_fd(SENDING, |_| 0));
        }
        self.core
            .poll_io(Direction::Write, cx, SENDING, |fd| {
                rustix::net::send(fd, buf, rustix::net::SendFlags::NOSIGNAL)
                    .map_err(io::Error::from)
            })
            .map(|r| r?.map_err(|e| broken(SENDING, e)))
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.core.send_busy
    }
}

impl ByteStream for TcpStream {
    fn poll_send_eof(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let r = self.core.with_fd("sending EOF on a TCP stream", |fd| {
            match SockRef::from(&fd).shutdown(Shutdown::Write) {
                Ok(()) => Ok(()),
                // Already shut, or the peer is gone: nothing more to tell it.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                Err(e) => Err(broken("sending EOF on a TCP stream", e)),
            }
        });
        Poll::Ready(r.and_then(|r| r))
    }
}

/// A listening TCP socket (AnyIO's `SocketListener`): a [`Listener`] of [`TcpStream`]s.
///
/// Clones are handles to one listener; closing any closes it for all.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalAddress`](super::attr::LocalAddress),
/// [`LocalPort`](super::attr::LocalPort), [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct TcpListener {
    core: Arc<SocketCore>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

const ACCEPTING: &str = "accepting on a TCP listener";

impl TcpListener {
    pub(crate) fn from_socket(socket: Socket) -> Result<TcpListener> {
        Ok(TcpListener {
            core: Arc::new(SocketCore::new(Registered::new(
                socket,
                SocketKind::TcpListener,
            )?)),
        })
    }

    /// Wraps a listening `std::net::TcpListener`, registering it with the backend that
    /// serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a listening stream socket;
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(listener: std::net::TcpListener) -> Result<TcpListener> {
        let socket = Socket::from(listener);
        let listening = socket.r#type().ok() == Some(socket2::Type::STREAM)
            && rustix::net::sockopt::socket_acceptconn(&socket).unwrap_or(false);
        if !listening {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "TcpListener::from_std: not a listening TCP socket",
            ));
        }
        TcpListener::from_socket(socket)
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let action = "reading the local address";
        self.core.with_fd(action, |fd| {
            let addr = SockRef::from(&fd)
                .local_addr()
                .map_err(|e| os_error(action, e))?;
            addr.as_socket()
                .ok_or_else(|| Error::new(ErrorKind::Io, "not an IP socket address"))
        })?
    }

    /// Closes the listener for every handle, waking a blocked `accept`; returns once the fd
    /// is closed (so the port can be bound again at once).
    ///
    /// # Cancellation
    ///
    /// Not a cancellation point.
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn aclose(&self) -> Result<()> {
        self.core.close();
        Ok(())
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.core.with_fd("", |fd| fd.as_raw_fd()).unwrap_or(-1)
    }
}

impl TypedAttributeProvider for TcpListener {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.core.provide_attributes(request);
    }
}

impl SharedResource for TcpListener {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.core.close();
        Poll::Ready(Ok(()))
    }
}

impl AsyncResource for TcpListener {
    async fn aclose(&mut self) -> Result<()> {
        self.core.close();
        Ok(())
    }
}

impl Listener<TcpStream> for TcpListener {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<TcpStream>> {
        self.core.poll_accept(cx, ACCEPTING).map(|r| {
            let io = r?.map_err(|e| broken(ACCEPTING, e))?;
            let _ = SockRef::from(&io).set_tcp_nodelay(true);
            Ok(TcpStream::from_registered(io))
        })
    }

    fn accept_busy(&self) -> &BusyFlag {
        &self.core.receive_busy
    }
}
