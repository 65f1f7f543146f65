//! Memory object streams against the channels a tokio or smol user would reach for: tokio's
//! `mpsc` and `async-channel` (MPMC, like anyio's), each on all four configurations.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration
//! (tokio current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see
//! `support/mod.rs` for the rule, the rounds and the environment variables. The body spawns
//! one producer (sends `0..n` as `u64`s, then closes) and one consumer (receives until the
//! end of the stream and checks the sum) and waits for both.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`; the size counts items):
//! * `memory-1024-mpsc`, `memory-1024-chan`: buffer 1024, 200,000 items, vs tokio `mpsc` /
//!   `async-channel` of capacity 1024.
//! * `memory-0-mpsc`, `memory-0-chan`: buffer 0 (a rendezvous), 50,000 items; neither peer
//!   has a rendezvous mode, so they run with capacity 1 (easier work than a rendezvous).
//!
//! anyio's streams do more per operation: each send and receive checks for cancellation and
//! is a (budgeted) schedule point.
//!
//! `cargo bench --all-features --bench memory`. One body once, for a profiler:
//! `ANYIO_BENCH_CASE=memory-1024-chan ANYIO_BENCH_CONFIG=tokio-ct ANYIO_BENCH_SIDE=anyio
//! cargo bench --all-features --bench memory`; `benches/callgrind.sh memory-1024-chan
//! tokio-ct` prints instructions per item for both sides.

mod support;

use std::hint::black_box;
use std::time::Instant;

use anyio::{Error, ErrorKind};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

/// What the consumer must add up to: every item arrived.
fn expected_sum(items: u64) -> u64 {
    items * items.saturating_sub(1) / 2
}

fn anyio_stream(config: Config, buffer: usize, n: usize) -> f64 {
    let items = n as u64;
    run_anyio(config, move || async move {
        let start = Instant::now();
        let (tx, rx) = anyio::create_memory_object_stream::<u64>(buffer);
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for i in 0..items {
                    tx.send(i).await?;
                }
                Ok::<_, Error>(())
            })?;
            tg.start_soon(async move {
                let mut sum = 0u64;
                loop {
                    match rx.receive().await {
                        Ok(i) => sum = sum.wrapping_add(i),
                        Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                        Err(e) => return Err(e),
                    }
                }
                assert_eq!(black_box(sum), expected_sum(items));
                Ok(())
            })?;
            Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

/// Spawns the producer and the consumer and waits for both.
async fn pair(
    raw: &Raw,
    producer: impl Future<Output = ()> + Send + 'static,
    consumer: impl Future<Output = ()> + Send + 'static,
) {
    let (p, c) = (raw.spawn(producer), raw.spawn(consumer));
    p.join().await;
    c.join().await;
}

fn mpsc_stream(config: Config, buffer: usize, n: usize) -> f64 {
    let items = n as u64;
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(buffer.max(1));
        let producer = async move {
            for i in 0..items {
                tx.send(i).await.unwrap();
            }
        };
        let consumer = async move {
            let mut sum = 0u64;
            while let Some(i) = rx.recv().await {
                sum = sum.wrapping_add(i);
            }
            assert_eq!(black_box(sum), expected_sum(items));
        };
        pair(&raw, producer, consumer).await;
        secs(start)
    })
}

fn channel_stream(config: Config, buffer: usize, n: usize) -> f64 {
    let items = n as u64;
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let (tx, rx) = async_channel::bounded::<u64>(buffer.max(1));
        let producer = async move {
            for i in 0..items {
                tx.send(i).await.unwrap();
            }
        };
        let consumer = async move {
            let mut sum = 0u64;
            while let Ok(i) = rx.recv().await {
                sum = sum.wrapping_add(i);
            }
            assert_eq!(black_box(sum), expected_sum(items));
        };
        pair(&raw, producer, consumer).await;
        secs(start)
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "memory-1024-mpsc",
            "memory stream, buffer 1024, {n} items",
            "tokio mpsc",
            Some(1.0),
            200_000,
            |c, n| anyio_stream(c, 1024, n),
            |c, n| mpsc_stream(c, 1024, n),
        ),
        Case::new(
            "memory-1024-chan",
            "memory stream, buffer 1024, {n} items",
            "async-channel",
            Some(1.0),
            200_000,
            |c, n| anyio_stream(c, 1024, n),
            |c, n| channel_stream(c, 1024, n),
        ),
        Case::new(
            "memory-0-mpsc",
            "memory stream, buffer 0, {n} items",
            "tokio mpsc, capacity 1",
            Some(1.0),
            50_000,
            |c, n| anyio_stream(c, 0, n),
            |c, n| mpsc_stream(c, 0, n),
        ),
        Case::new(
            "memory-0-chan",
            "memory stream, buffer 0, {n} items",
            "async-channel, capacity 1",
            Some(1.0),
            50_000,
            |c, n| anyio_stream(c, 0, n),
            |c, n| channel_stream(c, 0, n),
        ),
    ];
    support::main("anyio memory stream benchmarks", cases);
}
