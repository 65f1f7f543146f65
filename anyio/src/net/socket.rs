//! The shared core of every socket type: one registered fd, closable from any handle,
//! that wakes the tasks blocked on it when it closes.
//!
//! # Invariants
//!
//! 1. The registration lives in `io` until the socket is closed; closing takes it out
//!    under the write lock and drops it (deregistering and closing the fd) before
//!    `close` returns, so the port or path is free when `aclose` returns.
//! 2. A task that returns `Pending` from [`SocketCore::poll_io`] has registered its waker
//!    in the direction's [`AtomicWaker`] while holding the read lock; `close` wakes both
//!    directions after taking the write lock, so that registration is seen: a task blocked
//!    when the socket closes is woken, and its next poll reports `ClosedResource`.
//! 3. Each direction has one waiting task at most (the stream's busy flags, or a listener's
//!    accept flag, make sure of it), so one waker slot per direction is enough.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use crate::backend::io::{Direction, Registered, SocketKind};
use socket2::{SockAddr, SockRef};

use crate::error::{Error, ErrorKind, Result};
use crate::streams::BusyFlag;
use crate::streams::bytes::{RECEIVE_LIMIT, broken, closed, eof, os_error};

/// Registers `socket`, which the caller has made non-blocking, with the backend that
/// serves a call made here.
///
/// # Errors
///
/// [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop) outside any async context;
/// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) on a tokio runtime without
/// its I/O driver; the OS error when registration fails.
pub(crate) fn register(socket: socket2::Socket, kind: SocketKind) -> Result<Registered> {
    Registered::on(crate::detect::current_backend()?, socket, kind)
}

/// What [`adopt`] checks of a socket a caller hands in (`from_std`) before registering it.
pub(crate) struct Expected {
    /// The socket type (stream or datagram).
    pub(crate) ty: socket2::Type,
    /// Whether the local address is of the right family.
    pub(crate) family: fn(&SockAddr) -> bool,
    /// The error message's tail when the type or the family is wrong ("not a UDP socket").
    pub(crate) wrong: &'static str,
    /// The socket must have a peer.
    pub(crate) connected: bool,
    /// The socket must be listening.
    pub(crate) listening: bool,
}

/// Checks `socket` against `expected`, makes it non-blocking and registers it as `kind`;
/// `what` (`"UdpSocket::from_std"`) starts the error messages.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] when a check fails; [`ErrorKind::Io`] from the OS; as
/// [`register`].
pub(crate) fn adopt(
    socket: socket2::Socket,
    expected: &Expected,
    kind: SocketKind,
    what: &'static str,
) -> Result<Arc<SocketCore>> {
    let family_ok = socket
        .local_addr()
        .map(|a| (expected.family)(&a))
        .unwrap_or(false);
    if socket.r#type().ok() != Some(expected.ty) || !family_ok {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what}: {}", expected.wrong),
        ));
    }
    if expected.connected {
        if let Err(e) = socket.peer_addr() {
            return Err(Error::with_source(
                ErrorKind::InvalidArgument,
                format!("{what}: the socket is not connected"),
                e,
            ));
        }
    }
    if expected.listening && !rustix::net::sockopt::socket_acceptconn(&socket).unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what}: the socket is not listening"),
        ));
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| os_error(format!("{what}: making the socket non-blocking"), e))?;
    SocketCore::open(socket, kind)
}

/// One socket, shared by every handle to it.
pub(crate) struct SocketCore {
    io: RwLock<Option<Registered>>,
    read_waker: AtomicWaker,
    write_waker: AtomicWaker,
    /// The receiving (or accepting) direction's busy flag.
    pub(crate) receive_busy: BusyFlag,
    /// The sending direction's busy flag.
    pub(crate) send_busy: BusyFlag,
    /// Set by `send_eof`: a later send is this side's mistake (`ClosedResource`), not the
    /// peer's.
    pub(crate) write_shut: AtomicBool,
}

impl fmt::Debug for SocketCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketCore")
            .field("io", &*self.read())
            .finish_non_exhaustive()
    }
}

impl SocketCore {
    pub(crate) fn new(io: Registered) -> SocketCore {
        SocketCore {
            io: RwLock::new(Some(io)),
            read_waker: AtomicWaker::new(),
            write_waker: AtomicWaker::new(),
            receive_busy: BusyFlag::new(),
            send_busy: BusyFlag::new(),
            write_shut: AtomicBool::new(false),
        }
    }

    /// Registers `socket` (already non-blocking) as `kind`: the core of a new handle.
    ///
    /// # Errors
    ///
    /// As [`register`].
    pub(crate) fn open(socket: socket2::Socket, kind: SocketKind) -> Result<Arc<SocketCore>> {
        Ok(Arc::new(SocketCore::new(register(socket, kind)?)))
    }

