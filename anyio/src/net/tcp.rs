//! TCP streams and listeners.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{SockRef, Socket};

use crate::backend::io::{Registered, SocketKind};
use crate::error::{Error, ErrorKind, Result};
use crate::net::MultiListener;
use crate::net::socket::{
    Expected, SocketCore, adopt, byte_stream_impls, socket_common, socket_methods,
};
use crate::streams::bytes::os_error;
use crate::streams::{BusyFlag, Listener};

/// A TCP connection (AnyIO's `SocketStream` over TCP): a [`ByteStream`](crate::streams::ByteStream).
///
/// Clones are handles to one connection: one task can receive while another sends, and
/// closing any handle closes the connection for all (unlike the clones of a memory object
/// stream). Dropping the last handle closes the socket.
///
/// TCP_NODELAY is on (Nagle's algorithm off) for every stream anyio connects or accepts,
/// as AnyIO does.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalAddress`](super::attr::LocalAddress),
/// [`LocalPort`](super::attr::LocalPort), [`RemoteAddress`](super::attr::RemoteAddress),
/// [`RemotePort`](super::attr::RemotePort), [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct TcpStream {
    core: Arc<SocketCore>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("remote", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_registered(io: Registered) -> TcpStream {
        TcpStream {
            core: Arc::new(SocketCore::new(io)),
        }
    }

    pub(crate) fn core(&self) -> &SocketCore {
        &self.core
    }

    /// Wraps a connected `std::net::TcpStream`, registering it with the backend that serves
    /// this call and turning TCP_NODELAY on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not connected (or not TCP);
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(stream: std::net::TcpStream) -> Result<TcpStream> {
        let expected = Expected {
            ty: socket2::Type::STREAM,
            family: |_| true,
            wrong: "not a stream socket",
            connected: true,
            listening: false,
        };
        let what = "TcpStream::from_std";
        let core = adopt(Socket::from(stream), &expected, SocketKind::TcpStream, what)?;
        let _ = core.with_fd(what, |fd| SockRef::from(&fd).set_tcp_nodelay(true));
        Ok(TcpStream { core })
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

socket_common!(TcpStream, TcpListener);
socket_methods!(TcpStream, "stream": aclose, is_closed, with_fd);
socket_methods!(TcpListener, "listener": aclose);

byte_stream_impls!(TcpStream, "TCP stream");

/// A listening TCP socket (AnyIO's `SocketListener`): a [`Listener`] of [`TcpStream`]s.
///
/// Clones are handles to one listener; closing any closes it for all.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalAddress`](super::attr::LocalAddress),
/// [`LocalPort`](super::attr::LocalPort), [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct TcpListener {
    core: Arc<SocketCore>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

const ACCEPTING: &str = "accepting on a TCP listener";

impl TcpListener {
    pub(crate) fn from_socket(socket: Socket) -> Result<TcpListener> {
        socket
            .set_nonblocking(true)
            .map_err(|e| os_error("making a listening socket non-blocking", e))?;
        Ok(TcpListener {
            core: SocketCore::open(socket, SocketKind::TcpListener)?,
        })
    }

    /// Wraps a listening `std::net::TcpListener`, registering it with the backend that
    /// serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a listening stream socket;
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(listener: std::net::TcpListener) -> Result<TcpListener> {
        let socket = Socket::from(listener);
        let listening = socket.r#type().ok() == Some(socket2::Type::STREAM)
            && rustix::net::sockopt::socket_acceptconn(&socket).unwrap_or(false);
        if !listening {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "TcpListener::from_std: not a listening TCP socket",
            ));
        }
        TcpListener::from_socket(socket)
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.core.ip_addr("reading the local address", false)
    }
}

impl Listener<TcpStream> for TcpListener {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<TcpStream>> {
        self.core.poll_accept(cx, ACCEPTING).map_ok(|io| {
            let _ = SockRef::from(&io).set_tcp_nodelay(true);
            TcpStream::from_registered(io)
        })
    }

    fn accept_busy(&self) -> &BusyFlag {
        &self.core.receive_busy
    }
}

// ---------------------------------------------------------------------------------------
// Connecting.

/// The default stagger between happy-eyeballs attempts (RFC 8305's recommendation).
pub const DEFAULT_HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(250);

enum Target {
    Host(String, u16),
    Addrs(Vec<SocketAddr>),
}

