//! `anyio::streams::tls` on both backends, over real TCP on 127.0.0.1, with certificates
//! made at test time (rcgen).
#![cfg(feature = "tls")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use anyio::net::{TcpListener, TcpStream, connect_tcp, create_tcp_listener};
use anyio::streams::tls::{TlsConfig, TlsListener, TlsStream, attr};
use anyio::streams::{
    ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource,
    TypedAttributeProvider, aclose_forcefully,
};
use anyio::{ErrorKind, Event};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use support::receive_all;

/// A CA, and a leaf certificate it signed for `localhost` and 127.0.0.1.
struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
    client: CertificateDer<'static>,
    client_key: Vec<u8>,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client.test".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        leaf_key: leaf_key.serialize_der(),
        client: client.der().clone(),
        client_key: client_key.serialize_der(),
    }
}

fn key(der: &[u8]) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()))
}

fn roots(ca: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    roots
}

fn server_config(pki: &Pki, alpn: &[&[u8]]) -> Arc<ServerConfig> {
    let mut config = anyio::streams::tls::server_config_builder()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], key(&pki.leaf_key))
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn client_config(pki: &Pki, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = anyio::streams::tls::client_config_builder()
        .unwrap()
        .with_root_certificates(roots(&pki.ca))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn tcp_pair() -> anyio::Result<(TcpStream, TcpStream)> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let client = connect_tcp("127.0.0.1", port).await?;
    let server = listener.accept().await?;
    Ok((client, server))
}

/// A TLS pair over TCP: (client, server), handshakes run concurrently.
async fn tls_pair(
    client: TlsConfig,
    server: TlsConfig,
) -> anyio::Result<(
    anyio::Result<TlsStream<TcpStream>>,
    anyio::Result<TlsStream<TcpStream>>,
)> {
    let (c, s) = tcp_pair().await?;
    let (tx, rx) = anyio::create_memory_object_stream(1);
    let client_side = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let _ = tx.send(TlsStream::wrap(s, server).await).await;
            anyio::Ok(())
        })?;
        anyio::Ok(TlsStream::wrap(c, client).await)
    })
    .await?
    .expect("the group was not cancelled");
    let server_side = rx.receive().await?;
    Ok((client_side, server_side))
}

async fn ok_pair(pki: &Pki) -> anyio::Result<(TlsStream<TcpStream>, TlsStream<TcpStream>)> {
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(pki, &[]), "localhost"),
        TlsConfig::server(server_config(pki, &[])),
    )
    .await?;
    Ok((c?, s?))
}

#[anyio::test]
async fn echo_one_mebibyte_each_way() -> anyio::Result<()> {
    let pki = pki();
    let (client, server) = ok_pair(&pki).await?;
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let got = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            // The server echoes until the client's half-close, then half-closes itself.
            loop {
                match server.receive(65536).await {
                    Ok(chunk) => server.send(&chunk).await?,
                    Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                    Err(e) => return Err(e),
                }
            }
            server.send_eof().await?;
            server.aclose().await
        })?;
        let client = Arc::new(client);
        let sender = client.clone();
        tg.start_soon(async move {
            sender.send(&data).await?;
            sender.send_eof().await
        })?;
        receive_all(&*client).await
    })
    .await?
    .unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the echoed bytes differ");
    Ok(())
}

#[anyio::test]
async fn attributes_show_the_session_and_the_transport() -> anyio::Result<()> {
    let pki = pki();
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(&pki, &[b"h2", b"http/1.1"]), "localhost"),
        TlsConfig::server(server_config(&pki, &[b"http/1.1"])),
    )
    .await?;
    let (client, server) = (c?, s?);
    assert_eq!(client.extra::<attr::AlpnProtocol>()?, b"http/1.1");
    assert_eq!(server.extra::<attr::AlpnProtocol>()?, b"http/1.1");
    assert_eq!(client.extra::<attr::TlsVersion>()?, "TLSv1_3");
    assert!(client.extra::<attr::Cipher>()?.starts_with("TLS13_"));
    assert!(!client.extra::<attr::ServerSide>()?);
    assert!(server.extra::<attr::ServerSide>()?);
    assert!(client.extra::<attr::StandardCompatible>()?);
    assert_eq!(server.extra::<attr::ServerName>()?, "localhost");
    let chain = client.extra::<attr::PeerCertificates>()?;
    assert_eq!(chain[0], pki.leaf.as_ref());
    assert_eq!(
        server.extra::<attr::PeerCertificates>().unwrap_err().kind(),
        ErrorKind::TypedAttributeLookup,
        "the client sent no certificate"
    );
    let binding = client.extra::<attr::ChannelBinding>()?;
    assert_eq!(binding.len(), 32);
    assert_eq!(binding, server.extra::<attr::ChannelBinding>()?);
    // The transport's attributes pass through.
    let remote = client.extra::<anyio::net::attr::RemoteAddress>()?;
    assert_eq!(remote, server.transport().local_addr()?);
    Ok(())
}

