//! UDP sockets (AnyIO's `UDPSocket` and `ConnectedUDPSocket`).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use socket2::{SockAddr, Socket};

use crate::backend::io::SocketKind;
use crate::error::{Error, ErrorKind, Result};
use crate::net::attr::Family;
use crate::net::dgram::{
    MAX_IP_DATAGRAM, ReceiveDatagram, ReceiveFrom, RecvState, SendDatagram, StreamRecv, data_only,
    datagram_socket, with_ip_sender,
};
use crate::net::socket::{Expected, SocketCore, socket_common, socket_methods};
use crate::streams::bytes::os_error;

const RECEIVING: &str = "receiving from a UDP socket";
const SENDING: &str = "sending on a UDP socket";

/// Checks that `socket` is an IP datagram socket, connected when `connected`; makes it
/// non-blocking and registers it.
fn adopt(socket: Socket, connected: bool, what: &'static str) -> Result<Arc<SocketCore>> {
    let expected = Expected {
        ty: socket2::Type::DGRAM,
        family: |a| a.is_ipv4() || a.is_ipv6(),
        wrong: "not a UDP socket",
        connected,
        listening: false,
    };
    crate::net::socket::adopt(socket, &expected, SocketKind::UdpSocket, what)
}

/// An unconnected UDP socket (AnyIO's `UDPSocket`): an unreliable object stream of
/// `(datagram, address)` pairs.
///
/// Clones are handles to one socket: one task can receive while another sends; closing any
/// handle closes the socket for all, waking blocked calls with
/// [`ErrorKind::ClosedResource`]. Dropping the last handle closes it.
///
/// # Cancellation
///
/// A receive takes one whole datagram or nothing: a cancelled or abandoned receive (polled
/// once, then dropped) loses none. A send sends one whole datagram or nothing.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalAddress`](super::attr::LocalAddress),
/// [`LocalPort`](super::attr::LocalPort), [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct UdpSocket {
    core: Arc<SocketCore>,
    /// The state of this handle's `Stream` of received datagrams.
    stream: StreamRecv,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Wraps a bound `std::net::UdpSocket`, registering it with the backend that serves
    /// this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not an IP datagram socket;
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(socket: std::net::UdpSocket) -> Result<UdpSocket> {
        Ok(UdpSocket {
            core: adopt(Socket::from(socket), false, "UdpSocket::from_std")?,
            stream: StreamRecv::default(),
        })
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled (or abandoned) receive takes no datagram.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed (also for a receive blocked when another
    /// task closes the socket); [`ErrorKind::BusyResource`] when another task is
    /// receiving; [`ErrorKind::BrokenResource`] with the `io::Error` as the source for an
    /// OS error; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::net::create_udp_socket;
    ///
    /// # anyio::run(|| async {
    /// let a = create_udp_socket().local_host("127.0.0.1").await?;
    /// let b = create_udp_socket().local_host("127.0.0.1").await?;
    /// b.send_to(b"hi", a.local_addr()?).await?;
    /// let (data, from) = a.receive().await?;
    /// assert_eq!((data.as_slice(), from), (&b"hi"[..], b.local_addr()?));
    /// # anyio::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn receive(&self) -> ReceiveFrom<'_> {
        ReceiveFrom {
            state: RecvState::new(&self.core, Some(MAX_IP_DATAGRAM), RECEIVING),
        }
    }

    /// Sends `data` as one datagram to `addr`.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; the datagram is sent whole or not at all.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a datagram too large for the socket;
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::BusyResource`] when another
    /// task is sending; [`ErrorKind::BrokenResource`] for other OS errors;
    /// [`ErrorKind::Cancelled`].
    pub fn send_to<'a>(&'a self, data: &'a [u8], addr: SocketAddr) -> SendDatagram<'a> {
        SendDatagram::new(&self.core, data, Some(Ok(SockAddr::from(addr))), SENDING)
    }

    /// Sends `data` as one datagram to `host` (a name or an IP literal) at `port`
    /// (AnyIO's `sendto`): a name is resolved first (to its first address).
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to); the resolver's errors; [`ErrorKind::InvalidArgument`]
    /// for port 0.
    pub async fn sendto(&self, data: &[u8], host: &str, port: u16) -> Result<()> {
        if port == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "sendto: port 0 cannot be sent to",
            ));
        }
        let local_v6 = self.local_addr()?.is_ipv6();
        let addrs = super::getaddrinfo(host, port).await?;
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv6() == local_v6)
            .or(addrs.first())
            .copied()
            .ok_or_else(|| Error::new(ErrorKind::Io, format!("{host:?} has no address")))?;
        self.send_to(data, addr).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.core.ip_addr("reading the local address", false)
    }
}

datagram_socket!(
    UdpSocket,
    item: (Vec<u8>, SocketAddr),
    items: "Received datagrams and their senders' addresses",
    max: Some(MAX_IP_DATAGRAM),
    receiving: RECEIVING,
    from: with_ip_sender,
    send: |socket, item| socket.send_to(&item.0, item.1),
    errors: "",
);

/// A UDP socket connected to one peer (AnyIO's `ConnectedUDPSocket`): an unreliable object
/// stream of datagrams.
///
/// Clones, closing and cancellation as for [`UdpSocket`]. Datagrams from other senders
/// are filtered out by the OS. An ICMP "port unreachable" for an earlier send surfaces as
/// [`ErrorKind::BrokenResource`] (source `ConnectionRefused`) from the next send or receive
/// that reaches the OS; the socket stays usable. On tokio, a receive already *waiting*
/// when the error arrives is not woken by it (tokio's reactor wakes readers for readable
/// events only); on smol it is.
///
/// # Typed attributes
///
/// As [`UdpSocket`], plus [`RemoteAddress`](super::attr::RemoteAddress) and
/// [`RemotePort`](super::attr::RemotePort).
#[derive(Clone)]
pub struct ConnectedUdpSocket {
    core: Arc<SocketCore>,
    /// The state of this handle's `Stream` of received datagrams.
    stream: StreamRecv,
}

impl fmt::Debug for ConnectedUdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedUdpSocket")
            .field("local", &self.local_addr().ok())
            .field("remote", &self.peer_addr().ok())
            .finish()
    }
}

impl ConnectedUdpSocket {
    /// Wraps a connected `std::net::UdpSocket`, registering it with the backend that
    /// serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a UDP socket or not
    /// connected; [`ErrorKind::NoEventLoop`] outside any async context;
    /// [`ErrorKind::Io`] when registration fails.
    pub fn from_std(socket: std::net::UdpSocket) -> Result<ConnectedUdpSocket> {
        Ok(ConnectedUdpSocket {
            core: adopt(Socket::from(socket), true, "ConnectedUdpSocket::from_std")?,
            stream: StreamRecv::default(),
        })
    }

    /// Receives one datagram from the peer.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled (or abandoned) receive takes no datagram.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::receive`].
    pub fn receive(&self) -> ReceiveDatagram<'_> {
        ReceiveDatagram {
            state: RecvState::new(&self.core, Some(MAX_IP_DATAGRAM), RECEIVING),
        }
    }

    /// Sends `data` as one datagram to the peer.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::send_to`].
    pub fn send<'a>(&'a self, data: &'a [u8]) -> SendDatagram<'a> {
        SendDatagram::new(&self.core, data, None, SENDING)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.core.ip_addr("reading the local address", false)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.core.ip_addr("reading the peer address", true)
    }
}

