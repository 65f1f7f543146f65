//! The TCP set-up the networking benchmarks share (`net`, `compat`, `streams`, `tls`):
//! listeners and connected pairs for the anyio side and for each raw runtime, built the
//! same way on both sides (127.0.0.1, anyio's listen backlog, TCP_NODELAY on every
//! stream, as anyio sets it), so that only the measured bodies differ.

use std::net::SocketAddr;

use anyio::net::{MultiListener, TcpListener, TcpStream, connect_tcp, create_tcp_listener};
use anyio::streams::Listener;

/// The raw sides' listener: a std listener with the backlog anyio's listeners get
/// (`MAX_BACKLOG`), so neither side drops SYNs the other would queue (tokio's `bind`
/// listens with 1024, std's with 128: a full queue costs a 1 s SYN retransmit).
pub fn raw_listener() -> std::net::TcpListener {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.listen(anyio::net::MAX_BACKLOG as i32).unwrap();
    s.set_nonblocking(true).unwrap();
    s.into()
}

/// An anyio listener on 127.0.0.1 and its port.
pub async fn anyio_listener() -> anyio::Result<(MultiListener<TcpListener>, u16)> {
    let l = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = l.listeners()[0].local_addr()?.port();
    Ok((l, port))
}

/// A connected anyio pair `(client, server)` over 127.0.0.1.
pub async fn anyio_pair() -> anyio::Result<(TcpStream, TcpStream)> {
    let (listener, port) = anyio_listener().await?;
    let client = connect_tcp("127.0.0.1", port).await?;
    let server = listener.accept().await?;
    Ok((client, server))
}

/// A tokio connection to `addr`, TCP_NODELAY on.
pub async fn tokio_connect(addr: SocketAddr) -> tokio::net::TcpStream {
    let c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    c
}

/// An async-io connection to `addr`, TCP_NODELAY on.
pub async fn smol_connect(addr: SocketAddr) -> async_io::Async<std::net::TcpStream> {
    let c = async_io::Async::<std::net::TcpStream>::connect(addr)
        .await
        .unwrap();
    c.get_ref().set_nodelay(true).unwrap();
    c
}

/// A connected tokio pair `(client, server)` over [`raw_listener`].
pub async fn tokio_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::from_std(raw_listener()).unwrap();
    let client = tokio_connect(listener.local_addr().unwrap()).await;
    let (server, _) = listener.accept().await.unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// A connected async-io pair `(client, server)` over [`raw_listener`].
pub async fn smol_pair() -> (
    async_io::Async<std::net::TcpStream>,
    async_io::Async<std::net::TcpStream>,
) {
    let listener = async_io::Async::new(raw_listener()).unwrap();
    let client = smol_connect(listener.get_ref().local_addr().unwrap()).await;
    let (server, _) = listener.accept().await.unwrap();
    server.get_ref().set_nodelay(true).unwrap();
    (client, server)
}

/// The raw tokio side's bulk sender: writes `n` chunks of `len` bytes, then shuts the
/// writing direction.
pub async fn tokio_send_chunks(mut client: tokio::net::TcpStream, n: usize, len: usize) {
    use tokio::io::AsyncWriteExt;
    let chunk = vec![1u8; len];
    for _ in 0..n {
        client.write_all(&chunk).await.unwrap();
    }
    client.shutdown().await.unwrap();
}

/// The raw async-io side's bulk sender, as [`tokio_send_chunks`].
pub async fn smol_send_chunks(
    mut client: async_io::Async<std::net::TcpStream>,
    n: usize,
    len: usize,
) {
    use futures_lite::AsyncWriteExt;
    let chunk = vec![1u8; len];
    for _ in 0..n {
        client.write_all(&chunk).await.unwrap();
    }
    client
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
}

/// `$name(server, len)`: reads `server` to its end in `len`-byte reads and returns how many
/// bytes came, through the runtime's own read trait `$read` (the same loop on each raw
/// side).
macro_rules! drain {
    ($name:ident, $stream:ty, $read:path) => {
        pub async fn $name(server: &mut $stream, len: usize) -> usize {
            use $read;
            let mut buf = vec![0u8; len];
            let mut got = 0;
            loop {
                match server.read(&mut buf).await.unwrap() {
                    0 => return got,
                    k => got += k,
                }
            }
        }
    };
}

drain!(tokio_drain, tokio::net::TcpStream, tokio::io::AsyncReadExt);
drain!(
    smol_drain,
    async_io::Async<std::net::TcpStream>,
    futures_lite::AsyncReadExt
);
