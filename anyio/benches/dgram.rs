//! Datagram round trips against the raw runtime's own sockets: `tokio::net::{UdpSocket,
//! UnixDatagram}` on the tokio configurations, async-io's `Async<std::net::UdpSocket>` /
//! `Async<UnixDatagram>` on smol.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration (see
//! `support/mod.rs`); the clock starts once the sockets are up.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`), informational (no target in the issue):
//! * `udp-rr`: a connected UDP client sends a 64-byte datagram to an echo task on
//!   127.0.0.1 and waits for the reply, `n` round trips. anyio's receive sizes its buffer
//!   from the datagram (one `MSG_PEEK | MSG_TRUNC` call more than the raw side's `recv`
//!   into a fixed buffer) and returns a fresh `Vec`.
//! * `unix-dgram-rr`: the same over a connected UNIX datagram pair.
//!
//! `cargo bench --all-features --bench dgram`; `benches/callgrind.sh udp-rr tokio-ct` prints
//! instructions per operation for both sides.

mod support;

use std::time::Instant;

use anyio::net::{ConnectedUdpSocket, ConnectedUnixDatagram};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const MSG: usize = 64;

/// A connected pair of std UDP sockets on 127.0.0.1, non-blocking.
fn std_udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn std_unix_pair() -> (
    std::os::unix::net::UnixDatagram,
    std::os::unix::net::UnixDatagram,
) {
    let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

// ---------------------------------------------------------------------------------------
// The round trip, written once per side: the four raw socket types (and the two anyio
// ones) share no trait, so a macro gives each the same body.

/// anyio's side: an echo task serves `n` datagrams; the client times `n` round trips.
macro_rules! anyio_round_trips {
    ($client:expr, $server:expr, $n:expr) => {{
        let (client, server, n) = ($client, $server, $n);
        let out = anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for _ in 0..n {
                    let d = server.receive().await?;
                    server.send(&d).await?;
                }
                anyio::Ok(())
            })?;
            let msg = [7u8; MSG];
            let start = Instant::now();
            for _ in 0..n {
                client.send(&msg).await?;
                let d = client.receive().await?;
                assert_eq!(d.len(), MSG);
            }
            anyio::Ok(secs(start))
        })
        .await?;
        Ok(out.unwrap_or(0.0))
    }};
}

/// The raw side: the same, the echo task spawned on the raw runtime, receives into a
/// fixed buffer.
macro_rules! raw_round_trips {
    ($raw:expr, $client:expr, $server:expr, $n:expr) => {{
        let (client, server, n) = ($client, $server, $n);
        let echo = $raw.spawn(async move {
            let mut buf = [0u8; 65536];
            for _ in 0..n {
                let k = server.recv(&mut buf).await.unwrap();
                server.send(&buf[..k]).await.unwrap();
            }
        });
        let msg = [7u8; MSG];
        let mut buf = [0u8; 65536];
        let start = Instant::now();
        for _ in 0..n {
            client.send(&msg).await.unwrap();
            let k = client.recv(&mut buf).await.unwrap();
            assert_eq!(k, MSG);
        }
        let t = secs(start);
        echo.join().await;
        t
    }};
}

// ---------------------------------------------------------------------------------------
// anyio

fn anyio_udp(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (a, b) = std_udp_pair();
        let client = ConnectedUdpSocket::from_std(a)?;
        let server = ConnectedUdpSocket::from_std(b)?;
        anyio_round_trips!(client, server, n)
    })
}

fn anyio_unix(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (a, b) = std_unix_pair();
        let client = ConnectedUnixDatagram::from_std(a)?;
        let server = ConnectedUnixDatagram::from_std(b)?;
        anyio_round_trips!(client, server, n)
    })
}

// ---------------------------------------------------------------------------------------
// raw

fn raw_udp(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let (a, b) = std_udp_pair();
        match raw {
            Raw::Tokio(_) => {
                let client = tokio::net::UdpSocket::from_std(a).unwrap();
                let server = tokio::net::UdpSocket::from_std(b).unwrap();
                raw_round_trips!(raw, client, server, n)
            }
            Raw::Smol(_) => {
                let client = async_io::Async::new(a).unwrap();
                let server = async_io::Async::new(b).unwrap();
                raw_round_trips!(raw, client, server, n)
            }
        }
    })
}

fn raw_unix(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let (a, b) = std_unix_pair();
        match raw {
            Raw::Tokio(_) => {
                let client = tokio::net::UnixDatagram::from_std(a).unwrap();
                let server = tokio::net::UnixDatagram::from_std(b).unwrap();
                raw_round_trips!(raw, client, server, n)
            }
            Raw::Smol(_) => {
                let client = async_io::Async::new(a).unwrap();
                let server = async_io::Async::new(b).unwrap();
                raw_round_trips!(raw, client, server, n)
            }
        }
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "udp-rr",
            "UDP, {n} 64-byte round trips on 127.0.0.1",
            "tokio::net::UdpSocket / Async<UdpSocket>",
            None,
            20_000,
            anyio_udp,
            raw_udp,
        ),
        Case::new(
            "unix-dgram-rr",
            "UNIX datagrams, {n} 64-byte round trips over a pair",
            "tokio::net::UnixDatagram / Async<UnixDatagram>",
            None,
            20_000,
            anyio_unix,
            raw_unix,
        ),
    ];
    support::main("anyio datagram benchmarks", cases);
}
