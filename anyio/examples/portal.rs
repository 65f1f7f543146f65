//! Synchronous code calling into async code through a blocking portal, and async code
//! offloading blocking work to a worker thread that reaches back into the event loop.
//!
//! `cargo run --example portal`

use std::time::Duration;

use anyio::Backend;

fn main() -> anyio::Result<()> {
    // A synchronous program (think: a GUI's main thread) with an event loop on the side.
    let portal = anyio::from_thread::start_blocking_portal(Backend::default())?;
    let answer = portal.call(|| async {
        anyio::sleep(Duration::from_millis(5)).await?;
        Ok::<_, anyio::Error>(42)
    })?;
    println!("the event loop answered {answer}");

    // Async code that offloads a blocking call; the worker thread reports progress back
    // into the event loop with from_thread::run_sync.
    let lines = portal.call(|| async {
        anyio::to_thread::run_sync(|| {
            let mut lines = 0;
            for i in 0..3 {
                std::thread::sleep(Duration::from_millis(2)); // blocking work
                lines += 1;
                anyio::from_thread::run_sync(move || println!("progress: step {i}"))?;
            }
            Ok::<_, anyio::Error>(lines)
        })
        .await?
    })?;
    println!("the worker processed {lines} lines");
    portal.stop(false);
    Ok(())
}
