//! TLS over any anyio byte stream, on rustls (AnyIO's `anyio.streams.tls`; cargo feature
//! `tls`).
//!
//! [`TlsStream::wrap`] runs the handshake over a byte stream — a TCP or UNIX socket, an
//! in-process pipe, another TLS stream — and returns a [`ByteStream`] that encrypts what it
//! sends and decrypts what it receives. [`TlsListener`] does the same for every connection
//! a listener accepts.
//!
//! ```no_run
//! use anyio::streams::tls::{TlsConfig, TlsStream};
//! use anyio::streams::{ByteReceiveStream, ByteSendStream};
//!
//! # anyio::run(|| async {
//! let tcp = anyio::net::connect_tcp("example.com", 443).await?;
//! let tls = TlsStream::wrap(tcp, TlsConfig::client("example.com")).await?;
//! tls.send(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n").await?;
//! let reply = tls.receive(65536).await?;
//! println!("{}", String::from_utf8_lossy(&reply));
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Configuration
//!
//! [`TlsConfig::client`] verifies the server against the operating system's trust store
//! (`rustls-platform-verifier`, what Python's `ssl.create_default_context()` does);
//! [`TlsConfig::client_with`] and [`TlsConfig::server`] take a `rustls::ClientConfig` or
//! `ServerConfig` of your own, as is (ALPN protocols, client certificates, resumption). The
//! crypto provider is rustls' `aws-lc-rs` (see `docs/decisions.md`).
//!
//! # Closing, and AnyIO's `standard_compatible`
//!
//! [`aclose`](SharedResource::aclose) sends a `close_notify` alert before closing the
//! transport, unless it runs in a cancelled scope ([`aclose_forcefully`]).
//! A peer that closes the transport without sending `close_notify` (a "ragged EOF") is
//! reported as [`ErrorKind::BrokenResource`] when the stream is *standard compatible* (the
//! default, as in AnyIO), and as [`ErrorKind::EndOfStream`] when it is not — for protocols
//! such as HTTP/1.x with a `Content-Length`, whose peers often skip the alert.
//!
//! [`send_eof`](ByteStream::send_eof) is a real half-close: it sends `close_notify` and
//! keeps receiving, so the peer's receive reports the end of the stream while it can still
//! answer (AnyIO raises `NotImplementedError` there; rustls supports it on TLS 1.2 and 1.3).
//!
//! # Cancellation
//!
//! A cancelled receive loses nothing: ciphertext read from the transport stays inside the
//! TLS session until the plaintext is taken. A cancelled send never corrupts the stream:
//! rustls holds whole records, and what a cancelled send had handed over is written before
//! anything sent later (it counts as the written prefix [`ByteSendStream::send`] documents).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, Listener,
    SharedResource, TypedAttribute, TypedAttributeProvider, aclose_forcefully,
};
use crate::error::{Error, ErrorKind, Result};

/// The most plaintext one `poll_send` hands to rustls: one full record.
const CHUNK: usize = 16 * 1024;
/// The ciphertext read from the transport at once: one full record with its overhead.
const READ_SIZE: usize = 16 * 1024 + 512;

/// The rustls crypto provider anyio uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_error(action: &'static str, e: rustls::Error) -> Error {
    Error::with_source(ErrorKind::Tls, action, e)
}

/// How a [`TlsStream`] is set up: which side, which rustls configuration, which server
/// name, and AnyIO's `standard_compatible`.
#[derive(Clone)]
pub struct TlsConfig {
    role: Role,
    standard_compatible: bool,
}

#[derive(Clone)]
enum Role {
    Client {
        config: Option<Arc<ClientConfig>>,
        server_name: String,
    },
    Server(Arc<ServerConfig>),
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TlsConfig");
        match &self.role {
            Role::Client { server_name, .. } => d.field("client_of", server_name),
            Role::Server(_) => d.field("server", &true),
        };
        d.field("standard_compatible", &self.standard_compatible)
            .finish()
    }
}

impl TlsConfig {
    /// The client side of a connection to `server_name`, verified against the operating
    /// system's trust store (AnyIO's default `ssl.create_default_context()`). A unicode
    /// host name is converted to its IDNA (punycode) form.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = anyio::streams::tls::TlsConfig::client("example.com");
    /// assert!(!config.is_server());
    /// ```
    pub fn client(server_name: impl Into<String>) -> TlsConfig {
        TlsConfig {
            role: Role::Client {
                config: None,
                server_name: server_name.into(),
            },
            standard_compatible: true,
        }
    }

