//! `anyio::streams::compat` on both backends: anyio streams as tokio and futures-io
//! `AsyncRead + AsyncWrite` (over real TCP on 127.0.0.1 and the in-process pipe), a
//! `tokio_util::codec::Framed` over anyio TCP, and foreign streams (`tokio::io::duplex`,
//! a `BufWriter`, a futures-io stream) as anyio byte streams — with the error mapping,
//! lossless abandoned reads, cancellation and the busy and close contracts.
#![cfg(feature = "tokio")]

use std::io;
use std::time::Duration;

use anyio::net::{
    TcpStream, UnixStream, connect_tcp, connect_unix, create_tcp_listener, create_unix_listener,
};
use anyio::streams::compat::{Compat, FromAsyncIo};
use anyio::streams::pipe::create_byte_pipe;
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::future::poll_once;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

fn kind<T>(r: anyio::Result<T>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

/// The anyio error an adapter put inside an `io::Error`.
fn inner_kind(e: &io::Error) -> ErrorKind {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<anyio::Error>())
        .expect("the anyio error is the io::Error's inner error")
        .kind()
}

/// A connected pair (client, server) over 127.0.0.1.
async fn pair() -> anyio::Result<(TcpStream, TcpStream)> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let client = connect_tcp("127.0.0.1", port).await?;
    let server = listener.accept().await?;
    Ok((client, server))
}

// ---------------------------------------------------------------------------------------
// anyio → tokio::io / futures-io.

/// Over tokio's traits: a half-close (`shutdown` is `send_eof`) ends the server's read, and
/// the client still reads the reply. Gives the client back, shut for writing.
async fn tokio_io_half_close<S>(mut client: S, mut server: S) -> anyio::Result<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    client.write_all(b"over tokio::io").await?;
    client.shutdown().await?; // send_eof: the server sees the end, the client can still read
    let mut got = Vec::new();
    server.read_to_end(&mut got).await?;
    assert_eq!(got, b"over tokio::io");
    server.write_all(b"reply after the half-close").await?;
    drop(server);
    let mut reply = String::new();
    client.read_to_string(&mut reply).await?;
    assert_eq!(reply, "reply after the half-close");
    Ok(client)
}

/// Over futures-io's traits: `close` is `send_eof`, and the other direction stays open.
async fn futures_io_half_close<S>(mut client: S, mut server: S) -> anyio::Result<()>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    use futures_lite::AsyncWriteExt as _;
    futures_lite::AsyncWriteExt::write_all(&mut client, b"over futures-io").await?;
    client.close().await?; // send_eof
    let mut got = Vec::new();
    futures_lite::AsyncReadExt::read_to_end(&mut server, &mut got).await?;
    assert_eq!(got, b"over futures-io");
    futures_lite::AsyncWriteExt::write_all(&mut server, b"back").await?;
    let mut back = [0u8; 4];
    futures_lite::AsyncReadExt::read_exact(&mut client, &mut back).await?;
    assert_eq!(&back, b"back");
    Ok(())
}

#[anyio::test]
async fn tcp_stream_is_a_tokio_reader_and_writer() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    tokio_io_half_close(client, server).await.map(drop)
}

#[anyio::test]
async fn tcp_stream_is_a_futures_io_reader_and_writer() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    futures_io_half_close(client, server).await
}

#[anyio::test]
async fn compat_wraps_a_boxed_dyn_byte_stream() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    let boxed: Box<dyn ByteStream> = Box::new(client);
    let mut client = Compat::new(boxed);
    client.write_all(b"boxed").await?;
    client.shutdown().await?;
    assert_eq!(server.receive(100).await?, b"boxed");
    assert_eq!(kind(server.receive(100).await), ErrorKind::EndOfStream);
    server.send(b"still open").await?;
    let mut got = [0u8; 10];
    client.read_exact(&mut got).await?;
    assert_eq!(&got, b"still open");
    Ok(())
}

