//! TLS over loopback TCP against raw `tokio-rustls` on the same rustls (aws-lc-rs), the
//! same certificates and the same runtime configuration (tokio current-thread and 2
//! workers: tokio-rustls is the tokio peer; smol has no rustls wrapper of the same standing).
//!
//! Every body runs as a spawned task on both sides (see `support/mod.rs`); the clock starts
//! once the listener is up.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`):
//! * `tls-bulk`: one TLS connection carries `n` chunks of 64 KiB (4,096 chunks = 256 MiB),
//!   the receiver reading 64 KiB at a time (target ≥ 0.9× MB/s, so ≤ 1.11× time).
//! * `tls-handshake`: `n` connections, each a full handshake then close (target ≥ 0.9×
//!   handshakes per second, so ≤ 1.11× time).
//!
//! `cargo bench --all-features --bench tls`.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyio::ErrorKind;
use anyio::net::{TcpListener, connect_tcp_addrs, create_tcp_listener};
use anyio::streams::tls::{TlsConfig, TlsStream};
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use support::net::{raw_listener, tokio_connect};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const CHUNK: usize = 64 * 1024;

struct Configs {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

fn configs() -> Configs {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert: CertificateDer<'static> = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let client = anyio::streams::tls::client_config_builder()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = anyio::streams::tls::server_config_builder()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    Configs {
        client: Arc::new(client),
        server: Arc::new(server),
    }
}

async fn anyio_listener() -> anyio::Result<(TcpListener, SocketAddr)> {
    let l = create_tcp_listener().local_host("127.0.0.1").await?;
    let l = l.into_listeners().remove(0);
    let addr = l.local_addr()?;
    Ok((l, addr))
}

fn anyio_bulk(config: Config, n: usize) -> f64 {
    let c = configs();
    run_anyio(config, move || async move {
        let (listener, addr) = anyio_listener().await?;
        let server_config = TlsConfig::server(c.server);
        let start = Instant::now();
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                let s = TlsStream::wrap(listener.accept().await?, server_config).await?;
                let mut buf = vec![0u8; CHUNK];
                let mut total = 0;
                while total < n * CHUNK {
                    match s.receive_into(&mut buf).await {
                        Ok(k) => total += k,
                        Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                        Err(e) => return Err(e),
                    }
                }
                assert_eq!(total, n * CHUNK);
                s.aclose().await
            })?;
            let client = connect_tcp_addrs([addr])
                .tls(TlsConfig::client_with(c.client, "localhost"))
                .await?;
            let chunk = vec![1u8; CHUNK];
            for _ in 0..n {
                client.send(&chunk).await?;
            }
            // Half-close, then wait for the server's close: closing a socket with unread
            // data (the server's session tickets) would reset the connection.
            client.send_eof().await?;
            while client.receive(CHUNK).await.is_ok() {}
            client.aclose().await
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_bulk(config: Config, n: usize) -> f64 {
    let c = configs();
    run_raw(config, move |raw| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        assert!(raw.is_tokio());
        let listener = tokio::net::TcpListener::from_std(raw_listener()).unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(c.server);
        let connector = tokio_rustls::TlsConnector::from(c.client);
        let start = Instant::now();
        let server = raw.spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut s = acceptor.accept(s).await.unwrap();
            let mut buf = vec![0u8; CHUNK];
            let mut total = 0;
            while total < n * CHUNK {
                let k = s.read(&mut buf).await.unwrap();
                if k == 0 {
                    break;
                }
                total += k;
            }
            assert_eq!(total, n * CHUNK);
            s.shutdown().await.unwrap();
        });
        let tcp = tokio_connect(addr).await;
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = connector.connect(name, tcp).await.unwrap();
        let chunk = vec![1u8; CHUNK];
        for _ in 0..n {
            client.write_all(&chunk).await.unwrap();
        }
        client.shutdown().await.unwrap();
        let mut buf = [0u8; 16];
        while matches!(client.read(&mut buf).await, Ok(k) if k > 0) {}
        server.join().await;
        secs(start)
    })
}

fn anyio_handshake(config: Config, n: usize) -> f64 {
    let c = configs();
    run_anyio(config, move || async move {
        let (listener, addr) = anyio_listener().await?;
        let server_config = TlsConfig::server(c.server);
        let start = Instant::now();
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for _ in 0..n {
                    let s =
                        TlsStream::wrap(listener.accept().await?, server_config.clone()).await?;
                    // The client's close_notify, then the end.
                    let _ = s.receive(16).await;
                    s.aclose().await?;
                }
                anyio::Ok(())
            })?;
            for _ in 0..n {
                let client = connect_tcp_addrs([addr])
                    .tls(TlsConfig::client_with(c.client.clone(), "localhost"))
                    .await?;
                client.send_eof().await?;
                while client.receive(16).await.is_ok() {}
                client.aclose().await?;
            }
            anyio::Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_handshake(config: Config, n: usize) -> f64 {
    let c = configs();
    run_raw(config, move |raw: Raw| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::from_std(raw_listener()).unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(c.server);
        let connector = tokio_rustls::TlsConnector::from(c.client);
        let start = Instant::now();
        let server = raw.spawn(async move {
            for _ in 0..n {
                let (s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut s = acceptor.accept(s).await.unwrap();
                let mut buf = [0u8; 16];
                let _ = s.read(&mut buf).await;
                let _ = s.shutdown().await;
            }
        });
        for _ in 0..n {
            let tcp = tokio_connect(addr).await;
            let name = ServerName::try_from("localhost").unwrap();
            let mut client = connector.connect(name, tcp).await.unwrap();
            client.shutdown().await.unwrap();
            let mut buf = [0u8; 16];
            while matches!(client.read(&mut buf).await, Ok(k) if k > 0) {}
        }
        server.join().await;
        secs(start)
    })
}

fn main() {
    let tokio = [Config::TokioCt, Config::Tokio2];
    support::main(
        "TLS over loopback: anyio vs tokio-rustls",
        vec![
            Case::new(
                "tls-bulk",
                "{n} chunks of 64 KiB over one TLS connection",
                "tokio-rustls",
                Some(1.11),
                4096,
                anyio_bulk,
                raw_bulk,
            )
            .configs(&tokio),
            Case::new(
                "tls-handshake",
                "{n} TLS handshakes + close",
                "tokio-rustls",
                Some(1.11),
                500,
                anyio_handshake,
                raw_handshake,
            )
            .configs(&tokio),
        ],
    );
}
