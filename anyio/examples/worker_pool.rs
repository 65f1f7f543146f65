//! A worker pool fed through a memory object stream, with a capacity limiter and an event
//! for shutdown.
//!
//! `cargo run --example worker_pool`

use std::time::Duration;

use anyio::{CapacityLimiter, Event};

async fn main_task() -> anyio::Result<()> {
    let (jobs_tx, jobs_rx) = anyio::create_memory_object_stream::<u64>(8);
    let (results_tx, results_rx) = anyio::create_memory_object_stream::<(usize, u64)>(8);
    let limiter = CapacityLimiter::new(2)?; // at most two jobs in their "expensive" part
    let all_sent = Event::new();

    let total = anyio::task_group(|tg| async move {
        for worker in 0..4 {
            let (jobs, results, limiter) = (jobs_rx.clone(), results_tx.clone(), limiter.clone());
            tg.start_soon(async move {
                // Ends when every sender is gone and the buffer is drained.
                while let Ok(n) = jobs.receive().await {
                    let _token = limiter.acquire().await?;
                    anyio::sleep(Duration::from_millis(n)).await?;
                    results.send((worker, n * n)).await?;
                }
                Ok(())
            })?;
        }
        // The workers hold the only clones they need: drop ours so the streams can end.
        drop((jobs_rx, results_tx));

        let done = all_sent.clone();
        tg.start_soon(async move {
            for n in 1..=12 {
                jobs_tx.send(n).await?;
            }
            done.set();
            Ok(()) // jobs_tx is dropped here: the workers see the end of the stream
        })?;

        let mut total = 0;
        while let Ok((worker, square)) = results_rx.receive().await {
            println!("worker {worker}: {square}");
            total += square;
        }
        assert!(all_sent.is_set());
        Ok(total)
    })
    .await?;
    println!("sum of squares: {}", total.unwrap_or_default());
    Ok(())
}

fn main() -> anyio::Result<()> {
    anyio::run(main_task)
}
