//! TCP streams and listeners: AnyIO's tests/test_sockets.py (the TCP parts) translated,
//! plus what upstream never tests — lossless cancellation of `receive` and `accept`
//! (random and abandoned), close from another task for every blocking call, and the
//! happy-eyeballs fallback against a really black-holed address.
//!
//! Every test runs on both backends, with real sockets on 127.0.0.1 and, where the host
//! has it, ::1 (IPv6 cases return early, saying so, when ::1 is absent). Order comes from
//! `wait_all_tasks_blocked` and the sockets themselves, never from sleeps.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::net::attr::{
    Family, LocalAddress, LocalPort, RawSocket, RemoteAddress, RemotePort, SocketFamily,
};
use anyio::net::{
    ConnectErrors, TcpListener, TcpStream, connect_tcp, connect_tcp_addrs, create_tcp_listener,
    getaddrinfo, getnameinfo,
};
use anyio::streams::{
    ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource, TypedAttributeProvider,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::future::poll_once;
use net_support::{close_wakes, on_ipv6, receive_all, second_is_busy};
use support::{Rng, kind};

/// A listener on `host` (IP literal) and its port.
async fn listener_on(host: &str) -> anyio::Result<(anyio::net::MultiListener<TcpListener>, u16)> {
    let listener = create_tcp_listener().local_host(host).await?;
    let port = listener.listeners()[0].local_addr()?.port();
    Ok((listener, port))
}

/// A connected pair (client, server) over `host`.
async fn pair(host: &str) -> anyio::Result<(TcpStream, TcpStream)> {
    let (listener, port) = listener_on(host).await?;
    let client = connect_tcp(host, port).await?;
    let server = listener.accept().await?;
    Ok((client, server))
}

/// A port nothing listens on (bound, then closed).
fn closed_port(ip: &str) -> SocketAddr {
    let l = std::net::TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------
// Sending and receiving.

async fn round_trip(host: &str) -> anyio::Result<()> {
    let (client, server) = pair(host).await?;
    client.send(b"blah").await?;
    assert_eq!(server.receive(100).await?, b"blah");
    server.send(b"halb").await?;
    let mut buf = [0u8; 16];
    let n = client.receive_into(&mut buf).await?;
    assert_eq!(&buf[..n], b"halb");
    Ok(())
}

net_support::on_both_families!(send_receive_ipv4, send_receive_ipv6, round_trip);

#[anyio::test]
async fn receive_returns_at_most_max_bytes() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    client.send(b"abcdef").await?;
    let mut got = Vec::new();
    while got.len() < 6 {
        let chunk = server.receive(4).await?;
        assert!(!chunk.is_empty() && chunk.len() <= 4);
        got.extend(chunk);
    }
    assert_eq!(got, b"abcdef");
    Ok(())
}

#[anyio::test]
async fn receive_zero_max_bytes_is_invalid() -> anyio::Result<()> {
    let (_client, server) = pair("127.0.0.1").await?;
    assert_eq!(kind(server.receive(0).await), ErrorKind::InvalidArgument);
    let mut empty = [0u8; 0];
    assert_eq!(
        kind(server.receive_into(&mut empty).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn send_eof_ends_the_peer_stream_and_keeps_receiving() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    net_support::send_eof_ends_one_direction(client, server).await
}

#[anyio::test]
async fn large_send_writes_everything() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    net_support::large_send_arrives_whole(client, server, 8 * 1024 * 1024).await
}

#[anyio::test]
async fn peer_reset_is_broken_resource() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let server = listener.accept().await?;
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer); // RST
    let err = loop {
        match server.receive(10).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::BrokenResource);
    let io = err
        .source_as::<std::io::Error>()
        .expect("the io::Error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
    Ok(())
}

#[anyio::test]
async fn boxed_dyn_byte_stream_works() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let boxed: Box<dyn ByteStream> = Box::new(client);
    boxed.send(b"via dyn").await?;
    assert_eq!(server.receive(64).await?, b"via dyn");
    let port = anyio::streams::bytes::extra::<RemotePort>(&*boxed)?;
    assert_eq!(port, server.local_addr()?.port());
    boxed.aclose().await?;
    assert_eq!(kind(server.receive(64).await), ErrorKind::EndOfStream);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Typed attributes.

async fn attributes(host: &str, family: Family) -> anyio::Result<()> {
    use std::os::fd::AsRawFd;
    let (listener, port) = listener_on(host).await?;
    let client = connect_tcp(host, port).await?;
    let server = listener.accept().await?;
    let ip: std::net::IpAddr = host.parse().unwrap();

    assert_eq!(listener.extra::<SocketFamily>()?, family);
    assert_eq!(listener.extra::<LocalAddress>()?, SocketAddr::new(ip, port));
    assert_eq!(listener.extra::<LocalPort>()?, port);
    assert_eq!(
        listener.extra::<RawSocket>()?,
        listener.listeners()[0].as_raw_fd()
    );
    assert_eq!(
        kind(listener.extra::<RemoteAddress>()),
        ErrorKind::TypedAttributeLookup
    );

    assert_eq!(client.extra::<SocketFamily>()?, family);
    assert_eq!(client.extra::<RemoteAddress>()?, SocketAddr::new(ip, port));
    assert_eq!(client.extra::<RemotePort>()?, port);
    assert_eq!(
        client.extra::<LocalAddress>()?,
        server.extra::<RemoteAddress>()?
    );
    assert_eq!(client.extra::<LocalPort>()?, server.extra::<RemotePort>()?);
    assert_eq!(client.extra::<RawSocket>()?, client.as_raw_fd());

    client.aclose().await?;
    assert_eq!(
        kind(client.extra::<LocalPort>()),
        ErrorKind::TypedAttributeLookup
    );
    assert_eq!(client.as_raw_fd(), -1);
    Ok(())
}

#[anyio::test]
async fn attributes_ipv4() -> anyio::Result<()> {
    attributes("127.0.0.1", Family::Inet).await
}

#[anyio::test]
async fn attributes_ipv6() -> anyio::Result<()> {
    on_ipv6(|host| attributes(host, Family::Inet6)).await
}

#[anyio::test]
async fn nodelay_on_connected_and_accepted_streams() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    for s in [&client, &server] {
        let on = s.with_fd(|fd| socket2::SockRef::from(&fd).tcp_nodelay().unwrap())?;
        assert!(on);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Closing.

#[anyio::test]
async fn close_from_another_task_wakes_receive() -> anyio::Result<()> {
    let (client, _server) = pair("127.0.0.1").await?;
    let closer = client.clone();
    close_wakes(async move { client.receive(10).await }, closer.aclose()).await
}

#[anyio::test]
async fn close_from_another_task_wakes_accept() -> anyio::Result<()> {
    let (listener, _port) = listener_on("127.0.0.1").await?;
    let listener = Arc::new(listener);
    let closer = listener.clone();
    close_wakes(async move { listener.accept().await }, closer.aclose()).await
}

#[anyio::test]
async fn close_from_another_task_wakes_send() -> anyio::Result<()> {
    let (client, _server) = pair("127.0.0.1").await?;
    let closer = client.clone();
    let big = vec![0u8; 64 * 1024 * 1024]; // more than the socket buffers hold
    close_wakes(async move { client.send(&big).await }, closer.aclose()).await
}

#[anyio::test]
async fn operations_after_close_are_closed_resource() -> anyio::Result<()> {
    let (client, _server) = pair("127.0.0.1").await?;
    let other = client.clone();
    client.aclose().await?;
    client.aclose().await?; // again: nothing
    assert!(other.is_closed(), "closing one handle closes all");
    assert_eq!(kind(other.receive(10).await), ErrorKind::ClosedResource);
    assert_eq!(kind(other.send(b"x").await), ErrorKind::ClosedResource);
    assert_eq!(kind(other.send_eof().await), ErrorKind::ClosedResource);
    assert_eq!(kind(other.local_addr()), ErrorKind::ClosedResource);

    let (listener, _) = listener_on("127.0.0.1").await?;
    listener.aclose().await?;
    assert_eq!(kind(listener.accept().await), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn aclose_frees_the_port_at_once() -> anyio::Result<()> {
    let listener = create_tcp_listener()
        .local_host("127.0.0.1")
        .await?
        .into_listeners()
        .remove(0);
    let addr = listener.local_addr()?;
    let bind_plain = || {
        // No SO_REUSEADDR: only a closed socket leaves the port free.
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&addr.into()).and_then(|()| s.listen(1))
    };
    assert!(
        bind_plain().is_err(),
        "the port is in use while the listener is open"
    );
    listener.aclose().await?;
    bind_plain().expect("the port is free once aclose returned");
    Ok(())
}

#[anyio::test]
async fn dropping_the_last_handle_closes_the_socket() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let clone = client.clone();
    drop(client);
    clone.send(b"still open").await?;
    assert_eq!(server.receive(64).await?, b"still open");
    drop(clone);
    assert_eq!(kind(server.receive(64).await), ErrorKind::EndOfStream);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Busy.

#[anyio::test]
async fn second_receiver_is_busy_first_unaffected() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let first = server.clone();
    let (got, ()) = second_is_busy(
        async move { first.receive(64).await },
        server.receive(10),
        "receiving",
        client.send(b"for the first"),
    )
    .await?;
    assert_eq!(got, b"for the first");
    Ok(())
}

#[anyio::test]
async fn second_sender_is_busy() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let first = client.clone();
    let big = vec![7u8; 32 * 1024 * 1024];
    let len = big.len();
    let drain = async {
        let mut got = 0;
        while got < len {
            got += server.receive(65536).await?.len();
        }
        Ok(())
    };
    second_is_busy(
        async move { first.send(&big).await },
        client.send(b"x"),
        "sending",
        drain,
    )
    .await?;
    Ok(())
}

#[anyio::test]
async fn second_acceptor_is_busy() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let listener = Arc::new(listener);
    let first = listener.clone();
    second_is_busy(
        async move { first.accept().await },
        listener.accept(),
        "accepting",
        connect_tcp("127.0.0.1", port).into_future(),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Cancellation loses nothing.

#[anyio::test]
async fn abandoned_receive_reserves_nothing() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    net_support::abandoned_receives_take_nothing(&client, &server).await
}

#[anyio::test]
async fn abandoned_send_leaves_the_stream_usable() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let big = vec![1u8; 32 * 1024 * 1024]; // cannot fit: the send goes pending
    assert!(poll_once(client.send(&big)).await.is_none());
    // Not busy any more: a new send works, and arrives after what the abandoned one wrote.
    let all = task_group(|tg| async move {
        tg.start_soon(async move {
            client.send(b"after").await?;
            client.send_eof().await
        })?;
        receive_all(&server).await
    })
    .await?
    .unwrap();
    let prefix = &all[..all.len() - 5];
    assert_eq!(&all[all.len() - 5..], b"after");
    assert!(
        !prefix.is_empty() && prefix.len() < big.len(),
        "{}",
        prefix.len()
    );
    assert!(prefix.iter().all(|b| *b == 1));
    Ok(())
}

