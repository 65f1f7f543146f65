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
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::AtomicBool;
use std::sync::{RwLock, RwLockReadGuard};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use crate::backend::io::{Direction, Registered, SocketKind};
use crate::error::Result;
use crate::streams::BusyFlag;
use crate::streams::bytes::closed;

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

    /// Accepts a connection on a listening socket (see [`Registered::poll_accept`]).
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        action: &'static str,
    ) -> Poll<Result<io::Result<Registered>>> {
        let io = self.read();
        let Some(reg) = io.as_ref() else {
            return Poll::Ready(Err(closed(action)));
        };
        let polled = reg.poll_accept(cx);
        self.settle(Direction::Read, cx, polled)
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