datagram_socket!(
    ConnectedUdpSocket,
    item: Vec<u8>,
    items: "Received datagrams",
    max: Some(MAX_IP_DATAGRAM),
    receiving: RECEIVING,
    from: data_only,
    send: |socket, item| ConnectedUdpSocket::send(socket, item),
    errors: " (an ICMP \"port unreachable\" from the peer arrives as one: the socket \
        stays usable)",
);

socket_common!(UdpSocket, ConnectedUdpSocket);
socket_methods!(UdpSocket, "socket": with_fd);
socket_methods!(ConnectedUdpSocket, "socket": with_fd);

// ---------------------------------------------------------------------------------------
// Creating.

/// A UDP socket to be created: built by [`create_udp_socket`], configured with its methods,
/// created by `.await`.
#[must_use = "the socket is created only when this is awaited"]
#[derive(Debug)]
pub struct CreateUdpSocket {
    family: Option<Family>,
    local_host: Option<String>,
    local_port: u16,
    reuse_port: bool,
}

/// Creates an unconnected UDP socket (AnyIO's `create_udp_socket`).
///
/// Bound to [`local_host`](CreateUdpSocket::local_host) (its first address) and
/// [`local_port`](CreateUdpSocket::local_port) when given; otherwise to the unspecified
/// address of [`family`](CreateUdpSocket::family) (`0.0.0.0` unless the family is
/// [`Family::Inet6`]), on the port given or one the OS picks.
///
/// # Cancellation
///
/// A checkpoint (the name lookup, if any, is cancellable).
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for the family [`Family::Unix`] or a bad host name;
/// [`ErrorKind::Io`] from the OS (an address in use, say) or the resolver;
/// [`ErrorKind::Cancelled`].
pub fn create_udp_socket() -> CreateUdpSocket {
    CreateUdpSocket {
        family: None,
        local_host: None,
        local_port: 0,
        reuse_port: false,
    }
}

