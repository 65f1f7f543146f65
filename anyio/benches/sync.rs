//! Synchronization primitives against the ones a tokio or smol user would reach for, in the
//! same process: runs interleaved (the contenders of a case take turns, rotating who goes
//! first), several rounds, medians compared. The ratio is anyio's median over the best
//! peer's.
//!
//! The cases (from issue 3):
//!
//! * **lock**: 100 tasks × 10,000 lock/unlock, each holding the lock across one schedule
//!   point. anyio's `Lock` vs `tokio::sync::Mutex<()>` and `async_lock::Mutex<()>`. Target:
//!   ≤ 1.2 × the faster. Two variants, since anyio's checkpoints spend a cooperative budget
//!   (they yield once per 128, see `docs/decisions.md`): *yield inside* —
//!   `anyio::lowlevel::yield_now()` vs the runtime's `yield_now()`, a real suspension each
//!   time, so the lock is contended all along; *checkpoint inside* —
//!   `anyio::lowlevel::checkpoint()` vs `tokio::task::consume_budget()`, tokio's own
//!   budgeted schedule point (same budget size).
//! * **mutex**: the lock case with data — 100 tasks × 10,000 lock / increment a shared
//!   `u64` / unlock, the same schedule point inside. anyio's `Mutex<u64>` vs
//!   `tokio::sync::Mutex<u64>` and `async_lock::Mutex<u64>`. Target: ≤ 1.2 × the faster,
//!   as for the lock (it is the same lock, with the value moving in and out of the guard).
//! * **event**: two tasks play ping-pong 100,000 times through one-shot events (task A sets
//!   `ping[i]` and waits for `pong[i]`; task B the other way round). anyio's `Event` vs
//!   `tokio::sync::Notify` (`notify_one` / `notified`, tokio's closest primitive; both
//!   sides pre-allocate their 2 × 100,000 objects outside the timed region). Target ≤ 1.2.
//! * **semaphore**: 100 tasks × 10,000 acquire/release of a 10-permit semaphore with a
//!   yield (or a checkpoint) inside, vs `tokio::sync::Semaphore`. Target ≤ 1.2. Plus,
//!   informational, one task taking and giving back an uncontended permit 1,000,000 times
//!   (`fast_acquire`).
//!
//! Fairness: every side runs the same number of tasks on the same executor — on tokio, a
//! multi-thread runtime with two workers (anyio's tasks are task-group children, the
//! peers' are `tokio::spawn`ed); on smol, one `async-executor` on the calling thread
//! (anyio's smol default) against `async_lock` there. Building the runtime is outside the
//! timed region. anyio's uncontended acquisition is itself a (budgeted) schedule point, as
//! tokio's `Mutex` and `Semaphore` consume tokio's budget; `async_lock` has none. The
//! "anyio … in raw tokio tasks" rows run anyio's primitive in plain `tokio::spawn` tasks,
//! to tell the primitive's cost from the cost of anyio's task wrapper.
//!
//! `cargo bench --bench sync` (`ANYIO_BENCH_ROUNDS` sets the rounds, 5 by default;
//! `ANYIO_BENCH_ONLY=lock` keeps the cases whose title contains `lock`;
//! `ANYIO_BENCH_CONTENDER="anyio Lock"` runs that contender once, for a profiler).

mod support;

use support::{anyio_timed, tokio_rt};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyio::{Backend, Event, Lock, Mutex, Semaphore};

const LOCK_TASKS: usize = 100;
const LOCK_ROUNDS: usize = 10_000;
const ROUND_TRIPS: usize = 100_000;
const SEM_PERMITS: usize = 10;
const UNCONTENDED: usize = 1_000_000;

// ---------------------------------------------------------------------------------------
// Harness

struct Contender<'a> {
    name: &'static str,
    run: Box<dyn FnMut() -> Duration + 'a>,
}

fn contender<'a>(name: &'static str, run: impl FnMut() -> Duration + 'a) -> Contender<'a> {
    Contender {
        name,
        run: Box::new(run),
    }
}

struct Case<'a> {
    title: String,
    /// The first contender is anyio's; `peers` of the others are compared with it.
    contenders: Vec<Contender<'a>>,
    /// How many contenders after the first are peers (the rest are informational).
    peers: usize,
    target: Option<f64>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:9.1} ms", d.as_secs_f64() * 1e3)
}