/// What a connect error message names, formatted only when an error is made (a format
/// per successful connect was a tenth of its instructions).
pub(crate) enum Shown {
    Host(String, u16),
    Text(String),
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Host(h, p) => write!(f, "{h}:{p}"),
            Shown::Text(t) => f.write_str(t),
        }
    }
}

/// A TCP connection to be made: built by [`connect_tcp`] or [`connect_tcp_addrs`],
/// configured with its methods, made by `.await`.
#[must_use = "a connection is made only when this is awaited"]
pub struct ConnectTcp {
    target: Target,
    local_host: Option<String>,
    local_port: u16,
    delay: Duration,
}

impl fmt::Debug for ConnectTcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnectTcp");
        match &self.target {
            Target::Host(h, p) => d.field("host", h).field("port", p),
            Target::Addrs(a) => d.field("addrs", a),
        };
        d.field("local_host", &self.local_host)
            .field("local_port", &self.local_port)
            .field("happy_eyeballs_delay", &self.delay)
            .finish()
    }
}

/// Connects to `host` (a name or an IP literal) at `port` (AnyIO's `connect_tcp`),
/// racing its addresses with happy eyeballs (see [`happy_eyeballs`](super::happy_eyeballs)).
///
/// Configure the connection with [`local_host`](ConnectTcp::local_host),
/// [`local_port`](ConnectTcp::local_port) and
/// [`happy_eyeballs_delay`](ConnectTcp::happy_eyeballs_delay), then `.await` it. The stream
/// has TCP_NODELAY on.
///
/// # Cancellation
///
/// A checkpoint. A cancelled connect closes every socket it opened before it returns.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for port 0 or a host name IDNA rejects; the resolver's
/// error ([`ErrorKind::Io`]); when every address fails, [`ErrorKind::Io`] (or
/// [`ErrorKind::TimedOut`]) — with one address, the `io::Error` is the source, so its
/// `io::ErrorKind` (`ConnectionRefused`, say) stays visible; with several, the source is
/// a [`ConnectErrors`](super::ConnectErrors) listing each address's error;
/// [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// use anyio::net::{connect_tcp, create_tcp_listener};
/// use anyio::streams::{ByteReceiveStream, ByteSendStream, Listener};
///
/// # anyio::run(|| async {
/// let listener = create_tcp_listener().local_host("127.0.0.1").await?;
/// let port = listener.listeners()[0].local_addr()?.port();
/// let client = connect_tcp("127.0.0.1", port).await?;
/// let server = listener.accept().await?;
/// client.send(b"ping").await?;
/// assert_eq!(server.receive(64).await?, b"ping");
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub fn connect_tcp(host: impl Into<String>, port: u16) -> ConnectTcp {
    ConnectTcp {
        target: Target::Host(host.into(), port),
        local_host: None,
        local_port: 0,
        delay: DEFAULT_HAPPY_EYEBALLS_DELAY,
    }
}

/// As [`connect_tcp`], to addresses already resolved (by a resolver of your own, say):
/// they are raced with happy eyeballs, in RFC 8305's order.
///
/// # Errors
///
/// As [`connect_tcp`]; an empty list or an address with port 0 is
/// [`ErrorKind::InvalidArgument`].
pub fn connect_tcp_addrs(addrs: impl IntoIterator<Item = SocketAddr>) -> ConnectTcp {
    ConnectTcp {
        target: Target::Addrs(addrs.into_iter().collect()),
        local_host: None,
        local_port: 0,
        delay: DEFAULT_HAPPY_EYEBALLS_DELAY,
    }
}

impl ConnectTcp {
    /// Binds the socket to this local interface (a name or an IP literal) before
    /// connecting; only addresses of the host in the same family are tried.
    pub fn local_host(mut self, host: impl Into<String>) -> ConnectTcp {
        self.local_host = Some(host.into());
        self
    }

    /// Binds the socket to this local port before connecting (0, the default: any).
    pub fn local_port(mut self, port: u16) -> ConnectTcp {
        self.local_port = port;
        self
    }

    /// The stagger between two attempts (default [`DEFAULT_HAPPY_EYEBALLS_DELAY`]);
    /// `Duration::ZERO` starts every attempt at once, `Duration::MAX` starts the next only
    /// when one fails.
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> ConnectTcp {
        self.delay = delay;
        self
    }