impl CreateUdpSocket {
    /// The address family ([`Family::Inet`] or [`Family::Inet6`]); by default the local
    /// host's, or IPv4.
    pub fn family(mut self, family: Family) -> CreateUdpSocket {
        self.family = Some(family);
        self
    }

    /// Binds to this host's (a name or an IP literal) first address of the family.
    pub fn local_host(mut self, host: impl Into<String>) -> CreateUdpSocket {
        self.local_host = Some(host.into());
        self
    }

    /// Binds to this port (0, the default: one the OS picks).
    pub fn local_port(mut self, port: u16) -> CreateUdpSocket {
        self.local_port = port;
        self
    }

    /// Sets SO_REUSEPORT, so several sockets can share the port.
    pub fn reuse_port(mut self, reuse: bool) -> CreateUdpSocket {
        self.reuse_port = reuse;
        self
    }

    async fn create(self) -> Result<UdpSocket> {
        crate::lowlevel::checkpoint().await?;
        let local = local_addr(
            self.family,
            self.local_host.as_deref(),
            self.local_port,
            None,
        )
        .await?;
        let socket = bind(local, self.reuse_port)?;
        Ok(UdpSocket {
            core: adopt(socket, false, "create_udp_socket")?,
            stream: StreamRecv::default(),
        })
    }
}

impl IntoFuture for CreateUdpSocket {
    type Output = Result<UdpSocket>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<UdpSocket>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

/// A connected UDP socket to be created: built by [`create_connected_udp_socket`],
/// configured with its methods, created by `.await`.
#[must_use = "the socket is created only when this is awaited"]
#[derive(Debug)]
pub struct CreateConnectedUdpSocket {
    remote_host: String,
    remote_port: u16,
    local: CreateUdpSocket,
}

/// Creates a UDP socket connected to `remote_host` (a name or an IP literal) at
/// `remote_port` (AnyIO's `create_connected_udp_socket`): the first address of the host
/// (in the [`family`](CreateConnectedUdpSocket::family), if given) is the peer; the
/// socket is bound to [`local_host`](CreateConnectedUdpSocket::local_host) /
/// [`local_port`](CreateConnectedUdpSocket::local_port) when given.
///
/// # Cancellation
///
/// A checkpoint (the name lookups are cancellable).
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for port 0, the family [`Family::Unix`] or a bad host
/// name; [`ErrorKind::Io`] from the OS or the resolver; [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// use anyio::net::{create_connected_udp_socket, create_udp_socket};
///
/// # anyio::run(|| async {
/// let server = create_udp_socket().local_host("127.0.0.1").await?;
/// let port = server.local_addr()?.port();
/// let client = create_connected_udp_socket("127.0.0.1", port).await?;
/// client.send(b"ping").await?;
/// let (data, from) = server.receive().await?;
/// server.send_to(&data, from).await?;
/// assert_eq!(client.receive().await?, b"ping");
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub fn create_connected_udp_socket(
    remote_host: impl Into<String>,
    remote_port: u16,
) -> CreateConnectedUdpSocket {
    CreateConnectedUdpSocket {
        remote_host: remote_host.into(),
        remote_port,
        local: create_udp_socket(),
    }
}

impl CreateConnectedUdpSocket {
    /// The address family ([`Family::Inet`] or [`Family::Inet6`]).
    pub fn family(mut self, family: Family) -> CreateConnectedUdpSocket {
        self.local.family = Some(family);
        self
    }

