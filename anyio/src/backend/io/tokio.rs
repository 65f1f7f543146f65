//! Readiness I/O on tokio's reactor, through its `net` types.
//!
//! A socket is registered as the tokio type of its kind (`TcpStream::from_std`,
//! `UdpSocket::from_std`, `UnixStream::from_std`, ...): those are tokio's safe ways in (its
//! generic `AsyncFd` constructor is `unsafe`). An fd registered for readiness only
//! ([`SocketKind::Fd`], the private epoll instance of `net::fd`) goes in as a
//! `UdpSocket`: tokio's `UdpSocket` is a thin `epoll` registration whose readiness API
//! works on any pollable fd, and nothing but readiness is ever asked of it. tokio's readiness is a cached bit set by its driver: the
//! syscall runs while it is set, a `WouldBlock` clears it (`try_io`), and polling it
//! registers the waker.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll, ready};

use ::tokio::io::Interest;
use ::tokio::net;
use socket2::Socket;

use super::{Direction, SocketKind};
use crate::error::{Error, ErrorKind, Result};

/// A socket registered with tokio's I/O driver.
pub(super) enum TokioSocket {
    TcpStream(net::TcpStream),
    TcpListener(net::TcpListener),
    /// A UDP socket, or (as [`SocketKind::Fd`]) an fd watched for readiness only.
    Udp(net::UdpSocket),
    UnixStream(net::UnixStream),
    UnixListener(net::UnixListener),
    UnixDatagram(net::UnixDatagram),
}

impl TokioSocket {
    /// Registers `socket` (already non-blocking) as `kind`.
    ///
    /// tokio panics when its I/O driver is off ("IO is disabled"); the panic is caught and
    /// becomes an error, as for timers (`backend::tokio::sleep_until`).
    pub(super) fn register(socket: Socket, kind: SocketKind) -> Result<TokioSocket> {
        let register = AssertUnwindSafe(move || match kind {
            SocketKind::TcpStream => {
                net::TcpStream::from_std(socket.into()).map(TokioSocket::TcpStream)
            }
            SocketKind::TcpListener => {
                net::TcpListener::from_std(socket.into()).map(TokioSocket::TcpListener)
            }
            SocketKind::UdpSocket | SocketKind::Fd => {
                net::UdpSocket::from_std(socket.into()).map(TokioSocket::Udp)
            }
            SocketKind::UnixStream => {
                net::UnixStream::from_std(socket.into()).map(TokioSocket::UnixStream)
            }
            SocketKind::UnixListener => {
                net::UnixListener::from_std(socket.into()).map(TokioSocket::UnixListener)
            }
            SocketKind::UnixDatagram => {
                net::UnixDatagram::from_std(socket.into()).map(TokioSocket::UnixDatagram)
            }
        });
        #[cfg(panic = "unwind")]
        let registered = std::panic::catch_unwind(register).map_err(|_| {
            Error::new(
                ErrorKind::InvalidState,
                "registering a socket on a tokio runtime without its I/O driver: call \
                 enable_io() (or enable_all()) on the runtime Builder",
            )
        })?;
        #[cfg(not(panic = "unwind"))]
        let registered = register();
        registered
            .map_err(|e| Error::with_source(ErrorKind::Io, "registering a socket with tokio", e))
    }

    pub(super) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match (self, dir) {
            (TokioSocket::TcpStream(s), Direction::Read) => s.poll_read_ready(cx),
            (TokioSocket::TcpStream(s), Direction::Write) => s.poll_write_ready(cx),
            (TokioSocket::Udp(s), Direction::Read) => s.poll_recv_ready(cx),
            (TokioSocket::Udp(s), Direction::Write) => s.poll_send_ready(cx),
            (TokioSocket::UnixStream(s), Direction::Read) => s.poll_read_ready(cx),
            (TokioSocket::UnixStream(s), Direction::Write) => s.poll_write_ready(cx),
            (TokioSocket::UnixDatagram(s), Direction::Read) => s.poll_recv_ready(cx),
            (TokioSocket::UnixDatagram(s), Direction::Write) => s.poll_send_ready(cx),
            (TokioSocket::TcpListener(_) | TokioSocket::UnixListener(_), _) => {
                Poll::Ready(Err(no_readiness()))
            }
        }
    }

    pub(super) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let interest = match dir {
            Direction::Read => Interest::READABLE,
            Direction::Write => Interest::WRITABLE,
        };
        loop {
            // `try_io` runs `op` only when tokio has readiness cached (and clears it on
            // `WouldBlock`), so trying first saves a readiness poll whenever the socket is
            // ready; `poll_ready` then registers the waker, or reports fresh readiness.
            let res = match self {
                TokioSocket::TcpStream(s) => s.try_io(interest, || op(s.as_fd())),
                TokioSocket::Udp(s) => s.try_io(interest, || op(s.as_fd())),
                TokioSocket::UnixStream(s) => s.try_io(interest, || op(s.as_fd())),
                TokioSocket::UnixDatagram(s) => s.try_io(interest, || op(s.as_fd())),
                TokioSocket::TcpListener(_) | TokioSocket::UnixListener(_) => Err(no_readiness()),
            };
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                res => return Poll::Ready(res),
            }
            ready!(self.poll_ready(dir, cx))?;
        }
    }

    pub(super) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<TokioSocket>> {
        match self {
            TokioSocket::TcpListener(l) => {
                let (stream, _addr) = ready!(l.poll_accept(cx))?;
                Poll::Ready(Ok(TokioSocket::TcpStream(stream)))
            }
            TokioSocket::UnixListener(l) => {
                let (stream, _addr) = ready!(l.poll_accept(cx))?;
                Poll::Ready(Ok(TokioSocket::UnixStream(stream)))
            }
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "accepting on a socket that is not a listener",
            ))),
        }
    }
}

impl AsFd for TokioSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            TokioSocket::TcpStream(s) => s.as_fd(),
            TokioSocket::TcpListener(l) => l.as_fd(),
            TokioSocket::Udp(s) => s.as_fd(),
            TokioSocket::UnixStream(s) => s.as_fd(),
            TokioSocket::UnixListener(l) => l.as_fd(),
            TokioSocket::UnixDatagram(s) => s.as_fd(),
        }
    }
}

fn no_readiness() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "tokio listeners offer no readiness API: use poll_accept",
    )
}
