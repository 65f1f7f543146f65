//! Readiness of raw fds: `wait_readable`, `wait_writable`, `notify_closing` (AnyIO's
//! lowlevel socket functions, tests/test_sockets.py's `test_wait_socket` and
//! `test_notify_closing` translated), on both backends, with real sockets and pipes whose
//! fds anyio does not own — blocking ones included.
#![cfg(any(target_os = "linux", target_os = "android"))]

mod support;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use anyio::net::{notify_closing, wait_readable, wait_writable};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::future::poll_once;
use support::kind;

fn nonblocking(s: &UnixStream) -> bool {
    socket2::SockRef::from(s).nonblocking().unwrap()
}

#[anyio::test]
async fn readable_wakes_when_data_arrives() -> anyio::Result<()> {
    let (mut a, b) = UnixStream::pair()?; // blocking fds
    let b = Arc::new(b);
    let reader = b.clone();
    task_group(|tg| async move {
        let waiter = tg.start_soon(async move { wait_readable(reader.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        a.write_all(b"x")?;
        waiter.await?;
        let mut buf = [0u8; 1];
        (&*b).read_exact(&mut buf)?;
        assert_eq!(&buf, b"x", "the wait consumed nothing");
        assert!(!nonblocking(&b), "the fd's flags are untouched");
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn already_ready_returns_at_once() -> anyio::Result<()> {
    let (mut a, b) = UnixStream::pair()?;
    a.write_all(b"x")?;
    wait_readable(b.as_fd()).await?;
    wait_readable(b.as_fd()).await?; // still readable: level, not edge
    wait_writable(a.as_fd()).await?;
    Ok(())
}

#[anyio::test]
async fn writable_wakes_when_the_peer_drains() -> anyio::Result<()> {
    let (a, b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    // Fill the send buffer.
    let chunk = [0u8; 65536];
    let mut filled = 0usize;
    loop {
        match (&a).write(&chunk) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.into()),
        }
    }
    let a = Arc::new(a);
    let writer = a.clone();
    task_group(|tg| async move {
        let waiter = tg.start_soon(async move { wait_writable(writer.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        let mut sink = vec![0u8; filled];
        (&b).read_exact(&mut sink)?;
        waiter.await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn pipes_work_too() -> anyio::Result<()> {
    let (r, w) = rustix::pipe::pipe().unwrap();
    wait_writable(w.as_fd()).await?;
    let r = Arc::new(r);
    let reader = r.clone();
    task_group(|tg| async move {
        let waiter = tg.start_soon(async move { wait_readable(reader.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        rustix::io::write(&w, b"p").unwrap();
        waiter.await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn hang_up_is_readable() -> anyio::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let b = Arc::new(b);
    let reader = b.clone();
    task_group(|tg| async move {
        let waiter = tg.start_soon(async move { wait_readable(reader.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        drop(a);
        waiter.await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn notify_closing_wakes_both_directions() -> anyio::Result<()> {
    let (a, _b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    let chunk = [0u8; 65536];
    while (&a).write(&chunk).is_ok() {}
    let a = Arc::new(a);
    let (r, w) = (a.clone(), a.clone());
    let (rk, wk) = task_group(|tg| async move {
        let reader =
            tg.start_soon(async move { anyio::Ok(kind(wait_readable(r.as_fd()).await)) })?;
        let writer =
            tg.start_soon(async move { anyio::Ok(kind(wait_writable(w.as_fd()).await)) })?;
        wait_all_tasks_blocked().await?;
        notify_closing(a.as_fd());
        Ok((reader.await?, writer.await?))
    })
    .await?
    .unwrap();
    assert_eq!(
        (rk, wk),
        (ErrorKind::ClosedResource, ErrorKind::ClosedResource)
    );
    Ok(())
}

#[anyio::test]
async fn notify_closing_affects_only_current_waiters() -> anyio::Result<()> {
    let (mut a, b) = UnixStream::pair()?;
    notify_closing(b.as_fd()); // nobody waits: nothing happens
    a.write_all(b"x")?;
    wait_readable(b.as_fd()).await?;
    Ok(())
}

#[anyio::test]
async fn second_waiter_is_busy_first_unaffected() -> anyio::Result<()> {
    let (mut a, b) = UnixStream::pair()?;
    let b = Arc::new(b);
    let reader = b.clone();
    task_group(|tg| async move {
        let first = tg.start_soon(async move { wait_readable(reader.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(
            kind(wait_readable(b.as_fd()).await),
            ErrorKind::BusyResource
        );
        // The other direction is free.
        wait_writable(b.as_fd()).await?;
        a.write_all(b"x")?;
        first.await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn cancelled_and_abandoned_waits_leave_nothing() -> anyio::Result<()> {
    let (mut a, b) = UnixStream::pair()?;
    assert!(
        poll_once(Box::pin(wait_readable(b.as_fd())))
            .await
            .is_none()
    );
    let b = Arc::new(b);
    let reader = b.clone();
    let scope = CancelScope::new();
    let remote = scope.clone();
    task_group(|tg| async move {
        let h = tg.start_soon(async move { scope.run(wait_readable(reader.as_fd())).await })?;
        wait_all_tasks_blocked().await?;
        remote.cancel();
        assert!(h.await?.is_none(), "cancelled");
        anyio::Ok(())
    })
    .await?;
    // Not busy: neither the abandoned nor the cancelled wait left an entry.
    a.write_all(b"x")?;
    wait_readable(b.as_fd()).await?;
    Ok(())
}

#[anyio::test]
async fn regular_files_cannot_be_waited_on() -> anyio::Result<()> {
    let f = tempfile::tempfile()?;
    assert_eq!(
        kind(wait_readable(f.as_fd()).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(wait_writable(f.as_fd()).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}
