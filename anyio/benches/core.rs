//! Benchmarks of the foundation: spawning, timers, checkpoints, cancel scopes and the heap
//! a parked task holds, each against the raw runtime doing the same work.
//!
//! Every body runs as a spawned task on both sides, on the same runtime configuration
//! (tokio current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see
//! `support/mod.rs` for the rule, the rounds and the environment variables.
//!
//! Cases (ids for `ANYIO_BENCH_CASE`):
//! * `spawn`: spawn and join 100,000 children that return at once (a task group vs
//!   spawned tasks whose handles are awaited in order).
//! * `timers`: 100,000 children each sleeping 1 ms (`anyio::sleep` vs `tokio::time::sleep`
//!   / `async_io::Timer`); the ratio is of the overhead, the medians minus the 1 ms sleep.
//! * `checkpoints`: 200,000 `lowlevel::checkpoint()` vs the runtime's `yield_now` in one
//!   task (anyio's checkpoints spend a cooperative budget, yielding once per 128).
//! * `yields`: 200,000 `lowlevel::yield_now()` (always yields) vs the runtime's
//!   `yield_now` in one task: the task wrapper's cost on every poll (informational).
//! * `cancel-scope`: 100,000 `move_on_after(10 s)` around a `lowlevel::yield_now` vs
//!   `tokio::time::timeout` / a race with an `async_io::Timer` around the runtime's yield.
//! * `parked-memory`: heap bytes per child while 100,000 children wait for one event
//!   (`anyio::Event` vs a flag with tokio's `Notify` / `event_listener::Event`; the raw
//!   side also keeps the join handles). Counted by this binary's `#[global_allocator]`,
//!   which counts only while that case measures (one relaxed load per allocation otherwise).
//!
//! `cargo bench --all-features --bench core`. One body once, for a profiler:
//! `ANYIO_BENCH_CASE=spawn ANYIO_BENCH_CONFIG=tokio-ct ANYIO_BENCH_SIDE=anyio cargo bench
//! --all-features --bench core`; `benches/callgrind.sh spawn tokio-ct` prints instructions
//! per operation for both sides.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::{Error, Event};
use support::{Case, Config, Raw, Unit, run_anyio, run_raw, secs};

/// Counts live heap bytes while `COUNTING` is on.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    // Relaxed: a statistic read after the measured tasks are known to be parked (the
    // reader synchronizes with them through the event / counter it waited on).
    if COUNTING.load(Ordering::Relaxed) {
        // Relaxed: as above.
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only
// updates a counter.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Starts counting; returns the live-byte count now.
fn count_start() -> isize {
    // SeqCst: the switch and the first read are ordered before the tasks are spawned.
    COUNTING.store(true, Ordering::SeqCst);
    LIVE.load(Ordering::SeqCst)
}

/// Bytes allocated (net) since `start`, per task; stops counting.
fn count_per_task(start: isize, n: usize) -> f64 {
    // SeqCst: read after the parked tasks were observed parked, before they are woken.
    let now = LIVE.load(Ordering::SeqCst);
    // SeqCst: as above.
    COUNTING.store(false, Ordering::SeqCst);
    (now - start) as f64 / n.max(1) as f64
}

// ---------------------------------------------------------------------------------------
// spawn

fn anyio_spawn(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        anyio::task_group(|tg| async move {
            for _ in 0..n {
                tg.start_soon(async { Ok::<_, Error>(()) })?;
            }
            Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_spawn(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n).map(|_| raw.spawn(async {})).collect();
        for t in tasks {
            t.join().await;
        }
        secs(start)
    })
}

// ---------------------------------------------------------------------------------------
// timers

const SLEEP: Duration = Duration::from_millis(1);

fn anyio_timers(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        anyio::task_group(|tg| async move {
            for _ in 0..n {
                tg.start_soon(anyio::sleep(SLEEP))?;
            }
            Ok(())
        })
        .await?;
        Ok(secs(start))
    })
}

fn raw_timers(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let r = raw.clone();
                raw.spawn(async move { r.sleep(SLEEP).await })
            })
            .collect();
        for t in tasks {
            t.join().await;
        }
        secs(start)
    })
}

// ---------------------------------------------------------------------------------------
// checkpoints and cancel scopes

fn anyio_checkpoints(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        for _ in 0..n {
            anyio::lowlevel::checkpoint().await?;
        }
        Ok(secs(start))
    })
}

fn raw_checkpoints(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        for _ in 0..n {
            raw.yield_now().await;
        }
        secs(start)
    })
}

/// Unconditional yields: the cost of the task wrapper on every poll (informational).
fn anyio_yields(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        for _ in 0..n {
            anyio::lowlevel::yield_now().await;
        }
        Ok(secs(start))
    })
}

