//! Memory object streams against the channels a tokio or smol user would reach for:
//! tokio's `mpsc`, `async-channel` (MPMC, like ours) and `flume`, in the same process,
//! runs interleaved, several rounds, medians compared.
//!
//! The work: one producer task sends `u64`s, one consumer task receives them until the
//! channel closes. Buffer 1024 with 1,000,000 items, and buffer 0 (a rendezvous) with
//! 200,000 items.
//!
//! Fairness: every side spawns the producer and the consumer as two tasks of the same
//! executor and waits for both — on tokio, a multi-thread runtime with two workers; on
//! smol, one `async-executor` on the calling thread (anyio's smol default). Building the
//! runtime is outside the timed region on every side. Neither tokio's `mpsc` nor
//! `async-channel` has a rendezvous mode (capacity 0 panics), so in the buffer-0 case they
//! run with capacity 1 — the closest they offer, and easier work than a rendezvous;
//! `flume::bounded(0)` is a true rendezvous.
//!
//! anyio's streams do more per operation: each send and receive checks for cancellation
//! (a checkpoint) and is a schedule point under anyio's cooperative budget.
//!
//! `cargo bench --bench memory` (`ANYIO_BENCH_ROUNDS` sets the number of rounds, 7 by
//! default; `ANYIO_BENCH_ONLY=text` keeps the cases whose name contains `text`;
//! `ANYIO_BENCH_SIDE=anyio` (or `flume`, ...) runs that side once, for a profiler).

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyio::{Backend, Error, ErrorKind, Runner, TokioOptions};

const BUFFERED_ITEMS: u64 = 1_000_000;
const RENDEZVOUS_ITEMS: u64 = 200_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exec {
    Tokio,
    Smol,
}

// ---------------------------------------------------------------------------------------
// Executors: run a body with the clock started inside, setup outside.

fn timed_on<Fut>(exec: Exec, body: impl FnOnce(Spawner) -> Fut) -> Duration
where
    Fut: Future<Output = ()>,
{
    match exec {
        Exec::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let spawner = Spawner::Tokio(rt.handle().clone());
            rt.block_on(async move {
                let start = Instant::now();
                body(spawner).await;
                start.elapsed()
            })
        }
        Exec::Smol => {
            let ex = Arc::new(async_executor::Executor::new());
            let spawner = Spawner::Smol(ex.clone());
            async_io::block_on(ex.run(async move {
                let start = Instant::now();
                body(spawner).await;
                start.elapsed()
            }))
        }
    }
}

