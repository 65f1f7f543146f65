//! Readiness of raw file descriptors (AnyIO's `wait_readable`, `wait_writable` and
//! `notify_closing`): for sockets and pipes that anyio does not own, such as those of a
//! C library driven from async code.
//!
//! # How
//!
//! The fd is not registered with the backend's reactor itself: tokio offers no safe way to
//! register a borrowed fd (its `AsyncFd` constructors are `unsafe`), and registering would
//! change state the fd's owner shares (async-io's registration, tokio's non-blocking
//! check). Instead each wait creates a private level-triggered `epoll` instance, adds the
//! fd to it for the one direction, and registers *that* (an fd anyio owns, made
//! non-blocking) with the backend. The epoll instance is readable exactly while the fd is
//! ready in that direction (or has an error or hang-up), which `epoll_wait` with a zero
//! timeout checks without consuming anything. The fd's own flags are never touched.
//!
//! Linux and Android only (`epoll`).
//!
//! # Invariants
//!
//! 1. At most one task waits per fd and direction: the registry entry is the busy flag
//!    (a second waiter gets [`ErrorKind::BusyResource`], the first is unaffected).
//! 2. A waiter's entry lives exactly as long as its future; dropping the future (completed,
//!    cancelled or abandoned) removes the entry, so nothing is left behind.
//! 3. `notify_closing` removes the fd's entries, marks each closed and wakes it; a waiter
//!    registers its waker before it reads the mark, so the wake-up is never missed.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use rustix::event::{Timespec, epoll};

use crate::backend::io::{Direction, Registered, SocketKind};
use crate::error::{Error, ErrorKind, Result};
use crate::streams::bytes::{Gate, os_error};

/// One waiting task's mark and waker.
#[derive(Debug, Default)]
struct Waiter {
    closed: AtomicBool,
    waker: AtomicWaker,
}

/// The waiting tasks, by fd and direction (a few at a time: a list is enough).
static WAITERS: Mutex<Vec<(RawFd, Direction, Arc<Waiter>)>> = Mutex::new(Vec::new());

fn waiters() -> MutexGuard<'static, Vec<(RawFd, Direction, Arc<Waiter>)>> {
    // A poisoned lock only means a panic elsewhere while it was held; the list is intact.
    WAITERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registry entry, removed on drop (invariant 2).
struct Entry {
    waiter: Arc<Waiter>,
}

impl Entry {
    fn enter(fd: RawFd, dir: Direction) -> Result<Entry> {
        let mut list = waiters();
        if list.iter().any(|(f, d, _)| *f == fd && *d == dir) {
            let what = match dir {
                Direction::Read => "waiting for this fd to become readable",
                Direction::Write => "waiting for this fd to become writable",
            };
            return Err(Error::new(
                ErrorKind::BusyResource,
                format!("another task is already {what}"),
            ));
        }
        let waiter = Arc::new(Waiter::default());
        list.push((fd, dir, waiter.clone()));
        Ok(Entry { waiter })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Only this entry: after `notify_closing` another waiter may hold the same key.
        waiters().retain(|(_, _, w)| !Arc::ptr_eq(w, &self.waiter));
    }
}

/// A private epoll instance watching `fd` in `dir`, registered with the backend.
fn watch(fd: BorrowedFd<'_>, dir: Direction) -> Result<Registered> {
    let action = "watching an fd for readiness";
    let ep: OwnedFd = epoll::create(epoll::CreateFlags::CLOEXEC)
        .map_err(|e| os_error(action, io::Error::from(e)))?;
    let flags = match dir {
        Direction::Read => epoll::EventFlags::IN,
        Direction::Write => epoll::EventFlags::OUT,
    };
    epoll::add(&ep, fd, epoll::EventData::new_u64(0), flags).map_err(|e| {
        let e = io::Error::from(e);
        Error::with_source(
            if e.raw_os_error() == Some(libc::EPERM) {
                ErrorKind::InvalidArgument
            } else {
                ErrorKind::Io
            },
            "this fd cannot be waited on (a regular file or a directory, say)",
            e,
        )
    })?;
    let socket = socket2::Socket::from(ep);
    socket
        .set_nonblocking(true)
        .map_err(|e| os_error(action, e))?;
    crate::net::socket::register(socket, SocketKind::Fd)
}

/// Whether the watched fd is ready: one `epoll_wait` that does not block.
fn ready_now(ep: BorrowedFd<'_>) -> io::Result<()> {
    let mut events = Vec::with_capacity(1);
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let n = epoll::wait(ep, rustix::buffer::spare_capacity(&mut events), Some(&zero))?;
    if n == 0 {
        Err(io::ErrorKind::WouldBlock.into())
    } else {
        Ok(())
    }
}