fn run_case(mut case: Case<'_>, rounds: usize) {
    println!("\n{}", case.title);
    if let Ok(only) = std::env::var("ANYIO_BENCH_CONTENDER") {
        // For profiling (e.g. under callgrind): one run of the named contender, no warm-up.
        for c in case.contenders.iter_mut().filter(|c| c.name == only) {
            println!("  {:<40} {}", c.name, ms((c.run)()));
        }
        return;
    }
    for c in &mut case.contenders {
        (c.run)(); // warm-up, not measured
    }
    let n = case.contenders.len();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            times[i].push((case.contenders[i].run)());
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    let best_peer = medians[1..=case.peers].iter().min().copied().unwrap();
    for (i, c) in case.contenders.iter().enumerate() {
        let ratio = medians[i].as_secs_f64() / best_peer.as_secs_f64();
        let note = match (i, case.target) {
            (0, Some(t)) => format!(
                "{ratio:5.2}  (target <= {t:.2}: {})",
                if ratio <= t { "met" } else { "MISSED" }
            ),
            (i, _) if i > case.peers => format!("{ratio:5.2}  (informational)"),
            _ => format!("{ratio:5.2}"),
        };
        println!("  {:<40} {}   x best peer {note}", c.name, ms(medians[i]));
    }
}

// ---------------------------------------------------------------------------------------
// Executors: run a body with the clock started inside, setup outside.

/// Spawns `n` tokio tasks made by `task(i)` and waits for all of them.
fn tokio_tasks<Fut>(n: usize, task: impl Fn(usize) -> Fut) -> Duration
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let rt = tokio_rt();
    let tasks: Vec<Fut> = (0..n).map(task).collect();
    rt.block_on(async move {
        let start = Instant::now();
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

/// Spawns `n` tasks on a smol executor driven by the calling thread and waits for them.
fn smol_tasks<Fut>(n: usize, task: impl Fn(usize) -> Fut) -> Duration
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let ex = async_executor::Executor::new();
    let tasks: Vec<Fut> = (0..n).map(task).collect();
    async_io::block_on(ex.run(async {
        let start = Instant::now();
        let handles: Vec<_> = tasks.into_iter().map(|t| ex.spawn(t)).collect();
        for h in handles {
            h.await;
        }
        start.elapsed()
    }))
}

/// Spawns `n` anyio tasks made by `task(i)` in one task group and waits for all of them.
fn anyio_tasks<Fut>(backend: Backend, n: usize, task: impl Fn(usize) -> Fut) -> Duration
where
    Fut: Future<Output = anyio::Result<()>> + Send + 'static,
{
    let tasks: Vec<Fut> = (0..n).map(task).collect();
    anyio_timed(backend, || async move {
        anyio::task_group(|tg| async move {
            for t in tasks {
                tg.start_soon(t)?;
            }
            Ok(())
        })
        .await
        .map(drop)
    })
}

// ---------------------------------------------------------------------------------------
// What a task does while it holds the lock or the permit.

#[derive(Clone, Copy)]
enum Inside {
    /// A real suspension: the runtime's `yield_now`.
    Yield,
    /// A budgeted schedule point: anyio's `checkpoint`, tokio's `consume_budget`.
    Checkpoint,
}

impl Inside {
    fn name(self) -> &'static str {
        match self {
            Inside::Yield => "yield",
            Inside::Checkpoint => "checkpoint",
        }
    }

    async fn anyio(self) -> anyio::Result<()> {
        match self {
            Inside::Yield => {
                anyio::lowlevel::yield_now().await;
                Ok(())
            }
            Inside::Checkpoint => anyio::lowlevel::checkpoint().await,
        }
    }

    async fn tokio(self) {
        match self {
            Inside::Yield => tokio::task::yield_now().await,
            Inside::Checkpoint => tokio::task::consume_budget().await,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lock

fn anyio_lock(backend: Backend, inside: Inside) -> Duration {
    let lock = Lock::new();
    anyio_tasks(backend, LOCK_TASKS, |_| {
        let lock = lock.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _guard = lock.lock().await?;
                inside.anyio().await?;
            }
            Ok(())
        }
    })
}

fn anyio_lock_in_tokio_tasks(inside: Inside) -> Duration {
    let lock = Lock::new();
    tokio_tasks(LOCK_TASKS, |_| {
        let lock = lock.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _guard = lock.lock().await.unwrap();
                inside.anyio().await.unwrap();
            }
        }
    })
}