    /// The client side with a `rustls::ClientConfig` of your own (roots, ALPN, client
    /// certificates), used as is.
    pub fn client_with(config: Arc<ClientConfig>, server_name: impl Into<String>) -> TlsConfig {
        TlsConfig {
            role: Role::Client {
                config: Some(config),
                server_name: server_name.into(),
            },
            standard_compatible: true,
        }
    }

    /// The server side, with `config`.
    pub fn server(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            role: Role::Server(config),
            standard_compatible: true,
        }
    }

    /// AnyIO's `standard_compatible` (on by default): whether a peer closing the
    /// transport without `close_notify` is [`ErrorKind::BrokenResource`] (on) or
    /// [`ErrorKind::EndOfStream`] (off). See the [module docs](self).
    pub fn standard_compatible(mut self, on: bool) -> TlsConfig {
        self.standard_compatible = on;
        self
    }

    /// True for the server side.
    pub fn is_server(&self) -> bool {
        matches!(self.role, Role::Server(_))
    }

    fn connection(&self) -> Result<Connection> {
        match &self.role {
            Role::Server(config) => ServerConnection::new(config.clone())
                .map(Connection::Server)
                .map_err(|e| tls_error("starting a TLS server session", e)),
            Role::Client {
                config,
                server_name,
            } => {
                let name = server_name_of(server_name)?;
                let config = match config {
                    Some(config) => config.clone(),
                    None => default_client_config()?,
                };
                ClientConnection::new(config, name)
                    .map(Connection::Client)
                    .map_err(|e| tls_error("starting a TLS client session", e))
            }
        }
    }
}

/// The server name to verify: a DNS name (unicode converted to IDNA) or an IP address.
fn server_name_of(host: &str) -> Result<ServerName<'static>> {
    let bad = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid TLS server name {host:?}: {why}"),
        )
    };
    if host.is_empty() {
        return Err(bad("it is empty".into()));
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    let ascii = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host).map_err(|e| bad(e.to_string()))?
    };
    ServerName::try_from(ascii).map_err(|e| bad(e.to_string()))
}

/// The default client configuration: the platform verifier on the `aws-lc-rs` provider, made
/// once per process.
fn default_client_config() -> Result<Arc<ClientConfig>> {
    static DEFAULT: std::sync::OnceLock<std::result::Result<Arc<ClientConfig>, String>> =
        std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .and_then(|b| b.with_platform_verifier())
                .map(|b| Arc::new(b.with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("the system's TLS trust store could not be loaded: {e}"),
            )
        })
}

/// A client configuration trusting the Mozilla roots bundled by `webpki-roots` (cargo
/// feature `tls-webpki-roots`), for systems without a usable trust store (containers).
#[cfg(feature = "tls-webpki-roots")]
pub fn webpki_roots_client_config() -> Arc<ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A `rustls::ServerConfig` builder on anyio's crypto provider (`aws-lc-rs`), for servers that
/// want the same provider as anyio's clients.
///
/// # Errors
///
/// [`ErrorKind::Tls`] if the provider refuses the default protocol versions (it does not).
pub fn server_config_builder() -> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>>
{
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("building a TLS server configuration", e))
}

/// A `rustls::ClientConfig` builder on anyio's crypto provider (`aws-lc-rs`).
///
/// # Errors
///
/// [`ErrorKind::Tls`] if the provider refuses the default protocol versions (it does not).
pub fn client_config_builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>>
{
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("building a TLS client configuration", e))
}

// ---------------------------------------------------------------------------------------

/// The typed attributes of a TLS stream (AnyIO's `TLSAttribute`). The transport's
/// attributes (addresses, ports) are available through the TLS stream too.
pub mod attr {
    use super::TypedAttribute;