#[anyio::test]
async fn no_alpn_is_an_absent_attribute() -> anyio::Result<()> {
    let pki = pki();
    let (client, _server) = ok_pair(&pki).await?;
    let err = client.extra::<attr::AlpnProtocol>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TypedAttributeLookup);
    Ok(())
}

#[anyio::test]
async fn an_untrusted_certificate_is_a_tls_error_and_closes_the_transport() -> anyio::Result<()> {
    let pki = pki();
    let other = pki_other();
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(&other, &[]), "localhost"),
        TlsConfig::server(server_config(&pki, &[])),
    )
    .await?;
    let err = c.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let source = std::error::Error::source(&err).unwrap();
    assert!(
        source.downcast_ref::<rustls::Error>().is_some(),
        "{source:?}"
    );
    // The server hears the client's alert: its handshake fails too.
    let err = s.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::BrokenResource),
        "{err}"
    );
    Ok(())
}

fn pki_other() -> Pki {
    pki()
}

#[anyio::test]
async fn a_wrong_host_name_is_a_tls_error() -> anyio::Result<()> {
    let pki = pki();
    let (c, _s) = tls_pair(
        TlsConfig::client_with(client_config(&pki, &[]), "example.com"),
        TlsConfig::server(server_config(&pki, &[])),
    )
    .await?;
    let err = c.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    let rustls_error = err.source_as::<rustls::Error>().unwrap();
    assert!(
        matches!(rustls_error, rustls::Error::InvalidCertificate(_)),
        "{rustls_error:?}"
    );
    Ok(())
}

#[anyio::test]
async fn an_ip_address_server_name_verifies_against_an_ip_san() -> anyio::Result<()> {
    let pki = pki();
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(&pki, &[]), "127.0.0.1"),
        TlsConfig::server(server_config(&pki, &[])),
    )
    .await?;
    c?;
    s?;
    Ok(())
}

#[anyio::test]
async fn client_certificates() -> anyio::Result<()> {
    let pki = pki();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(&pki.ca)),
        Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    )
    .build()
    .unwrap();
    let server = Arc::new(
        anyio::streams::tls::server_config_builder()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![pki.leaf.clone()], key(&pki.leaf_key))
            .unwrap(),
    );
    let with_cert = Arc::new(
        anyio::streams::tls::client_config_builder()?
            .with_root_certificates(roots(&pki.ca))
            .with_client_auth_cert(vec![pki.client.clone()], key(&pki.client_key))
            .unwrap(),
    );
    let (c, s) = tls_pair(
        TlsConfig::client_with(with_cert, "localhost"),
        TlsConfig::server(server.clone()),
    )
    .await?;
    let (client, server_stream) = (c?, s?);
    let chain = server_stream.extra::<attr::PeerCertificates>()?;
    assert_eq!(chain[0], pki.client.as_ref());
    // TLS 1.3 reports a refused client certificate after the handshake: exchange data.
    client.send(b"hi").await?;
    assert_eq!(server_stream.receive(10).await?, b"hi");

    // Without a certificate the server refuses the client.
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(&pki, &[]), "localhost"),
        TlsConfig::server(server),
    )
    .await?;
    let err = s.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // The client learns it at its handshake or at its first receive.
    if let Ok(client) = c {
        let err = client.receive(10).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::BrokenResource | ErrorKind::Tls),
            "{err}"
        );
    }
    Ok(())
}