fn tokio_mutex(inside: Inside) -> Duration {
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    tokio_tasks(LOCK_TASKS, |_| {
        let lock = lock.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _guard = lock.lock().await;
                inside.tokio().await;
            }
        }
    })
}

fn async_lock_mutex_on_tokio(inside: Inside) -> Duration {
    let lock = Arc::new(async_lock::Mutex::new(()));
    tokio_tasks(LOCK_TASKS, |_| {
        let lock = lock.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _guard = lock.lock().await;
                inside.tokio().await;
            }
        }
    })
}

fn async_lock_mutex_on_smol() -> Duration {
    let lock = Arc::new(async_lock::Mutex::new(()));
    smol_tasks(LOCK_TASKS, |_| {
        let lock = lock.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _guard = lock.lock().await;
                futures_lite::future::yield_now().await;
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Mutex (the lock case with a value to update)

fn anyio_data_mutex(backend: Backend, inside: Inside) -> Duration {
    let mutex = Arc::new(Mutex::new(0u64));
    let took = anyio_tasks(backend, LOCK_TASKS, |_| {
        let mutex = mutex.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let mut n = mutex.lock().await?;
                *n += 1;
                inside.anyio().await?;
            }
            Ok(())
        }
    });
    assert_eq!(
        *mutex.try_lock().unwrap(),
        (LOCK_TASKS * LOCK_ROUNDS) as u64
    );
    took
}

fn tokio_data_mutex(inside: Inside) -> Duration {
    let mutex = Arc::new(tokio::sync::Mutex::new(0u64));
    tokio_tasks(LOCK_TASKS, |_| {
        let mutex = mutex.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let mut n = mutex.lock().await;
                *n += 1;
                inside.tokio().await;
            }
        }
    })
}

