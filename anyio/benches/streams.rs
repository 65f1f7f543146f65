//! Stream wrappers against what a tokio or smol user would write: reading delimited lines
//! with anyio's `BufferedByteReceiveStream::receive_until` over an anyio TCP stream, versus
//! `read_until` of tokio's `BufReader` over a `tokio::net::TcpStream` (tokio configurations)
//! or of futures-lite's `BufReader` over async-io's `Async<TcpStream>` (smol). Both read the
//! same loopback TCP traffic.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration (see
//! `support/mod.rs`); the clock starts once the connection is up.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`; the size counts lines):
//! * `buffered-lines`: a sender task writes `n` lines of 64 bytes (63 bytes and `\n`) in
//!   64 KiB batches, then shuts its direction; the receiver reads line by line until the
//!   end and checks the count and the bytes. anyio returns each line in a new `Vec` (its
//!   API); the raw sides append into one reused `Vec` (theirs), so anyio pays one
//!   allocation per line the raw sides do not.
//!
//! `cargo bench --all-features --bench streams`; `benches/callgrind.sh buffered-lines
//! tokio-ct` prints instructions per line for both sides.

mod support;

use std::hint::black_box;
use std::time::Instant;

use anyio::ErrorKind;
use anyio::streams::buffered::BufferedByteReceiveStream;
use anyio::streams::{ByteSendStream, ByteStream};
use support::net::{anyio_pair, smol_pair, tokio_pair};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const LINE: usize = 64;
const BATCH: usize = 64 * 1024;

/// `n` lines of `LINE` bytes each, ending in `\n`.
fn payload(n: usize) -> Vec<u8> {
    let mut line = [b'x'; LINE];
    line[LINE - 1] = b'\n';
    line.repeat(n)
}

fn anyio_lines(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let (client, server) = anyio_pair().await?;
        let server = BufferedByteReceiveStream::new(server);
        let data = payload(n);
        let start = Instant::now();
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for batch in data.chunks(BATCH) {
                    client.send(batch).await?;
                }
                client.send_eof().await
            })?;
            let mut lines = 0;
            loop {
                match server.receive_until(b"\n", 1024).await {
                    Ok(line) => {
                        assert_eq!(black_box(line).len(), LINE - 1);
                        lines += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::IncompleteRead => break,
                    Err(e) => return Err(e),
                }
            }
            assert_eq!(lines, n);
            anyio::Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_lines(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let data = payload(n);
        match raw {
            Raw::Tokio(_) => {
                use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
                let (mut client, server) = tokio_pair().await;
                let mut server = BufReader::new(server);
                let start = Instant::now();
                let sender = raw.spawn(async move {
                    for batch in data.chunks(BATCH) {
                        client.write_all(batch).await.unwrap();
                    }
                    client.shutdown().await.unwrap();
                });
                let (mut line, mut lines) = (Vec::new(), 0);
                loop {
                    line.clear();
                    match server.read_until(b'\n', &mut line).await.unwrap() {
                        0 => break,
                        k => {
                            assert_eq!(black_box(k), LINE);
                            lines += 1;
                        }
                    }
                }
                assert_eq!(lines, n);
                sender.join().await;
                secs(start)
            }
            Raw::Smol(_) => {
                use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
                let (mut client, server) = smol_pair().await;
                let mut server = BufReader::new(server);
                let start = Instant::now();
                let sender = raw.spawn(async move {
                    for batch in data.chunks(BATCH) {
                        client.write_all(batch).await.unwrap();
                    }
                    client
                        .get_ref()
                        .shutdown(std::net::Shutdown::Write)
                        .unwrap();
                });
                let (mut line, mut lines) = (Vec::new(), 0);
                loop {
                    line.clear();
                    match server.read_until(b'\n', &mut line).await.unwrap() {
                        0 => break,
                        k => {
                            assert_eq!(black_box(k), LINE);
                            lines += 1;
                        }
                    }
                }
                assert_eq!(lines, n);
                sender.join().await;
                secs(start)
            }
        }
    })
}

fn main() {
    let cases = vec![Case::new(
        "buffered-lines",
        "receive_until over TCP, {n} lines of 64 bytes",
        "tokio / futures-lite BufReader::read_until",
        None,
        200_000,
        anyio_lines,
        raw_lines,
    )];
    support::main("anyio stream wrapper benchmarks", cases);
}