    macro_rules! attribute {
        ($(#[$doc:meta])* $name:ident: $value:ty = $key:literal) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}
            impl TypedAttribute for $name {
                type Value = $value;
                const NAME: &'static str = $key;
            }
        };
    }

    attribute!(
        /// The ALPN protocol both sides agreed on (absent when none was).
        AlpnProtocol: Vec<u8> = "alpn_protocol"
    );
    attribute!(
        /// The negotiated cipher suite, as rustls names it (`TLS13_AES_256_GCM_SHA384`).
        Cipher: String = "cipher"
    );
    attribute!(
        /// The negotiated protocol version (`TLSv1_3`).
        TlsVersion: String = "tls_version"
    );
    attribute!(
        /// The peer's certificate chain, DER encoded, its own certificate first (absent when
        /// the peer sent none, as a client without a certificate).
        PeerCertificates: Vec<Vec<u8>> = "peer_certificate_chain"
    );
    attribute!(
        /// True on the server side.
        ServerSide: bool = "server_side"
    );
    attribute!(
        /// AnyIO's `standard_compatible` setting of the stream.
        StandardCompatible: bool = "standard_compatible"
    );
    attribute!(
        /// The `tls-exporter` channel binding (RFC 9266: 32 bytes exported with the label
        /// `EXPORTER-Channel-Binding`), where AnyIO has `tls-unique`.
        ChannelBinding: Vec<u8> = "channel_binding_tls_exporter"
    );
    attribute!(
        /// The server name the client asked for (SNI): on the client, the name it
        /// verified; on the server, what the client sent (absent when it sent none).
        ServerName: String = "server_name"
    );
}

// ---------------------------------------------------------------------------------------

/// Plaintext a send handed to rustls and still owes an answer for: its records could not
/// all be written yet when it was the last chunk of the send. Recognised when the same send
/// polls again (same buffer, same bytes).
struct Owed {
    ptr: usize,
    len: usize,
    accepted: usize,
    bytes: Vec<u8>,
}

struct State {
    conn: Connection,
    /// Ciphertext read from the transport, not yet given to rustls.
    incoming: Vec<u8>,
    incoming_at: usize,
    /// Ciphertext from rustls, not yet written to the transport.
    outgoing: Vec<u8>,
    outgoing_at: usize,
    owed: Option<Owed>,
    /// `close_notify` was queued (by `send_eof` or a close).
    eof_sent: bool,
    /// A close started: every later call fails with `ClosedResource`.
    closing: bool,
    /// A fatal TLS error: every later call fails with it.
    failed: Option<Error>,
}

/// A TLS session over a byte stream `S` (AnyIO's `TLSStream`). See the [module docs](self).
///
/// Itself a [`ByteStream`], with the TLS typed attributes of [`attr`] and those of its
/// transport. Receiving and sending may run in two tasks at once.
pub struct TlsStream<S> {
    transport: S,
    state: Mutex<State>,
    receive_busy: BusyFlag,
    send_busy: BusyFlag,
    standard_compatible: bool,
    server_side: bool,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("server_side", &self.server_side)
            .field("standard_compatible", &self.standard_compatible)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> TlsStream<S> {
    /// Runs the TLS handshake over `transport` as `config` says, and returns the stream
    /// (AnyIO's `TLSStream.wrap`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a handshake cut by cancellation (or a deadline) closes the transport
    /// and returns `Cancelled`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Tls`] with the `rustls::Error` as source when the handshake fails (a
    /// certificate that does not verify, a wrong host name, a peer that is not speaking
    /// TLS) — the transport is closed then; [`ErrorKind::InvalidArgument`] for an empty or
    /// invalid server name; [`ErrorKind::BrokenResource`] / [`ErrorKind::EndOfStream`] when
    /// the transport fails or the peer leaves mid-handshake; [`ErrorKind::Cancelled`].
    pub async fn wrap(transport: S, config: TlsConfig) -> Result<TlsStream<S>> {
        let conn = match config.connection() {
            Ok(conn) => conn,
            Err(e) => {
                let _ = aclose_forcefully(&transport).await;
                return Err(e);
            }
        };
        let stream = TlsStream {
            transport,
            state: Mutex::new(State {
                conn,
                incoming: Vec::new(),
                incoming_at: 0,
                outgoing: Vec::new(),
                outgoing_at: 0,
                owed: None,
                eof_sent: false,
                closing: false,
                failed: None,
            }),
            receive_busy: BusyFlag::new(),
            send_busy: BusyFlag::new(),
            standard_compatible: config.standard_compatible,
            server_side: config.is_server(),
        };
        // `wait` is the checkpoint (first) and marks the task blocked between polls, so a
        // deadline or a cancellation reaches a handshake waiting on its peer.
        match crate::lowlevel::wait(|cx| stream.poll_handshake(cx))
            .await
            .and_then(|r| r)
        {
            Ok(()) => Ok(stream),
            Err(e) => {
                let _ = aclose_forcefully(&stream.transport).await;
                Err(e)
            }
        }
    }
}

impl<S> TlsStream<S> {
    /// The transport this stream runs over.
    pub fn transport(&self) -> &S {
        &self.transport
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock; a poisoned one still holds a valid session.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: ByteStream> TlsStream<S> {
    /// Drives the handshake: writes what rustls has to say, reads what it waits for.
    fn poll_handshake(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.lock();
        loop {
            // Write first: the alert of a failed handshake goes out before the error.
            ready!(self.poll_flush(&mut st, cx))?;
            if let Some(e) = &st.failed {
                return Poll::Ready(Err(e.clone()));
            }
            if !st.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            match ready!(self.poll_read_tls(&mut st, cx)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::EndOfStream => {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::BrokenResource,
                        "the peer closed the connection during the TLS handshake",
                    )));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes the ciphertext rustls has queued to the transport, until none is left.
    fn poll_flush(&self, st: &mut State, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            if st.outgoing_at == st.outgoing.len() {
                st.outgoing.clear();
                st.outgoing_at = 0;
                if !st.conn.wants_write() {
                    return Poll::Ready(Ok(()));
                }
                if let Err(e) = st.conn.write_tls(&mut st.outgoing) {
                    return Poll::Ready(Err(super::bytes::broken("writing TLS records", e)));
                }
                continue;
            }
            let n = ready!(self.transport.poll_send(cx, &st.outgoing[st.outgoing_at..]))?;
            st.outgoing_at += n.max(1).min(st.outgoing.len() - st.outgoing_at);
        }
    }

    /// Gives rustls more ciphertext: what is left from the last read, or a new read from
    /// the transport. A fatal TLS error is kept in `failed` (its alert is still to be
    /// flushed) and returned.
    fn poll_read_tls(&self, st: &mut State, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if st.incoming_at == st.incoming.len() {
            st.incoming.clear();
            st.incoming_at = 0;
            st.incoming.resize(READ_SIZE, 0);
            match self.transport.poll_receive(cx, &mut st.incoming) {
                Poll::Ready(Ok(n)) => st.incoming.truncate(n),
                other => {
                    st.incoming.clear();
                    return other.map_ok(drop);
                }
            }
        }
        let mut rest = &st.incoming[st.incoming_at..];
        let before = rest.len();
        let read = st.conn.read_tls(&mut rest);
        st.incoming_at += before - rest.len();
        if let Err(e) = read {
            return Poll::Ready(Err(super::bytes::broken("reading TLS records", e)));
        }
        if let Err(e) = st.conn.process_new_packets() {
            let e = tls_error("the TLS session failed", e);
            st.failed = Some(e.clone());
            // The alert rustls queued is best effort: the error stands either way.
            let _ = self.poll_flush(st, cx);
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(()))
    }

    fn check_usable(&self, st: &State, action: &'static str) -> Result<()> {
        if st.closing {
            return Err(super::bytes::closed(action));
        }
        if let Some(e) = &st.failed {
            return Err(Error::with_source(
                ErrorKind::BrokenResource,
                format!("{action}: the TLS session failed earlier"),
                e.clone(),
            ));
        }
        Ok(())
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for TlsStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        {
            let st = self.lock();
            let conn = &st.conn;
            request
                .provide_opt::<attr::AlpnProtocol>(|| conn.alpn_protocol().map(<[u8]>::to_vec))
                .provide_opt::<attr::Cipher>(|| {
                    conn.negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()))
                })
                .provide_opt::<attr::TlsVersion>(|| {
                    conn.protocol_version().map(|v| format!("{v:?}"))
                })
                .provide_opt::<attr::PeerCertificates>(|| {
                    conn.peer_certificates()
                        .map(|chain| chain.iter().map(|c| c.as_ref().to_vec()).collect())
                })
                .provide::<attr::ServerSide>(|| self.server_side)
                .provide::<attr::StandardCompatible>(|| self.standard_compatible)
                .provide_opt::<attr::ChannelBinding>(|| {
                    let mut out = vec![0u8; 32];
                    let exported = conn
                        .export_keying_material(&mut out, b"EXPORTER-Channel-Binding", None)
                        .is_ok();
                    exported.then_some(out)
                })
                .provide_opt::<attr::ServerName>(|| match conn {
                    Connection::Server(s) => s.server_name().map(str::to_owned),
                    Connection::Client(_) => None,
                });
        }
        self.transport.provide_attributes(request);
    }
}

impl<S: ByteStream> SharedResource for TlsStream<S> {
    /// Sends `close_notify` (unless in a cancelled scope, or already sent by `send_eof`),
    /// then closes the transport.
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.lock();
        let graceful = crate::context::check_cancelled().is_none() && st.failed.is_none();
        if !st.closing {
            st.closing = true;
            if graceful && !st.eof_sent {
                st.conn.send_close_notify();
                st.eof_sent = true;
            }
        }
        if graceful {
            // A peer that reads nothing could hold this forever: a cancellation (or a
            // deadline around `aclose`) skips the rest of the flush.
            if self.poll_flush(&mut st, cx).is_pending() {
                return Poll::Pending;
            }
            // Read what already arrived and was never asked for (a TLS 1.3 server's session
            // tickets, typically): closing a TCP socket with unread data resets the
            // connection, and the peer would lose what it had not read yet. Only what is
            // there now, with a no-op waker: this never waits. Skipped while a receive is
            // parked in another task, whose waker the transport holds (polling it here
            // would replace that waker, and the close would not wake the receiver).
            if !self.receive_busy.is_busy() {
                let mut scratch = [0u8; 4096];
                let mut quiet = Context::from_waker(std::task::Waker::noop());
                while let Poll::Ready(Ok(_)) = self.transport.poll_receive(&mut quiet, &mut scratch)
                {
                }
            }
        }
        drop(st);
        self.transport.poll_close(cx)
    }
}

impl<S: ByteStream> ByteReceiveStream for TlsStream<S> {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let mut st = self.lock();
        self.check_usable(&st, "receiving")?;
        loop {
            match st.conn.reader().read(buf) {
                Ok(0) if !buf.is_empty() => {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::EndOfStream,
                        "the peer closed the TLS session (close_notify)",
                    )));
                }
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(self.ragged_eof(Some(e))));
                }
                Err(e) => return Poll::Ready(Err(super::bytes::broken("receiving over TLS", e))),
            }
            match ready!(self.poll_read_tls(&mut st, cx)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::EndOfStream => {
                    return Poll::Ready(Err(self.ragged_eof(None)));
                }
                Err(e) if e.kind() == ErrorKind::Tls => {
                    return Poll::Ready(Err(Error::with_source(
                        ErrorKind::BrokenResource,
                        "the TLS session failed",
                        e,
                    )));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.receive_busy
    }
}

