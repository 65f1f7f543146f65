//! Readiness I/O on async-io's reactor: `Async<Socket>`.
//!
//! async-io's readiness is one-shot and edge-tracked by reactor ticks: `poll_readable`
//! reports an event delivered since the last call, so the syscall is tried first and the
//! readiness polled only after a `WouldBlock` (the pattern of `Async::read_with`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll, ready};

use async_io::Async;
use socket2::Socket;

use super::Direction;
use crate::error::{Error, ErrorKind, Result};

pub(super) fn register(socket: Socket) -> Result<Async<Socket>> {
    Async::new_nonblocking(socket)
        .map_err(|e| Error::with_source(ErrorKind::Io, "registering a socket with async-io", e))
}

pub(super) fn poll_ready(
    s: &Async<Socket>,
    dir: Direction,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    match dir {
        Direction::Read => s.poll_readable(cx),
        Direction::Write => s.poll_writable(cx),
    }
}

pub(super) fn poll_io<R>(
    s: &Async<Socket>,
    dir: Direction,
    cx: &mut Context<'_>,
    mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        match op(s.get_ref().as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            res => return Poll::Ready(res),
        }
        ready!(poll_ready(s, dir, cx))?;
    }
}

pub(super) fn poll_accept(
    s: &Async<Socket>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Async<Socket>>> {
    let flags = rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC;
    let fd = ready!(poll_io(s, Direction::Read, cx, |fd| {
        rustix::net::accept_with(fd, flags).map_err(io::Error::from)
    }))?;
    Poll::Ready(Async::new_nonblocking(Socket::from(fd)))
}