#[anyio::test]
async fn abandoned_accept_takes_no_connection() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    assert!(poll_once(listener.accept()).await.is_none());
    let client = connect_tcp("127.0.0.1", port).await?;
    let server = listener.accept().await?;
    assert_eq!(server.peer_addr()?, client.local_addr()?);
    Ok(())
}

#[anyio::test]
async fn cancelled_receive_before_data_then_data_arrives() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    let scope = CancelScope::new();
    let remote = scope.clone();
    let srv = server.clone();
    let out = task_group(|tg| async move {
        let h = tg.start_soon(async move { scope.run(srv.receive(10)).await })?;
        wait_all_tasks_blocked().await?;
        remote.cancel();
        let r = h.await?;
        assert!(r.is_none(), "the receive was cancelled");
        client.send(b"kept").await?;
        server.receive(10).await
    })
    .await?;
    assert_eq!(out.unwrap(), b"kept");
    Ok(())
}

/// 4 MiB under random receive deadlines: every byte arrives once, in order (see
/// `net_support::random_cancellation_loses_no_byte`).
#[anyio::test(timeout = 120)]
async fn random_cancellation_loses_no_byte() -> anyio::Result<()> {
    let (client, server) = pair("127.0.0.1").await?;
    net_support::random_cancellation_loses_no_byte(client, server, 4 * 1024 * 1024, 0x5eed).await
}