fn anyio_scopes(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let start = Instant::now();
        for _ in 0..n {
            anyio::move_on_after(Duration::from_secs(10), async {
                anyio::lowlevel::yield_now().await;
                Ok::<_, Error>(())
            })
            .await?;
        }
        Ok(secs(start))
    })
}

fn raw_scopes(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        for _ in 0..n {
            match &raw {
                Raw::Tokio(_) => {
                    let _ = tokio::time::timeout(Duration::from_secs(10), tokio::task::yield_now())
                        .await;
                }
                Raw::Smol(_) => {
                    futures_lite::future::or(
                        async {
                            futures_lite::future::yield_now().await;
                            true
                        },
                        async {
                            async_io::Timer::after(Duration::from_secs(10)).await;
                            false
                        },
                    )
                    .await;
                }
            }
        }
        secs(start)
    })
}

// ---------------------------------------------------------------------------------------
// memory per parked child

fn anyio_parked(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let event = Event::new();
        let start = count_start();
        let bytes = anyio::task_group(|tg| async move {
            for _ in 0..n {
                let event = event.clone();
                tg.start_soon(async move { event.wait().await })?;
            }
            anyio::testing::wait_all_tasks_blocked().await?;
            let bytes = count_per_task(start, n);
            event.set();
            Ok(bytes)
        })
        .await?;
        Ok(bytes.unwrap_or(0.0))
    })
}

/// A one-shot event made of the runtime's own parts: a flag and a wake-up list.
struct RawEvent {
    set: AtomicBool,
    notify: tokio::sync::Notify,
    listeners: event_listener::Event,
}

impl RawEvent {
    fn new() -> RawEvent {
        RawEvent {
            set: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
            listeners: event_listener::Event::new(),
        }
    }

    fn set(&self, tokio: bool) {
        // SeqCst: store-then-notify against the waiter's register-then-load.
        self.set.store(true, Ordering::SeqCst);
        if tokio {
            self.notify.notify_waiters();
        } else {
            self.listeners.notify(usize::MAX);
        }
    }

    /// Waits for the flag; `parked` counts the waiter once it is registered.
    async fn wait(&self, tokio: bool, parked: &AtomicUsize) {
        if tokio {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            // SeqCst: see `set`.
            if !self.set.load(Ordering::SeqCst) {
                // Relaxed: a count the spawner polls; the registration above is done.
                parked.fetch_add(1, Ordering::Relaxed);
                notified.await;
            }
        } else {
            let listener = self.listeners.listen();
            // SeqCst: see `set`.
            if !self.set.load(Ordering::SeqCst) {
                // Relaxed: as above.
                parked.fetch_add(1, Ordering::Relaxed);
                listener.await;
            }
        }
    }
}

fn raw_parked(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let event = Arc::new(RawEvent::new());
        let parked = Arc::new(AtomicUsize::new(0));
        let tokio = raw.is_tokio();
        let start = count_start();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (event, parked) = (event.clone(), parked.clone());
                raw.spawn(async move { event.wait(tokio, &parked).await })
            })
            .collect();
        // Relaxed: the count is only a progress signal; see `RawEvent::wait`.
        while parked.load(Ordering::Relaxed) < n {
            raw.yield_now().await;
        }
        let bytes = count_per_task(start, n);
        event.set(tokio);
        for t in tasks {
            t.join().await;
        }
        bytes
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "spawn",
            "spawn + join {n} children",
            "tokio tasks / smol tasks",
            Some(1.3),
            100_000,
            anyio_spawn,
            raw_spawn,
        ),
        Case::new(
            "timers",
            "{n} children sleeping 1 ms, overhead",
            "tokio sleep / async-io Timer",
            Some(1.3),
            100_000,
            anyio_timers,
            raw_timers,
        )
        .subtract(SLEEP.as_secs_f64()),
        Case::new(
            "parked-memory",
            "heap bytes per parked child, {n} children awaiting an Event",
            "Notify / event-listener + flag",
            Some(1.5),
            100_000,
            anyio_parked,
            raw_parked,
        )
        .unit(Unit::BytesPerTask),
        Case::new(
            "checkpoints",
            "{n} checkpoints in one task",
            "yield_now",
            Some(1.2),
            200_000,
            anyio_checkpoints,
            raw_checkpoints,
        ),
        Case::new(
            "yields",
            "{n} lowlevel::yield_now in one task",
            "yield_now",
            None,
            200_000,
            anyio_yields,
            raw_checkpoints,
        ),
        Case::new(
            "cancel-scope",
            "{n} move_on_after(10 s) around a yield",
            "tokio timeout / Timer race",
            Some(1.1),
            100_000,
            anyio_scopes,
            raw_scopes,
        ),
    ];
    support::main("anyio core benchmarks", cases);
}