/// The ragged-EOF matrix: {standard_compatible on, off} × {close_notify sent, transport
/// just closed}.
#[anyio::test]
async fn ragged_eof_matrix() -> anyio::Result<()> {
    let pki = pki();
    for standard in [true, false] {
        for clean in [true, false] {
            let (c, s) = tls_pair(
                TlsConfig::client_with(client_config(&pki, &[]), "localhost")
                    .standard_compatible(standard),
                TlsConfig::server(server_config(&pki, &[])),
            )
            .await?;
            let (client, server) = (c?, s?);
            server.send(b"last words").await?;
            if clean {
                server.aclose().await?;
            } else {
                aclose_forcefully(&server).await?; // no close_notify
            }
            assert_eq!(client.receive(100).await?, b"last words");
            let err = client.receive(100).await.unwrap_err();
            let expected = if clean || !standard {
                ErrorKind::EndOfStream
            } else {
                ErrorKind::BrokenResource
            };
            assert_eq!(
                err.kind(),
                expected,
                "standard_compatible={standard} clean={clean}: {err}"
            );
        }
    }
    Ok(())
}

#[anyio::test]
async fn send_eof_is_a_half_close() -> anyio::Result<()> {
    let pki = pki();
    let (client, server) = ok_pair(&pki).await?;
    client.send(b"question").await?;
    client.send_eof().await?;
    assert_eq!(receive_all(&server).await?, b"question");
    server.send(b"answer").await?;
    server.aclose().await?;
    assert_eq!(receive_all(&client).await?, b"answer");
    let err = client.send(b"more").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn closed_stream_reports_closed_and_wakes_a_blocked_receive() -> anyio::Result<()> {
    let pki = pki();
    let (client, _server) = ok_pair(&pki).await?;
    let client = Arc::new(client);
    let blocked = client.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let err = blocked.receive(10).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ClosedResource, "{err}");
            anyio::Ok(())
        })?;
        anyio::testing::wait_all_tasks_blocked().await?;
        client.aclose().await?;
        assert_eq!(
            client.send(b"x").await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn a_cancelled_receive_loses_nothing() -> anyio::Result<()> {
    let pki = pki();
    let (client, server) = ok_pair(&pki).await?;
    const N: usize = 2000;
    let got = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            for i in 0..N {
                server.send(format!("{i};").as_bytes()).await?;
            }
            server.aclose().await
        })?;
        let mut got = Vec::new();
        let mut round = 0u64;
        loop {
            round += 1;
            // Every third receive is cancelled at once, some while blocked.
            let scope = anyio::CancelScope::new();
            if round % 3 == 0 {
                scope.cancel();
            }
            match scope.run(client.receive(7)).await {
                Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                Ok(None) => {}
                Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                Err(e) => return Err(e),
            }
        }
        anyio::Ok(got)
    })
    .await?
    .unwrap();
    let expected: String = (0..N).map(|i| format!("{i};")).collect();
    assert_eq!(String::from_utf8(got).unwrap(), expected);
    Ok(())
}

