//! TCP streams and listeners (AnyIO's tests/test_sockets.py, TCP parts), on both backends.

use anyio::net::{TcpListener, TcpStream};
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener};
use anyio::{ErrorKind, task_group};

fn std_pair() -> (std::net::TcpListener, std::net::SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

#[anyio::test]
async fn from_std_round_trip() -> anyio::Result<()> {
    let (l, addr) = std_pair();
    let listener = TcpListener::from_std(l)?;
    let client = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap())?;
    let server = listener.accept().await?;
    client.send(b"hello").await?;
    assert_eq!(server.receive(100).await?, b"hello");
    client.send_eof().await?;
    assert_eq!(
        server.receive(100).await.unwrap_err().kind(),
        ErrorKind::EndOfStream
    );
    server.send(b"bye").await?;
    let mut buf = [0u8; 8];
    let n = client.receive_into(&mut buf).await?;
    assert_eq!(&buf[..n], b"bye");
    task_group(|tg| async move {
        let l2 = listener.clone();
        tg.start_soon(async move { l2.accept().await.map(drop) })?;
        anyio::testing::wait_all_tasks_blocked().await?;
        listener.aclose().await?;
        Ok(())
    })
    .await
    .map(drop)
    .or_else(|e| {
        if e.kind() == ErrorKind::ClosedResource {
            Ok(())
        } else {
            Err(e)
        }
    })
}