fn async_lock_data_mutex_on_tokio(inside: Inside) -> Duration {
    let mutex = Arc::new(async_lock::Mutex::new(0u64));
    tokio_tasks(LOCK_TASKS, |_| {
        let mutex = mutex.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let mut n = mutex.lock().await;
                *n += 1;
                inside.tokio().await;
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Event

fn anyio_event(backend: Backend) -> Duration {
    let pings: Arc<Vec<Event>> = Arc::new((0..ROUND_TRIPS).map(|_| Event::new()).collect());
    let pongs: Arc<Vec<Event>> = Arc::new((0..ROUND_TRIPS).map(|_| Event::new()).collect());
    anyio_tasks(backend, 2, |side| {
        let (pings, pongs) = (pings.clone(), pongs.clone());
        async move {
            for i in 0..ROUND_TRIPS {
                if side == 0 {
                    pings[i].set();
                    pongs[i].wait().await?;
                } else {
                    pings[i].wait().await?;
                    pongs[i].set();
                }
            }
            Ok(())
        }
    })
}

fn anyio_event_in_tokio_tasks() -> Duration {
    let pings: Arc<Vec<Event>> = Arc::new((0..ROUND_TRIPS).map(|_| Event::new()).collect());
    let pongs: Arc<Vec<Event>> = Arc::new((0..ROUND_TRIPS).map(|_| Event::new()).collect());
    tokio_tasks(2, |side| {
        let (pings, pongs) = (pings.clone(), pongs.clone());
        async move {
            for i in 0..ROUND_TRIPS {
                if side == 0 {
                    pings[i].set();
                    pongs[i].wait().await.unwrap();
                } else {
                    pings[i].wait().await.unwrap();
                    pongs[i].set();
                }
            }
        }
    })
}

fn tokio_notify() -> Duration {
    let make = || {
        Arc::new(
            (0..ROUND_TRIPS)
                .map(|_| tokio::sync::Notify::new())
                .collect::<Vec<_>>(),
        )
    };
    let (pings, pongs) = (make(), make());
    tokio_tasks(2, |side| {
        let (pings, pongs) = (pings.clone(), pongs.clone());
        async move {
            for i in 0..ROUND_TRIPS {
                if side == 0 {
                    pings[i].notify_one();
                    pongs[i].notified().await;
                } else {
                    pings[i].notified().await;
                    pongs[i].notify_one();
                }
            }
        }
    })
}

fn event_listener_on_smol() -> Duration {
    // smol's building block: an `event_listener::Event` plus a flag, as a one-shot event.
    struct Flag {
        set: std::sync::atomic::AtomicBool,
        event: event_listener::Event,
    }
    impl Flag {
        fn set(&self) {
            self.set.store(true, std::sync::atomic::Ordering::Release);
            self.event.notify(usize::MAX);
        }
        async fn wait(&self) {
            loop {
                if self.set.load(std::sync::atomic::Ordering::Acquire) {
                    return;
                }
                let listener = self.event.listen();
                if self.set.load(std::sync::atomic::Ordering::Acquire) {
                    return;
                }
                listener.await;
            }
        }
    }
    let make = || {
        Arc::new(
            (0..ROUND_TRIPS)
                .map(|_| Flag {
                    set: Default::default(),
                    event: event_listener::Event::new(),
                })
                .collect::<Vec<_>>(),
        )
    };
    let (pings, pongs) = (make(), make());
    smol_tasks(2, |side| {
        let (pings, pongs) = (pings.clone(), pongs.clone());
        async move {
            for i in 0..ROUND_TRIPS {
                if side == 0 {
                    pings[i].set();
                    pongs[i].wait().await;
                } else {
                    pings[i].wait().await;
                    pongs[i].set();
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Semaphore

fn anyio_semaphore(backend: Backend, inside: Inside) -> Duration {
    let semaphore = Semaphore::new(SEM_PERMITS);
    anyio_tasks(backend, LOCK_TASKS, |_| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _permit = semaphore.acquire().await?;
                inside.anyio().await?;
            }
            Ok(())
        }
    })
}

fn anyio_semaphore_in_tokio_tasks(inside: Inside) -> Duration {
    let semaphore = Semaphore::new(SEM_PERMITS);
    tokio_tasks(LOCK_TASKS, |_| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _permit = semaphore.acquire().await.unwrap();
                inside.anyio().await.unwrap();
            }
        }
    })
}

fn tokio_semaphore(inside: Inside) -> Duration {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(SEM_PERMITS));
    tokio_tasks(LOCK_TASKS, |_| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _permit = semaphore.acquire().await.unwrap();
                inside.tokio().await;
            }
        }
    })
}

fn async_lock_semaphore_on_smol() -> Duration {
    let semaphore = Arc::new(async_lock::Semaphore::new(SEM_PERMITS));
    smol_tasks(LOCK_TASKS, |_| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..LOCK_ROUNDS {
                let _permit = semaphore.acquire().await;
                futures_lite::future::yield_now().await;
            }
        }
    })
}

fn anyio_semaphore_uncontended() -> Duration {
    let semaphore = Semaphore::new(1).with_fast_acquire(true);
    anyio_timed(Backend::Tokio, || async move {
        for _ in 0..UNCONTENDED {
            drop(std::hint::black_box(semaphore.acquire().await?));
        }
        Ok(())
    })
}

fn tokio_semaphore_uncontended() -> Duration {
    let semaphore = tokio::sync::Semaphore::new(1);
    tokio_rt().block_on(async move {
        let start = Instant::now();
        for _ in 0..UNCONTENDED {
            drop(std::hint::black_box(semaphore.acquire().await.unwrap()));
        }
        start.elapsed()
    })
}

// ---------------------------------------------------------------------------------------

