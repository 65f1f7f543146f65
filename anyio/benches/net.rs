//! TCP over loopback against the raw runtime's own sockets: `tokio::net` on the tokio
//! configurations, async-io's `Async<std::net::TcpStream>` (what async-net wraps) on smol.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration (see
//! `support/mod.rs` for the rule, the rounds and the environment variables); the clock
//! starts after the listener is up (and, for `tcp-rr`, after the clients are connected).
//!
//! Cases (ids for `ANYIO_BENCH_CASE`):
//! * `tcp-rr`: 50 clients, each sending a 64-byte request and reading the 64-byte reply
//!   from a per-connection echo task, `n` round trips in all (target ≤ 1.10× time). anyio
//!   uses `send` and `receive_into`; the raw sides use `write_all` and `read_exact`.
//! * `tcp-bulk`: one connection carries `n` chunks of 64 KiB (16,384 chunks = 1 GiB), the
//!   receiver reading 64 KiB at a time (target ≥ 0.95× MB/s, so ≤ 1.053× time). Size it
//!   down with `ANYIO_BENCH_SIZE` for a quick run.
//! * `tcp-connect`: `n` times connect to 127.0.0.1 and close, a server task accepting and
//!   dropping (target ≤ 1.2× `tokio::net::TcpStream::connect`). anyio uses `connect_tcp`
//!   with an IP literal, so no name lookup on either side.
//!
//! `cargo bench --all-features --bench net`; `benches/callgrind.sh tcp-rr tokio-ct` prints
//! instructions per operation for both sides.

mod support;

use std::net::SocketAddr;
use std::time::Instant;

use anyio::ErrorKind;
use anyio::net::{TcpStream, connect_tcp};
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use support::net::{
    anyio_listener, anyio_pair, raw_listener, smol_connect, smol_drain, smol_pair,
    smol_send_chunks, tokio_connect, tokio_drain, tokio_pair, tokio_send_chunks,
};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const CLIENTS: usize = 50;
const MSG: usize = 64;
const CHUNK: usize = 64 * 1024;

async fn anyio_read_exact(s: &TcpStream, buf: &mut [u8]) -> anyio::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        got += s.receive_into(&mut buf[got..]).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// tcp-rr

fn anyio_rr(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (listener, port) = anyio_listener().await?;
        let rounds = n / CLIENTS;
        let out = anyio::task_group(|tg| async move {
            let server = tg.clone();
            tg.start_soon(async move {
                listener
                    .serve(
                        |s: TcpStream| async move {
                            let mut buf = [0u8; MSG];
                            loop {
                                match anyio_read_exact(&s, &mut buf).await {
                                    Ok(()) => s.send(&buf).await?,
                                    Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(()),
                                    Err(e) => return Err(e),
                                }
                            }
                        },
                        Some(&server),
                    )
                    .await
            })?;
            let mut clients = Vec::new();
            for _ in 0..CLIENTS {
                clients.push(connect_tcp("127.0.0.1", port).await?);
            }
            let start = Instant::now();
            let done = anyio::task_group(|clients_tg| async move {
                for c in clients {
                    clients_tg.start_soon(async move {
                        let mut buf = [7u8; MSG];
                        for _ in 0..rounds {
                            c.send(&buf).await?;
                            anyio_read_exact(&c, &mut buf).await?;
                        }
                        c.send_eof().await
                    })?;
                }
                anyio::Ok(())
            })
            .await;
            let t = secs(start);
            done?;
            tg.cancel_scope().cancel();
            anyio::Ok(t)
        })
        .await?;
        Ok(out.unwrap_or(0.0))
    })
}