impl<S> TlsStream<S> {
    /// The transport ended without `close_notify`: AnyIO's `standard_compatible` decides.
    fn ragged_eof(&self, source: Option<io::Error>) -> Error {
        if self.standard_compatible {
            let message = "the peer closed the transport without a TLS close_notify";
            match source {
                Some(e) => Error::with_source(ErrorKind::BrokenResource, message, e),
                None => Error::new(ErrorKind::BrokenResource, message),
            }
        } else {
            Error::new(
                ErrorKind::EndOfStream,
                "the peer closed the transport (without close_notify)",
            )
        }
    }
}

impl<S: ByteStream> ByteSendStream for TlsStream<S> {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let mut st = self.lock();
        self.check_usable(&st, "sending")?;
        if st.eof_sent {
            return Poll::Ready(Err(Error::new(
                ErrorKind::ClosedResource,
                "sending after send_eof on a TLS stream",
            )));
        }
        if st.owed.is_some() {
            ready!(self.poll_flush(&mut st, cx))?;
            let owed = st.owed.take().expect("checked above");
            let same = owed.ptr == buf.as_ptr() as usize
                && owed.len == buf.len()
                && buf.get(..owed.accepted) == Some(&owed.bytes[..]);
            if same {
                return Poll::Ready(Ok(owed.accepted));
            }
            // Those bytes belonged to a send that was cancelled or dropped: they are written
            // now, as the prefix it had sent. Go on with this one.
        }
        ready!(self.poll_flush(&mut st, cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let chunk = &buf[..buf.len().min(CHUNK)];
        let accepted = match st.conn.writer().write(chunk) {
            Ok(n) => n,
            Err(e) => return Poll::Ready(Err(super::bytes::broken("sending over TLS", e))),
        };
        match self.poll_flush(&mut st, cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(accepted)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // More of this send follows: its next poll flushes first.
            Poll::Pending if accepted < buf.len() => Poll::Ready(Ok(accepted)),
            // The last chunk: the send completes only once its records are written.
            Poll::Pending => {
                st.owed = Some(Owed {
                    ptr: buf.as_ptr() as usize,
                    len: buf.len(),
                    accepted,
                    bytes: chunk[..accepted].to_vec(),
                });
                Poll::Pending
            }
        }
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.send_busy
    }
}

impl<S: ByteStream> ByteStream for TlsStream<S> {
    /// Sends `close_notify` and keeps receiving: a TLS half-close.
    fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.lock();
        self.check_usable(&st, "send_eof")?;
        if !st.eof_sent {
            st.conn.send_close_notify();
            st.eof_sent = true;
        }
        self.poll_flush(&mut st, cx)
    }
}