#[anyio::test]
async fn pipe_halves_work_as_reader_and_writer() -> anyio::Result<()> {
    let (tx, rx) = create_byte_pipe(8)?;
    let mut tx = Compat::send_only(tx);
    let mut rx = Compat::receive_only(rx);
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let got = task_group(|tg| {
        let data = data.clone();
        async move {
            tg.start_soon(async move {
                tx.write_all(&data).await?; // more than the pipe holds: waits for room
                tx.shutdown().await?; // send-only: closes the pipe
                anyio::Ok(())
            })?;
            let mut got = Vec::new();
            rx.read_to_end(&mut got).await?;
            anyio::Ok(got)
        }
    })
    .await?;
    assert!(got == Some(data), "the bytes arrived in order, none lost");
    Ok(())
}

#[anyio::test]
async fn tokio_copy_echoes_over_two_adapters_of_one_stream() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let echoed = task_group(|tg| {
        let data = data.clone();
        async move {
            tg.start_soon(async move {
                // A reader and a writer on one shared stream (`&TcpStream` is a stream).
                let (mut r, mut w) = (Compat::new(&server), Compat::new(&server));
                let n = tokio::io::copy(&mut r, &mut w).await?;
                w.shutdown().await?;
                assert_eq!(n, 200_000);
                anyio::Ok(())
            })?;
            let (mut r, mut w) = (Compat::new(&client), Compat::new(&client));
            let reading = async {
                let mut got = Vec::new();
                r.read_to_end(&mut got).await?;
                anyio::Ok(got)
            };
            let writing = async {
                w.write_all(&data).await?;
                w.shutdown().await?;
                anyio::Ok(())
            };
            let (got, wrote) = futures_lite::future::zip(reading, writing).await;
            wrote?;
            got
        }
    })
    .await?;
    assert!(echoed == Some(data));
    Ok(())
}

#[anyio::test]
async fn end_of_stream_and_empty_buffers_read_zero() -> anyio::Result<()> {
    let (mut client, server) = pair().await?;
    let mut empty = [0u8; 0];
    assert_eq!(client.read(&mut empty).await?, 0); // nothing asked, nothing waited for
    assert_eq!(client.write(&[]).await?, 0);
    server.send_eof().await?;
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await?, 0);
    assert_eq!(client.read(&mut buf).await?, 0, "the end stays the end");
    Ok(())
}

