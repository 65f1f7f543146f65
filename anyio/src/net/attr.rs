//! The typed attributes of sockets (AnyIO's `SocketAttribute`), looked up with
//! [`extra`](crate::streams::TypedAttributeProvider::extra) on any socket stream or
//! listener, or on a wrapper around one.
//!
//! # Examples
//!
//! ```
//! use anyio::net::attr::{LocalPort, RemoteAddress};
//! use anyio::net::TcpStream;
//! use anyio::streams::TypedAttributeProvider;
//!
//! # anyio::run(|| async {
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! let stream = TcpStream::from_std(std::net::TcpStream::connect(("127.0.0.1", port))?)?;
//! assert_eq!(stream.extra::<RemoteAddress>()?.port(), port);
//! assert_ne!(stream.extra::<LocalPort>()?, 0);
//! # anyio::Ok(())
//! # }).unwrap();
//! ```

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::streams::TypedAttribute;

/// The address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// UNIX domain sockets (`AF_UNIX`).
    Unix,
}

/// The socket's address family (AnyIO's `SocketAttribute.family`).
#[derive(Debug)]
pub enum SocketFamily {}
impl TypedAttribute for SocketFamily {
    type Value = Family;
    const NAME: &'static str = "family";
}

/// The address the socket is bound to (AnyIO's `SocketAttribute.local_address`); for an
/// IP socket, the IP and port.
#[derive(Debug)]
pub enum LocalAddress {}
impl TypedAttribute for LocalAddress {
    type Value = SocketAddr;
    const NAME: &'static str = "local_address";
}

/// The local port of an IP socket (AnyIO's `SocketAttribute.local_port`).
#[derive(Debug)]
pub enum LocalPort {}
impl TypedAttribute for LocalPort {
    type Value = u16;
    const NAME: &'static str = "local_port";
}

/// The address of the peer of a connected IP socket (AnyIO's
/// `SocketAttribute.remote_address`).
#[derive(Debug)]
pub enum RemoteAddress {}
impl TypedAttribute for RemoteAddress {
    type Value = SocketAddr;
    const NAME: &'static str = "remote_address";
}

/// The port of the peer of a connected IP socket (AnyIO's `SocketAttribute.remote_port`).
#[derive(Debug)]
pub enum RemotePort {}
impl TypedAttribute for RemotePort {
    type Value = u16;
    const NAME: &'static str = "remote_port";
}

/// The socket's raw file descriptor (AnyIO's `SocketAttribute.raw_socket`), valid while
/// the socket is open. Closing it behind anyio's back is a bug: close the stream instead.
#[derive(Debug)]
pub enum RawSocket {}
impl TypedAttribute for RawSocket {
    type Value = RawFd;
    const NAME: &'static str = "raw_socket";
}

/// The path a UNIX socket is bound to (AnyIO's `SocketAttribute.local_address` for
/// `AF_UNIX`): empty when unbound, `'\0'` + the name for an abstract socket.
#[derive(Debug)]
pub enum LocalPath {}
impl TypedAttribute for LocalPath {
    type Value = PathBuf;
    const NAME: &'static str = "local_path";
}

/// The path of the peer of a connected UNIX socket (AnyIO's
/// `SocketAttribute.remote_address` for `AF_UNIX`): empty when the peer is unbound.
#[derive(Debug)]
pub enum RemotePath {}
impl TypedAttribute for RemotePath {
    type Value = PathBuf;
    const NAME: &'static str = "remote_path";
}
