//! hyper 1.x over anyio streams on both backends: an HTTP/1.1 server and client over
//! `anyio::net` TCP, and (feature `tls`) HTTPS over `TlsStream`, through hyper-util's
//! `TokioIo` on the tokio I/O traits the anyio streams implement. hyper's HTTP/1.1
//! connections need no executor: each is a future, awaited in an anyio task.
#![cfg(feature = "tokio")]

use anyio::net::{TcpListener, connect_tcp, create_tcp_listener};
use anyio::streams::{ByteStream, Listener};
use anyio::{CancellableExt, task_group};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The service: echoes the method, path and body, upper-cased.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let head = format!("{} {} ", req.method(), req.uri().path());
    let body = req.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).to_uppercase();
    Ok(Response::new(Full::new(Bytes::from(head + &text))))
}

/// Serves one HTTP/1.1 connection over any anyio byte stream (plain TCP or TLS).
async fn serve_one<S>(stream: S) -> anyio::Result<()>
where
    S: ByteStream + tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo))
        .await
        .map_err(anyio::Error::other)
}

/// Sends three requests over one kept-alive client connection on `stream`.
async fn three_requests<S>(tg: &anyio::TaskGroup, stream: S, host: &str) -> anyio::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(anyio::Error::other)?;
    tg.start_soon(async move { conn.await.map_err(anyio::Error::other) })?;
    for (i, word) in ["one", "two", "three"].into_iter().enumerate() {
        let req = Request::post(format!("/item/{i}"))
            .header(hyper::header::HOST, host)
            .body(Full::new(Bytes::from(word)))
            .map_err(anyio::Error::other)?;
        // Between requests the connection finishes the previous exchange first.
        sender.ready().await.map_err(anyio::Error::other)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(anyio::Error::other)?;
        assert_eq!(resp.status(), hyper::StatusCode::OK);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(anyio::Error::other)?;
        assert_eq!(
            body.to_bytes(),
            format!("POST /item/{i} {}", word.to_uppercase())
        );
    }
    // Dropping the sender ends the client connection, which closes the stream; the
    // server's connection then ends too.
    drop(sender);
    Ok(())
}

async fn listener() -> anyio::Result<(TcpListener, u16)> {
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let mut listeners = listener.into_listeners();
    Ok((listeners.remove(0), port))
}

#[anyio::test]
async fn hyper_http1_server_and_client_over_anyio_tcp() -> anyio::Result<()> {
    let (listener, port) = listener().await?;
    task_group(|tg| async move {
        tg.start_soon(async move {
            let stream = listener.accept().await?;
            serve_one(stream).await
        })?;
        let client = connect_tcp("127.0.0.1", port).await?;
        three_requests(&tg, client, "127.0.0.1").await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn hyper_server_connection_stops_at_cancellation() -> anyio::Result<()> {
    // A connection that stays open (the client sends nothing more) is cancelled with its
    // task group: `.cancellable()` brings hyper's future into the cancel scope.
    let (listener, port) = listener().await?;
    let client = connect_tcp("127.0.0.1", port).await?;
    task_group(|tg| async move {
        let stream = listener.accept().await?;
        tg.start_soon(async move { serve_one(stream).cancellable().await? })?;
        anyio::testing::wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        anyio::Ok(())
    })
    .await?;
    drop(client);
    Ok(())
}

#[cfg(feature = "tls")]
mod https {
    use std::sync::Arc;

    use anyio::net::connect_tcp;
    use anyio::streams::Listener;
    use anyio::streams::tls::{TlsConfig, TlsStream};
    use anyio::task_group;
    use rcgen::{CertificateParams, KeyPair};
    use rustls::RootCertStore;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::{listener, serve_one, three_requests};

    /// A self-signed certificate for `localhost`, made now.
    fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }

    /// Server and client configurations trusting one fresh certificate, with `alpn`.
    fn configs(
        alpn: &[u8],
    ) -> anyio::Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> {
        let (cert, key) = certificate();
        let mut server = anyio::streams::tls::server_config_builder()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .map_err(anyio::Error::other)?;
        server.alpn_protocols = vec![alpn.to_vec()];
        let mut roots = RootCertStore::empty();
        roots.add(cert).map_err(anyio::Error::other)?;
        let mut client = anyio::streams::tls::client_config_builder()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![alpn.to_vec()];
        Ok((Arc::new(server), Arc::new(client)))
    }

    #[anyio::test]
    async fn tls_stream_is_a_futures_io_reader_and_writer() -> anyio::Result<()> {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let (server, client) = configs(b"echo")?;
        let (listener, port) = listener().await?;
        task_group(|tg| async move {
            tg.start_soon(async move {
                let tcp = listener.accept().await?;
                let mut tls = TlsStream::wrap(tcp, TlsConfig::server(server)).await?;
                let mut got = Vec::new();
                tls.read_to_end(&mut got).await?; // until the client's close_notify
                tls.write_all(&got).await?;
                tls.close().await?; // send_eof: close_notify
                anyio::Ok(())
            })?;
            let tcp = connect_tcp("127.0.0.1", port).await?;
            let mut tls = TlsStream::wrap(tcp, TlsConfig::client_with(client, "localhost")).await?;
            let data: Vec<u8> = (0..100_000u32).map(|i| (i % 247) as u8).collect();
            tls.write_all(&data).await?;
            tls.close().await?; // a TLS half-close: the client still reads
            let mut echoed = Vec::new();
            tls.read_to_end(&mut echoed).await?;
            assert!(echoed == data);
            anyio::Ok(())
        })
        .await?;
        Ok(())
    }

    #[anyio::test]
    async fn hyper_https_round_trip_over_tls_stream() -> anyio::Result<()> {
        let (server, client) = configs(b"http/1.1")?;
        let (listener, port) = listener().await?;
        task_group(|tg| async move {
            tg.start_soon(async move {
                let tcp = listener.accept().await?;
                let tls = TlsStream::wrap(tcp, TlsConfig::server(server)).await?;
                serve_one(tls).await
            })?;
            let tcp = connect_tcp("127.0.0.1", port).await?;
            let tls = TlsStream::wrap(tcp, TlsConfig::client_with(client, "localhost")).await?;
            three_requests(&tg, tls, "localhost").await
        })
        .await?;
        Ok(())
    }
}
