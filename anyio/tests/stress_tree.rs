//! Stress: a cancellation that lands between a task group host's checkpoint and its first
//! block must still wake the host (issue 7, item 7).
//!
//! Each round, a shielded child blocks first, which links the group's scope node into the
//! tree before the host ever stored a waker there; then the host blocks, and a canceller on
//! a thread of its own cancels the group at that very moment (after a spin of a few
//! iterations that varies from round to round, sweeping the window). The child can only
//! finish once the host saw the cancellation and released it, so a lost wake-up hangs the
//! round and the stress timeout fails the test. Bounded: `ROUNDS` rounds per runtime.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyio::{Backend, CancelScope, Event};

mod support;

const ROUNDS: usize = 3_000;

/// Busy iterations the host spends between its checkpoint and its block: the window a
/// cancellation must land in, widened so that the canceller hits it often.
const WINDOW: u32 = 2_000;

/// One cancellation for the canceller thread: cancel `scope` once `go` is set, after
/// `spins` busy iterations.
struct Job {
    scope: CancelScope,
    go: Arc<AtomicBool>,
    spins: u32,
}

/// The canceller: a plain thread, so the cancel truly runs in parallel with the host's poll
/// on both runtimes. It stops when the sender is dropped.
fn canceller() -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::spawn(move || {
        for job in rx {
            let mut waited = 0u32;
            // Acquire: pairs with the host's Release store (nothing else is read through it).
            while !job.go.load(Ordering::Acquire) {
                waited += 1;
                if waited < 10_000 {
                    std::hint::spin_loop();
                } else {
                    // The host is not running: give the core back instead of spinning on it.
                    std::thread::yield_now();
                }
            }
            for _ in 0..job.spins {
                std::hint::spin_loop();
            }
            job.scope.cancel();
        }
    });
    tx
}

/// Polls `fut` and, when it returned `Pending` (its checkpoint passed and it is about to
/// block), spins a while before the task group's scope stores the host's waker: the shape
/// of a host whose poll does more work after its checkpoint (a join of several futures).
async fn slow_to_block<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let out = fut.as_mut().poll(cx);
        if out.is_pending() {
            for _ in 0..WINDOW {
                std::hint::spin_loop();
            }
        }
        out
    })
    .await
}

async fn one_round(jobs: &mpsc::Sender<Job>, spins: u32) -> anyio::Result<()> {
    let release = Event::new();
    let go = Arc::new(AtomicBool::new(false));
    let out = anyio::task_group(|tg| {
        let release = release.clone();
        let go = go.clone();
        async move {
            let r = release.clone();
            tg.start_soon(async move { CancelScope::shielded().run(r.wait()).await.map(drop) })?;
            // The child blocks (and links the group's node) while the host only yields: a
            // block here would store the host's waker in the group's node too early.
            // (`wait_all_tasks_blocked` may sleep, which blocks.) The child registers as a
            // waiter just before its scope links the node, in the same poll; the host's
            // two trips through the scheduler outlast that.
            while release.statistics().tasks_waiting == 0 {
                anyio::lowlevel::yield_now().await;
            }
            anyio::lowlevel::yield_now().await;
            anyio::lowlevel::yield_now().await;
            jobs.send(Job {
                scope: tg.cancel_scope(),
                go: go.clone(),
                spins,
            })
            .expect("the canceller runs until the test ends");
            // Release: the canceller's Acquire load sees the job's scope in place (the
            // channel already orders it; this is the start signal).
            go.store(true, Ordering::Release);
            let blocked = slow_to_block(anyio::sleep_forever()).await;
            release.set();
            blocked
        }
    })
    .await;
    // The group absorbs its own cancellation: no body value, no error.
    assert!(out?.is_none(), "sleep_forever never returns Ok");
    Ok(())
}

async fn stress_body() -> anyio::Result<String> {
    let jobs = canceller();
    for i in 0..ROUNDS {
        one_round(&jobs, (i % 64) as u32).await?;
    }
    Ok(format!(
        "{ROUNDS} rounds, the host woken by every cancellation"
    ))
}

#[test]
fn cancel_between_host_checkpoint_and_block_is_not_lost_on_tokio() {
    support::stress(Backend::Tokio, "tree stress", stress_body);
}

#[test]
fn cancel_between_host_checkpoint_and_block_is_not_lost_on_smol() {
    support::stress(Backend::Smol, "tree stress", stress_body);
}
