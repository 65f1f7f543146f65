//! anyio inside each backend's own entry point: no `anyio::run` needed.
//!
//! `cargo run --example native --features smol`
//!
//! The same function runs under a tokio runtime's `block_on` and under smol's `block_on`
//! (futures-lite's, which smol re-exports); anyio detects which backend serves it.

use std::time::Duration;

async fn main_task() -> anyio::Result<()> {
    anyio::sleep(Duration::from_millis(100)).await?;
    println!("I'm running on {}", anyio::current_async_library()?);
    Ok(())
}

fn main() -> anyio::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(main_task())?;
    futures_lite::future::block_on(main_task())
}
