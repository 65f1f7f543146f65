//! Benchmarks of "Working with threads": `to_thread::run_sync` and `BlockingPortal::call`,
//! each against the raw runtime doing the same work.
//!
//! The `to_thread` bodies run as a spawned task on both sides, on the same runtime
//! configuration (tokio current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see
//! `support/mod.rs` for the rule, the rounds and the environment variables.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`; the size counts calls):
//! * `to_thread`: 40 tasks each offload a trivial closure and wait for it, again and again,
//!   10,000 calls in all: `to_thread::run_sync` (under the default 40-token limiter) vs
//!   `tokio::task::spawn_blocking` / `blocking::unblock` from 40 spawned tasks.
//! * `to_thread-seq`: one task, 5,000 calls one after the other.
//! * `portal`: a plain thread calls into an event loop that runs on a thread of its own
//!   and waits for the answer, 5,000 times: `BlockingPortal::call` (the portal's loop built
//!   with the configuration's `Runner`) vs `Handle::block_on(handle.spawn(..))` into a tokio
//!   runtime built the same way and driven by its own thread, or `block_on(ex.spawn(..))`
//!   into a smol executor run by its own thread(s). Here the measured body is the calling
//!   thread on both sides; the callee is a task of the loop on both.
//!
//! `cargo bench --all-features --bench threads`. One body once, for a profiler:
//! `ANYIO_BENCH_CASE=to_thread ANYIO_BENCH_CONFIG=smol-1 ANYIO_BENCH_SIDE=anyio cargo bench
//! --all-features --bench threads`; `benches/callgrind.sh to_thread smol-1` prints
//! instructions per call for both sides.

mod support;

use std::time::Instant;

use anyio::Error;
use anyio::from_thread::PortalBuilder;
use support::{
    Case, Config, Raw, anyio_join_all, raw_join_all, run_anyio, run_raw, secs, smol_runtime,
    tokio_runtime,
};

const CONCURRENT: usize = 40;

async fn anyio_calls(per: usize) -> anyio::Result<()> {
    for i in 0..per {
        let v = anyio::to_thread::run_sync(move || i).await?;
        assert_eq!(v, i);
    }
    Ok(())
}

async fn raw_calls(raw: &Raw, per: usize) {
    for i in 0..per {
        let v = match raw {
            Raw::Tokio(_) => tokio::task::spawn_blocking(move || i).await.unwrap(),
            Raw::Smol(_) => blocking::unblock(move || i).await,
        };
        assert_eq!(v, i);
    }
}

fn anyio_to_thread(config: Config, n: usize, tasks: usize) -> f64 {
    run_anyio(config, move || async move {
        let per = n / tasks;
        let start = Instant::now();
        if tasks == 1 {
            anyio_calls(per).await?;
        } else {
            anyio_join_all((0..tasks).map(|_| anyio_calls(per)).collect()).await?;
        }
        Ok(secs(start))
    })
}

fn raw_to_thread(config: Config, n: usize, tasks: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let per = n / tasks;
        let start = Instant::now();
        if tasks == 1 {
            raw_calls(&raw, per).await;
        } else {
            let futs = (0..tasks)
                .map(|_| {
                    let raw = raw.clone();
                    async move { raw_calls(&raw, per).await }
                })
                .collect();
            raw_join_all(&raw, futs).await;
        }
        secs(start)
    })
}

fn anyio_portal(config: Config, n: usize) -> f64 {
    let portal = PortalBuilder::new(config.backend())
        .runner(config.runner())
        .start()
        .unwrap();
    let start = Instant::now();
    for i in 0..n {
        let v = portal
            .call(move || async move { Ok::<_, Error>(i) })
            .unwrap();
        assert_eq!(v, i);
    }
    secs(start)
}

fn raw_portal(config: Config, n: usize) -> f64 {
    if config.is_tokio() {
        let rt = tokio_runtime(config);
        let handle = rt.handle().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let driver = std::thread::spawn(move || {
            rt.block_on(async move {
                let _ = stop_rx.await;
            });
            rt.shutdown_background();
        });
        let start = Instant::now();
        for i in 0..n {
            let v = handle.block_on(handle.spawn(async move { i })).unwrap();
            assert_eq!(v, i);
        }
        let took = secs(start);
        let _ = stop_tx.send(());
        driver.join().unwrap();
        took
    } else {
        let threads = if config == Config::Smol1 { 1 } else { 2 };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let driver = std::thread::spawn(move || {
            let rt = smol_runtime(threads);
            ready_tx.send(rt.ex.clone()).unwrap();
            rt.block_on(async move {
                let _ = stop_rx.recv().await;
            });
        });
        let ex = ready_rx.recv().unwrap();
        let start = Instant::now();
        for i in 0..n {
            let v = async_io::block_on(ex.spawn(async move { i }));
            assert_eq!(v, i);
        }
        let took = secs(start);
        drop(stop_tx);
        driver.join().unwrap();
        took
    }
}

fn main() {
    let cases = vec![
        Case::new(
            "to_thread",
            "`to_thread` from 40 tasks at once, {n} calls",
            "spawn_blocking / unblock",
            Some(1.2),
            10_000,
            |c, n| anyio_to_thread(c, n, CONCURRENT),
            |c, n| raw_to_thread(c, n, CONCURRENT),
        ),
        Case::new(
            "to_thread-seq",
            "`to_thread`, {n} sequential calls",
            "spawn_blocking / unblock",
            Some(1.3),
            5_000,
            |c, n| anyio_to_thread(c, n, 1),
            |c, n| raw_to_thread(c, n, 1),
        ),
        Case::new(
            "portal",
            "`BlockingPortal::call`, {n} round trips",
            "Handle::block_on(spawn) / block_on(ex.spawn)",
            Some(1.1),
            5_000,
            anyio_portal,
            raw_portal,
        ),
    ];
    support::main("anyio thread benchmarks", cases);
}