    /// Binds to this host's first address of the peer's family before connecting.
    pub fn local_host(mut self, host: impl Into<String>) -> CreateConnectedUdpSocket {
        self.local.local_host = Some(host.into());
        self
    }

    /// Binds to this port before connecting (0, the default: one the OS picks).
    pub fn local_port(mut self, port: u16) -> CreateConnectedUdpSocket {
        self.local.local_port = port;
        self
    }

    /// Sets SO_REUSEPORT.
    pub fn reuse_port(mut self, reuse: bool) -> CreateConnectedUdpSocket {
        self.local.reuse_port = reuse;
        self
    }

    async fn create(self) -> Result<ConnectedUdpSocket> {
        crate::lowlevel::checkpoint().await?;
        if self.remote_port == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "create_connected_udp_socket({:?}, 0): port 0 cannot be connected to",
                    self.remote_host
                ),
            ));
        }
        check_family(self.local.family)?;
        let remotes = super::getaddrinfo(&self.remote_host, self.remote_port).await?;
        let remote = remotes
            .iter()
            .find(|a| match self.local.family {
                Some(Family::Inet) => a.is_ipv4(),
                Some(_) => a.is_ipv6(),
                None => true,
            })
            .copied()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Io,
                    format!("{:?} has no address of that family", self.remote_host),
                )
            })?;
        let family = if remote.is_ipv6() {
            Family::Inet6
        } else {
            Family::Inet
        };
        let local = local_addr(
            Some(family),
            self.local.local_host.as_deref(),
            self.local.local_port,
            Some(remote),
        )
        .await?;
        let socket = bind(local, self.local.reuse_port)?;
        socket
            .connect(&remote.into())
            .map_err(|e| os_error(format!("connecting a UDP socket to {remote}"), e))?;
        Ok(ConnectedUdpSocket {
            core: adopt(socket, true, "create_connected_udp_socket")?,
            stream: StreamRecv::default(),
        })
    }
}

impl IntoFuture for CreateConnectedUdpSocket {
    type Output = Result<ConnectedUdpSocket>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<ConnectedUdpSocket>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

fn check_family(family: Option<Family>) -> Result<()> {
    if family == Some(Family::Unix) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a UDP socket's family must be Inet or Inet6",
        ));
    }
    Ok(())
}

/// The address to bind to: `host`'s first address in `family`, or the family's
/// unspecified address.
async fn local_addr(
    family: Option<Family>,
    host: Option<&str>,
    port: u16,
    remote: Option<SocketAddr>,
) -> Result<SocketAddr> {
    check_family(family)?;
    let v6 = match (family, remote) {
        (_, Some(r)) => Some(r.is_ipv6()),
        (Some(Family::Inet6), None) => Some(true),
        (Some(_), None) => Some(false),
        (None, None) => None,
    };
    match host {
        Some(host) => {
            let addrs = super::getaddrinfo(host, port).await?;
            addrs
                .into_iter()
                .find(|a| v6.is_none_or(|v6| a.is_ipv6() == v6))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Io,
                        format!("the local host {host:?} has no address of that family"),
                    )
                })
        }
        None => {
            let ip: std::net::IpAddr = if v6 == Some(true) {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            };
            Ok(SocketAddr::new(ip, port))
        }
    }
}

fn bind(local: SocketAddr, reuse_port: bool) -> Result<Socket> {
    let action = || format!("creating a UDP socket on {local}");
    let socket = Socket::new(
        socket2::Domain::for_address(local),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| os_error(action(), e))?;
    if reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(|e| os_error(action(), e))?;
    }
    socket
        .bind(&local.into())
        .map_err(|e| os_error(action(), e))?;
    Ok(socket)
}