fn raw_rr(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let rounds = n / CLIENTS;
        match raw {
            Raw::Tokio(_) => {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::from_std(raw_listener()).unwrap();
                let addr = listener.local_addr().unwrap();
                let server = raw.spawn(async move {
                    let mut echoes = Vec::new();
                    for _ in 0..CLIENTS {
                        let (mut s, _) = listener.accept().await.unwrap();
                        s.set_nodelay(true).unwrap();
                        echoes.push(tokio::spawn(async move {
                            let mut buf = [0u8; MSG];
                            while s.read_exact(&mut buf).await.is_ok() {
                                s.write_all(&buf).await.unwrap();
                            }
                        }));
                    }
                    for e in echoes {
                        e.await.unwrap();
                    }
                });
                let mut clients = Vec::new();
                for _ in 0..CLIENTS {
                    clients.push(tokio_connect(addr).await);
                }
                let start = Instant::now();
                let tasks: Vec<_> = clients
                    .into_iter()
                    .map(|mut c| {
                        raw.spawn(async move {
                            let mut buf = [7u8; MSG];
                            for _ in 0..rounds {
                                c.write_all(&buf).await.unwrap();
                                c.read_exact(&mut buf).await.unwrap();
                            }
                            c.shutdown().await.unwrap();
                        })
                    })
                    .collect();
                for t in tasks {
                    t.join().await;
                }
                let t = secs(start);
                server.join().await;
                t
            }
            Raw::Smol(_) => {
                let listener = async_io::Async::new(raw_listener()).unwrap();
                let addr = listener.get_ref().local_addr().unwrap();
                let spawner = raw.clone();
                let server = raw.spawn(async move {
                    let mut echoes = Vec::new();
                    for _ in 0..CLIENTS {
                        let (mut s, _) = listener.accept().await.unwrap();
                        s.get_ref().set_nodelay(true).unwrap();
                        echoes.push(spawner.spawn(async move {
                            let mut buf = [0u8; MSG];
                            while s.read_exact(&mut buf).await.is_ok() {
                                s.write_all(&buf).await.unwrap();
                            }
                        }));
                    }
                    for e in echoes {
                        e.join().await;
                    }
                });
                let mut clients = Vec::new();
                for _ in 0..CLIENTS {
                    clients.push(smol_connect(addr).await);
                }
                let start = Instant::now();
                let tasks: Vec<_> = clients
                    .into_iter()
                    .map(|mut c| {
                        raw.spawn(async move {
                            let mut buf = [7u8; MSG];
                            for _ in 0..rounds {
                                c.write_all(&buf).await.unwrap();
                                c.read_exact(&mut buf).await.unwrap();
                            }
                            c.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
                        })
                    })
                    .collect();
                for t in tasks {
                    t.join().await;
                }
                let t = secs(start);
                server.join().await;
                t
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// tcp-bulk

fn anyio_bulk(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (client, server) = anyio_pair().await?;
        let start = Instant::now();
        let total = n * CHUNK;
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                let chunk = vec![1u8; CHUNK];
                for _ in 0..n {
                    client.send(&chunk).await?;
                }
                client.send_eof().await
            })?;
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            loop {
                match server.receive_into(&mut buf).await {
                    Ok(k) => got += k,
                    Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                    Err(e) => return Err(e),
                }
            }
            assert_eq!(got, total);
            anyio::Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_bulk(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let total = n * CHUNK;
        match raw {
            Raw::Tokio(_) => {
                let (client, mut server) = tokio_pair().await;
                let start = Instant::now();
                let sender = raw.spawn(tokio_send_chunks(client, n, CHUNK));
                assert_eq!(tokio_drain(&mut server, CHUNK).await, total);
                sender.join().await;
                secs(start)
            }
            Raw::Smol(_) => {
                let (client, mut server) = smol_pair().await;
                let start = Instant::now();
                let sender = raw.spawn(smol_send_chunks(client, n, CHUNK));
                assert_eq!(smol_drain(&mut server, CHUNK).await, total);
                sender.join().await;
                secs(start)
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// tcp-connect

fn anyio_connect(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (listener, port) = anyio_listener().await?;
        let out = anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for _ in 0..n {
                    drop(listener.accept().await?);
                }
                anyio::Ok(())
            })?;
            let start = Instant::now();
            for _ in 0..n {
                let c = connect_tcp("127.0.0.1", port).await?;
                c.aclose().await?;
            }
            anyio::Ok(secs(start))
        })
        .await?;
        Ok(out.unwrap_or(0.0))
    })
}

fn raw_connect(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        match raw {
            Raw::Tokio(_) => {
                let listener = tokio::net::TcpListener::from_std(raw_listener()).unwrap();
                let addr: SocketAddr = listener.local_addr().unwrap();
                let server = raw.spawn(async move {
                    for _ in 0..n {
                        let (s, _) = listener.accept().await.unwrap();
                        s.set_nodelay(true).unwrap();
                        drop(s);
                    }
                });
                let start = Instant::now();
                for _ in 0..n {
                    drop(tokio_connect(addr).await);
                }
                let t = secs(start);
                server.join().await;
                t
            }
            Raw::Smol(_) => {
                let listener = async_io::Async::new(raw_listener()).unwrap();
                let addr = listener.get_ref().local_addr().unwrap();
                let server = raw.spawn(async move {
                    for _ in 0..n {
                        let (s, _) = listener.accept().await.unwrap();
                        s.get_ref().set_nodelay(true).unwrap();
                        drop(s);
                    }
                });
                let start = Instant::now();
                for _ in 0..n {
                    drop(smol_connect(addr).await);
                }
                let t = secs(start);
                server.join().await;
                t
            }
        }
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "tcp-rr",
            "TCP, 50 clients, {n} 64-byte round trips",
            "tokio::net / Async<TcpStream>",
            Some(1.10),
            20_000,
            anyio_rr,
            raw_rr,
        ),
        Case::new(
            "tcp-bulk",
            "TCP, {n} chunks of 64 KiB over one connection",
            "tokio::net / Async<TcpStream>",
            Some(1.053),
            16_384,
            anyio_bulk,
            raw_bulk,
        ),
        Case::new(
            "tcp-connect",
            "TCP, {n} connects + closes to 127.0.0.1",
            "tokio::net / Async<TcpStream>",
            Some(1.2),
            10_000,
            anyio_connect,
            raw_connect,
        ),
    ];
    support::main("anyio TCP benchmarks", cases);
}