    /// The local (or, when `peer`, the peer's) address; `action` names the call in errors.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub(crate) fn sock_addr(&self, action: &'static str, peer: bool) -> Result<SockAddr> {
        self.with_fd(action, |fd| {
            let sock = SockRef::from(&fd);
            let addr = if peer {
                sock.peer_addr()
            } else {
                sock.local_addr()
            };
            addr.map_err(|e| os_error(action, e))
        })?
    }

    /// [`sock_addr`](Self::sock_addr) of an IP socket.
    ///
    /// # Errors
    ///
    /// As `sock_addr`; [`ErrorKind::Io`] for an address that is not an IP one.
    pub(crate) fn ip_addr(&self, action: &'static str, peer: bool) -> Result<SocketAddr> {
        self.sock_addr(action, peer)?
            .as_socket()
            .ok_or_else(|| Error::new(ErrorKind::Io, "not an IP socket address"))
    }

    fn read(&self) -> RwLockReadGuard<'_, Option<Registered>> {
        // A poisoned lock only means a panic elsewhere while it was held; the socket state
        // (Some or None) is still consistent.
        self.io.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the non-blocking syscall `op` when the socket is ready in `dir` (see
    /// [`Registered::poll_io`]). The outer error is `ClosedResource` (`action` names the
    /// operation); the inner one is the OS's.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        action: &'static str,
        op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<Result<io::Result<R>>> {
        let io = self.read();
        let Some(reg) = io.as_ref() else {
            return Poll::Ready(Err(closed(action)));
        };
        let polled = reg.poll_io(dir, cx, op);
        self.settle(dir, cx, polled)
    }

    /// Waits until the backend reports the socket ready in `dir`, running no syscall (see
    /// [`Registered::poll_ready`]); the error is `ClosedResource`, or the OS's inside.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        action: &'static str,
    ) -> Poll<Result<io::Result<()>>> {
        let io = self.read();
        let Some(reg) = io.as_ref() else {
            return Poll::Ready(Err(closed(action)));
        };
        let polled = reg.poll_ready(dir, cx);
        self.settle(dir, cx, polled)
    }

    /// Accepts a connection on a listening socket (see [`Registered::poll_accept`]): an OS
    /// error is `BrokenResource`, named by `action` as `ClosedResource` is.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        action: &'static str,
    ) -> Poll<Result<Registered>> {
        let io = self.read();
        let Some(reg) = io.as_ref() else {
            return Poll::Ready(Err(closed(action)));
        };
        let polled = reg.poll_accept(cx);
        self.settle(Direction::Read, cx, polled)
            .map(|r| r?.map_err(|e| broken(action, e)))
    }

    /// Called with the read lock held: on `Pending`, registers the waker (invariant 2).
    fn settle<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<Result<io::Result<R>>> {
        match polled {
            Poll::Ready(r) => Poll::Ready(Ok(r)),
            Poll::Pending => {
                self.waker(dir).register(cx.waker());
                Poll::Pending
            }
        }
    }

    fn waker(&self, dir: Direction) -> &AtomicWaker {
        match dir {
            Direction::Read => &self.read_waker,
            Direction::Write => &self.write_waker,
        }
    }

    /// Runs `f` on the open fd (socket options, addresses, shutdown).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`](crate::ErrorKind::ClosedResource) naming `action` once
    /// the socket is closed.
    pub(crate) fn with_fd<R>(
        &self,
        action: &'static str,
        f: impl FnOnce(BorrowedFd<'_>) -> R,
    ) -> Result<R> {
        let io = self.read();
        match io.as_ref() {
            Some(reg) => Ok(f(reg.as_fd())),
            None => Err(closed(action)),
        }
    }

    /// True once the socket is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.read().is_none()
    }

    /// Closes the socket: deregisters and closes the fd, then wakes the blocked tasks
    /// (invariants 1 and 2). Closing a closed socket does nothing.
    pub(crate) fn close(&self) {
        let taken = {
            let mut io = self.io.write().unwrap_or_else(|p| p.into_inner());
            io.take()
        };
        drop(taken);
        self.read_waker.wake();
        self.write_waker.wake();
    }
}

