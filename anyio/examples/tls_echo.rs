//! The echo server of `examples/echo.rs` over TLS: a certificate for `localhost` made at
//! startup (rcgen), a [`TlsListener`] around the TCP listener (a client that fails its
//! handshake is logged and does not stop the server), clients that verify the
//! certificate, per-connection idle timeouts and a graceful shutdown.
//!
//! ```text
//! cargo run --example tls_echo --features tls                          # self-check, exits 0
//! cargo run --example tls_echo --features tls,smol -- --backend smol   # the same on smol
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::net::{TcpStream, connect_tcp, create_tcp_listener};
use anyio::streams::tls::{TlsConfig, TlsListener, TlsStream};
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, SharedResource};
use anyio::{Backend, CancelScope, ErrorKind, Event, Runner, fail_after, task_group};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

const CLIENTS: usize = 8;
/// Long enough that a busy machine never idles an active client out.
const IDLE: Duration = Duration::from_secs(2);
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// A self-signed certificate for `localhost`, and the configurations of both sides.
fn configs() -> anyio::Result<(Arc<ServerConfig>, Arc<ClientConfig>)> {
    let key = rcgen::KeyPair::generate().map_err(anyio::Error::other)?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .and_then(|params| params.self_signed(&key))
        .map_err(anyio::Error::other)?;
    let cert: CertificateDer<'static> = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = anyio::streams::tls::server_config_builder()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(anyio::Error::other)?;
    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(anyio::Error::other)?;
    let client = anyio::streams::tls::client_config_builder()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(server), Arc::new(client)))
}

/// Echoes one TLS connection until the client's `close_notify`, or `IDLE` of silence.
async fn handle(stream: TlsStream<TcpStream>) -> anyio::Result<()> {
    loop {
        match fail_after(IDLE, stream.receive(64 * 1024)).await {
            Ok(chunk) => stream.send(&chunk).await?,
            Err(e) if e.kind() == ErrorKind::EndOfStream => break,
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                println!("connection idle for {IDLE:?}: closing it");
                break;
            }
            Err(e) if e.kind() == ErrorKind::BrokenResource => break,
            Err(e) => return Err(e),
        }
    }
    stream.aclose().await // sends close_notify
}

/// Serves until `stop` is set, then stops accepting and drains the open connections.
async fn run_server(
    listener: TlsListener<anyio::net::MultiListener<anyio::net::TcpListener>>,
    stop: Event,
    served: Arc<AtomicUsize>,
) -> anyio::Result<()> {
    task_group(|connections| async move {
        let accepting = CancelScope::new();
        let stop_accepting = accepting.clone();
        connections.start_soon(async move {
            stop.wait().await?;
            stop_accepting.cancel();
            anyio::Ok(())
        })?;
        let handler = move |stream: TlsStream<TcpStream>| {
            // Relaxed: a statistic, read after the server's group has joined.
            served.fetch_add(1, Ordering::Relaxed);
            handle(stream)
        };
        accepting
            .run(listener.serve(handler, Some(&connections)))
            .await?;
        listener.aclose().await?;
        println!("shutting down: no new connections, draining the open ones");
        connections
            .cancel_scope()
            .set_deadline(Instant::now() + DRAIN_DEADLINE);
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// Sends `message` over TLS, shuts the sending side (`close_notify`), returns the echo.
async fn client(port: u16, config: Arc<ClientConfig>, message: &[u8]) -> anyio::Result<Vec<u8>> {
    let stream = connect_tcp("127.0.0.1", port)
        .tls(TlsConfig::client_with(config, "localhost"))
        .await?;
    stream.send(message).await?;
    stream.send_eof().await?;
    let mut echoed = Vec::new();
    loop {
        match stream.receive(64 * 1024).await {
            Ok(chunk) => echoed.extend(chunk),
            Err(e) if e.kind() == ErrorKind::EndOfStream => break,
            Err(e) => return Err(e),
        }
    }
    stream.aclose().await?;
    Ok(echoed)
}

async fn self_check() -> anyio::Result<()> {
    let (server_config, client_config) = configs()?;
    let tcp = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = tcp.listeners()[0].local_addr()?.port();
    let listener = TlsListener::new(tcp, TlsConfig::server(server_config));
    let stop = Event::new();
    let served = Arc::new(AtomicUsize::new(0));
    let echoed_bytes = Arc::new(AtomicUsize::new(0));
    task_group(|tg| {
        let (stop, served, echoed_bytes) = (stop.clone(), served.clone(), echoed_bytes.clone());
        async move {
            tg.start_soon(run_server(listener, stop.clone(), served))?;
            task_group(|clients| async move {
                for i in 0..CLIENTS {
                    let (echoed_bytes, config) = (echoed_bytes.clone(), client_config.clone());
                    clients.start_soon(async move {
                        let message: Vec<u8> = (0..(i + 1) * 10_000).map(|b| b as u8).collect();
                        let echoed = client(port, config, &message).await?;
                        assert!(echoed == message, "client {i}: the echo differs");
                        // Relaxed: a statistic, read after this group has joined.
                        echoed_bytes.fetch_add(echoed.len(), Ordering::Relaxed);
                        anyio::Ok(())
                    })?;
                }
                // A client that does not speak TLS: its failed handshake is logged, and
                // the server goes on serving.
                let plain = connect_tcp("127.0.0.1", port).await?;
                plain.send(b"GET / HTTP/1.0\r\n\r\n").await?;
                let _ = plain.receive(1024).await; // the server's alert, or its close
                plain.aclose().await?;
                anyio::Ok(())
            })
            .await?;
            stop.set();
            anyio::Ok(())
        }
    })
    .await?;
    // Relaxed: both groups have joined every task that counted.
    println!(
        "self-check passed: {} TLS connections served, {} bytes echoed; shut down cleanly",
        served.load(Ordering::Relaxed),
        echoed_bytes.load(Ordering::Relaxed)
    );
    Ok(())
}

fn main() -> anyio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend: Backend = match args.as_slice() {
        [] => Backend::default(),
        [flag, name] if flag == "--backend" => name.parse()?,
        _ => {
            return Err(anyio::Error::new(
                ErrorKind::InvalidArgument,
                "usage: tls_echo [--backend tokio|smol]",
            ));
        }
    };
    Runner::new(backend).run(self_check)
}