// ---------------------------------------------------------------------------------------

impl crate::net::ConnectTcp {
    /// Runs a TLS handshake over the connection once it is made (AnyIO's
    /// `connect_tcp(..., tls=True, ssl_context=...)`); `.await` gives a
    /// [`TlsStream`]`<`[`TcpStream`](crate::net::TcpStream)`>`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use anyio::streams::tls::TlsConfig;
    ///
    /// # anyio::run(|| async {
    /// let tls = anyio::net::connect_tcp("example.com", 443)
    ///     .tls(TlsConfig::client("example.com"))
    ///     .await?;
    /// println!("{tls:?}");
    /// # anyio::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn tls(self, config: TlsConfig) -> ConnectTls {
        ConnectTls {
            tcp: self,
            config: Some(config),
            hostname: None,
            standard_compatible: None,
        }
    }

    /// Runs a TLS handshake with the default client configuration (the system's trust
    /// store), verifying the server as `hostname` (AnyIO's `tls_hostname`) — by default, the
    /// host name given to [`connect_tcp`](crate::net::connect_tcp).
    pub fn tls_hostname(self, hostname: impl Into<String>) -> ConnectTls {
        ConnectTls {
            tcp: self,
            config: None,
            hostname: Some(hostname.into()),
            standard_compatible: None,
        }
    }

    /// Runs a TLS handshake with the default client configuration, verifying the server as
    /// the host name given to [`connect_tcp`](crate::net::connect_tcp) (AnyIO's
    /// `connect_tcp(host, port, tls=True)`).
    pub fn tls_default(self) -> ConnectTls {
        ConnectTls {
            tcp: self,
            config: None,
            hostname: None,
            standard_compatible: None,
        }
    }
}

