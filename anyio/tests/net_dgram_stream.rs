//! Datagram sockets as `futures::Stream`s of received datagrams (`UdpSocket`,
//! `ConnectedUdpSocket`, `UnixDatagram`, `ConnectedUnixDatagram`): items with their
//! senders, errors as items, lossless under cancellation and abandonment, the busy flag
//! held for one poll only, close from another task — on both backends, real sockets.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::path::PathBuf;

use anyio::net::{
    ConnectedUnixDatagram, UdpSocket, create_connected_udp_socket, create_udp_socket,
    create_unix_datagram_socket,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use net_support::{Via, close_wakes, second_is_busy};

async fn bound() -> anyio::Result<UdpSocket> {
    create_udp_socket().local_host("127.0.0.1").await
}

fn item_kind<T: std::fmt::Debug>(item: Option<anyio::Result<T>>) -> ErrorKind {
    item.expect("datagram streams never end")
        .expect_err("expected an error")
        .kind()
}

#[anyio::test]
async fn udp_socket_streams_datagrams_with_their_senders() -> anyio::Result<()> {
    let mut server = bound().await?;
    let client = bound().await?;
    for word in [&b"one"[..], b"", b"three"] {
        client.send_to(word, server.local_addr()?).await?;
    }
    for word in [&b"one"[..], b"", b"three"] {
        let (data, from) = server.next().await.expect("never ends")?;
        assert_eq!((data.as_slice(), from), (word, client.local_addr()?));
    }
    Ok(())
}

#[anyio::test]
async fn connected_udp_socket_streams_datagrams() -> anyio::Result<()> {
    let server = bound().await?;
    let mut client = create_connected_udp_socket("127.0.0.1", server.local_addr()?.port()).await?;
    client.send(b"ping").await?;
    let (data, from) = server.receive().await?;
    server.send_to(&data, from).await?;
    server.send_to(b"pong", from).await?;
    let got: Vec<Vec<u8>> = (&mut client).take(2).try_collect().await?;
    assert_eq!(got, [b"ping".to_vec(), b"pong".to_vec()]);
    Ok(())
}

#[anyio::test]
async fn unix_datagram_streams_datagrams_with_their_paths() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (a_path, b_path) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = create_unix_datagram_socket().local_path(&a_path).await?;
    let b = create_unix_datagram_socket().local_path(&b_path).await?;
    let anon = create_unix_datagram_socket().await?;
    b.send_to(b"named", &a_path).await?;
    anon.send_to(b"anon", &a_path).await?;
    assert_eq!(a.next().await.expect("item")?, (b"named".to_vec(), b_path));
    assert_eq!(
        a.next().await.expect("item")?,
        (b"anon".to_vec(), PathBuf::new())
    );
    Ok(())
}

#[anyio::test]
async fn connected_unix_datagram_streams_large_datagrams_whole() -> anyio::Result<()> {
    let (tx, mut rx) = ConnectedUnixDatagram::pair()?;
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
    tx.send(&big).await?;
    tx.send(b"small").await?;
    assert_eq!(rx.next().await.expect("item")?, big);
    assert_eq!(rx.next().await.expect("item")?, b"small");
    Ok(())
}

/// A `next()` polled once and dropped takes nothing and holds no flag: a receive in
/// another task (on another handle) is not busy, is woken and gets the datagram; the
/// stream's next item is the datagram after it.
#[anyio::test]
async fn abandoned_next_reserves_nothing() -> anyio::Result<()> {
    let (tx, mut rx) = ConnectedUnixDatagram::pair()?;
    assert!(poll_once(rx.next()).await.is_none(), "waits");
    let other = rx.clone();
    task_group(|tg| async move {
        let h = tg.start_soon(async move { other.receive().await })?;
        wait_all_tasks_blocked().await?;
        tx.send(b"first").await?;
        assert_eq!(h.await?, b"first");
        assert!(poll_once(rx.next()).await.is_none(), "waits again");
        tx.send(b"second").await?;
        assert_eq!(rx.next().await.expect("item")?, b"second");
        anyio::Ok(())
    })
    .await?;
    let mut udp = bound().await?;
    let sender = bound().await?;
    assert!(poll_once(udp.next()).await.is_none(), "waits");
    sender.send_to(b"kept", udp.local_addr()?).await?;
    assert_eq!(udp.receive().await?.0, b"kept");
    Ok(())
}

#[anyio::test]
async fn next_while_another_task_receives_is_busy_the_first_unaffected() -> anyio::Result<()> {
    let (tx, rx) = ConnectedUnixDatagram::pair()?;
    let mut second = rx.clone();
    let (got, ()) = second_is_busy(
        async move { rx.receive().await },
        async { second.next().await.expect("datagram streams never end") },
        "receiving",
        tx.send(b"to the first"),
    )
    .await?;
    assert_eq!(got, b"to the first");
    Ok(())
}

#[anyio::test]
async fn close_wakes_a_waiting_next_with_closed_resource() -> anyio::Result<()> {
    let mut udp = bound().await?;
    let closer = udp.clone();
    close_wakes(
        async move { udp.next().await.expect("datagram streams never end") },
        closer.aclose(),
    )
    .await?;
    let (_tx, mut rx) = ConnectedUnixDatagram::pair()?;
    rx.aclose().await?;
    assert_eq!(item_kind(rx.next().await), ErrorKind::ClosedResource);
    assert_eq!(
        item_kind(rx.next().await),
        ErrorKind::ClosedResource,
        "and again: the stream reports the close, it does not end"
    );
    Ok(())
}

#[anyio::test]
async fn next_in_a_cancelled_scope_takes_nothing() -> anyio::Result<()> {
    let (tx, mut rx) = ConnectedUnixDatagram::pair()?;
    tx.send(b"stays").await?;
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope
        .run(async { rx.next().await.expect("never ends") })
        .await;
    assert!(matches!(r, Ok(None)), "cancelled: {r:?}");
    assert_eq!(rx.next().await.expect("item")?, b"stays");
    Ok(())
}

/// 5,000 numbered datagrams over a connected pair, consumed with `next()` under random
/// short deadlines: each arrives exactly once, in order (see
/// `net_support::paced_datagrams_arrive_once`).
#[anyio::test(timeout = 180)]
async fn random_cancellation_of_next_loses_no_datagram() -> anyio::Result<()> {
    net_support::paced_datagrams_arrive_once(5_000, Via::Next, (0x57e4, 0xace)).await
}
