//! Networking (AnyIO's "Using sockets" chapter): TCP streams and listeners, happy
//! eyeballs, UDP, UNIX sockets (streams, listeners, datagrams, fd passing), readiness of
//! raw fds, connectables, name resolution, and the socket attributes.
//!
//! # The model
//!
//! Sockets are created and configured once, above the backends, with `socket2`; the
//! backend only registers the finished socket with its reactor and polls its readiness
//! (tokio's reactor on the tokio backend, async-io's on smol). So every socket type here
//! behaves the same on both backends and keeps the byte-stream contract of
//! [`crate::streams::bytes`]: `EndOfStream`, `ClosedResource`, `BrokenResource` and
//! `BusyResource`, lossless cancellation of `receive` and `accept`, every call a
//! checkpoint.
//!
//! | AnyIO | here |
//! |---|---|
//! | `connect_tcp(host, port, local_host=, happy_eyeballs_delay=)` | [`connect_tcp`] and its builder [`ConnectTcp`]; [`connect_tcp_addrs`] for addresses you resolved |
//! | `create_tcp_listener(local_host=, local_port=, family=, backlog=, reuse_port=)` | [`create_tcp_listener`] → [`MultiListener`]`<`[`TcpListener`]`>` |
//! | `SocketStream`, `SocketListener` | [`TcpStream`], [`TcpListener`] (`from_std` wraps std sockets) |
//! | `create_udp_socket`, `create_connected_udp_socket` | [`create_udp_socket`] → [`UdpSocket`], [`create_connected_udp_socket`] → [`ConnectedUdpSocket`] |
//! | `connect_unix`, `create_unix_listener` | [`connect_unix`] → [`UnixStream`] (with [`send_fds`](UnixStream::send_fds) / [`receive_fds`](UnixStream::receive_fds)), [`create_unix_listener`] → [`UnixListener`] |
//! | `create_unix_datagram_socket`, `create_connected_unix_datagram_socket` | [`create_unix_datagram_socket`] → [`UnixDatagram`], [`create_connected_unix_datagram_socket`] → [`ConnectedUnixDatagram`] |
//! | `wait_readable`, `wait_writable`, `notify_closing` | the same names (Linux, Android), for fds anyio does not own |
//! | `ByteStreamConnectable`, `TCPConnectable`, `UNIXConnectable` | [`ByteStreamConnectable`] (and the object-safe [`AnyByteStreamConnectable`]), [`TcpConnectable`], [`UnixConnectable`] |
//! | `getaddrinfo`, `getnameinfo` | [`getaddrinfo`], [`getnameinfo`] (on a worker thread; IDNA for unicode names) |
//! | `SocketAttribute` | [`attr`] |
//!
//! # Examples
//!
//! An echo server and a client:
//!
//! ```
//! use anyio::net::{connect_tcp, create_tcp_listener};
//! use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener};
//! use anyio::ErrorKind;
//!
//! # anyio::run(|| async {
//! let listener = create_tcp_listener().local_host("127.0.0.1").await?;
//! let port = listener.listeners()[0].local_addr()?.port();
//! anyio::task_group(|tg| async move {
//!     let server = tg.clone();
//!     tg.start_soon(async move {
//!         // Serves one connection per task until the group is cancelled.
//!         listener
//!             .serve(
//!                 |stream| async move {
//!                     loop {
//!                         match stream.receive(1024).await {
//!                             Ok(data) => stream.send(&data).await?,
//!                             Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(()),
//!                             Err(e) => return Err(e),
//!                         }
//!                     }
//!                 },
//!                 Some(&server),
//!             )
//!             .await
//!     })?;
//!     let client = connect_tcp("127.0.0.1", port).await?;
//!     client.send(b"hello").await?;
//!     assert_eq!(client.receive(1024).await?, b"hello");
//!     client.send_eof().await?;
//!     tg.cancel_scope().cancel();
//!     anyio::Ok(())
//! })
//! .await?;
//! # anyio::Ok(())
//! # }).unwrap();
//! ```

mod addr;
pub mod attr;
mod connectable;
mod dgram;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod fd;
pub mod happy_eyeballs;
mod multi;
pub(crate) mod socket;
pub(crate) mod tcp;
mod udp;
mod unix;

pub use addr::{getaddrinfo, getnameinfo};
pub use connectable::{
    AnyByteStreamConnectable, ByteStreamConnectable, ConnectBoxed, TcpConnectable, UnixConnectable,
};
pub use dgram::{ReceiveDatagram, ReceiveFrom, SendDatagram, UnixReceiveFrom};
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use fd::{WaitReady, notify_closing, wait_readable, wait_writable};
pub use happy_eyeballs::ConnectErrors;
pub use multi::MultiListener;
pub use tcp::{
    ConnectTcp, CreateTcpListener, DEFAULT_HAPPY_EYEBALLS_DELAY, MAX_BACKLOG, TcpListener,
    TcpStream, connect_tcp, connect_tcp_addrs, create_tcp_listener,
};
pub use udp::{
    ConnectedUdpSocket, CreateConnectedUdpSocket, CreateUdpSocket, UdpSocket,
    create_connected_udp_socket, create_udp_socket,
};
pub use unix::{
    ConnectedUnixDatagram, CreateConnectedUnixDatagram, CreateUnixDatagram, CreateUnixListener,
    MAX_FDS, ReceiveFds, SendFds, UnixDatagram, UnixListener, UnixStream, connect_unix,
    create_connected_unix_datagram_socket, create_unix_datagram_socket, create_unix_listener,
};
