//! Processes: the part of the backend contract that `anyio::process` uses.
//!
//! Two things are backend-specific and nothing else:
//!
//! 1. **the child** ([`Child`]): spawning a `std::process::Command` built above the backend
//!    and waiting for its exit — tokio's `process::Child` (reaped by tokio's SIGCHLD
//!    driver) or async-process's `Child` (reaped by its reaper);
//! 2. **the pipes** ([`Pipe`]): an OS pipe end registered with the reactor — tokio's
//!    `net::unix::pipe` types or async-io's `Async<File>`.
//!
//! The pipes are created above the backend (`rustix::pipe`, close-on-exec), so every stdio
//! choice — including stderr merged into stdout — is made once; the backend only
//! registers the parent's ends. Both backends are asked to kill a child whose handle is
//! dropped and to reap it in the background, so a dropped child never stays a zombie.

#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::task::{Context, Poll};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};

/// A spawned child process of one backend.
pub(crate) enum Child {
    #[cfg(feature = "tokio")]
    Tokio(::tokio::process::Child),
    #[cfg(feature = "smol")]
    Smol(smol::SmolChild),
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").finish_non_exhaustive()
    }
}

impl Child {
    /// Spawns `cmd` with the standard streams `stdio` (in, out, err) on `backend`, asking
    /// the backend to kill and reap the child if this handle is dropped while it runs.
    ///
    /// # Errors
    ///
    /// The OS error of the spawn (kind [`ErrorKind::Io`], or
    /// [`ErrorKind::InvalidArgument`] for an invalid input); [`ErrorKind::InvalidState`] on
    /// a tokio runtime without its I/O driver.
    pub(crate) fn spawn(
        backend: Backend,
        cmd: std::process::Command,
        stdio: [std::process::Stdio; 3],
    ) -> Result<(Child, u32)> {
        let spawned = match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => tokio::spawn(cmd, stdio)?.map(|c| {
                let pid = c.id().unwrap_or(0);
                (Child::Tokio(c), pid)
            }),
            #[cfg(feature = "smol")]
            Backend::Smol => smol::spawn(cmd, stdio).map(|c| {
                let pid = c.id();
                (Child::Smol(c), pid)
            }),
        };
        spawned.map_err(|e| {
            let kind = match e.kind() {
                io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
                _ => ErrorKind::Io,
            };
            Error::with_source(kind, "spawning a child process", e)
        })
    }

    /// Reaps the child if it has exited, without waiting.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            #[cfg(feature = "tokio")]
            Child::Tokio(c) => c.try_wait(),
            #[cfg(feature = "smol")]
            Child::Smol(c) => c.try_wait(),
        }
    }

    /// Waits for the child's exit and reaps it; `Pending` registers `cx`'s waker.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        match self {
            #[cfg(feature = "tokio")]
            Child::Tokio(c) => tokio::poll_wait(c, cx),
            #[cfg(feature = "smol")]
            Child::Smol(c) => c.poll_wait(cx),
        }
    }
}

/// The parent's end of a pipe to a child, registered with one backend's reactor.
///
/// # Invariant
///
/// The fd is open and registered for the value's whole life; dropping it deregisters and
/// closes it.
pub(crate) struct Pipe {
    inner: PipeInner,
}

enum PipeInner {
    #[cfg(feature = "tokio")]
    TokioReader(::tokio::net::unix::pipe::Receiver),
    #[cfg(feature = "tokio")]
    TokioWriter(::tokio::net::unix::pipe::Sender),
    #[cfg(feature = "smol")]
    Smol(::async_io::Async<std::fs::File>),
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipe").finish_non_exhaustive()
    }
}

impl Pipe {
    /// Registers the read end `fd` of a pipe with `backend` (it is made non-blocking).
    pub(crate) fn reader(backend: Backend, fd: OwnedFd) -> Result<Pipe> {
        let inner = match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => PipeInner::TokioReader(tokio::reader(fd)?),
            #[cfg(feature = "smol")]
            Backend::Smol => PipeInner::Smol(smol::register(fd)?),
        };
        Ok(Pipe { inner })
    }

    /// Registers the write end `fd` of a pipe with `backend` (it is made non-blocking).
    pub(crate) fn writer(backend: Backend, fd: OwnedFd) -> Result<Pipe> {
        let inner = match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => PipeInner::TokioWriter(tokio::writer(fd)?),
            #[cfg(feature = "smol")]
            Backend::Smol => PipeInner::Smol(smol::register(fd)?),
        };
        Ok(Pipe { inner })
    }

    /// Reads into `buf` once the pipe is readable; data is taken only when this returns
    /// `Ready(Ok(n))` (`n == 0` is the end of the stream).
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            PipeInner::TokioReader(r) => tokio::poll_read(r, cx, buf),
            #[cfg(feature = "tokio")]
            PipeInner::TokioWriter(_) => Poll::Ready(Err(wrong_direction())),
            #[cfg(feature = "smol")]
            PipeInner::Smol(a) => smol::poll_read(a, cx, buf),
        }
    }

    /// Writes a prefix of `buf` once the pipe is writable; returns how much was written.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &self.inner {
            #[cfg(feature = "tokio")]
            PipeInner::TokioWriter(w) => tokio::poll_write(w, cx, buf),
            #[cfg(feature = "tokio")]
            PipeInner::TokioReader(_) => Poll::Ready(Err(wrong_direction())),
            #[cfg(feature = "smol")]
            PipeInner::Smol(a) => smol::poll_write(a, cx, buf),
        }
    }
}

#[cfg(feature = "tokio")]
fn wrong_direction() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "this pipe end has the other direction",
    )
}
