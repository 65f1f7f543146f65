//! UNIX sockets: AnyIO's tests/test_sockets.py (the UNIX stream, listener, datagram and
//! fd-passing parts) translated, plus lossless cancellation (10,000 datagrams under random
//! cancellation, counted exactly once each), close from another task, and bad input.
//!
//! Every test runs on both backends, with real sockets in a fresh temporary directory.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyio::net::attr::{Family, LocalPath, RawSocket, RemotePath, SocketFamily};
use anyio::net::{
    ConnectedUnixDatagram, UnixDatagram, UnixListener, UnixStream, connect_unix,
    create_connected_unix_datagram_socket, create_unix_datagram_socket, create_unix_listener,
};
use anyio::streams::{
    ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource,
    TypedAttributeProvider, UnreliableObjectReceiveStream, UnreliableObjectSendStream,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::future::poll_once;
use net_support::{Via, close_wakes, second_is_busy};
use support::kind;

fn long_path(dir: &Path) -> PathBuf {
    dir.join("x".repeat(200))
}

async fn stream_pair(dir: &Path) -> anyio::Result<(UnixListener, UnixStream, UnixStream)> {
    let path = dir.join("s");
    let listener = create_unix_listener(&path).await?;
    let client = connect_unix(&path).await?;
    let server = listener.accept().await?;
    Ok((listener, client, server))
}

// ---------------------------------------------------------------------------------------
// Streams and listeners.

#[anyio::test]
async fn stream_send_receive_and_eof() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    net_support::send_eof_ends_one_direction(client, server).await
}

#[anyio::test]
async fn large_send_writes_everything() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    net_support::large_send_arrives_whole(client, server, 3_000_000).await
}

#[anyio::test]
async fn stream_attributes() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let (listener, client, server) = stream_pair(dir.path()).await?;
    assert_eq!(listener.extra::<SocketFamily>()?, Family::Unix);
    assert_eq!(listener.extra::<LocalPath>()?, path);
    assert_eq!(listener.local_path()?, path);
    assert_eq!(client.extra::<SocketFamily>()?, Family::Unix);
    assert_eq!(client.extra::<RemotePath>()?, path);
    assert_eq!(client.extra::<LocalPath>()?, PathBuf::new(), "unbound");
    assert_eq!(server.extra::<LocalPath>()?, path);
    assert_eq!(server.peer_path()?, PathBuf::new());
    assert_eq!(client.extra::<RawSocket>()?, client.as_raw_fd());
    assert_eq!(
        client
            .extra::<anyio::net::attr::LocalAddress>()
            .unwrap_err()
            .kind(),
        ErrorKind::TypedAttributeLookup
    );
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[anyio::test]
async fn abstract_namespace_listener() -> anyio::Result<()> {
    let name = format!(
        "\0anyio-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    let listener = create_unix_listener(&name).await?;
    assert_eq!(listener.local_path()?, PathBuf::from(&name));
    let client = connect_unix(&name).await?;
    let server = listener.accept().await?;
    client.send(b"abstract").await?;
    assert_eq!(server.receive(64).await?, b"abstract");
    assert_eq!(client.peer_path()?, PathBuf::from(&name));
    Ok(())
}

#[anyio::test]
async fn stale_socket_file_is_replaced() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let first = create_unix_listener(&path).await?;
    first.aclose().await?;
    assert!(path.exists(), "closing leaves the file");
    let second = create_unix_listener(&path).await?;
    let _client = connect_unix(&path).await?;
    let _server = second.accept().await?;
    Ok(())
}

#[anyio::test]
async fn regular_file_in_the_way_is_an_error_and_kept() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    std::fs::write(&path, b"precious")?;
    let err = create_unix_listener(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(std::fs::read(&path)?, b"precious");
    Ok(())
}

#[anyio::test]
async fn listener_mode_is_applied() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let _l = create_unix_listener(&path).mode(0o600).await?;
    let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dgram = dir.path().join("d");
    let _d = create_unix_datagram_socket()
        .local_path(&dgram)
        .local_mode(0o640)
        .await?;
    assert_eq!(
        std::fs::metadata(&dgram)?.permissions().mode() & 0o777,
        0o640
    );
    Ok(())
}

