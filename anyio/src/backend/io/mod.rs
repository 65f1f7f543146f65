//! Readiness I/O: the part of the backend contract that sockets (and, later, pipes) use.
//!
//! The contract is three operations and nothing more:
//!
//! 1. **register** ([`Registered::on`]): hand a non-blocking socket built above the
//!    backend (with `socket2`) to a backend (the caller detects which one serves it:
//!    `crate::net::socket::register`);
//! 2. **poll readiness and run a syscall** ([`Registered::poll_io`]): run a non-blocking
//!    syscall on the socket's fd when the backend says it may succeed; a `WouldBlock`
//!    clears the readiness and registers the task's waker, so the caller gets `Pending`;
//!    [`Registered::poll_ready`] is the readiness half alone, for a connect, which is
//!    checked only after its event;
//! 3. **accept** ([`Registered::poll_accept`]): the one operation tokio offers only as a
//!    whole (its listeners have no readiness API), so it is part of the contract too.
//!
//! Everything else — which syscall, how errors map, TCP_NODELAY, happy eyeballs, DNS — is
//! written once, above this module, on the [`BorrowedFd`] that `poll_io` lends.
//!
//! tokio registers a socket through its `net` types' `from_std` (its generic `AsyncFd`
//! constructor is `unsafe` since 1.5x, and this crate forbids `unsafe`); smol through
//! async-io's `Async`. Dropping a [`Registered`] deregisters the socket and closes its fd.

#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll};

use crate::backend::Backend;
use crate::error::Result;

/// Which readiness an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The fd is readable (data, a pending connection, end of stream or an error).
    Read,
    /// The fd is writable (room in the send buffer, a finished connect, or an error).
    Write,
}

/// What a socket is, which tokio needs to pick the type it registers it as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// A TCP stream, connected or with a connect in progress.
    TcpStream,
    /// A listening TCP socket.
    TcpListener,
    /// A UDP socket, connected or not.
    UdpSocket,
    /// A UNIX stream socket, connected or with a connect in progress.
    UnixStream,
    /// A listening UNIX stream socket.
    UnixListener,
    /// A UNIX datagram socket, connected or not.
    UnixDatagram,
    /// Any pollable fd watched for readiness only (no accept): the private epoll instance
    /// behind `net::fd::wait_readable`.
    Fd,
}

/// A socket registered with one backend's reactor.
///
/// # Invariant
///
/// The fd stays open and registered for the value's whole life; dropping it deregisters
/// and closes the fd, in that order.
pub(crate) struct Registered {
    inner: Inner,
}

enum Inner {
    #[cfg(feature = "tokio")]
    Tokio(tokio::TokioSocket),
    #[cfg(feature = "smol")]
    Smol(::async_io::Async<socket2::Socket>),
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("backend", &self.backend())
            .field("fd", &self.as_fd())
            .finish()
    }
}

impl Registered {
    /// Registers `socket`, which the caller has made non-blocking, with `backend`'s reactor.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) on a tokio runtime
    /// without its I/O driver; the OS error when registration fails.
    #[cfg_attr(not(feature = "tokio"), allow(unused_variables))] // `kind` is tokio's
    pub(crate) fn on(
        backend: Backend,
        socket: socket2::Socket,
        kind: SocketKind,
    ) -> Result<Registered> {
        let inner = match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => Inner::Tokio(tokio::TokioSocket::register(socket, kind)?),
            #[cfg(feature = "smol")]
            // async-io registers any fd alike: the kind matters to tokio only.
            Backend::Smol => Inner::Smol(smol::register(socket)?),
        };
        Ok(Registered { inner })
    }

    /// The backend this socket is registered with.
    pub(crate) fn backend(&self) -> Backend {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(_) => Backend::Tokio,
            #[cfg(feature = "smol")]
            Inner::Smol(_) => Backend::Smol,
        }
    }

    /// Runs the non-blocking syscall `op` once the socket is ready in `dir`: `Ready` with
    /// its result unless it reports `WouldBlock`, in which case the readiness is cleared,
    /// `cx`'s waker is registered for the next readiness event and `Pending` returned.
    ///
    /// `op` may run several times in one call (once per stale readiness event); it must
    /// consume data only when it succeeds.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(s) => s.poll_io(dir, cx, op),
            #[cfg(feature = "smol")]
            Inner::Smol(s) => smol::poll_io(s, dir, cx, op),
        }
    }

    /// Reports the socket ready in `dir` (an event since it was registered, or since the
    /// readiness was last cleared), without running a syscall; otherwise registers `cx`'s
    /// waker and returns `Pending`. For what must wait for the event first: a
    /// non-blocking connect is checked only once the socket is writable.
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(s) => s.poll_ready(dir, cx),
            #[cfg(feature = "smol")]
            Inner::Smol(s) => smol::poll_ready(s, dir, cx),
        }
    }

    /// Accepts a connection on a listening socket registered as
    /// [`SocketKind::TcpListener`] (or [`SocketKind::UnixListener`]): the new socket comes
    /// registered with the same backend, as a [`SocketKind::TcpStream`] (or
    /// [`SocketKind::UnixStream`]). A connection is taken from the kernel only in the
    /// call that returns it.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Registered>> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(s) => s.poll_accept(cx).map_ok(|s| Registered {
                inner: Inner::Tokio(s),
            }),
            #[cfg(feature = "smol")]
            Inner::Smol(s) => smol::poll_accept(s, cx).map_ok(|s| Registered {
                inner: Inner::Smol(s),
            }),
        }
    }
}

impl AsFd for Registered {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio(s) => s.as_fd(),
            #[cfg(feature = "smol")]
            Inner::Smol(s) => s.get_ref().as_fd(),
        }
    }
}
