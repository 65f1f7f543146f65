//! Graceful shutdown on `SIGTERM` or `SIGINT` (Ctrl+C): workers finish the job in hand,
//! no new job starts, and a hard deadline bounds the drain.
//!
//! `cargo run --example graceful_shutdown` then press Ctrl+C (or `kill <pid>`); add
//! `-- smol` to run it on smol (with `--features smol`).
//!
//! The shape: the signal does not cancel the workers' scope directly, since a job cancelled
//! halfway would be lost. It sets an [`Event`] the workers check between jobs; only if they
//! have not finished by the drain deadline is the group cancelled for good (the group's
//! scope absorbs that cancellation, so the program still ends normally).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyio::signal::{SIGINT, SIGTERM, open_signal_receiver};
use anyio::{Backend, Event, Runner};

const WORKERS: usize = 3;
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

async fn worker(id: usize, stop: Event, done: Arc<AtomicUsize>) -> anyio::Result<()> {
    while !stop.is_set() {
        // One job: it is never cut halfway by the shutdown, only by the hard deadline.
        anyio::sleep(Duration::from_millis(20)).await?;
        // Relaxed: a statistic, read after the group has joined every worker.
        done.fetch_add(1, Ordering::Relaxed);
    }
    println!("worker {id}: finished its last job");
    Ok(())
}

async fn main_task() -> anyio::Result<()> {
    // Listen before announcing readiness, so a signal sent right after cannot be missed.
    let mut signals = open_signal_receiver([SIGTERM, SIGINT])?;
    let stop = Event::new();
    let done = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let stop = stop.clone();
        let done = done.clone();
        async move {
            for id in 0..WORKERS {
                tg.start_soon(worker(id, stop.clone(), done.clone()))?;
            }
            println!(
                "ready (pid {}); send SIGTERM or press Ctrl+C",
                std::process::id()
            );
            let signum = signals.receive().await?;
            println!("signal {signum}: draining");
            stop.set();
            // The hard stop: workers still busy at the deadline are cancelled.
            tg.cancel_scope()
                .set_deadline(std::time::Instant::now() + DRAIN_DEADLINE);
            anyio::Ok(())
        }
    })
    .await?;
    // Relaxed: the group has joined every worker.
    println!(
        "shut down cleanly after {} jobs",
        done.load(Ordering::Relaxed)
    );
    Ok(())
}

fn main() -> anyio::Result<()> {
    let backend: Backend = match std::env::args().nth(1) {
        Some(name) => name.parse()?,
        None => Backend::default(),
    };
    Runner::new(backend).run(main_task)
}