#[anyio::test]
async fn backlog_is_clamped() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let l = create_unix_listener(&path).backlog(u32::MAX).await?;
    let _c = connect_unix(&path).await?;
    let _s = l.accept().await?;
    Ok(())
}

#[anyio::test]
async fn connect_errors() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let missing = connect_unix(dir.path().join("missing")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Io);
    // Nothing listening on a socket file: refused.
    let path = dir.path().join("dead");
    let l = create_unix_listener(&path).await?;
    l.aclose().await?;
    assert_eq!(kind(connect_unix(&path).await), ErrorKind::Io);
    Ok(())
}

#[anyio::test]
async fn path_too_long_is_invalid_argument() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let long = long_path(dir.path());
    assert_eq!(kind(connect_unix(&long).await), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(create_unix_listener(&long).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(create_unix_datagram_socket().local_path(&long).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(create_connected_unix_datagram_socket(&long).await),
        ErrorKind::InvalidArgument
    );
    let d = create_unix_datagram_socket().await?;
    assert_eq!(
        kind(d.send_to(b"x", &long).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn close_from_another_task_wakes_receive() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, _server) = stream_pair(dir.path()).await?;
    let closer = client.clone();
    close_wakes(async move { client.receive(10).await }, closer.aclose()).await
}

#[anyio::test]
async fn close_from_another_task_wakes_receive_fds() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, _server) = stream_pair(dir.path()).await?;
    let closer = client.clone();
    close_wakes(
        async move { client.receive_fds(10, 1).await },
        closer.aclose(),
    )
    .await
}

#[anyio::test]
async fn close_from_another_task_wakes_accept() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let listener = Arc::new(create_unix_listener(dir.path().join("s")).await?);
    let closer = listener.clone();
    close_wakes(async move { listener.accept().await }, closer.aclose()).await
}

#[anyio::test]
async fn busy_receivers_and_acceptors() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (listener, client, server) = stream_pair(dir.path()).await?;
    let (srv, lst) = (server.clone(), listener.clone());
    let second = async {
        assert_eq!(
            kind(server.receive_fds(10, 1).await),
            ErrorKind::BusyResource
        );
        server.receive(10).await
    };
    let (got, ()) = second_is_busy(
        async move { srv.receive(10).await },
        second,
        "receiving",
        client.send(b"first"),
    )
    .await?;
    assert_eq!(got, b"first");
    second_is_busy(
        async move { lst.accept().await },
        listener.accept(),
        "accepting",
        connect_unix(dir.path().join("s")),
    )
    .await?;
    Ok(())
}

#[anyio::test]
async fn abandoned_receive_and_accept_take_nothing() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (listener, client, server) = stream_pair(dir.path()).await?;
    assert!(
        poll_once(Box::pin(server.receive_fds(10, 1)))
            .await
            .is_none()
    );
    assert!(poll_once(listener.accept()).await.is_none());
    net_support::abandoned_receives_take_nothing(&client, &server).await?;
    let _c2 = connect_unix(dir.path().join("s")).await?;
    let _s2 = listener.accept().await?;
    Ok(())
}

#[anyio::test(timeout = 120)]
async fn random_cancellation_loses_no_byte() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    net_support::random_cancellation_loses_no_byte(client, server, 2 * 1024 * 1024, 7).await
}

// ---------------------------------------------------------------------------------------
// Datagram sockets.

#[anyio::test]
async fn unix_datagram_send_receive() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (a_path, b_path) = (dir.path().join("a"), dir.path().join("b"));
    let a = create_unix_datagram_socket().local_path(&a_path).await?;
    let b = create_unix_datagram_socket().local_path(&b_path).await?;
    b.send_to(b"blah", &a_path).await?;
    let (data, from) = a.receive().await?;
    assert_eq!(
        (data.as_slice(), from.as_path()),
        (&b"blah"[..], b_path.as_path())
    );
    a.send_to(b"back", &from).await?;
    assert_eq!(b.receive().await?.0, b"back");
    // An unbound sender is reported with an empty path.
    let anon = create_unix_datagram_socket().await?;
    anon.send_to(b"anon", &a_path).await?;
    assert_eq!(a.receive().await?, (b"anon".to_vec(), PathBuf::new()));
    assert_eq!(a.extra::<LocalPath>()?, a_path);
    assert_eq!(a.extra::<SocketFamily>()?, Family::Unix);
    Ok(())
}

