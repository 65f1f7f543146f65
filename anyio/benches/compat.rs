//! The ecosystem adapters (`streams::compat`) against the raw runtime's sockets: the same
//! foreign copy loop over an anyio `TcpStream` (through the `AsyncRead`/`AsyncWrite`
//! impls it has) and over the raw runtime's own TCP stream.
//!
//! Fair by construction: both sides run the one copy function of their runtime's trait
//! family — `tokio::io::copy` on the tokio configurations (anyio's tokio traits vs
//! `tokio::net::TcpStream`), `futures_lite::io::copy` on smol (anyio's futures-io traits vs
//! `Async<std::net::TcpStream>`) — with the same sender (`write_all` of 64 KiB chunks, then
//! a shutdown of the sending side) and the same sink. What differs is the adapter layer.
//!
//! Case (id for `ANYIO_BENCH_CASE`):
//! * `compat-copy`: one connection carries `n` chunks of 64 KiB (4,096 = 256 MiB) into a
//!   copy to a sink (informational: no target).
//!
//! `cargo bench --all-features --bench compat`; `benches/callgrind.sh compat-copy tokio-ct`
//! prints instructions per chunk for both sides.

mod support;

use std::time::Instant;

use support::net::{anyio_pair, smol_pair, smol_send_chunks, tokio_pair, tokio_send_chunks};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const CHUNK: usize = 64 * 1024;

fn is_tokio(config: Config) -> bool {
    matches!(config, Config::TokioCt | Config::Tokio2)
}

fn anyio_copy(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (mut client, mut server) = anyio_pair().await?;
        let start = Instant::now();
        let total = (n * CHUNK) as u64;
        anyio::task_group(|tg| async move {
            if is_tokio(config) {
                use tokio::io::AsyncWriteExt;
                tg.start_soon(async move {
                    let chunk = vec![1u8; CHUNK];
                    for _ in 0..n {
                        client.write_all(&chunk).await?;
                    }
                    client.shutdown().await?;
                    anyio::Ok(())
                })?;
                let copied = tokio::io::copy(&mut server, &mut tokio::io::sink()).await?;
                assert_eq!(copied, total);
            } else {
                use futures_lite::AsyncWriteExt;
                tg.start_soon(async move {
                    let chunk = vec![1u8; CHUNK];
                    for _ in 0..n {
                        client.write_all(&chunk).await?;
                    }
                    client.close().await?;
                    anyio::Ok(())
                })?;
                let copied =
                    futures_lite::io::copy(&mut server, &mut futures_lite::io::sink()).await?;
                assert_eq!(copied, total);
            }
            anyio::Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_copy(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let total = (n * CHUNK) as u64;
        match raw {
            Raw::Tokio(_) => {
                let (client, mut server) = tokio_pair().await;
                let start = Instant::now();
                let sender = raw.spawn(tokio_send_chunks(client, n, CHUNK));
                let copied = tokio::io::copy(&mut server, &mut tokio::io::sink())
                    .await
                    .unwrap();
                assert_eq!(copied, total);
                sender.join().await;
                secs(start)
            }
            Raw::Smol(_) => {
                let (client, mut server) = smol_pair().await;
                let start = Instant::now();
                let sender = raw.spawn(smol_send_chunks(client, n, CHUNK));
                let copied = futures_lite::io::copy(&mut server, &mut futures_lite::io::sink())
                    .await
                    .unwrap();
                assert_eq!(copied, total);
                sender.join().await;
                secs(start)
            }
        }
    })
}

fn main() {
    let cases = vec![Case::new(
        "compat-copy",
        "TCP, {n} chunks of 64 KiB through the foreign copy of the runtime's I/O traits",
        "tokio::io::copy over tokio::net / futures_lite::io::copy over Async<TcpStream>",
        None,
        4096,
        anyio_copy,
        raw_copy,
    )];
    support::main("anyio ecosystem-adapter benchmarks", cases);
}
