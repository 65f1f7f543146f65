//! Abandonment, for every blocking future in `anyio::net`: each is polled once (it waits),
//! then dropped — what `tokio::time::timeout(d, fut)` or a losing `select!` branch does —
//! and the test shows that nothing was taken or reserved: the next call gets the data, the
//! connection or the datagram, and a second waiter in another task is not `BusyResource`
//! (and is the one woken).
//!
//! Every test runs on both backends, with real sockets.

mod support;

use std::future::{Future, IntoFuture};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use anyio::net::{
    ConnectedUnixDatagram, TcpListener, TcpStream, UnixListener, UnixStream, connect_tcp,
    connect_unix, create_connected_udp_socket, create_tcp_listener, create_udp_socket,
    create_unix_listener, wait_readable, wait_writable,
};
use anyio::streams::{ByteReceiveStream, ByteStream, Listener};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{ErrorKind, task_group};
use futures_lite::future::poll_once;

/// Polls `fut` once, asserts that it waits, and drops it.
async fn abandon<F: Future>(what: &str, fut: F) {
    assert!(
        poll_once(Box::pin(fut)).await.is_none(),
        "{what} should wait when polled once"
    );
}

async fn tcp_pair() -> anyio::Result<(TcpListener, TcpStream, TcpStream)> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let l = listener.listeners()[0].clone();
    let client = connect_tcp("127.0.0.1", l.local_addr()?.port()).await?;
    let server = l.accept().await?;
    Ok((l, client, server))
}

async fn unix_pair(dir: &std::path::Path) -> anyio::Result<(UnixListener, UnixStream, UnixStream)> {
    let path = dir.join("s");
    let listener = create_unix_listener(&path).await?;
    let client = connect_unix(&path).await?;
    let server = listener.accept().await?;
    Ok((listener, client, server))
}

/// `receive` and `receive_into`, abandoned; then a receive in another task (on another
/// handle) is not busy, is the one woken, and gets every byte.
async fn stream_receive_abandoned<S>(client: S, server: S) -> anyio::Result<()>
where
    S: ByteStream + Clone + Send + Sync + 'static,
{
    abandon("receive", server.receive(10)).await;
    let mut buf = [0u8; 10];
    abandon("receive_into", server.receive_into(&mut buf)).await;
    assert!(!server.receive_busy().is_busy(), "no flag left behind");
    let second = server.clone();
    let got = task_group(|tg| async move {
        let h = tg.start_soon(async move {
            let mut got = Vec::new();
            while got.len() < 10 {
                got.extend(second.receive(64).await?);
            }
            anyio::Ok(got)
        })?;
        wait_all_tasks_blocked().await?;
        client.send(b"every byte").await?;
        h.await
    })
    .await?;
    assert_eq!(got.unwrap(), b"every byte");
    Ok(())
}

/// A `send` too large for the socket buffer, abandoned after its first poll (which wrote a
/// prefix: trio's caveat, documented on `send`); then a send in another task is not busy
/// and its bytes follow that prefix, uncorrupted.
async fn stream_send_abandoned<S>(client: S, server: S) -> anyio::Result<()>
where
    S: ByteStream + Clone + Send + Sync + 'static,
{
    let big: Vec<u8> = (0..32 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    abandon("send of 32 MiB", client.send(&big)).await;
    assert!(!client.send_busy().is_busy(), "no flag left behind");
    let second = client.clone();
    let received = task_group(|tg| async move {
        tg.start_soon(async move {
            second.send(b"tail").await?;
            second.send_eof().await
        })?;
        let mut got = Vec::new();
        loop {
            match server.receive(65536).await {
                Ok(chunk) => got.extend(chunk),
                Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                Err(e) => return Err(e),
            }
        }
        anyio::Ok(got)
    })
    .await?
    .unwrap();
    let (prefix, tail) = received.split_at(received.len() - 4);
    assert_eq!(tail, b"tail");
    assert!(
        !prefix.is_empty() && prefix.len() < big.len(),
        "a part was written"
    );
    assert_eq!(
        prefix,
        &big[..prefix.len()],
        "the abandoned send wrote a prefix, whole"
    );
    Ok(())
}

#[anyio::test]
async fn tcp_receive_abandoned_reserves_nothing() -> anyio::Result<()> {
    let (_l, client, server) = tcp_pair().await?;
    stream_receive_abandoned(client, server).await
}

#[anyio::test]
async fn tcp_send_abandoned_reserves_nothing() -> anyio::Result<()> {
    let (_l, client, server) = tcp_pair().await?;
    stream_send_abandoned(client, server).await
}

#[anyio::test]
async fn unix_receive_abandoned_reserves_nothing() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = unix_pair(dir.path()).await?;
    stream_receive_abandoned(client, server).await
}

#[anyio::test]
async fn unix_send_abandoned_reserves_nothing() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = unix_pair(dir.path()).await?;
    stream_send_abandoned(client, server).await
}