#[anyio::test]
async fn connected_unix_datagram() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let server_path = dir.path().join("srv");
    let client_path = dir.path().join("cli");
    let mut server = create_unix_datagram_socket()
        .local_path(&server_path)
        .await?;
    let mut client = create_connected_unix_datagram_socket(&server_path)
        .local_path(&client_path)
        .await?;
    assert_eq!(client.extra::<RemotePath>()?, server_path);
    assert_eq!(client.peer_path()?, server_path);
    UnreliableObjectSendStream::send(&mut client, b"ping".to_vec()).await?;
    let item = UnreliableObjectReceiveStream::receive(&mut server).await?;
    assert_eq!(item, (b"ping".to_vec(), client_path));
    UnreliableObjectSendStream::send(&mut server, item).await?;
    assert_eq!(
        UnreliableObjectReceiveStream::receive(&mut client).await?,
        b"ping"
    );
    Ok(())
}

#[anyio::test]
async fn datagram_to_nobody_is_broken_resource() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = create_unix_datagram_socket().await?;
    let err = d
        .send_to(b"x", dir.path().join("nobody"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenResource);
    assert_eq!(
        kind(create_connected_unix_datagram_socket(dir.path().join("nobody")).await),
        ErrorKind::Io
    );
    Ok(())
}

#[anyio::test]
async fn datagram_close_from_another_task_wakes_receive() -> anyio::Result<()> {
    let (a, _b) = ConnectedUnixDatagram::pair()?;
    let closer = a.clone();
    close_wakes(
        async move { a.receive().await },
        SharedResource::aclose(&closer),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let d = create_unix_datagram_socket()
        .local_path(dir.path().join("d"))
        .await?;
    let closer = d.clone();
    close_wakes(async move { d.receive().await }, closer.aclose()).await
}

#[anyio::test]
async fn large_unix_datagram_is_not_truncated() -> anyio::Result<()> {
    let (a, b) = ConnectedUnixDatagram::pair()?;
    // Larger than any UDP datagram: the receive sizes its buffer from the datagram.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
    a.send(&big).await?;
    assert_eq!(b.receive().await?, big);
    Ok(())
}

/// 10,000 numbered datagrams over a connected pair, received under random short
/// deadlines: each arrives exactly once, in order (see
/// `net_support::paced_datagrams_arrive_once`).
#[anyio::test(timeout = 180)]
async fn ten_thousand_datagrams_under_random_cancellation() -> anyio::Result<()> {
    net_support::paced_datagrams_arrive_once(10_000, Via::Receive, (0x5e4d, 0x10_000)).await
}

#[anyio::test]
async fn abandoned_datagram_receive_takes_nothing() -> anyio::Result<()> {
    let (a, b) = ConnectedUnixDatagram::pair()?;
    assert!(poll_once(b.receive()).await.is_none());
    a.send(b"one").await?;
    assert_eq!(b.receive().await?, b"one");
    let scope = CancelScope::new();
    scope.cancel();
    a.send(b"two").await?;
    assert!(matches!(scope.run(b.receive()).await, Ok(None)));
    assert_eq!(b.receive().await?, b"two");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Passing file descriptors.

#[anyio::test]
async fn send_and_receive_fds() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    let mut f1 = tempfile::tempfile()?;
    let mut f2 = tempfile::tempfile()?;
    f1.write_all(b"file1")?;
    f2.write_all(b"file2")?;
    client.send_fds(b"test", &[f1.as_fd(), f2.as_fd()]).await?;
    let (msg, fds) = server.receive_fds(10, 2).await?;
    assert_eq!(msg, b"test");
    assert_eq!(fds.len(), 2);
    let mut texts = Vec::new();
    for fd in fds {
        let flags = rustix::io::fcntl_getfd(&fd).unwrap();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert!(
            flags.contains(rustix::io::FdFlags::CLOEXEC),
            "received fds are CLOEXEC"
        );
        let _ = flags;
        let mut f = std::fs::File::from(fd);
        f.rewind()?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        texts.push(s);
    }
    assert_eq!(texts, ["file1", "file2"]);
    // The sender's fds stay open.
    f1.rewind()?;
    let mut s = String::new();
    f1.read_to_string(&mut s)?;
    assert_eq!(s, "file1");
    Ok(())
}

#[anyio::test]
async fn receive_fds_of_plain_data_and_at_eof() -> anyio::Result<()> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    let (a, b) = (UnixStream::from_std(a)?, UnixStream::from_std(b)?);
    a.send(b"plain").await?;
    let (msg, fds) = b.receive_fds(64, 3).await?;
    assert_eq!((msg.as_slice(), fds.len()), (&b"plain"[..], 0));
    a.send_eof().await?;
    assert_eq!(kind(b.receive_fds(64, 3).await), ErrorKind::EndOfStream);
    Ok(())
}