/// The future of [`wait_readable`] and [`wait_writable`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitReady<'a> {
    fd: BorrowedFd<'a>,
    dir: Direction,
    /// The registry entry and the watching epoll instance, made on the first attempt.
    state: Option<(Entry, Registered)>,
    gate: Gate<'a>,
}

impl fmt::Debug for WaitReady<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitReady")
            .field("fd", &self.fd)
            .field("direction", &self.dir)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl Future for WaitReady<'_> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let (fd, dir, state) = (this.fd, this.dir, &mut this.state);
        this.gate.poll(cx, None, |cx| {
            let (entry, reg) = match state {
                Some((entry, reg)) => (&*entry, &*reg),
                None => {
                    let entry = Entry::enter(fd.as_raw_fd(), dir)?;
                    let reg = watch(fd, dir)?;
                    let (entry, reg) = state.insert((entry, reg));
                    (&*entry, &*reg)
                }
            };
            entry.waiter.waker.register(cx.waker());
            // Acquire: pairs with the Release in `notify_closing`; the waker was registered
            // first, so a close after this load wakes the task (invariant 3).
            if entry.waiter.closed.load(Ordering::Acquire) {
                return Poll::Ready(Err(Error::new(
                    ErrorKind::ClosedResource,
                    "the fd was closed (notify_closing) while a task waited on it",
                )));
            }
            reg.poll_io(Direction::Read, cx, ready_now).map(|r| {
                r.map_err(|e| Error::with_source(ErrorKind::Io, "waiting for fd readiness", e))
            })
        })
    }
}

fn wait(fd: BorrowedFd<'_>, dir: Direction) -> WaitReady<'_> {
    WaitReady {
        fd,
        dir,
        state: None,
        gate: Gate::new(),
    }
}

/// Waits until `fd` is readable (AnyIO's `wait_readable`): data or a connection is
/// waiting, the peer closed, or an error is pending.
///
/// # Cancellation
///
/// A checkpoint. Cancelling (or dropping) the wait leaves nothing registered.
///
/// # Errors
///
/// [`ErrorKind::BusyResource`] when another task is already waiting for `fd` to become
/// readable; [`ErrorKind::ClosedResource`] when [`notify_closing`] is called for `fd`
/// meanwhile; [`ErrorKind::InvalidArgument`] for an fd that cannot be polled (a regular
/// file); [`ErrorKind::Io`] from the OS; [`ErrorKind::NoEventLoop`] outside an async
/// context; [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
///
/// # anyio::run(|| async {
/// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
/// a.write_all(b"x")?;
/// anyio::net::wait_readable(b.as_fd()).await?;
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub fn wait_readable(fd: BorrowedFd<'_>) -> WaitReady<'_> {
    wait(fd, Direction::Read)
}

/// Waits until `fd` is writable (AnyIO's `wait_writable`): there is room to send, a
/// connect finished, or an error is pending.
///
/// # Cancellation
///
/// As [`wait_readable`].
///
/// # Errors
///
/// As [`wait_readable`], for the writing direction.
pub fn wait_writable(fd: BorrowedFd<'_>) -> WaitReady<'_> {
    wait(fd, Direction::Write)
}

/// Tells the tasks waiting on `fd` ([`wait_readable`], [`wait_writable`]) that it is about
/// to be closed (AnyIO's `notify_closing`): they wake with
/// [`ErrorKind::ClosedResource`]. Call it before closing an fd that a task may be waiting
/// on; waits that start afterwards are not affected.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use anyio::ErrorKind;
///
/// # anyio::run(|| async {
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let a = std::sync::Arc::new(a);
/// let err = anyio::task_group(|tg| async move {
///     let same = a.clone();
///     let waiter = tg.start_soon(async move {
///         Ok(anyio::net::wait_readable(same.as_fd()).await.unwrap_err().kind())
///     })?;
///     anyio::testing::wait_all_tasks_blocked().await?;
///     anyio::net::notify_closing(a.as_fd());
///     waiter.await
/// })
/// .await?;
/// assert_eq!(err, Some(ErrorKind::ClosedResource));
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub fn notify_closing(fd: BorrowedFd<'_>) {
    let raw = fd.as_raw_fd();
    let woken: Vec<Arc<Waiter>> = {
        let mut list = waiters();
        let mut woken = Vec::new();
        list.retain(|(f, _, w)| {
            if *f == raw {
                woken.push(w.clone());
                false
            } else {
                true
            }
        });
        woken
    };
    for w in woken {
        // Release: pairs with the Acquire in `wait`, after which the waiter reports the
        // close.
        w.closed.store(true, Ordering::Release);
        w.waker.wake();
    }
}
