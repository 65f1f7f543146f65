//! Benchmarks of "Working with threads": `to_thread::run_sync` and `BlockingPortal::call`,
//! each against the raw runtime doing the same work in the same process, alternating runs.
//!
//! * **Sequential calls**: one task offloads a trivial closure again and again, waiting for
//!   each. anyio: `to_thread::run_sync` (a limiter token, the worker context, a result
//!   slot); raw: `tokio::task::spawn_blocking(..).await` / `blocking::unblock(..).await`,
//!   on the same kind of executor (tokio: multi-thread, two workers, body under `block_on`;
//!   smol: one executor on the calling thread). Target: ratio ≤ 1.3.
//! * **Concurrent calls**: that many calls at once. anyio: one task each, all under the
//!   default limiter (40 threads at most); raw: as many `spawn_blocking` / `unblock` jobs
//!   submitted at once and awaited (tokio's pool grows to 512 threads, `blocking`'s to 500).
//!   Reported as throughput beside raw; the limiter is the point, so there is no target.
//! * **Portal round trips**: a synchronous thread runs a trivial future in an event loop that
//!   runs in a thread of its own and waits for it. anyio: `BlockingPortal::call`; raw, tokio:
//!   `Handle::block_on(handle.spawn(..))` into a current-thread runtime driven by its own
//!   thread (the same round trip), and `Handle::block_on(async {})` as the issue asks (which
//!   polls the future on the calling thread, so it is no round trip: a floor, not a peer);
//!   raw, smol: `block_on(executor.spawn(..))` into an executor run by its own thread.
//!
//! `cargo bench --bench threads` (about a minute). `ANYIO_BENCH_ROUNDS` (default 3) sets the rounds,
//! `ANYIO_BENCH_SCALE` (default 1.0) scales every count.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyio::from_thread::start_blocking_portal;
use anyio::{Backend, Error};
use support::{Case, anyio_timed, tokio_timed};

fn smol_timed<Fut: Future<Output = ()>>(body: impl FnOnce() -> Fut) -> Duration {
    let ex = async_executor::Executor::new();
    let fut = body();
    async_io::block_on(ex.run(async move {
        let start = Instant::now();
        fut.await;
        start.elapsed()
    }))
}

async fn anyio_sequential(n: usize) -> anyio::Result<()> {
    for i in 0..n {
        let v = anyio::to_thread::run_sync(move || i).await?;
        assert_eq!(v, i);
    }
    Ok(())
}

async fn anyio_concurrent(n: usize) -> anyio::Result<()> {
    anyio::task_group(|tg| async move {
        for i in 0..n {
            tg.start_soon(anyio::to_thread::run_sync(move || i))?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

fn sequential_cases<'a>(n: usize) -> Vec<Case<'a>> {
    vec![
        Case {
            name: format!("tokio: {n} sequential run_sync vs spawn_blocking"),
            anyio: Box::new(move || anyio_timed(Backend::Tokio, || anyio_sequential(n))),
            raw: Box::new(move || {
                tokio_timed(|| async move {
                    for i in 0..n {
                        let v = tokio::task::spawn_blocking(move || i).await.unwrap();
                        assert_eq!(v, i);
                    }
                })
            }),
            target: 1.3,
        },
        Case {
            name: format!("smol: {n} sequential run_sync vs blocking::unblock"),
            anyio: Box::new(move || anyio_timed(Backend::Smol, || anyio_sequential(n))),
            raw: Box::new(move || {
                smol_timed(|| async move {
                    for i in 0..n {
                        let v = blocking::unblock(move || i).await;
                        assert_eq!(v, i);
                    }
                })
            }),
            target: 1.3,
        },
    ]
}

fn concurrent_cases<'a>(n: usize) -> Vec<Case<'a>> {
    vec![
        Case {
            name: format!("tokio: {n} concurrent run_sync (40 threads) vs spawn_blocking"),
            anyio: Box::new(move || anyio_timed(Backend::Tokio, || anyio_concurrent(n))),
            raw: Box::new(move || {
                tokio_timed(|| async move {
                    let jobs: Vec<_> = (0..n)
                        .map(|i| tokio::task::spawn_blocking(move || i))
                        .collect();
                    for job in jobs {
                        job.await.unwrap();
                    }
                })
            }),
            target: f64::INFINITY,
        },
        Case {
            name: format!("smol: {n} concurrent run_sync (40 threads) vs blocking::unblock"),
            anyio: Box::new(move || anyio_timed(Backend::Smol, || anyio_concurrent(n))),
            raw: Box::new(move || {
                smol_timed(|| async move {
                    let jobs: Vec<_> = (0..n).map(|i| blocking::unblock(move || i)).collect();
                    for job in jobs {
                        job.await;
                    }
                })
            }),
            target: f64::INFINITY,
        },
    ]
}

fn portal_round_trips(backend: Backend, n: usize) -> Duration {
    let portal = start_blocking_portal(backend).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let v = portal
            .call(move || async move { Ok::<_, Error>(i) })
            .unwrap();
        assert_eq!(v, i);
    }
    start.elapsed()
}

/// A current-thread tokio runtime driven by a thread of its own, as a portal's is.
fn tokio_loop_thread(body: impl FnOnce(&tokio::runtime::Handle) -> Duration) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = stop_rx.await;
        })
    });
    let took = body(&handle);
    let _ = stop_tx.send(());
    driver.join().unwrap();
    took
}