    /// The host name this connection goes to, when it was given by name (`connect_tcp`).
    #[cfg(feature = "tls")]
    pub(crate) fn host(&self) -> Option<&str> {
        match &self.target {
            Target::Host(host, _) => Some(host),
            Target::Addrs(_) => None,
        }
    }

    async fn connect(self) -> Result<TcpStream> {
        crate::lowlevel::checkpoint().await?;
        let (shown, remotes) = match self.target {
            Target::Host(host, port) => {
                if port == 0 {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("connect_tcp({host:?}, 0): port 0 cannot be connected to"),
                    ));
                }
                if self.local_host.is_none() && self.local_port == 0 {
                    // An IP literal, nothing to bind: what `getaddrinfo` and the ordering
                    // below would make of it (one address), without their vectors.
                    if let Some(ip) = super::addr::parse_ip(&host) {
                        let remote = std::net::SocketAddr::new(ip, port);
                        let shown = Shown::Host(host, port);
                        return super::happy_eyeballs::connect_one(remote, None, &shown).await;
                    }
                }
                let addrs = super::getaddrinfo(&host, port).await?;
                (Shown::Host(host, port), addrs)
            }
            Target::Addrs(addrs) => {
                if addrs.is_empty() || addrs.iter().any(|a| a.port() == 0) {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "connect_tcp_addrs: the list must be non-empty and no port may be 0",
                    ));
                }
                let shown = addrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                (Shown::Text(shown), addrs)
            }
        };
        let locals = match &self.local_host {
            Some(h) => super::getaddrinfo(h, self.local_port).await?,
            None => Vec::new(),
        };
        let mut targets = Vec::new();
        for remote in super::happy_eyeballs::interleave(remotes) {
            let local = if self.local_host.is_some() {
                match locals.iter().find(|l| l.is_ipv6() == remote.is_ipv6()) {
                    Some(l) => Some(*l),
                    None => continue,
                }
            } else if self.local_port != 0 {
                let any: std::net::IpAddr = if remote.is_ipv6() {
                    std::net::Ipv6Addr::UNSPECIFIED.into()
                } else {
                    std::net::Ipv4Addr::UNSPECIFIED.into()
                };
                Some(SocketAddr::new(any, self.local_port))
            } else {
                None
            };
            targets.push((remote, local));
        }
        if targets.is_empty() {
            return Err(Error::new(
                ErrorKind::Io,
                format!("connecting to {shown}: no address in the family of the local host"),
            ));
        }
        super::happy_eyeballs::race(targets, self.delay, &shown).await
    }
}

impl IntoFuture for ConnectTcp {
    type Output = Result<TcpStream>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<TcpStream>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}

// ---------------------------------------------------------------------------------------
// Listening.

/// The most connections a listener's backlog may hold (AnyIO's clamp).
pub const MAX_BACKLOG: u32 = 65536;

/// TCP listeners to be created: built by [`create_tcp_listener`], configured with its
/// methods, created by `.await`.
#[must_use = "the listeners are created only when this is awaited"]
#[derive(Debug)]
pub struct CreateTcpListener {
    local_host: Option<String>,
    local_port: u16,
    family: Option<super::attr::Family>,
    backlog: u32,
    reuse_port: bool,
}

/// Creates TCP listeners (AnyIO's `create_tcp_listener`), one per local address, joined in
/// a [`MultiListener`]:
///
/// * with no [`local_host`](CreateTcpListener::local_host), one dual-stack socket on `[::]`
///   (IPV6_V6ONLY off, so IPv4 clients are accepted too), or `0.0.0.0` where IPv6 is
///   absent;
/// * with a host name (`"localhost"`), one socket per address it resolves to, all on the
///   same port (the port the first one got, when the port is 0);
/// * SO_REUSEADDR is on; SO_REUSEPORT with [`reuse_port`](CreateTcpListener::reuse_port);
///   the backlog (default and maximum [`MAX_BACKLOG`]) is clamped to the maximum.
///
/// Accepted streams have TCP_NODELAY on.
///
/// # Cancellation
///
/// A checkpoint (and the name lookup, if any, is cancellable); a cancelled call closes
/// whatever it had opened.
///
/// # Errors
///
/// [`ErrorKind::Io`] from the OS (an address in use, say), with the `io::Error` as the
/// source; [`ErrorKind::InvalidArgument`] for a bad host name; [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// use anyio::net::{connect_tcp, create_tcp_listener};
/// use anyio::streams::Listener;
///
/// # anyio::run(|| async {
/// let listener = create_tcp_listener().await?; // every interface, IPv4 and IPv6
/// let port = listener.listeners()[0].local_addr()?.port();
/// let _client = connect_tcp("127.0.0.1", port).await?;
/// let _server = listener.accept().await?;
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub fn create_tcp_listener() -> CreateTcpListener {
    CreateTcpListener {
        local_host: None,
        local_port: 0,
        family: None,
        backlog: MAX_BACKLOG,
        reuse_port: false,
    }
}