impl SocketCore {
    /// Offers the socket attributes ([`crate::net::attr`]) of the open socket; a closed
    /// socket provides none.
    pub(crate) fn provide_attributes(&self, request: &mut crate::streams::AttributeRequest<'_>) {
        use crate::net::attr::{
            Family, LocalAddress, LocalPath, LocalPort, RawSocket, RemoteAddress, RemotePath,
            RemotePort, SocketFamily,
        };
        use crate::net::unix::sockaddr_path;
        use std::os::fd::AsRawFd;
        let _ = self.with_fd("reading a socket attribute", |fd| {
            let sock = socket2::SockRef::from(&fd);
            let local = || sock.local_addr().ok();
            let remote = || sock.peer_addr().ok();
            request
                .provide_opt::<SocketFamily>(|| {
                    local().map(|a| {
                        if a.is_ipv6() {
                            Family::Inet6
                        } else if a.is_ipv4() {
                            Family::Inet
                        } else {
                            Family::Unix
                        }
                    })
                })
                .provide_opt::<LocalAddress>(|| local().and_then(|a| a.as_socket()))
                .provide_opt::<LocalPort>(|| local().and_then(|a| a.as_socket()).map(|a| a.port()))
                .provide_opt::<RemoteAddress>(|| remote().and_then(|a| a.as_socket()))
                .provide_opt::<RemotePort>(|| {
                    remote().and_then(|a| a.as_socket()).map(|a| a.port())
                })
                .provide_opt::<LocalPath>(|| local().and_then(|a| sockaddr_path(&a)))
                .provide_opt::<RemotePath>(|| remote().and_then(|a| sockaddr_path(&a)))
                .provide::<RawSocket>(|| fd.as_raw_fd());
        });
    }
}

// ---------------------------------------------------------------------------------------
// The byte-stream half shared by TCP and UNIX stream sockets.

/// The result of a stream read: 0 bytes is the peer's end of stream.
fn received(n: usize) -> Result<usize> {
    if n == 0 { Err(eof()) } else { Ok(n) }
}

impl SocketCore {
    /// `ByteReceiveStream::poll_receive` of a stream socket; `action` names it in errors.
    pub(crate) fn poll_stream_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        action: &'static str,
    ) -> Poll<Result<usize>> {
        self.poll_io(Direction::Read, cx, action, |fd| {
            rustix::io::read(fd, &mut *buf).map_err(io::Error::from)
        })
        .map(|r| r?.map_err(|e| broken(action, e)).and_then(received))
    }

    /// `ByteReceiveStream::poll_receive_vec` of a stream socket.
    pub(crate) fn poll_stream_receive_vec(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        buf: &mut Vec<u8>,
        action: &'static str,
    ) -> Poll<Result<()>> {
        let want = max_bytes.clamp(1, RECEIVE_LIMIT);
        if buf.capacity() < want {
            // `with_capacity` gives exactly `want`, so the read below takes at most that.
            *buf = Vec::with_capacity(want);
        }
        self.poll_io(Direction::Read, cx, action, |fd| {
            buf.clear();
            rustix::io::read(fd, rustix::buffer::spare_capacity(&mut *buf)).map_err(io::Error::from)
        })
        .map(|r| {
            let n = r?.map_err(|e| broken(action, e))?;
            received(n).map(drop)
        })
    }

    /// `ByteSendStream::poll_send` of a stream socket; `after_eof` is the error message of
    /// a send after `send_eof`.
    pub(crate) fn poll_stream_send(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        action: &'static str,
        after_eof: &'static str,
    ) -> Poll<Result<usize>> {
        // Relaxed: `send_eof` and a send are ordered by the program (or race, in which
        // case either outcome is right); the flag guards nothing else.
        if self.write_shut.load(Ordering::Relaxed) {
            return Poll::Ready(Err(Error::new(ErrorKind::ClosedResource, after_eof)));
        }
        if buf.is_empty() {
            return Poll::Ready(self.with_fd(action, |_| 0));
        }
        self.poll_io(Direction::Write, cx, action, |fd| {
            rustix::net::send(fd, buf, rustix::net::SendFlags::NOSIGNAL).map_err(io::Error::from)
        })
        .map(|r| r?.map_err(|e| broken(action, e)))
    }

    /// `ByteStream::poll_send_eof` of a stream socket: shuts the writing direction.
    pub(crate) fn stream_send_eof(&self, action: &'static str) -> Result<()> {
        // Relaxed: see `poll_stream_send`.
        self.write_shut.store(true, Ordering::Relaxed);
        self.with_fd(action, |fd| {
            match SockRef::from(&fd).shutdown(std::net::Shutdown::Write) {
                Ok(()) => Ok(()),
                // Already shut, or the peer is gone: nothing more to tell it.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                Err(e) => Err(broken(action, e)),
            }
        })?
    }
}