/// A TLS connection to be made: built by [`ConnectTcp::tls`](crate::net::ConnectTcp::tls)
/// and its siblings, made by `.await`.
///
/// # Cancellation
///
/// A checkpoint; a cancelled connect or handshake closes the socket before it returns.
///
/// # Errors
///
/// Those of `connect_tcp`, then those of [`TlsStream::wrap`];
/// [`ErrorKind::InvalidArgument`] when no server name is known (a connection to bare
/// addresses with the default configuration and no `tls_hostname`).
#[must_use = "the connection is made only when this is awaited"]
#[derive(Debug)]
pub struct ConnectTls {
    tcp: crate::net::ConnectTcp,
    config: Option<TlsConfig>,
    hostname: Option<String>,
    standard_compatible: Option<bool>,
}

impl ConnectTls {
    /// AnyIO's `tls_standard_compatible` (on by default); see [`TlsConfig::standard_compatible`].
    pub fn standard_compatible(mut self, on: bool) -> ConnectTls {
        self.standard_compatible = Some(on);
        self
    }

    async fn connect(self) -> Result<TlsStream<crate::net::TcpStream>> {
        let mut config = match (self.config, self.hostname) {
            (Some(config), _) => config,
            (None, Some(name)) => TlsConfig::client(name),
            (None, None) => match self.tcp.host() {
                Some(host) => TlsConfig::client(host),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "TLS to bare addresses needs a server name: use tls_hostname or tls",
                    ));
                }
            },
        };
        if let Some(on) = self.standard_compatible {
            config = config.standard_compatible(on);
        }
        let tcp = self.tcp.await?;
        TlsStream::wrap(tcp, config).await
    }
}

impl std::future::IntoFuture for ConnectTls {
    type Output = Result<TlsStream<crate::net::TcpStream>>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}

// ---------------------------------------------------------------------------------------