impl CreateTcpListener {
    /// Listens on the addresses of this host (a name or an IP literal) only.
    pub fn local_host(mut self, host: impl Into<String>) -> CreateTcpListener {
        self.local_host = Some(host.into());
        self
    }

    /// Listens on this port (0, the default: one the OS picks).
    pub fn local_port(mut self, port: u16) -> CreateTcpListener {
        self.local_port = port;
        self
    }

    /// Listens on addresses of this family only ([`Family::Inet`](super::attr::Family) or
    /// [`Family::Inet6`](super::attr::Family); an IPv6-only listener has IPV6_V6ONLY on).
    pub fn family(mut self, family: super::attr::Family) -> CreateTcpListener {
        self.family = Some(family);
        self
    }

    /// The listen backlog, clamped to [`MAX_BACKLOG`] (0 is allowed: the OS's minimum).
    pub fn backlog(mut self, backlog: u32) -> CreateTcpListener {
        self.backlog = backlog.min(MAX_BACKLOG);
        self
    }

    /// Sets SO_REUSEPORT, so several listeners (of this process or others) can share the
    /// port and the kernel spreads connections between them.
    pub fn reuse_port(mut self, reuse: bool) -> CreateTcpListener {
        self.reuse_port = reuse;
        self
    }

    async fn create(self) -> Result<MultiListener<TcpListener>> {
        use super::attr::Family;
        crate::lowlevel::checkpoint().await?;
        if self.family == Some(Family::Unix) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "create_tcp_listener: the family must be Inet or Inet6",
            ));
        }
        let (addrs, dual_stack) = match &self.local_host {
            None => {
                let v4 = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), self.local_port);
                let v6 = SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), self.local_port);
                match self.family {
                    Some(Family::Inet) => (vec![v4], false),
                    Some(_) => (vec![v6], false),
                    None if ipv6_available() => (vec![v6], true),
                    None => (vec![v4], false),
                }
            }
            Some(host) => {
                let mut addrs = super::getaddrinfo(host, self.local_port).await?;
                addrs.retain(|a| match self.family {
                    Some(Family::Inet) => a.is_ipv4(),
                    Some(_) => a.is_ipv6(),
                    None => true,
                });
                if addrs.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("create_tcp_listener: {host:?} has no address of that family"),
                    ));
                }
                (addrs, false)
            }
        };
        let mut listeners = Vec::with_capacity(addrs.len());
        let mut port = self.local_port;
        for mut addr in addrs {
            if port != 0 {
                addr.set_port(port);
            }
            let socket = self.bind(addr, dual_stack)?;
            if port == 0 {
                port = socket
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_socket())
                    .map_or(0, |a| a.port());
            }
            listeners.push(TcpListener::from_socket(socket)?);
        }
        Ok(MultiListener::new(listeners))
    }

    fn bind(&self, addr: SocketAddr, dual_stack: bool) -> Result<Socket> {
        let action = || format!("creating a TCP listener on {addr}");
        let socket = Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .map_err(|e| os_error(action(), e))?;
        socket
            .set_reuse_address(true)
            .map_err(|e| os_error(action(), e))?;
        if self.reuse_port {
            socket
                .set_reuse_port(true)
                .map_err(|e| os_error(action(), e))?;
        }
        if addr.is_ipv6() {
            socket
                .set_only_v6(!dual_stack)
                .map_err(|e| os_error(action(), e))?;
        }
        socket
            .bind(&addr.into())
            .map_err(|e| os_error(action(), e))?;
        // `backlog` is at most MAX_BACKLOG, which fits an i32.
        socket
            .listen(self.backlog as i32)
            .map_err(|e| os_error(action(), e))?;
        Ok(socket)
    }
}

impl IntoFuture for CreateTcpListener {
    type Output = Result<MultiListener<TcpListener>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

/// Whether this host can open an IPv6 socket at all.
fn ipv6_available() -> bool {
    Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).is_ok()
}
