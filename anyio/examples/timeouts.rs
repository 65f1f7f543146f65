//! Task groups and cancellation together: a group of "downloads" under a deadline, a
//! failing child cancelling its siblings, and cleanup in a shielded scope.
//!
//! `cargo run --example timeouts` (add `-- smol` to run it on smol, with `--features smol`)

use std::time::Duration;

use anyio::{Backend, CancelScope, Error, ErrorKind, Runner};

async fn download(name: &'static str, millis: u64) -> anyio::Result<usize> {
    let result = anyio::sleep(Duration::from_millis(millis)).await;
    if result.is_err() {
        // Cancelled: close the "connection" before leaving, shielded from the cancellation.
        CancelScope::shielded()
            .run(anyio::sleep(Duration::from_millis(1)))
            .await?;
        println!("  {name}: cancelled after cleanup");
    }
    result?;
    println!("  {name}: done in {millis} ms");
    Ok(name.len())
}

async fn main_task() -> anyio::Result<()> {
    println!("running on {}", anyio::current_async_library()?);

    println!("1. three downloads, 100 ms deadline:");
    let scope = CancelScope::new().with_timeout(Duration::from_millis(100));
    let got = scope
        .run(anyio::gather([
            download("fast", 10),
            download("medium", 50),
            download("slow", 5_000),
        ]))
        .await?;
    println!(
        "   result {got:?}, deadline hit: {}",
        scope.cancelled_caught()
    );

    println!("2. a failing child cancels its siblings:");
    let err = anyio::task_group(|tg| async move {
        tg.start_soon(download("sibling", 5_000))?;
        tg.start_soon(async {
            anyio::sleep(Duration::from_millis(20)).await?;
            Err::<(), _>(Error::new(ErrorKind::Other, "the mirror is down"))
        })?;
        Ok(())
    })
    .await
    .unwrap_err();
    println!("   the group failed with: {err}");

    println!("3. fail_after:");
    let err = anyio::fail_after(Duration::from_millis(10), download("stuck", 5_000))
        .await
        .unwrap_err();
    println!("   {err} (kind {:?})", err.kind());
    Ok(())
}

fn main() -> anyio::Result<()> {
    let backend: Backend = match std::env::args().nth(1) {
        Some(name) => name.parse()?,
        None => Backend::default(),
    };
    Runner::new(backend).run(main_task)
}