/// Connections arrive while `accept` runs under random deadlines: each is accepted once.
#[anyio::test(timeout = 120)]
async fn random_cancellation_loses_no_connection() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let count = 200;
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    let cancels = task_group(|tg| async move {
        tg.start_soon(async move {
            let mut clients = Vec::new();
            for _ in 0..count {
                clients.push(connect_tcp("127.0.0.1", port).await?);
            }
            // Keep them open until every one was accepted.
            for c in &clients {
                let _ = c.receive(1).await;
            }
            anyio::Ok(())
        })?;
        let mut rng = Rng::new(42);
        let mut cancels = 0u64;
        let mut servers = Vec::new();
        while servers.len() < count {
            let timeout = Duration::from_micros(rng.below(200));
            match anyio::move_on_after(timeout, listener.accept()).await? {
                Some(s) => {
                    seen.fetch_add(1, Ordering::Relaxed);
                    servers.push(s);
                }
                None => cancels += 1,
            }
        }
        // Nothing more is pending.
        assert!(poll_once(listener.accept()).await.is_none());
        for s in &servers {
            s.aclose().await?;
        }
        Ok(cancels)
    })
    .await?
    .unwrap();
    println!("accepted {count} connections through {cancels} cancelled accepts");
    assert_eq!(accepted.load(Ordering::Relaxed), count);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Connecting: bad input, errors, happy eyeballs.