/// `accept`, abandoned; then an accept in another task takes the next connection, which
/// is the client's (the abandoned accept took none).
async fn accept_abandoned<L, S, C, F>(listener: L, connect: C) -> anyio::Result<()>
where
    L: Listener<S> + Clone + Send + Sync + 'static,
    S: ByteStream + Send + 'static,
    C: FnOnce() -> F,
    F: Future<Output = anyio::Result<S>>,
{
    abandon("accept", listener.accept()).await;
    assert!(!listener.accept_busy().is_busy(), "no flag left behind");
    let second = listener.clone();
    task_group(|tg| async move {
        let h = tg.start_soon(async move { second.accept().await })?;
        wait_all_tasks_blocked().await?;
        let client = connect().await?;
        let server = h.await?;
        client.send(b"hello").await?;
        assert_eq!(server.receive(64).await?, b"hello");
        // The abandoned accept left no connection half-taken: nothing else is queued.
        abandon("a second accept", listener.accept()).await;
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn tcp_accept_abandoned_takes_nothing() -> anyio::Result<()> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let l = listener.listeners()[0].clone();
    let port = l.local_addr()?.port();
    accept_abandoned(l, move || connect_tcp("127.0.0.1", port).into_future()).await
}

#[anyio::test]
async fn unix_accept_abandoned_takes_nothing() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("l");
    let l = create_unix_listener(&path).await?;
    accept_abandoned(l, move || connect_unix(path)).await
}

#[anyio::test]
async fn udp_receive_abandoned_takes_nothing() -> anyio::Result<()> {
    let server = create_udp_socket().local_host("127.0.0.1").await?;
    let client = create_connected_udp_socket("127.0.0.1", server.local_addr()?.port()).await?;
    abandon("UDP receive", server.receive()).await;
    abandon("connected UDP receive", client.receive()).await;
    let (second_server, second_client) = (server.clone(), client.clone());
    task_group(|tg| async move {
        let h = tg.start_soon(async move { second_server.receive().await })?;
        wait_all_tasks_blocked().await?;
        client.send(b"one").await?;
        let (data, from) = h.await?;
        assert_eq!(data, b"one");
        let h = tg.start_soon(async move { second_client.receive().await })?;
        wait_all_tasks_blocked().await?;
        server.send_to(b"two", from).await?;
        assert_eq!(h.await?, b"two");
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// A datagram send on a full queue, abandoned: that datagram is not sent (whole or
/// nothing), and a send in another task goes through once the queue drains.
#[anyio::test]
async fn datagram_send_abandoned_sends_nothing() -> anyio::Result<()> {
    let (tx, rx) = ConnectedUnixDatagram::pair()?;
    // The first send awaits (tokio learns the socket's readiness from its driver), the
    // rest are polled once each until the queue is full.
    tx.send(&0u32.to_le_bytes()).await?;
    let mut queued = 1u32;
    // Fill the peer's queue: the first send that waits is the abandoned one.
    while let Some(r) = poll_once(Box::pin(tx.send(&queued.to_le_bytes()))).await {
        r?;
        queued += 1;
    }
    let second = tx.clone();
    task_group(|tg| async move {
        tg.start_soon(async move { second.send(b"after").await })?;
        wait_all_tasks_blocked().await?;
        for i in 0..queued {
            assert_eq!(rx.receive().await?, i.to_le_bytes());
        }
        // Not the abandoned datagram (number `queued`): the other task's.
        assert_eq!(rx.receive().await?, b"after");
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn receive_fds_abandoned_takes_nothing() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = unix_pair(dir.path()).await?;
    abandon("receive_fds", server.receive_fds(10, 1)).await;
    assert!(!server.receive_busy().is_busy(), "no flag left behind");
    let mut file = tempfile::tempfile()?;
    file.write_all(b"passed")?;
    let second = server.clone();
    let (msg, fds) = task_group(|tg| async move {
        let h = tg.start_soon(async move { second.receive_fds(10, 1).await })?;
        wait_all_tasks_blocked().await?;
        client.send_fds(b"fd", &[file.as_fd()]).await?;
        h.await
    })
    .await?
    .unwrap();
    assert_eq!(msg, b"fd");
    let fd: OwnedFd = fds.into_iter().next().expect("one fd");
    let mut got = std::fs::File::from(fd);
    use std::io::Seek;
    got.rewind()?;
    let mut text = String::new();
    got.read_to_string(&mut text)?;
    assert_eq!(text, "passed");
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[anyio::test]
async fn wait_readable_and_writable_abandoned_leave_nothing() -> anyio::Result<()> {
    let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
    abandon("wait_readable", wait_readable(b.as_fd())).await;
    // The registry entry went with the future: a second waiter is not busy.
    let b = Arc::new(b);
    let reader = b.clone();
    task_group(|tg| async move {
        let h = tg.start_soon(async move { wait_readable(reader.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        a.write_all(b"x")?;
        h.await?;
        let mut buf = [0u8; 1];
        (&*b).read_exact(&mut buf)?;
        assert_eq!(&buf, b"x", "the waits consumed nothing");
        anyio::Ok(())
    })
    .await?;
    // Writable: fill a non-blocking socket's buffer, abandon a wait, then wait again.
    let (c, d) = std::os::unix::net::UnixStream::pair()?;
    c.set_nonblocking(true)?;
    let mut filled = 0usize;
    loop {
        match (&c).write(&[0u8; 65536]) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.into()),
        }
    }
    abandon("wait_writable", wait_writable(c.as_fd())).await;
    let c = Arc::new(c);
    let writer = c.clone();
    task_group(|tg| async move {
        let h = tg.start_soon(async move { wait_writable(writer.as_fd()).await })?;
        wait_all_tasks_blocked().await?;
        let mut sink = vec![0u8; filled];
        (&d).read_exact(&mut sink)?;
        h.await
    })
    .await?;
    Ok(())
}