fn main() {
    let rounds: usize = std::env::var("ANYIO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("ANYIO_BENCH_ONLY").ok();
    println!(
        "anyio sync primitives vs raw runtimes: medians of {rounds} interleaved rounds \
         (ratio = median / best peer's median)"
    );
    let started = Instant::now();
    let mut cases = Vec::new();
    for inside in [Inside::Yield, Inside::Checkpoint] {
        cases.push(Case {
            title: format!(
                "lock: {LOCK_TASKS} tasks x {LOCK_ROUNDS} lock/unlock, {} inside \
                 (tokio, 2 workers)",
                inside.name()
            ),
            contenders: vec![
                contender("anyio Lock", move || anyio_lock(Backend::Tokio, inside)),
                contender("tokio::sync::Mutex", move || tokio_mutex(inside)),
                contender("async_lock::Mutex", move || {
                    async_lock_mutex_on_tokio(inside)
                }),
                contender("anyio Lock in raw tokio tasks", move || {
                    anyio_lock_in_tokio_tasks(inside)
                }),
            ],
            peers: 2,
            target: Some(1.2),
        });
    }
    for inside in [Inside::Yield, Inside::Checkpoint] {
        cases.push(Case {
            title: format!(
                "mutex: {LOCK_TASKS} tasks x {LOCK_ROUNDS} lock/increment/unlock, {} inside \
                 (tokio, 2 workers)",
                inside.name()
            ),
            contenders: vec![
                contender("anyio Mutex", move || {
                    anyio_data_mutex(Backend::Tokio, inside)
                }),
                contender("tokio::sync::Mutex", move || tokio_data_mutex(inside)),
                contender("async_lock::Mutex", move || {
                    async_lock_data_mutex_on_tokio(inside)
                }),
            ],
            peers: 2,
            target: Some(1.2),
        });
    }
    cases.push(Case {
        title: format!(
            "lock: {LOCK_TASKS} tasks x {LOCK_ROUNDS} lock/unlock, yield inside (smol, 1 thread)"
        ),
        contenders: vec![
            contender("anyio Lock", || anyio_lock(Backend::Smol, Inside::Yield)),
            contender("async_lock::Mutex", async_lock_mutex_on_smol),
        ],
        peers: 1,
        target: None,
    });
    cases.push(Case {
        title: format!("event: {ROUND_TRIPS} set/wait round trips (tokio, 2 workers)"),
        contenders: vec![
            contender("anyio Event", || anyio_event(Backend::Tokio)),
            contender("tokio::sync::Notify", tokio_notify),
            contender("anyio Event in raw tokio tasks", anyio_event_in_tokio_tasks),
        ],
        peers: 1,
        target: Some(1.2),
    });
    cases.push(Case {
        title: format!("event: {ROUND_TRIPS} set/wait round trips (smol, 1 thread)"),
        contenders: vec![
            contender("anyio Event", || anyio_event(Backend::Smol)),
            contender("event_listener::Event + flag", event_listener_on_smol),
        ],
        peers: 1,
        target: None,
    });
    for inside in [Inside::Yield, Inside::Checkpoint] {
        cases.push(Case {
            title: format!(
                "semaphore: {LOCK_TASKS} tasks x {LOCK_ROUNDS} acquire/release of \
                 {SEM_PERMITS} permits, {} inside (tokio, 2 workers)",
                inside.name()
            ),
            contenders: vec![
                contender("anyio Semaphore", move || {
                    anyio_semaphore(Backend::Tokio, inside)
                }),
                contender("tokio::sync::Semaphore", move || tokio_semaphore(inside)),
                contender("anyio Semaphore in raw tokio tasks", move || {
                    anyio_semaphore_in_tokio_tasks(inside)
                }),
            ],
            peers: 1,
            target: Some(1.2),
        });
    }
    cases.push(Case {
        title: format!(
            "semaphore: {LOCK_TASKS} tasks x {LOCK_ROUNDS} acquire/release of {SEM_PERMITS} \
             permits, yield inside (smol, 1 thread)"
        ),
        contenders: vec![
            contender("anyio Semaphore", || {
                anyio_semaphore(Backend::Smol, Inside::Yield)
            }),
            contender("async_lock::Semaphore", async_lock_semaphore_on_smol),
        ],
        peers: 1,
        target: None,
    });
    cases.push(Case {
        title: format!(
            "semaphore: 1 task x {UNCONTENDED} uncontended acquire/release, fast_acquire (tokio)"
        ),
        contenders: vec![
            contender("anyio Semaphore", anyio_semaphore_uncontended),
            contender("tokio::sync::Semaphore", tokio_semaphore_uncontended),
        ],
        peers: 1,
        target: None,
    });
    for case in cases {
        if only.as_deref().is_some_and(|o| !case.title.contains(o)) {
            continue;
        }
        run_case(case, rounds);
    }
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
}
