//! Synchronization primitives against the ones a tokio or smol user would reach for:
//! tokio's `Semaphore`, `Notify` and `Mutex` on the tokio configurations, `async-lock`'s
//! and `event-listener`'s on the smol ones.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration
//! (tokio current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see
//! `support/mod.rs` for the rule, the rounds and the environment variables.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`; the size counts operations):
//! * `semaphore`: 100 tasks share 10 permits; each acquires, yields once (the runtime's
//!   `yield_now` / `lowlevel::yield_now`) and releases, 100,000 acquisitions in all.
//! * `event`: the body and one child play ping-pong 20,000 times through one-shot events
//!   (the body sets `ping[i]` and waits for `pong[i]`; the child the other way round). The
//!   2 × 20,000 events are created inside the timed region, as AnyIO code makes a fresh
//!   event per occasion: anyio's `Event` vs `Notify` (`notify_one` / `notified`) on tokio, a
//!   flag with an `event_listener::Event` on smol.
//! * `lock`: 100 tasks × lock / yield / unlock, 100,000 in all: anyio's `Lock` vs
//!   `tokio::sync::Mutex<()>` / `async_lock::Mutex<()>`.
//! * `mutex`: the same with data, a shared `u64` incremented under the lock: anyio's
//!   `Mutex<u64>` vs `tokio::sync::Mutex<u64>` / `async_lock::Mutex<u64>`.
//! * `semaphore-fifo`, `lock-fifo` (informational): `semaphore` and `lock` against a FIFO
//!   peer on every configuration — tokio's `Semaphore` and `Mutex<()>`, which serve waiters
//!   in order and need no tokio runtime, so they run on smol's executor too. async-lock's
//!   primitives are unfair (a release lets a running task barge ahead of the woken waiter),
//!   which AnyIO's hand-off forbids: these rows price fairness apart from the rest.
//!
//! `cargo bench --all-features --bench sync`. One body once, for a profiler:
//! `ANYIO_BENCH_CASE=event ANYIO_BENCH_CONFIG=smol-1 ANYIO_BENCH_SIDE=raw cargo bench
//! --all-features --bench sync`; `benches/callgrind.sh event smol-1` prints instructions per
//! operation for both sides.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyio::{Error, Event, Lock, Mutex, Semaphore};
use support::{Case, Config, anyio_join_all, raw_join_all, run_anyio, run_raw, secs};

const TASKS: usize = 100;
const PERMITS: usize = 10;

// ---------------------------------------------------------------------------------------
// semaphore

fn anyio_semaphore(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let semaphore = Semaphore::new(PERMITS);
        let per = n / TASKS;
        let tasks = (0..TASKS)
            .map(|_| {
                let semaphore = semaphore.clone();
                async move {
                    for _ in 0..per {
                        let _permit = semaphore.acquire().await?;
                        anyio::lowlevel::yield_now().await;
                    }
                    Ok::<_, Error>(())
                }
            })
            .collect();
        let start = Instant::now();
        anyio_join_all(tasks).await?;
        Ok(secs(start))
    })
}

fn raw_semaphore(config: Config, n: usize) -> f64 {
    raw_semaphore_with(config, n, false)
}

/// The raw semaphore case; `fifo` picks tokio's (fair) `Semaphore` on smol too.
fn raw_semaphore_with(config: Config, n: usize, fifo: bool) -> f64 {
    run_raw(config, move |raw| async move {
        let per = n / TASKS;
        let start;
        let is_tokio = raw.is_tokio();
        if is_tokio || fifo {
            let semaphore = Arc::new(tokio::sync::Semaphore::new(PERMITS));
            let tasks = (0..TASKS)
                .map(|_| {
                    let semaphore = semaphore.clone();
                    async move {
                        for _ in 0..per {
                            let _permit = semaphore.acquire().await.unwrap();
                            if is_tokio {
                                tokio::task::yield_now().await;
                            } else {
                                futures_lite::future::yield_now().await;
                            }
                        }
                    }
                })
                .collect();
            start = Instant::now();
            raw_join_all(&raw, tasks).await;
        } else {
            let semaphore = Arc::new(async_lock::Semaphore::new(PERMITS));
            let tasks = (0..TASKS)
                .map(|_| {
                    let semaphore = semaphore.clone();
                    async move {
                        for _ in 0..per {
                            let _permit = semaphore.acquire().await;
                            futures_lite::future::yield_now().await;
                        }
                    }
                })
                .collect();
            start = Instant::now();
            raw_join_all(&raw, tasks).await;
        }
        secs(start)
    })
}

// ---------------------------------------------------------------------------------------
// event

fn anyio_event(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        let pings: Arc<Vec<Event>> = Arc::new((0..n).map(|_| Event::new()).collect());
        let pongs: Arc<Vec<Event>> = Arc::new((0..n).map(|_| Event::new()).collect());
        let (child_pings, child_pongs) = (pings.clone(), pongs.clone());
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                for i in 0..n {
                    child_pings[i].wait().await?;
                    child_pongs[i].set();
                }
                Ok::<_, Error>(())
            })?;
            for i in 0..n {
                pings[i].set();
                pongs[i].wait().await?;
            }
            Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

/// smol's building block for a one-shot event: a flag and an `event_listener::Event`.
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    event: event_listener::Event,
}