fn portal_cases<'a>(n: usize) -> Vec<Case<'a>> {
    vec![
        Case {
            name: format!("tokio: {n} portal.call vs Handle::block_on(spawn)"),
            anyio: Box::new(move || portal_round_trips(Backend::Tokio, n)),
            raw: Box::new(move || {
                tokio_loop_thread(|h| {
                    let start = Instant::now();
                    for i in 0..n {
                        let v = h.block_on(h.spawn(async move { i })).unwrap();
                        assert_eq!(v, i);
                    }
                    start.elapsed()
                })
            }),
            target: f64::INFINITY,
        },
        Case {
            name: format!("tokio: {n} portal.call vs Handle::block_on(async {{}})"),
            anyio: Box::new(move || portal_round_trips(Backend::Tokio, n)),
            raw: Box::new(move || {
                tokio_loop_thread(|h| {
                    let start = Instant::now();
                    for i in 0..n {
                        let v = h.block_on(async move { i });
                        assert_eq!(v, i);
                    }
                    start.elapsed()
                })
            }),
            target: f64::INFINITY,
        },
        Case {
            name: format!("smol: {n} portal.call vs block_on(executor.spawn)"),
            anyio: Box::new(move || portal_round_trips(Backend::Smol, n)),
            raw: Box::new(move || {
                let ex = Arc::new(async_executor::Executor::new());
                let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
                let runner = ex.clone();
                let driver = std::thread::spawn(move || {
                    async_io::block_on(runner.run(async move {
                        let _ = stop_rx.recv().await;
                    }))
                });
                let start = Instant::now();
                for i in 0..n {
                    let v = async_io::block_on(ex.spawn(async move { i }));
                    assert_eq!(v, i);
                }
                let took = start.elapsed();
                drop(stop_tx);
                driver.join().unwrap();
                took
            }),
            target: f64::INFINITY,
        },
    ]
}

fn main() {
    let rounds: usize = std::env::var("ANYIO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let scale: f64 = std::env::var("ANYIO_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let count = |n: f64| ((n * scale) as usize).max(1);
    let started = Instant::now();

    support::header(&format!(
        "to_thread / from_thread vs the raw runtimes ({rounds} rounds, medians)"
    ));
    let mut cases = sequential_cases(count(100_000.0));
    cases.extend(concurrent_cases(count(100_000.0)));
    cases.extend(portal_cases(count(20_000.0)));
    let rows = support::run(cases, rounds);

    println!("\nthroughput (calls per second, medians)");
    for row in &rows {
        let n: f64 = row
            .name
            .split_whitespace()
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.0);
        println!(
            "{:<58} {:>12.0} {:>12.0}",
            row.name,
            n / row.anyio.as_secs_f64(),
            n / row.raw.as_secs_f64()
        );
    }
    println!("\nwhole bench: {:.1?}", started.elapsed());
}