#[anyio::test]
async fn connect_to_port_zero_is_invalid() -> anyio::Result<()> {
    assert_eq!(
        kind(connect_tcp("127.0.0.1", 0).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(connect_tcp_addrs([]).await),
        ErrorKind::InvalidArgument
    );
    let zero = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
    assert_eq!(
        kind(connect_tcp_addrs([zero]).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn refused_connection_keeps_its_io_error_kind() -> anyio::Result<()> {
    let addr = closed_port("127.0.0.1");
    let err = connect_tcp("127.0.0.1", addr.port()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let io = err.source_as::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    Ok(())
}

#[anyio::test]
async fn every_failed_address_is_reported() -> anyio::Result<()> {
    let mut addrs = vec![closed_port("127.0.0.1"), closed_port("127.0.0.1")];
    if net_support::ipv6_available() {
        addrs.push(closed_port("::1"));
    }
    let err = connect_tcp_addrs(addrs.clone()).await.unwrap_err();
    let all = err
        .source_as::<ConnectErrors>()
        .expect("a ConnectErrors source");
    let mut tried: Vec<_> = all.errors().iter().map(|(a, _)| *a).collect();
    tried.sort();
    addrs.sort();
    assert_eq!(tried, addrs);
    for (_, e) in all.errors() {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    Ok(())
}

#[anyio::test]
async fn a_failure_starts_the_next_attempt_at_once() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let open = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    // An hour of stagger: only the failure of the first can start the second in time.
    let stream = connect_tcp_addrs([closed_port("127.0.0.1"), open])
        .happy_eyeballs_delay(Duration::from_secs(3600))
        .await?;
    assert_eq!(stream.peer_addr()?, open);
    let _server = listener.accept().await?;
    Ok(())
}

#[anyio::test]
async fn losers_are_closed_before_connect_returns() -> anyio::Result<()> {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [a.local_addr().unwrap(), b.local_addr().unwrap()];
    let stream = connect_tcp_addrs(addrs)
        .happy_eyeballs_delay(Duration::ZERO)
        .await?;
    let winner = stream.peer_addr()?;
    let loser = if winner == addrs[0] { &b } else { &a };
    loser.set_nonblocking(true).unwrap();
    match loser.accept() {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        Ok((mut conn, _)) => {
            // The loser's connection was made, then closed: its end is already sent.
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut buf = [0u8; 1];
            assert_eq!(conn.read(&mut buf).unwrap(), 0, "the loser is closed");
        }
    }
    Ok(())
}

/// A `[::1]` listener with `listen(0)` and one un-accepted client: Linux drops further
/// SYNs to it, so a connect there hangs (about two minutes) instead of failing. Returns
/// `None` (and says why) where this host cannot make one.
fn black_hole_v6(port_hint: u16) -> Option<(socket2::Socket, std::net::TcpStream)> {
    if !net_support::ipv6_available() {
        eprintln!("skipped: no ::1 on this host");
        return None;
    }
    let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).ok()?;
    let addr: SocketAddr = format!("[::1]:{port_hint}").parse().unwrap();
    s.bind(&addr.into()).ok()?;
    s.listen(0).ok()?;
    let local = s.local_addr().ok()?.as_socket()?;
    let filler = std::net::TcpStream::connect(local).ok()?;
    // Is it really a black hole here? A non-blocking probe must stay in progress.
    let probe = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).ok()?;
    probe.set_nonblocking(true).ok()?;
    let _ = probe.connect(&local.into());
    std::thread::sleep(Duration::from_millis(300)); // a probe of the host, not an ordering
    if probe.peer_addr().is_ok() || probe.take_error().ok().flatten().is_some() {
        eprintln!("skipped: this kernel does not drop SYNs to a full listen queue");
        return None;
    }
    Some((s, filler))
}

#[anyio::test]
async fn happy_eyeballs_falls_back_from_a_black_holed_address() -> anyio::Result<()> {
    let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = v4.local_addr().unwrap().port();
    let Some((_hole, _filler)) = black_hole_v6(port) else {
        return Ok(());
    };
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let v4_addr = v4.local_addr().unwrap();
    let started = Instant::now();
    // IPv6 is tried first, hangs, and after the stagger IPv4 wins.
    let stream = connect_tcp_addrs([v4_addr, v6]).await?;
    let took = started.elapsed();
    assert_eq!(stream.peer_addr()?, v4_addr);
    // Generous: without the race, the IPv6 attempt alone would take about two minutes.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    println!("fell back to IPv4 in {took:?}");
    Ok(())
}

#[anyio::test]
async fn cancelled_connect_returns_and_closes() -> anyio::Result<()> {
    let Some((_hole, _filler)) = black_hole_v6(0) else {
        return Ok(());
    };
    let target = _hole.local_addr().unwrap().as_socket().unwrap();
    let out = anyio::move_on_after(
        Duration::from_millis(100),
        connect_tcp_addrs([target]).into_future(),
    )
    .await?;
    assert!(out.is_none());
    Ok(())
}

/// `connect_tcp` to an IP literal (the path that skips the resolver), polled once and
/// dropped: whatever it started is closed — a connection it got into the listener's queue
/// reads as ended, never hangs — and the next connect is unaffected.
#[anyio::test]
async fn abandoned_connect_to_an_ip_literal_closes_its_socket() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let abandoned = futures_lite::future::poll_once(connect_tcp("127.0.0.1", port).into_future());
    // Ready (loopback can connect at once) or pending: either way the stream is dropped.
    drop(abandoned.await);
    let client = connect_tcp("127.0.0.1", port).await?;
    client.send(b"live").await?;
    let mut closed_before = 0;
    loop {
        let server = listener.accept().await?;
        match server.receive(16).await {
            Ok(data) => {
                assert_eq!(data, b"live");
                break;
            }
            Err(e) => {
                assert!(
                    matches!(e.kind(), ErrorKind::EndOfStream | ErrorKind::BrokenResource),
                    "the abandoned connection reads as closed, not {e}"
                );
                closed_before += 1;
            }
        }
    }
    assert!(
        closed_before <= 1,
        "one abandoned connect, at most one closed connection"
    );
    Ok(())
}

#[anyio::test]
async fn connect_binds_local_host_and_port() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let free = closed_port("127.0.0.1").port();
    let stream = connect_tcp("127.0.0.1", port)
        .local_host("127.0.0.1")
        .local_port(free)
        .await?;
    assert_eq!(stream.local_addr()?.port(), free);
    let server = listener.accept().await?;
    assert_eq!(server.peer_addr()?.port(), free);
    Ok(())
}

#[anyio::test]
async fn connect_by_name() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let stream = connect_tcp("localhost", port).await?;
    assert!(stream.peer_addr()?.ip().is_loopback());
    let _ = listener.accept().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Listeners.

#[anyio::test]
async fn listener_without_host_accepts_both_families() -> anyio::Result<()> {
    let listener = create_tcp_listener().await?;
    assert_eq!(listener.listeners().len(), 1);
    let port = listener.listeners()[0].local_addr()?.port();
    let c4 = connect_tcp("127.0.0.1", port).await?;
    let s4 = listener.accept().await?;
    assert_eq!(s4.peer_addr()?.port(), c4.local_addr()?.port());
    if net_support::ipv6_available() {
        let c6 = connect_tcp("::1", port).await?;
        let s6 = listener.accept().await?;
        assert_eq!(s6.peer_addr()?, c6.local_addr()?);
    }
    Ok(())
}

#[anyio::test]
async fn listener_on_a_name_uses_one_port_everywhere() -> anyio::Result<()> {
    let listener = create_tcp_listener().local_host("localhost").await?;
    let ports: Vec<u16> = listener
        .listeners()
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<anyio::Result<_>>()?;
    assert!(
        !ports.is_empty() && ports.iter().all(|p| *p == ports[0]),
        "{ports:?}"
    );
    let _c = connect_tcp("localhost", ports[0]).await?;
    let _s = listener.accept().await?;
    Ok(())
}

#[anyio::test]
async fn listener_family_filter() -> anyio::Result<()> {
    let listener = create_tcp_listener()
        .local_host("localhost")
        .family(Family::Inet)
        .await?;
    for l in listener.listeners() {
        assert!(l.local_addr()?.is_ipv4());
    }
    assert_eq!(
        kind(create_tcp_listener().family(Family::Unix).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn reuse_port_lets_two_listeners_share_a_port() -> anyio::Result<()> {
    let first = create_tcp_listener()
        .local_host("127.0.0.1")
        .reuse_port(true)
        .await?;
    let port = first.listeners()[0].local_addr()?.port();
    let second = create_tcp_listener()
        .local_host("127.0.0.1")
        .local_port(port)
        .reuse_port(true)
        .await?;
    assert_eq!(second.listeners()[0].local_addr()?.port(), port);
    let err = create_tcp_listener()
        .local_host("127.0.0.1")
        .local_port(port)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.source_as::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::AddrInUse
    );
    Ok(())
}

#[anyio::test]
async fn backlog_is_clamped() -> anyio::Result<()> {
    let listener = create_tcp_listener()
        .local_host("127.0.0.1")
        .backlog(u32::MAX)
        .await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let _c = connect_tcp("127.0.0.1", port).await?;
    let _s = listener.accept().await?;
    Ok(())
}

#[anyio::test]
async fn serve_runs_one_task_per_connection() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    task_group(|tg| async move {
        let group = tg.clone();
        tg.start_soon(async move {
            listener
                .serve(
                    move |stream: TcpStream| {
                        let count = count.clone();
                        async move {
                            let data = stream.receive(64).await?;
                            stream.send(&data).await?;
                            count.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        }
                    },
                    None,
                )
                .await
        })?;
        for i in 0..3u8 {
            let c = connect_tcp("127.0.0.1", port).await?;
            c.send(&[i]).await?;
            assert_eq!(c.receive(64).await?, [i]);
        }
        group.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    assert_eq!(served.load(Ordering::SeqCst), 3);
    Ok(())
}

#[anyio::test]
async fn serve_in_a_given_group_ends_when_the_listener_closes() -> anyio::Result<()> {
    let (listener, port) = listener_on("127.0.0.1").await?;
    let listener = Arc::new(listener);
    let closer = listener.clone();
    task_group(|tg| async move {
        let group = tg.clone();
        let serving = tg.start_soon(async move {
            let served = listener
                .serve(
                    |stream: TcpStream| async move {
                        stream.send(b"hi").await?;
                        Ok(())
                    },
                    Some(&group),
                )
                .await;
            anyio::Ok(kind(served))
        })?;
        let c = connect_tcp("127.0.0.1", port).await?;
        assert_eq!(c.receive(64).await?, b"hi");
        closer.aclose().await?;
        assert_eq!(serving.await?, ErrorKind::ClosedResource);
        Ok(())
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// from_std.

#[anyio::test]
async fn from_std_round_trip() -> anyio::Result<()> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let listener = TcpListener::from_std(l)?;
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    let server = listener.accept().await?;
    raw.write_all(b"from std").unwrap();
    assert_eq!(server.receive(64).await?, b"from std");
    let client = TcpStream::from_std(raw)?;
    client.send(b"back").await?;
    assert_eq!(server.receive(64).await?, b"back");
    Ok(())
}

#[anyio::test]
async fn from_std_rejects_the_wrong_sockets() -> anyio::Result<()> {
    // Not connected.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let unconnected: std::net::TcpStream = s.into();
    assert_eq!(
        kind(TcpStream::from_std(unconnected)),
        ErrorKind::InvalidArgument
    );
    // Bound but not listening.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0).into())
        .unwrap();
    let not_listening: std::net::TcpListener = s.into();
    assert_eq!(
        kind(TcpListener::from_std(not_listening)),
        ErrorKind::InvalidArgument
    );
    // A UDP socket.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let udp: std::net::TcpStream = s.into();
    assert_eq!(kind(TcpStream::from_std(udp)), ErrorKind::InvalidArgument);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Name resolution.

#[anyio::test]
async fn getaddrinfo_literals_and_localhost() -> anyio::Result<()> {
    assert_eq!(
        getaddrinfo("127.0.0.1", 80).await?,
        ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        getaddrinfo("[::1]", 80).await?,
        ["[::1]:80".parse::<SocketAddr>().unwrap()]
    );
    let local = getaddrinfo("localhost", 443).await?;
    assert!(!local.is_empty());
    assert!(
        local
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 443)
    );
    Ok(())
}

#[anyio::test]
async fn getaddrinfo_rejects_bad_names() -> anyio::Result<()> {
    assert_eq!(
        kind(getaddrinfo("a\0b", 80).await),
        ErrorKind::InvalidArgument
    );
    // A label of 64 characters after IDNA is longer than DNS allows.
    let long = format!("{}ü.example", "a".repeat(70));
    assert_eq!(
        kind(getaddrinfo(&long, 80).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn getnameinfo_names_loopback() -> anyio::Result<()> {
    let (host, service) = getnameinfo("127.0.0.1:80".parse().unwrap()).await?;
    assert!(!host.is_empty());
    assert!(!service.is_empty());
    Ok(())
}

#[anyio::test]
async fn dns_is_cancellable() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope.run(getaddrinfo("localhost", 80)).await?;
    assert!(out.is_none());
    Ok(())
}