impl Flag {
    fn set(&self) {
        // SeqCst: store-then-notify against the waiter's listen-then-load.
        self.set.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    async fn wait(&self) {
        loop {
            // SeqCst: see `set`.
            if self.set.load(Ordering::SeqCst) {
                return;
            }
            let listener = self.event.listen();
            // SeqCst: see `set`.
            if self.set.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

fn raw_event(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        if raw.is_tokio() {
            let make = || {
                Arc::new(
                    (0..n)
                        .map(|_| tokio::sync::Notify::new())
                        .collect::<Vec<_>>(),
                )
            };
            let (pings, pongs) = (make(), make());
            let (child_pings, child_pongs) = (pings.clone(), pongs.clone());
            let child = raw.spawn(async move {
                for i in 0..n {
                    child_pings[i].notified().await;
                    child_pongs[i].notify_one();
                }
            });
            for i in 0..n {
                pings[i].notify_one();
                pongs[i].notified().await;
            }
            child.join().await;
        } else {
            let make = || Arc::new((0..n).map(|_| Flag::default()).collect::<Vec<_>>());
            let (pings, pongs) = (make(), make());
            let (child_pings, child_pongs) = (pings.clone(), pongs.clone());
            let child = raw.spawn(async move {
                for i in 0..n {
                    child_pings[i].wait().await;
                    child_pongs[i].set();
                }
            });
            for i in 0..n {
                pings[i].set();
                pongs[i].wait().await;
            }
            child.join().await;
        }
        secs(start)
    })
}

// ---------------------------------------------------------------------------------------
// lock and mutex

fn anyio_lock(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let lock = Lock::new();
        let per = n / TASKS;
        let tasks = (0..TASKS)
            .map(|_| {
                let lock = lock.clone();
                async move {
                    for _ in 0..per {
                        let _guard = lock.lock().await?;
                        anyio::lowlevel::yield_now().await;
                    }
                    Ok::<_, Error>(())
                }
            })
            .collect();
        let start = Instant::now();
        anyio_join_all(tasks).await?;
        Ok(secs(start))
    })
}

fn anyio_mutex(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let mutex = Arc::new(Mutex::new(0u64));
        let per = n / TASKS;
        let tasks = (0..TASKS)
            .map(|_| {
                let mutex = mutex.clone();
                async move {
                    for _ in 0..per {
                        let mut value = mutex.lock().await?;
                        *value += 1;
                        anyio::lowlevel::yield_now().await;
                    }
                    Ok::<_, Error>(())
                }
            })
            .collect();
        let start = Instant::now();
        anyio_join_all(tasks).await?;
        let took = secs(start);
        assert_eq!(*mutex.try_lock()?, (per * TASKS) as u64);
        Ok(took)
    })
}

/// The raw lock cases: `tokio::sync::Mutex<u64>` / `async_lock::Mutex<u64>`, the value
/// incremented when `data` (the `mutex` case) and left alone otherwise (the `lock` case);
/// `fifo` picks tokio's (fair) `Mutex` on smol too (the `lock-fifo` case).
fn raw_mutex(config: Config, n: usize, data: bool, fifo: bool) -> f64 {
    run_raw(config, move |raw| async move {
        let per = n / TASKS;
        let start;
        let total;
        let is_tokio = raw.is_tokio();
        if is_tokio || fifo {
            let mutex = Arc::new(tokio::sync::Mutex::new(0u64));
            let tasks = (0..TASKS)
                .map(|_| {
                    let mutex = mutex.clone();
                    async move {
                        for _ in 0..per {
                            let mut value = mutex.lock().await;
                            if data {
                                *value += 1;
                            }
                            if is_tokio {
                                tokio::task::yield_now().await;
                            } else {
                                futures_lite::future::yield_now().await;
                            }
                        }
                    }
                })
                .collect();
            start = Instant::now();
            raw_join_all(&raw, tasks).await;
            total = *mutex.lock().await;
        } else {
            let mutex = Arc::new(async_lock::Mutex::new(0u64));
            let tasks = (0..TASKS)
                .map(|_| {
                    let mutex = mutex.clone();
                    async move {
                        for _ in 0..per {
                            let mut value = mutex.lock().await;
                            if data {
                                *value += 1;
                            }
                            futures_lite::future::yield_now().await;
                        }
                    }
                })
                .collect();
            start = Instant::now();
            raw_join_all(&raw, tasks).await;
            total = *mutex.lock().await;
        }
        let took = secs(start);
        assert_eq!(total, if data { (per * TASKS) as u64 } else { 0 });
        took
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "semaphore",
            "semaphore, 10 permits, 100 tasks, {n} acquisitions",
            "tokio Semaphore / async-lock",
            Some(1.15),
            100_000,
            anyio_semaphore,
            raw_semaphore,
        ),
        Case::new(
            "event",
            "`Event` set/wait round trip, {n} one-shot pairs",
            "Notify / event-listener",
            Some(1.3),
            20_000,
            anyio_event,
            raw_event,
        ),
        Case::new(
            "lock",
            "`Lock`, 100 tasks, {n} lock/unlock",
            "tokio Mutex / async-lock Mutex",
            Some(1.1),
            100_000,
            anyio_lock,
            |c, n| raw_mutex(c, n, false, false),
        ),
        Case::new(
            "mutex",
            "`Mutex<u64>`, 100 tasks, {n} lock/increment/unlock",
            "tokio Mutex / async-lock Mutex",
            Some(1.1),
            100_000,
            anyio_mutex,
            |c, n| raw_mutex(c, n, true, false),
        ),
        Case::new(
            "semaphore-fifo",
            "semaphore, 10 permits, 100 tasks, {n} acquisitions, FIFO peer",
            "tokio Semaphore on every runtime",
            None,
            100_000,
            anyio_semaphore,
            |c, n| raw_semaphore_with(c, n, true),
        ),
        Case::new(
            "lock-fifo",
            "`Lock`, 100 tasks, {n} lock/unlock, FIFO peer",
            "tokio Mutex on every runtime",
            None,
            100_000,
            anyio_lock,
            |c, n| raw_mutex(c, n, false, true),
        ),
    ];
    support::main("anyio sync benchmarks", cases);
}