/// `ByteReceiveStream`, `ByteSendStream` and `ByteStream` for a stream socket type with a
/// `core: Arc<SocketCore>` field; `$name` ("TCP stream") names it in error messages.
macro_rules! byte_stream_impls {
    ($ty:ty, $name:literal) => {
        impl $crate::streams::ByteReceiveStream for $ty {
            fn poll_receive(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<$crate::Result<usize>> {
                self.core
                    .poll_stream_receive(cx, buf, concat!("receiving from a ", $name))
            }

            fn poll_receive_vec(
                &self,
                cx: &mut ::std::task::Context<'_>,
                max_bytes: usize,
                buf: &mut Vec<u8>,
            ) -> ::std::task::Poll<$crate::Result<()>> {
                self.core.poll_stream_receive_vec(
                    cx,
                    max_bytes,
                    buf,
                    concat!("receiving from a ", $name),
                )
            }

            fn receive_busy(&self) -> &$crate::streams::BusyFlag {
                &self.core.receive_busy
            }
        }

        impl $crate::streams::ByteSendStream for $ty {
            fn poll_send(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<$crate::Result<usize>> {
                self.core.poll_stream_send(
                    cx,
                    buf,
                    concat!("sending on a ", $name),
                    concat!("sending on a ", $name, " after send_eof"),
                )
            }

            fn send_busy(&self) -> &$crate::streams::BusyFlag {
                &self.core.send_busy
            }
        }

        impl $crate::streams::ByteStream for $ty {
            fn poll_send_eof(
                &self,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<$crate::Result<()>> {
                ::std::task::Poll::Ready(
                    self.core
                        .stream_send_eof(concat!("sending EOF on a ", $name)),
                )
            }
        }
    };
}
pub(crate) use byte_stream_impls;

/// The traits every socket handle type (with a `core: Arc<SocketCore>` field) implements
/// alike: `AsRawFd` (-1 once closed), the socket attributes, and closing through
/// `SharedResource` and `AsyncResource`.
macro_rules! socket_common {
    ($($ty:ty),* $(,)?) => {$(
        /// The raw fd, or -1 once closed.
        impl ::std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                self.core
                    .with_fd("", |fd| ::std::os::fd::AsRawFd::as_raw_fd(&fd))
                    .unwrap_or(-1)
            }
        }

        impl $crate::streams::TypedAttributeProvider for $ty {
            fn provide_attributes(&self, request: &mut $crate::streams::AttributeRequest<'_>) {
                self.core.provide_attributes(request);
            }
        }

        impl $crate::streams::SharedResource for $ty {
            fn poll_close(
                &self,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<$crate::Result<()>> {
                self.core.close();
                ::std::task::Poll::Ready(Ok(()))
            }
        }

        impl $crate::streams::AsyncResource for $ty {
            async fn aclose(&mut self) -> $crate::Result<()> {
                self.core.close();
                Ok(())
            }
        }
    )*};
}
pub(crate) use socket_common;

/// The inherent methods socket handle types (with a `core: Arc<SocketCore>` field) share,
/// each written once: `socket_methods!(TcpStream, "stream": aclose, is_closed, with_fd)`.
/// `$noun` ("stream", "listener", "socket") names the handle in the docs.
macro_rules! socket_methods {
    ($ty:ty, $noun:literal: $($method:ident),+ $(,)?) => {
        impl $ty {
            $($crate::net::socket::socket_methods!(@ $method $noun);)+
        }
    };
    (@aclose $noun:literal) => {
        #[doc = concat!(
            "Closes the ", $noun, " for every handle, waking the calls blocked on it (they ",
            "fail with [`ErrorKind::ClosedResource`](crate::ErrorKind::ClosedResource)); ",
            "returns once the fd is closed, so a port or path it held can be bound again ",
            "at once.\n\n",
            "# Cancellation\n\n",
            "Not a cancellation point: the ", $noun, " is closed even in a cancelled scope.",
            "\n\n# Errors\n\n",
            "None today; the signature leaves room for resources whose close can fail."
        )]
        pub async fn aclose(&self) -> $crate::Result<()> {
            self.core.close();
            Ok(())
        }
    };
    (@is_closed $noun:literal) => {
        #[doc = concat!("True once the ", $noun, " was closed (through any handle).")]
        pub fn is_closed(&self) -> bool {
            self.core.is_closed()
        }
    };
    (@with_fd $noun:literal) => {
        /// Runs `f` on the socket's fd, for options anyio has no method for.
        ///
        /// # Errors
        ///
        /// [`ErrorKind::ClosedResource`](crate::ErrorKind::ClosedResource) once closed.
        pub fn with_fd<R>(
            &self,
            f: impl FnOnce(::std::os::fd::BorrowedFd<'_>) -> R,
        ) -> $crate::Result<R> {
            self.core.with_fd("using the socket", f)
        }
    };
}
pub(crate) use socket_methods;
