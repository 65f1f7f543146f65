//! Processes on tokio: `tokio::process` children, `tokio::net::unix::pipe` ends.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::process::ExitStatus;
use std::task::{Context, Poll, ready};

use ::tokio::net::unix::pipe::{Receiver, Sender};
use ::tokio::process::{Child, Command};

use crate::error::{Error, ErrorKind, Result};

/// tokio panics when its I/O (and so its signal) driver is off; the panic becomes an
/// error, as for sockets (`backend::io::tokio`).
fn no_panic<T>(what: &'static str, f: impl FnOnce() -> T) -> Result<T> {
    #[cfg(panic = "unwind")]
    return std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        Error::new(
            ErrorKind::InvalidState,
            format!(
                "{what} on a tokio runtime without its I/O driver: call enable_io() (or \
                 enable_all()) on the runtime Builder"
            ),
        )
    });
    #[cfg(not(panic = "unwind"))]
    {
        let _ = what;
        Ok(AssertUnwindSafe(f)())
    }
}

pub(super) fn spawn(
    cmd: std::process::Command,
    [stdin, stdout, stderr]: [std::process::Stdio; 3],
) -> Result<io::Result<Child>> {
    no_panic("spawning a child process", move || {
        let mut cmd = Command::from(cmd);
        cmd.stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        cmd.spawn()
    })
}

pub(super) fn poll_wait(child: &mut Child, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
    // `wait` is cancel safe and keeps its SIGCHLD registration in the child, so a fresh
    // future per poll loses nothing (stdin was never given to tokio: nothing is dropped).
    std::pin::pin!(child.wait()).poll(cx)
}

fn register_error(e: io::Error) -> Error {
    Error::with_source(ErrorKind::Io, "registering a pipe with tokio", e)
}

pub(super) fn reader(fd: OwnedFd) -> Result<Receiver> {
    no_panic("registering a pipe", move || Receiver::from_owned_fd(fd))?.map_err(register_error)
}

pub(super) fn writer(fd: OwnedFd) -> Result<Sender> {
    no_panic("registering a pipe", move || Sender::from_owned_fd(fd))?.map_err(register_error)
}

// tokio's readiness is cached: try the syscall first, poll readiness only after
// `WouldBlock` (which `try_read`/`try_write` turn into cleared readiness).
pub(super) fn poll_read(
    r: &Receiver,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        match r.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            res => return Poll::Ready(res),
        }
        ready!(r.poll_read_ready(cx))?;
    }
}

pub(super) fn poll_write(w: &Sender, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    loop {
        match w.try_write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            res => return Poll::Ready(res),
        }
        ready!(w.poll_write_ready(cx))?;
    }
}