#[derive(Clone)]
enum Spawner {
    Tokio(tokio::runtime::Handle),
    Smol(Arc<async_executor::Executor<'static>>),
}

impl Spawner {
    /// Runs both futures as tasks of their own and waits for both.
    async fn pair(
        &self,
        a: impl Future<Output = ()> + Send + 'static,
        b: impl Future<Output = ()> + Send + 'static,
    ) {
        match self {
            Spawner::Tokio(h) => {
                let (a, b) = (h.spawn(a), h.spawn(b));
                a.await.unwrap();
                b.await.unwrap();
            }
            Spawner::Smol(ex) => {
                let (a, b) = (ex.spawn(a), ex.spawn(b));
                a.await;
                b.await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The four sides.

fn anyio_side(exec: Exec, buffer: usize, items: u64) -> Duration {
    let runner = match exec {
        Exec::Tokio => {
            Runner::new(Backend::Tokio).tokio_options(TokioOptions::new().worker_threads(2))
        }
        Exec::Smol => Runner::new(Backend::Smol),
    };
    runner
        .run(|| async move {
            let (tx, rx) = anyio::create_memory_object_stream::<u64>(buffer);
            let start = Instant::now();
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
            Ok::<_, Error>(start.elapsed())
        })
        .unwrap()
}

fn tokio_mpsc_side(exec: Exec, buffer: usize, items: u64) -> Duration {
    timed_on(exec, |spawner| async move {
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
        spawner.pair(producer, consumer).await;
    })
}

fn async_channel_side(exec: Exec, buffer: usize, items: u64) -> Duration {
    timed_on(exec, |spawner| async move {
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
        spawner.pair(producer, consumer).await;
    })
}

fn flume_side(exec: Exec, buffer: usize, items: u64) -> Duration {
    timed_on(exec, |spawner| async move {
        let (tx, rx) = flume::bounded::<u64>(buffer);
        let producer = async move {
            for i in 0..items {
                tx.send_async(i).await.unwrap();
            }
        };
        let consumer = async move {
            let mut sum = 0u64;
            while let Ok(i) = rx.recv_async().await {
                sum = sum.wrapping_add(i);
            }
            assert_eq!(black_box(sum), expected_sum(items));
        };
        spawner.pair(producer, consumer).await;
    })
}

// ---------------------------------------------------------------------------------------
// Rounds and the table.

/// What the consumer must add up to: every item arrived.
fn expected_sum(items: u64) -> u64 {
    items * (items - 1) / 2
}

const SIDES: [&str; 4] = ["anyio", "tokio mpsc", "async-channel", "flume"];

fn run_side(side: usize, exec: Exec, buffer: usize, items: u64) -> Duration {
    match side {
        0 => anyio_side(exec, buffer, items),
        1 => tokio_mpsc_side(exec, buffer, items),
        2 => async_channel_side(exec, buffer, items),
        _ => flume_side(exec, buffer, items),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("ANYIO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);
    let only = std::env::var("ANYIO_BENCH_ONLY").ok();
    println!(
        "memory object streams: 1 producer, 1 consumer; median of {rounds} interleaved rounds"
    );
    println!(
        "{:<34} {:>11} {:>11} {:>13} {:>11}   {:>9} {:>9} {:>9}",
        "case", SIDES[0], SIDES[1], SIDES[2], SIDES[3], "vs mpsc", "vs a-chan", "vs flume"
    );
    let cases = [
        (Exec::Tokio, 1024, BUFFERED_ITEMS),
        (Exec::Tokio, 0, RENDEZVOUS_ITEMS),
        (Exec::Smol, 1024, BUFFERED_ITEMS),
        (Exec::Smol, 0, RENDEZVOUS_ITEMS),
    ];
    let mut verdicts = Vec::new();
    for (exec, buffer, items) in cases {
        let name = format!("{exec:?} buffer {buffer}, {items} u64").to_lowercase();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        if let Ok(side) = std::env::var("ANYIO_BENCH_SIDE") {
            // One run of one side, for a profiler.
            let i = SIDES
                .iter()
                .position(|s| *s == side)
                .expect("a side's name");
            println!("{name}: {side} {:?}", run_side(i, exec, buffer, items));
            continue;
        }
        let mut times: [Vec<Duration>; 4] = Default::default();
        for side in 0..4 {
            run_side(side, exec, buffer, items / 10); // warm-up, not measured
        }
        for round in 0..rounds {
            // Rotate which side goes first, so drift in machine load hits all alike.
            for k in 0..4 {
                let side = (round + k) % 4;
                times[side].push(run_side(side, exec, buffer, items));
            }
        }
        let m: Vec<Duration> = times.into_iter().map(median).collect();
        // Throughput ratio: anyio's items per second over the other's (> 1: anyio faster).
        let ratio = |other: Duration| other.as_secs_f64() / m[0].as_secs_f64();
        println!(
            "{:<34} {:>11.2?} {:>11.2?} {:>13.2?} {:>11.2?}   {:>8.2}x {:>8.2}x {:>8.2}x",
            name,
            m[0],
            m[1],
            m[2],
            m[3],
            ratio(m[1]),
            ratio(m[2]),
            ratio(m[3])
        );
        if exec == Exec::Tokio {
            verdicts.push((name, ratio(m[1]), ratio(m[2])));
        }
    }
    println!("\nratios are throughput relative to anyio's (>1: anyio moves more items per second)");
    for (name, vs_mpsc, vs_chan) in verdicts {
        let ok = |good: bool| if good { "ok" } else { "MISSED" };
        println!(
            "target on {name}: >= 0.80x tokio mpsc ({vs_mpsc:.2}x, {}), >= 1.00x async-channel \
             ({vs_chan:.2}x, {})",
            ok(vs_mpsc >= 0.8),
            ok(vs_chan >= 1.0)
        );
    }
}