#[anyio::test]
async fn fd_passing_bad_input_is_invalid_argument() -> anyio::Result<()> {
    let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    let a = UnixStream::from_std(a)?;
    let f = tempfile::tempfile()?;
    assert_eq!(
        kind(a.send_fds(b"", &[f.as_fd()]).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(a.send_fds(b"x", &[]).await),
        ErrorKind::InvalidArgument
    );
    let many = vec![f.as_fd(); anyio::net::MAX_FDS + 1];
    assert_eq!(
        kind(a.send_fds(b"x", &many).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(kind(a.receive_fds(0, 1).await), ErrorKind::InvalidArgument);
    assert_eq!(kind(a.receive_fds(1, 0).await), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(a.receive_fds(usize::MAX, usize::MAX).await),
        ErrorKind::InvalidArgument
    );
    a.aclose().await?;
    assert_eq!(
        kind(a.send_fds(b"x", &[f.as_fd()]).await),
        ErrorKind::ClosedResource
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// from_std.

#[anyio::test]
async fn from_std_round_trips() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    let listener = UnixListener::from_std(std_listener)?;
    let client = UnixStream::from_std(std::os::unix::net::UnixStream::connect(&path)?)?;
    let server = listener.accept().await?;
    client.send(b"std").await?;
    assert_eq!(server.receive(8).await?, b"std");

    let dpath = dir.path().join("d");
    let d = UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind(&dpath)?)?;
    let c = std::os::unix::net::UnixDatagram::unbound()?;
    c.connect(&dpath)?;
    let c = ConnectedUnixDatagram::from_std(c)?;
    c.send(b"dgram").await?;
    assert_eq!(d.receive().await?.0, b"dgram");
    Ok(())
}

#[anyio::test]
async fn from_std_rejects_the_wrong_sockets() -> anyio::Result<()> {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = tcp.local_addr()?.port();
    let tcp_stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let disguised = std::os::unix::net::UnixStream::from(OwnedFd::from(tcp_stream));
    assert_eq!(
        kind(UnixStream::from_std(disguised)),
        ErrorKind::InvalidArgument
    );
    let disguised = std::os::unix::net::UnixListener::from(OwnedFd::from(tcp));
    assert_eq!(
        kind(UnixListener::from_std(disguised)),
        ErrorKind::InvalidArgument
    );

    // A datagram socket is no stream; a stream no listener; unconnected is not connected.
    let (d1, _d2) = std::os::unix::net::UnixDatagram::pair()?;
    let disguised = std::os::unix::net::UnixStream::from(OwnedFd::from(d1));
    assert_eq!(
        kind(UnixStream::from_std(disguised)),
        ErrorKind::InvalidArgument
    );
    let (s1, _s2) = std::os::unix::net::UnixStream::pair()?;
    let disguised = std::os::unix::net::UnixListener::from(OwnedFd::from(s1));
    assert_eq!(
        kind(UnixListener::from_std(disguised)),
        ErrorKind::InvalidArgument
    );
    let (s1, _s2) = std::os::unix::net::UnixStream::pair()?;
    let disguised = std::os::unix::net::UnixDatagram::from(OwnedFd::from(s1));
    assert_eq!(
        kind(UnixDatagram::from_std(disguised)),
        ErrorKind::InvalidArgument
    );
    let lone = std::os::unix::net::UnixDatagram::unbound()?;
    assert_eq!(
        kind(ConnectedUnixDatagram::from_std(lone)),
        ErrorKind::InvalidArgument
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let disguised = std::os::unix::net::UnixDatagram::from(OwnedFd::from(udp));
    assert_eq!(
        kind(UnixDatagram::from_std(disguised)),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Connectables.

#[anyio::test]
async fn connectables_connect_tcp_and_unix() -> anyio::Result<()> {
    use anyio::net::{
        AnyByteStreamConnectable, ByteStreamConnectable, TcpConnectable, UnixConnectable,
        create_tcp_listener,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let unix_listener = create_unix_listener(&path).await?;
    let tcp_listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = tcp_listener.listeners()[0].local_addr()?.port();

    // Generic, with the concrete stream type.
    let unix = UnixConnectable::new(&path);
    let stream: UnixStream = unix.connect().await?;
    stream.send(b"unix").await?;
    assert_eq!(unix_listener.accept().await?.receive(8).await?, b"unix");

    // Object-safe: one list holding both kinds.
    let all: Vec<Box<dyn AnyByteStreamConnectable>> = vec![
        Box::new(TcpConnectable::new("127.0.0.1", port)),
        Box::new(unix),
    ];
    let tcp_stream = all[0].connect_boxed().await?;
    tcp_stream.send(b"tcp").await?;
    assert_eq!(tcp_listener.accept().await?.receive(8).await?, b"tcp");
    let unix_stream = all[1].connect_boxed().await?;
    unix_stream.send(b"boxed").await?;
    assert_eq!(unix_listener.accept().await?.receive(8).await?, b"boxed");

    // Errors come through unchanged.
    assert_eq!(
        kind(TcpConnectable::new("127.0.0.1", 0).connect().await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(UnixConnectable::new(long_path(dir.path())).connect().await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// More of upstream's cases.

#[anyio::test]
async fn send_after_peer_closed_is_broken_resource() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    server.aclose().await?;
    // The first sends may still be buffered; within a few the peer's absence shows.
    let mut last = Ok(());
    for _ in 0..100 {
        last = client.send(b"into the void").await;
        if last.is_err() {
            break;
        }
    }
    assert_eq!(kind(last), ErrorKind::BrokenResource);
    Ok(())
}

#[anyio::test]
async fn operations_after_close_are_closed_resource() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (listener, client, _server) = stream_pair(dir.path()).await?;
    client.aclose().await?;
    assert_eq!(kind(client.send(b"x").await), ErrorKind::ClosedResource);
    assert_eq!(kind(client.receive(1).await), ErrorKind::ClosedResource);
    assert_eq!(kind(client.send_eof().await), ErrorKind::ClosedResource);
    assert_eq!(kind(client.local_path()), ErrorKind::ClosedResource);
    listener.aclose().await?;
    assert_eq!(kind(listener.accept().await), ErrorKind::ClosedResource);
    let (a, b) = ConnectedUnixDatagram::pair()?;
    a.aclose().await?;
    assert!(a.is_closed() && !b.is_closed());
    assert_eq!(kind(a.send(b"x").await), ErrorKind::ClosedResource);
    assert_eq!(kind(a.receive().await), ErrorKind::ClosedResource);
    let d = create_unix_datagram_socket().await?;
    d.aclose().await?;
    assert_eq!(
        kind(d.send_to(b"x", dir.path().join("s")).await),
        ErrorKind::ClosedResource
    );
    assert_eq!(kind(d.receive().await), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn second_sender_is_busy() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, server) = stream_pair(dir.path()).await?;
    let big = vec![7u8; 16 * 1024 * 1024]; // cannot fit: the first send blocks
    let sender = client.clone();
    task_group(|tg| async move {
        let first = tg.start_soon(async move { sender.send(&big).await })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(kind(client.send(b"x").await), ErrorKind::BusyResource);
        let f = tempfile::tempfile()?;
        assert_eq!(
            kind(client.send_fds(b"x", &[f.as_fd()]).await),
            ErrorKind::BusyResource
        );
        let mut got = 0;
        while got < 16 * 1024 * 1024 {
            got += server.receive(1 << 20).await?.len();
        }
        first.await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn non_utf8_paths_work() -> anyio::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"s\xff\xfe"));
    let listener = create_unix_listener(&path).await?;
    assert_eq!(listener.local_path()?, path);
    let client = connect_unix(&path).await?;
    let _server = listener.accept().await?;
    assert_eq!(client.peer_path()?, path);
    let dpath = dir.path().join(std::ffi::OsStr::from_bytes(b"d\xff"));
    let d = create_unix_datagram_socket().local_path(&dpath).await?;
    let c = create_connected_unix_datagram_socket(&dpath)
        .local_path(dir.path().join(std::ffi::OsStr::from_bytes(b"c\xfe")))
        .await?;
    c.send(b"bytes path").await?;
    let (data, from) = d.receive().await?;
    assert_eq!(data, b"bytes path");
    assert_eq!(from.as_os_str().as_bytes().last(), Some(&0xfe));
    Ok(())
}

#[anyio::test]
async fn futures_are_send_and_unpin() -> anyio::Result<()> {
    fn check<F: std::future::Future + Send + Unpin>(_: &F) {}
    let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    let a = UnixStream::from_std(a)?;
    let f = tempfile::tempfile()?;
    let fds = [f.as_fd()];
    check(&a.send_fds(b"x", &fds));
    check(&a.receive_fds(1, 1));
    check(&anyio::net::wait_readable(f.as_fd()));
    let (d, _e) = ConnectedUnixDatagram::pair()?;
    check(&d.receive());
    check(&d.send(b"x"));
    let u = create_unix_datagram_socket().await?;
    check(&u.receive());
    support::assert_send_sync(&a);
    support::assert_send_sync(&d);
    support::assert_send_sync(&u);
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[anyio::test]
async fn connect_waits_while_the_backlog_is_full() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    // Backlog 0: Linux queues one connection, then refuses more with EAGAIN.
    let listener = create_unix_listener(&path).backlog(0).await?;
    let first = connect_unix(&path).await?;
    // A connect now waits; cancelling the wait gives the usual `None`.
    let waited = anyio::move_on_after(Duration::from_millis(50), connect_unix(&path)).await?;
    assert!(waited.is_none(), "the connect waited for room");
    let p = path.clone();
    let second = task_group(|tg| async move {
        let h = tg.start_soon(async move { connect_unix(&p).await })?;
        wait_all_tasks_blocked().await?;
        let s1 = listener.accept().await?; // makes room
        let second = h.await?;
        let s2 = listener.accept().await?;
        first.send(b"1").await?;
        second.send(b"2").await?;
        assert_eq!(s1.receive(1).await?, b"1");
        assert_eq!(s2.receive(1).await?, b"2");
        anyio::Ok(second)
    })
    .await?;
    assert!(second.is_some());
    Ok(())
}

#[anyio::test]
async fn close_from_another_task_wakes_blocked_sends() -> anyio::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_l, client, _server) = stream_pair(dir.path()).await?;
    let closer = client.clone();
    let big = vec![0u8; 32 * 1024 * 1024];
    let out = task_group(|tg| async move {
        let blocked = tg.start_soon(async move { anyio::Ok(kind(client.send(&big).await)) })?;
        wait_all_tasks_blocked().await?;
        closer.aclose().await?;
        blocked.await
    })
    .await?;
    assert_eq!(out, Some(ErrorKind::ClosedResource));

    // A datagram sender waiting for room in a full peer queue.
    let (tx, rx) = std::os::unix::net::UnixDatagram::pair()?;
    tx.set_nonblocking(true)?;
    while tx.send(b"fill").is_ok() {} // until the peer's queue is full
    let (tx, _rx) = (
        ConnectedUnixDatagram::from_std(tx)?,
        ConnectedUnixDatagram::from_std(rx)?,
    );
    let closer = tx.clone();
    let out = task_group(|tg| async move {
        let blocked = tg.start_soon(async move { anyio::Ok(kind(tx.send(b"more").await)) })?;
        wait_all_tasks_blocked().await?;
        closer.aclose().await?;
        blocked.await
    })
    .await?;
    assert_eq!(out, Some(ErrorKind::ClosedResource));
    Ok(())
}