#[anyio::test]
async fn a_handshake_cut_by_a_deadline_closes_the_transport() -> anyio::Result<()> {
    // A server that accepts and never answers.
    let (client, server) = tcp_pair().await?;
    let err = anyio::fail_after(
        Duration::from_millis(100),
        TlsStream::wrap(
            client,
            TlsConfig::client_with(client_config(&pki(), &[]), "localhost"),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    // The client's transport was closed: the server reads its ClientHello, then the end.
    let bytes = receive_all(&server).await?;
    assert!(
        !bytes.is_empty() && bytes[0] == 0x16,
        "a handshake record came first"
    );
    Ok(())
}

#[anyio::test]
async fn bad_server_names_are_invalid_arguments() -> anyio::Result<()> {
    for bad in ["", "bad name", "a..b", "-x-.example."] {
        let (client, _server) = tcp_pair().await?;
        let err = TlsStream::wrap(
            client,
            TlsConfig::client_with(client_config(&pki(), &[]), bad),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}: {err}");
    }
    Ok(())
}

#[anyio::test]
async fn a_unicode_server_name_is_sent_as_idna() -> anyio::Result<()> {
    let pki = pki();
    let (c, s) = tls_pair(
        TlsConfig::client_with(client_config(&pki, &[]), "bücher.example"),
        TlsConfig::server(server_config(&pki, &[])),
    )
    .await?;
    // The certificate is not for that name, but the server saw the punycode SNI.
    assert_eq!(c.unwrap_err().kind(), ErrorKind::Tls);
    let _ = s;
    Ok(())
}

#[anyio::test]
async fn the_listener_survives_garbage_and_dropped_handshakes() -> anyio::Result<()> {
    let pki = pki();
    let tcp = create_tcp_listener().local_host("127.0.0.1").await?;
    let listener: TcpListener = tcp.into_listeners().remove(0);
    let port = listener.local_addr()?.port();
    let tls = Arc::new(
        TlsListener::new(listener, TlsConfig::server(server_config(&pki, &[])))
            .handshake_timeout(Duration::from_secs(10)),
    );
    let served = Event::new();
    let group = anyio::task_group(|tg| {
        let tls = tls.clone();
        let served = served.clone();
        async move {
            let scope = tg.cancel_scope();
            tg.start_soon(async move {
                tls.serve(
                    move |stream: TlsStream<TcpStream>| {
                        let served = served.clone();
                        async move {
                            let got = stream.receive(100).await?;
                            stream.send(&got).await?;
                            served.set();
                            Ok(())
                        }
                    },
                    None,
                )
                .await
            })?;
            // Garbage instead of a ClientHello.
            let junk = connect_tcp("127.0.0.1", port).await?;
            junk.send(b"GET / HTTP/1.1\r\n\r\n").await?;
            let _ = receive_all(&junk).await;
            // A client that leaves mid-handshake.
            let dropped = connect_tcp("127.0.0.1", port).await?;
            dropped.send(&[0x16, 0x03, 0x01, 0x00, 0x40]).await?;
            dropped.aclose().await?;
            // A real client is still served.
            let client = TlsStream::wrap(
                connect_tcp("127.0.0.1", port).await?,
                TlsConfig::client_with(client_config(&pki, &[]), "localhost"),
            )
            .await?;
            client.send(b"ping").await?;
            assert_eq!(client.receive(100).await?, b"ping");
            scope.cancel();
            anyio::Ok(())
        }
    });
    group.await?;
    assert!(served.is_set());
    Ok(())
}

#[anyio::test]
async fn boxed_tls_streams_are_byte_streams() -> anyio::Result<()> {
    let pki = pki();
    let (client, server) = ok_pair(&pki).await?;
    let client: Box<dyn ByteStream> = Box::new(client);
    client.send(b"dyn").await?;
    assert_eq!(server.receive(10).await?, b"dyn");
    Ok(())
}

#[test]
fn the_default_client_config_loads_the_system_trust_store() {
    // No network: building the default config (and a session from it) must work offline.
    anyio::run(|| async {
        let (client, _server) = tcp_pair().await?;
        let out = anyio::move_on_after(
            Duration::from_millis(50),
            TlsStream::wrap(client, TlsConfig::client("localhost")),
        )
        .await;
        // The server never answers: the handshake is cut by the deadline, not refused early.
        assert!(matches!(out, Ok(None)), "{out:?}");
        anyio::Ok(())
    })
    .unwrap();
}

#[anyio::test]
async fn connect_tcp_with_tls() -> anyio::Result<()> {
    let pki = pki();
    let tcp = create_tcp_listener().local_host("127.0.0.1").await?;
    let listener: TcpListener = tcp.into_listeners().remove(0);
    let port = listener.local_addr()?.port();
    let server_config = TlsConfig::server(server_config(&pki, &[]));
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let server = TlsStream::wrap(listener.accept().await?, server_config).await?;
            let got = server.receive(100).await?;
            server.send(&got).await?;
            server.aclose().await
        })?;
        let client = connect_tcp("127.0.0.1", port)
            .tls(TlsConfig::client_with(
                client_config(&pki, &[]),
                "localhost",
            ))
            .standard_compatible(false)
            .await?;
        assert!(!client.extra::<attr::StandardCompatible>()?);
        client.send(b"over tls").await?;
        assert_eq!(client.receive(100).await?, b"over tls");
        anyio::Ok(())
    })
    .await?;

    // Bare addresses with the default configuration need a server name.
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let err = anyio::net::connect_tcp_addrs([addr])
        .tls_default()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    Ok(())
}