#[anyio::test]
async fn closed_stream_is_not_connected_with_the_anyio_error_inside() -> anyio::Result<()> {
    let (client, _server) = pair().await?;
    client.aclose().await?;
    let mut compat = Compat::new(client);
    let mut buf = [0u8; 8];
    let e = compat.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    assert_eq!(inner_kind(&e), ErrorKind::ClosedResource);
    let e = compat.write(b"x").await.unwrap_err();
    assert_eq!(inner_kind(&e), ErrorKind::ClosedResource);
    // `?` from io::Error gives the anyio error back, with its kind.
    assert_eq!(anyio::Error::from(e).kind(), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn write_after_shutdown_is_closed_resource() -> anyio::Result<()> {
    let (mut client, _server) = pair().await?;
    client.shutdown().await?;
    let e = client.write(b"late").await.unwrap_err();
    assert_eq!(inner_kind(&e), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn peer_reset_keeps_its_os_error_kind() -> anyio::Result<()> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut server = listener.accept().await?;
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer); // RST
    let mut buf = [0u8; 8];
    let e = loop {
        match server.read(&mut buf).await {
            Ok(0) => panic!("a reset is not the end of the stream"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(inner_kind(&e), ErrorKind::BrokenResource);
    Ok(())
}

#[anyio::test]
async fn read_while_another_task_receives_is_resource_busy() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    task_group(|tg| async move {
        let receiver = server.clone();
        tg.start_soon(async move {
            assert_eq!(receiver.receive(10).await?, b"first");
            anyio::Ok(())
        })?;
        wait_all_tasks_blocked().await?;
        let mut compat = Compat::new(&server);
        let mut buf = [0u8; 8];
        let e = compat.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        assert_eq!(inner_kind(&e), ErrorKind::BusyResource);
        client.send(b"first").await?; // the first receiver is unaffected
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn abandoned_read_loses_nothing() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    let mut compat = Compat::new(&server);
    let mut buf = [0u8; 16];
    assert!(poll_once(compat.read(&mut buf)).await.is_none()); // pending, then dropped
    assert!(
        !server.receive_busy().is_busy(),
        "a parked read holds no flag"
    );
    client.send(b"every byte").await?;
    client.send_eof().await?;
    let mut got = Vec::new();
    compat.read_to_end(&mut got).await?;
    assert_eq!(got, b"every byte");
    Ok(())
}

#[anyio::test]
async fn read_that_would_wait_in_a_cancelled_scope_fails_with_the_cancellation() -> anyio::Result<()>
{
    let (tx, rx) = create_byte_pipe(64)?;
    tx.send(b"ready").await?; // in the pipe once this returns
    let mut compat = Compat::receive_only(rx);
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            // Data that is there is returned (taking it loses nothing)...
            let mut got = [0u8; 5];
            compat.read_exact(&mut got).await?;
            assert_eq!(&got, b"ready");
            // ...and a read that would wait fails with the cancellation, taking nothing.
            let mut more = [0u8; 5];
            let e = compat.read(&mut more).await.unwrap_err();
            assert!(anyio::error::is_cancellation(&e), "{e:?}");
            anyio::Ok(e)
        })
        .await?;
    let e = out.expect("the body returned");
    assert_eq!(anyio::Error::from(e).kind(), ErrorKind::Cancelled);
    tx.send(b"after").await?;
    let mut after = [0u8; 5];
    compat.read_exact(&mut after).await?;
    assert_eq!(&after, b"after");
    Ok(())
}

/// Upper-cases lines over `Framed<_, LinesCodec>`: the server echoes each line upper-cased
/// until the client shuts its writer.
async fn framed_uppercase_echo<S>(client: S, server: S) -> anyio::Result<()>
where
    S: ByteStream + tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    task_group(|tg| async move {
        tg.start_soon(async move {
            let mut lines = Framed::new(server, LinesCodec::new());
            while let Some(line) = lines.next().await {
                let line = line.map_err(anyio::Error::other)?;
                lines
                    .send(line.to_uppercase())
                    .await
                    .map_err(anyio::Error::other)?;
            }
            anyio::Ok(())
        })?;
        let mut lines = Framed::new(client, LinesCodec::new());
        for word in ["alpha", "beta", "gamma"] {
            lines.send(word).await.map_err(anyio::Error::other)?;
            let reply = lines.next().await.expect("a reply");
            assert_eq!(reply.map_err(anyio::Error::other)?, word.to_uppercase());
        }
        // Shut the writer: the server's stream of lines ends, and so does its task.
        lines.get_mut().send_eof().await?;
        assert!(lines.next().await.is_none());
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn framed_lines_codec_over_anyio_tcp() -> anyio::Result<()> {
    let (client, server) = pair().await?;
    framed_uppercase_echo(client, server).await
}

// ---------------------------------------------------------------------------------------
// UNIX streams implement the four traits directly, like TCP streams.

/// A connected UNIX stream pair (client, server) in a fresh directory (kept alive by the
/// returned guard).
async fn unix_pair() -> anyio::Result<(tempfile::TempDir, UnixStream, UnixStream)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s");
    let listener = create_unix_listener(&path).await?;
    let client = connect_unix(&path).await?;
    let server = listener.accept().await?;
    Ok((dir, client, server))
}

#[anyio::test]
async fn framed_lines_codec_over_anyio_unix_stream() -> anyio::Result<()> {
    let (_dir, client, server) = unix_pair().await?;
    framed_uppercase_echo(client, server).await
}

#[anyio::test]
async fn unix_stream_is_a_tokio_reader_and_writer() -> anyio::Result<()> {
    let (_dir, client, server) = unix_pair().await?;
    let mut client = tokio_io_half_close(client, server).await?;
    // After shutdown, a write is this side's mistake: NotConnected carrying ClosedResource.
    let e = client
        .write_all(b"late")
        .await
        .expect_err("write after shutdown");
    assert_eq!(inner_kind(&e), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn unix_stream_is_a_futures_io_reader_and_writer() -> anyio::Result<()> {
    let (_dir, client, server) = unix_pair().await?;
    futures_io_half_close(client, server).await
}

#[anyio::test]
async fn abandoned_unix_stream_read_loses_nothing() -> anyio::Result<()> {
    let (_dir, mut client, mut server) = unix_pair().await?;
    let mut buf = [0u8; 16];
    // tokio's read, pending, then dropped; then futures-io's, pending, then dropped.
    assert!(poll_once(server.read(&mut buf)).await.is_none());
    assert!(
        poll_once(futures_lite::AsyncReadExt::read(&mut server, &mut buf))
            .await
            .is_none()
    );
    assert!(
        !server.receive_busy().is_busy(),
        "a parked read holds no flag"
    );
    client.write_all(b"every byte").await?;
    client.shutdown().await?;
    let mut got = Vec::new();
    server.read_to_end(&mut got).await?;
    assert_eq!(got, b"every byte");
    Ok(())
}

#[anyio::test]
async fn unix_stream_read_after_close_is_not_connected() -> anyio::Result<()> {
    let (_dir, _client, mut server) = unix_pair().await?;
    SharedResource::aclose(&server).await?;
    let mut buf = [0u8; 4];
    let e = server.read(&mut buf).await.expect_err("read after close");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    assert_eq!(inner_kind(&e), ErrorKind::ClosedResource);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// tokio::io / futures-io → anyio.

#[anyio::test]
async fn duplex_as_a_byte_stream_with_small_reads() -> anyio::Result<()> {
    let (a, b) = tokio::io::duplex(8);
    let (a, b) = (FromAsyncIo::tokio(a), FromAsyncIo::tokio(b));
    let data: Vec<u8> = (0..5_000u32).map(|i| (i % 249) as u8).collect();
    let got = task_group(|tg| {
        let data = data.clone();
        async move {
            tg.start_soon(async move {
                a.send(&data).await?; // more than the duplex holds: waits for room
                a.send_eof().await?;
                a.send_eof().await?; // again: nothing
                assert_eq!(kind(a.send(b"late").await), ErrorKind::ClosedResource);
                anyio::Ok(())
            })?;
            let mut got = Vec::new();
            loop {
                match b.receive(3).await {
                    Ok(chunk) => {
                        assert!(!chunk.is_empty() && chunk.len() <= 3);
                        got.extend(chunk);
                    }
                    Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                    Err(e) => return Err(e),
                }
            }
            anyio::Ok(got)
        }
    })
    .await?;
    assert!(got == Some(data), "the bytes arrived in order, none lost");
    Ok(())
}

#[anyio::test]
async fn foreign_stream_keeps_the_byte_stream_contract() -> anyio::Result<()> {
    let (a, _b) = tokio::io::duplex(64);
    let a = FromAsyncIo::tokio(a);
    assert_eq!(kind(a.receive(0).await), ErrorKind::InvalidArgument);
    let mut empty = [0u8; 0];
    assert_eq!(
        kind(a.receive_into(&mut empty).await),
        ErrorKind::InvalidArgument
    );
    task_group(|tg| async move {
        let a = std::sync::Arc::new(a);
        let parked = a.clone();
        tg.start_soon(async move {
            // Parked in a receive: the close below wakes it.
            assert_eq!(kind(parked.receive(10).await), ErrorKind::ClosedResource);
            anyio::Ok(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(kind(a.receive(10).await), ErrorKind::BusyResource);
        a.aclose().await?;
        a.aclose().await?; // again: nothing
        assert_eq!(kind(a.send(b"x").await), ErrorKind::ClosedResource);
        assert_eq!(kind(a.send_eof().await), ErrorKind::ClosedResource);
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn foreign_errors_are_broken_resource_with_the_io_error() -> anyio::Result<()> {
    let (a, b) = tokio::io::duplex(64);
    let a = FromAsyncIo::tokio(a);
    drop(b);
    assert_eq!(kind(a.receive(10).await), ErrorKind::EndOfStream); // Ok(0) is the end
    let e = a.send(b"nobody reads").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenResource);
    let io = e
        .source_as::<io::Error>()
        .expect("the io::Error is the source");
    assert_eq!(io.kind(), io::ErrorKind::BrokenPipe);
    Ok(())
}

#[anyio::test]
async fn abandoned_receive_on_a_foreign_stream_loses_nothing() -> anyio::Result<()> {
    let (a, b) = tokio::io::duplex(64);
    let (a, b) = (FromAsyncIo::tokio(a), FromAsyncIo::tokio(b));
    assert!(poll_once(b.receive(10)).await.is_none()); // pending, then dropped
    assert!(!b.receive_busy().is_busy());
    a.send(b"kept").await?;
    assert_eq!(b.receive(10).await?, b"kept");
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope.run(b.receive(10)).await;
    assert!(
        matches!(r, Ok(None)),
        "a cancelled receive is absorbed by its scope"
    );
    a.send(b"still kept").await?;
    assert_eq!(b.receive(100).await?, b"still kept");
    Ok(())
}

#[anyio::test]
async fn send_to_a_buffered_writer_is_flushed() -> anyio::Result<()> {
    // A BufWriter keeps what it is given until flushed: a send completes only once the
    // peer can read it, or a request/response protocol would stall.
    let (a, b) = tokio::io::duplex(16);
    let a = FromAsyncIo::tokio(tokio::io::BufWriter::with_capacity(1024, a));
    let b = FromAsyncIo::tokio(b);
    a.send(b"hello").await?;
    assert_eq!(b.receive(100).await?, b"hello");
    // Larger than the duplex: the flush waits for the reader, many times.
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    let got = task_group(|tg| {
        let data = data.clone();
        async move {
            tg.start_soon(async move {
                a.send(&data).await?;
                a.send_eof().await?;
                anyio::Ok(())
            })?;
            let mut got = Vec::new();
            loop {
                match b.receive(4096).await {
                    Ok(chunk) => got.extend(chunk),
                    Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                    Err(e) => return Err(e),
                }
            }
            anyio::Ok(got)
        }
    })
    .await?;
    assert!(got == Some(data));
    Ok(())
}

#[anyio::test]
async fn into_inner_gives_the_foreign_object_back() -> anyio::Result<()> {
    let (a, mut b) = tokio::io::duplex(64);
    let a = FromAsyncIo::tokio(a);
    a.send(b"before").await?;
    let mut a = a.into_inner()?.into_inner();
    a.write_all(b" after").await?;
    drop(a);
    let mut got = String::new();
    b.read_to_string(&mut got).await?;
    assert_eq!(got, "before after");
    let (c, _d) = tokio::io::duplex(64);
    let c = FromAsyncIo::tokio(c);
    c.aclose().await?;
    assert_eq!(kind(c.into_inner()), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn futures_io_stream_as_a_byte_stream() -> anyio::Result<()> {
    // A futures-io stream (here anyio TCP seen through `Compat`, wrapped back): a round
    // trip both ways, the end of the stream, and an anyio error carried through.
    let (client, server) = pair().await?;
    let client = FromAsyncIo::futures(Compat::new(client));
    client.send(b"there").await?;
    assert_eq!(server.receive(100).await?, b"there");
    server.send(b"and back").await?;
    server.send_eof().await?;
    assert_eq!(client.receive(100).await?, b"and back");
    assert_eq!(kind(client.receive(100).await), ErrorKind::EndOfStream);
    client.send_eof().await?;
    assert_eq!(kind(server.receive(100).await), ErrorKind::EndOfStream);
    // The TCP stream closed underneath: its ClosedResource comes through as itself.
    let (inner, _peer) = pair().await?;
    let wrapped = FromAsyncIo::futures(Compat::new(inner.clone()));
    inner.aclose().await?;
    assert_eq!(kind(wrapped.receive(10).await), ErrorKind::ClosedResource);
    Ok(())
}
