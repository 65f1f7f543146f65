//! Readiness I/O on tokio's reactor, through its `net` types.
//!
//! A socket is registered as the tokio type of its kind (`TcpStream::from_std`,
//! `TcpListener::from_std`): those are tokio's safe ways in (its generic `AsyncFd`
//! constructor is `unsafe`). tokio's readiness is a cached bit set by its driver: it is
//! polled first, the syscall runs, and a `WouldBlock` clears it (`try_io`).

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

    fn poll_dir(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match (self, dir) {
            (TokioSocket::TcpStream(s), Direction::Read) => s.poll_read_ready(cx),
            (TokioSocket::TcpStream(s), Direction::Write) => s.poll_write_ready(cx),
            (TokioSocket::TcpListener(_), _) => Poll::Ready(Err(no_readiness())),
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
            ready!(self.poll_dir(dir, cx))?;
            let res = match self {
                TokioSocket::TcpStream(s) => s.try_io(interest, || op(s.as_fd())),
                TokioSocket::TcpListener(_) => Err(no_readiness()),
            };
            match res {
                // `try_io` cleared the stale readiness: poll again, which registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                res => return Poll::Ready(res),
            }
        }
    }

    pub(super) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<TokioSocket>> {
        match self {
            TokioSocket::TcpListener(l) => {
                let (stream, _addr) = ready!(l.poll_accept(cx))?;
                Poll::Ready(Ok(TokioSocket::TcpStream(stream)))
            }
            TokioSocket::TcpStream(_) => Poll::Ready(Err(io::Error::new(
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
        }
    }
}

fn no_readiness() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "tokio listeners offer no readiness API: use poll_accept",
    )
}
