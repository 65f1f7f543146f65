//! Processes on smol: async-process children, async-io `Async<File>` pipe ends.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::{Context, Poll, ready};

use async_io::Async;

use crate::error::{Error, ErrorKind, Result};

type StatusFuture = Pin<Box<dyn Future<Output = io::Result<ExitStatus>> + Send>>;

/// An async-process child and, while someone waits, its status future (async-process's
/// `status()` future is `'static`, so it is made once per wait, not once per poll).
pub(crate) struct SmolChild {
    child: async_process::Child,
    status: Option<StatusFuture>,
}

pub(super) fn spawn(
    cmd: std::process::Command,
    [stdin, stdout, stderr]: [std::process::Stdio; 3],
) -> io::Result<SmolChild> {
    // async-process forgets the std command's stdio (it defaults to inherit): set it here.
    let mut cmd = async_process::Command::from(cmd);
    cmd.stdin(stdin).stdout(stdout).stderr(stderr);
    cmd.kill_on_drop(true).reap_on_drop(true);
    cmd.spawn().map(|child| SmolChild {
        child,
        status: None,
    })
}

impl SmolChild {
    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_status()
    }

    pub(super) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let child = &mut self.child;
        let status = self.status.get_or_insert_with(|| Box::pin(child.status()));
        let res = ready!(status.as_mut().poll(cx));
        self.status = None;
        Poll::Ready(res)
    }
}

pub(super) fn register(fd: OwnedFd) -> Result<Async<File>> {
    Async::new(File::from(fd))
        .map_err(|e| Error::with_source(ErrorKind::Io, "registering a pipe with async-io", e))
}

// async-io's readiness is one-shot: try the syscall first, poll readiness after
// `WouldBlock` (the pattern of `Async::read_with`).
pub(super) fn poll_read(
    a: &Async<File>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        match (&mut a.get_ref()).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            res => return Poll::Ready(res),
        }
        ready!(a.poll_readable(cx))?;
    }
}

pub(super) fn poll_write(
    a: &Async<File>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    loop {
        match (&mut a.get_ref()).write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            res => return Poll::Ready(res),
        }
        ready!(a.poll_writable(cx))?;
    }
}