/// Wraps every connection a listener accepts in TLS (AnyIO's `TLSListener`).
///
/// [`serve`](Self::serve) runs each handshake in the connection's own task, under
/// [`handshake_timeout`](Self::handshake_timeout) (30 s by default): a client that fails its
/// handshake, or drops in the middle of it, is logged once on stderr and closed, and the
/// listener goes on serving.
pub struct TlsListener<L> {
    listener: L,
    config: TlsConfig,
    handshake_timeout: Duration,
}

impl<L> fmt::Debug for TlsListener<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("config", &self.config)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl<L> TlsListener<L> {
    /// Wraps `listener`; `config` is usually [`TlsConfig::server`].
    pub fn new(listener: L, config: TlsConfig) -> TlsListener<L> {
        TlsListener {
            listener,
            config,
            handshake_timeout: Duration::from_secs(30),
        }
    }

    /// How long a client may take over its handshake (30 s by default).
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsListener<L> {
        self.handshake_timeout = timeout;
        self
    }

    /// The wrapped listener.
    pub fn listener(&self) -> &L {
        &self.listener
    }

    /// Closes the wrapped listener.
    ///
    /// # Errors
    ///
    /// Whatever closing the listener reports.
    pub async fn aclose<S>(&self) -> Result<()>
    where
        L: Listener<S>,
    {
        std::future::poll_fn(|cx| self.listener.poll_close(cx)).await
    }

    /// Accepts connections and runs `handler` on each once its handshake succeeded, each
    /// in a task of its own (in `task_group` when given, else in a group of its own that
    /// this call waits for) — AnyIO's `TLSListener.serve`.
    ///
    /// # Cancellation
    ///
    /// Runs until cancelled, as [`Listener::serve`].
    ///
    /// # Errors
    ///
    /// As [`Listener::serve`]; a failed handshake is not an error of the listener.
    pub async fn serve<S, H, F>(
        &self,
        handler: H,
        task_group: Option<&crate::TaskGroup>,
    ) -> Result<()>
    where
        L: Listener<S>,
        S: ByteStream + Send + 'static,
        H: Fn(TlsStream<S>) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let config = self.config.clone();
        let timeout = self.handshake_timeout;
        self.listener
            .serve(
                move |stream: S| {
                    let handler = handler.clone();
                    let config = config.clone();
                    async move {
                        let wrapped =
                            crate::fail_after(timeout, TlsStream::wrap(stream, config)).await;
                        match wrapped {
                            Ok(tls) => handler(tls).await,
                            Err(e) if e.is_cancelled() => Err(e),
                            Err(e) => {
                                eprintln!("anyio: TLS handshake with a client failed: {e}");
                                Ok(())
                            }
                        }
                    }
                },
                task_group,
            )
            .await
    }
}

impl<L: TypedAttributeProvider> TypedAttributeProvider for TlsListener<L> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        request
            .provide::<attr::ServerSide>(|| true)
            .provide::<attr::StandardCompatible>(|| self.config.standard_compatible);
        self.listener.provide_attributes(request);
    }
}

/// A [`ByteStreamConnectable`](crate::net::ByteStreamConnectable) that connects with another
/// one and runs a TLS handshake over the stream it gets (AnyIO 4.10's `TLSConnectable`):
/// `TlsConnectable::new(TcpConnectable::new("example.com", 443), TlsConfig::client("example.com"))`.
#[derive(Clone, Debug)]
pub struct TlsConnectable<C> {
    /// What makes the transport.
    pub connectable: C,
    /// The TLS side (a client configuration, as a rule).
    pub config: TlsConfig,
}

impl<C> TlsConnectable<C> {
    /// TLS with `config` over the streams `connectable` makes.
    pub fn new(connectable: C, config: TlsConfig) -> TlsConnectable<C> {
        TlsConnectable {
            connectable,
            config,
        }
    }
}

impl<C> crate::net::ByteStreamConnectable for TlsConnectable<C>
where
    C: crate::net::ByteStreamConnectable,
{
    type Stream = TlsStream<C::Stream>;

    /// Connects the transport, then handshakes (see [`TlsStream::wrap`] for the errors; a
    /// failed handshake closes the transport).
    async fn connect(&self) -> Result<TlsStream<C::Stream>> {
        let transport = self.connectable.connect().await?;
        TlsStream::wrap(transport, self.config.clone()).await
    }
}
