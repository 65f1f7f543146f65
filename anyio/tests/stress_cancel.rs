//! Stress: 10,000 tasks in nested task groups, cancelled at random points, on multi-thread
//! tokio and on smol with two threads. Every task finishes, none leaks, nothing hangs.
//! Bounded: each run is cut off by an outer deadline; the seed is printed to reproduce it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::lowlevel::checkpoint;
use anyio::{
    Backend, CancelScope, Error, ErrorKind, Runner, SmolOptions, TokioOptions, sleep,
    sleep_forever, task_group,
};
use support::Rng;

const GROUPS: usize = 100;
const CHILDREN: usize = 100;

struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Stats {
    spawned: AtomicUsize,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
    failed: AtomicUsize,
}

async fn child(
    kind: u64,
    arg: u64,
    live: Arc<AtomicUsize>,
    stats: Arc<Stats>,
) -> anyio::Result<()> {
    live.fetch_add(1, Ordering::SeqCst);
    let _live = Live(live);
    let r = match kind {
        0 => sleep(Duration::from_micros(arg * 100)).await,
        1 => {
            let mut r = Ok(());
            for _ in 0..arg {
                r = checkpoint().await;
                if r.is_err() {
                    break;
                }
            }
            r
        }
        2 => sleep_forever().await,
        _ => {
            sleep(Duration::from_micros(arg * 50)).await?;
            Err(Error::new(ErrorKind::Other, "random failure"))
        }
    };
    match &r {
        Ok(()) => stats.completed.fetch_add(1, Ordering::Relaxed),
        Err(e) if e.is_cancelled() => stats.cancelled.fetch_add(1, Ordering::Relaxed),
        Err(_) => stats.failed.fetch_add(1, Ordering::Relaxed),
    };
    r
}

fn stress(name: &'static str, runner: Runner, seed: u64) {
    support::with_timeout(120, move || stress_inner(name, runner, seed));
}

fn stress_inner(name: &str, runner: Runner, seed: u64) {
    let live = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    let (l, s) = (live.clone(), stats.clone());
    let outcome = runner
        .run(move || async move {
            let mut rng = Rng::new(seed);
            let outer = CancelScope::new();
            let o = outer.clone();
            let out = outer
                .run(task_group(|tg| async move {
                    for _ in 0..GROUPS {
                        let group_seed = rng.next();
                        let (l, s) = (l.clone(), s.clone());
                        tg.start_soon(async move {
                            let mut rng = Rng::new(group_seed);
                            let scope = match rng.below(3) {
                                0 => CancelScope::new()
                                    .with_timeout(Duration::from_micros(rng.below(20_000))),
                                _ => CancelScope::new(),
                            };
                            scope
                                .run(task_group(|sub| async move {
                                    let mut handles = Vec::new();
                                    for _ in 0..CHILDREN {
                                        // 1 in 200 children fails; the rest complete,
                                        // spin on checkpoints, or wait to be cancelled.
                                        let kind =
                                            if rng.below(200) == 0 { 3 } else { rng.below(3) };
                                        let arg = rng.below(100);
                                        s.spawned.fetch_add(1, Ordering::Relaxed);
                                        handles.push(sub.start_soon(child(
                                            kind,
                                            arg,
                                            l.clone(),
                                            s.clone(),
                                        ))?);
                                    }
                                    // Cancel a few children by their handles at random moments.
                                    for _ in 0..5 {
                                        sleep(Duration::from_micros(rng.below(2_000))).await?;
                                        let victim = rng.below(CHILDREN as u64) as usize;
                                        handles[victim].cancel();
                                    }
                                    Ok(())
                                }))
                                .await
                        })?;
                    }
                    // Cancel everything that is left after a random while.
                    sleep(Duration::from_millis(5 + rng.below(30))).await?;
                    o.cancel();
                    Ok(())
                }))
                .await;
            let leftover = anyio::get_running_tasks().len();
            Ok::<_, Error>((out.map(|_| ()), leftover))
        })
        .unwrap();
    let (result, leftover_tasks) = outcome;
    let elapsed = started.elapsed();
    println!(
        "{name} seed={seed}: {} tasks spawned, {} completed, {} cancelled, {} failed, \
         group result {:?}, {:?}",
        stats.spawned.load(Ordering::Relaxed),
        stats.completed.load(Ordering::Relaxed),
        stats.cancelled.load(Ordering::Relaxed),
        stats.failed.load(Ordering::Relaxed),
        result.as_ref().map_err(|e| e.kind()),
        elapsed,
    );
    assert_eq!(stats.spawned.load(Ordering::Relaxed), GROUPS * CHILDREN);
    assert_eq!(live.load(Ordering::SeqCst), 0, "a child outlived its group");
    assert_eq!(leftover_tasks, 1, "only the root task may remain");
    let ended = stats.completed.load(Ordering::Relaxed)
        + stats.cancelled.load(Ordering::Relaxed)
        + stats.failed.load(Ordering::Relaxed);
    // Children cancelled before their first poll never ran at all.
    assert!(ended <= GROUPS * CHILDREN);
    match result {
        Ok(()) => assert_eq!(stats.failed.load(Ordering::Relaxed), 0),
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::Other | ErrorKind::Multiple),
            "unexpected group error {e:?}"
        ),
    }
}

fn seed() -> u64 {
    std::env::var("ANYIO_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[test]
fn nested_groups_cancelled_at_random_on_multi_thread_tokio() {
    let runner = Runner::new(Backend::Tokio).tokio_options(TokioOptions::new().worker_threads(2));
    stress("tokio(2 workers)", runner, seed());
}

#[test]
fn nested_groups_cancelled_at_random_on_smol_two_threads() {
    let runner = Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(2));
    stress("smol(2 threads)", runner, seed());
}