/// A send cut by a deadline while the peer does not read leaves the stream usable and
/// uncorrupted: the peer receives a prefix of what the cut send carried, then what came
/// after, all of it decrypting cleanly.
#[anyio::test]
async fn a_cancelled_send_never_corrupts_the_stream() -> anyio::Result<()> {
    let pki = pki();
    let (client, server) = ok_pair(&pki).await?;
    let big: Vec<u8> = (0..8 << 20).map(|i| (i % 253) as u8).collect();
    // Nobody reads: the socket buffers fill and the send blocks, then the deadline cuts it.
    let out = anyio::move_on_after(Duration::from_millis(200), client.send(&big)).await?;
    assert_eq!(out, None, "8 MiB cannot fit the loopback buffers");
    // Now the server reads, while the client sends more (after the cut send's leftovers).
    let got = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            client.send(b"<after>").await?;
            // A graceful close: close_notify, and the tickets nobody read are drained so
            // the close does not reset the connection under the server's last reads.
            client.aclose().await
        })?;
        receive_all(&server).await
    })
    .await?
    .unwrap();
    let tail = got.len() - b"<after>".len();
    assert_eq!(&got[tail..], b"<after>");
    assert!(
        got[..tail] == big[..tail],
        "the cut send's bytes are a prefix of its data"
    );
    Ok(())
}

/// TLS over an in-process byte pipe pair (no socket): 256 KiB each way, then a clean close.
#[anyio::test]
async fn echo_over_an_in_memory_pipe() -> anyio::Result<()> {
    use anyio::streams::pipe::create_byte_pipe;
    use anyio::streams::stapled::StapledByteStream;
    let pki = pki();
    let (a_tx, b_rx) = create_byte_pipe(16 * 1024)?;
    let (b_tx, a_rx) = create_byte_pipe(16 * 1024)?;
    let client_t = StapledByteStream::new(a_tx, a_rx);
    let server_t = StapledByteStream::new(b_tx, b_rx);
    let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 253) as u8).collect();
    let expected = data.clone();
    let server_config = TlsConfig::server(server_config(&pki, &[]));
    let client_config = TlsConfig::client_with(client_config(&pki, &[]), "localhost");
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let server = TlsStream::wrap(server_t, server_config).await?;
            // Echo everything back, then close when the client's half-close arrives.
            loop {
                match server.receive(65536).await {
                    Ok(chunk) => server.send(&chunk).await?,
                    Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                    Err(e) => return Err(e),
                }
            }
            server.aclose().await
        })?;
        let client = TlsStream::wrap(client_t, client_config).await?;
        let ((), echoed) = futures_lite::future::try_zip(
            async {
                client.send(&data).await?;
                client.send_eof().await
            },
            receive_all(&client),
        )
        .await?;
        assert_eq!(echoed.len(), expected.len());
        assert!(echoed == expected, "the echo differs");
        client.aclose().await
    })
    .await?;
    Ok(())
}

/// `TlsConnectable` over `TcpConnectable`: connects, handshakes, and its stream talks; a
/// handshake failure (an untrusted server) is a `Tls` error.
#[anyio::test]
async fn tls_connectable_over_tcp() -> anyio::Result<()> {
    use anyio::net::{AnyByteStreamConnectable, ByteStreamConnectable, TcpConnectable};
    use anyio::streams::tls::TlsConnectable;
    let pki = pki();
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let server_config = TlsConfig::server(server_config(&pki, &[]));
    let good = TlsConnectable::new(
        TcpConnectable::new("127.0.0.1", port),
        TlsConfig::client_with(client_config(&pki, &[]), "localhost"),
    );
    let untrusting = TlsConnectable::new(
        TcpConnectable::new("127.0.0.1", port),
        TlsConfig::client_with(client_config(&pki_other(), &[]), "localhost"),
    );
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            // Two connections: the first one handshakes and echoes one message, the
            // second one's handshake fails on the client side.
            for _ in 0..2 {
                let tcp = listener.accept().await?;
                if let Ok(server) = TlsStream::wrap(tcp, server_config.clone()).await {
                    let msg = server.receive(1024).await?;
                    server.send(&msg).await?;
                    server.aclose().await?;
                }
            }
            anyio::Ok(())
        })?;
        let stream = good.connect().await?;
        stream.send(b"over tls").await?;
        assert_eq!(stream.receive(1024).await?, b"over tls");
        stream.aclose().await?;
        let boxed: &dyn AnyByteStreamConnectable = &untrusting;
        let err = boxed
            .connect_boxed()
            .await
            .err()
            .expect("an untrusted server");
        assert_eq!(err.kind(), ErrorKind::Tls);
        anyio::Ok(())
    })
    .await?;
    Ok(())
}
