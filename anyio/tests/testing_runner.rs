//! `#[anyio::test]`'s runner options — `flavor`, `threads`, `timeout` — per backend, and
//! how a parameterised test composes with the attribute.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use anyio::task_group;

/// Two tasks that each block their thread until the other arrives: this finishes only if
/// the executor runs them on two threads at once.
async fn two_tasks_in_parallel() -> anyio::Result<()> {
    let barrier = Arc::new(Barrier::new(2));
    task_group(|tg| async move {
        for _ in 0..2 {
            let b = barrier.clone();
            tg.start_soon(async move {
                b.wait();
                anyio::Ok(())
            })?;
        }
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// `threads = 2`: tokio's multi-thread runtime with two workers; smol's executor on two
/// threads. Both run two tasks in parallel.
#[anyio::test(threads = 2, timeout = 30)]
async fn two_threads_run_tasks_in_parallel() -> anyio::Result<()> {
    #[cfg(feature = "tokio")]
    if anyio::current_async_library()? == "tokio" {
        let handle = tokio::runtime::Handle::current();
        assert_eq!(handle.metrics().num_workers(), 2);
    }
    two_tasks_in_parallel().await
}

/// `flavor = "current_thread"`: tokio's current-thread scheduler, smol on one thread —
/// every task is polled on the test's own thread.
#[anyio::test(flavor = "current_thread")]
async fn current_thread_flavor_polls_on_one_thread() -> anyio::Result<()> {
    #[cfg(feature = "tokio")]
    if anyio::current_async_library()? == "tokio" {
        assert_eq!(
            tokio::runtime::Handle::current().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::CurrentThread
        );
    }
    let me = std::thread::current().id();
    task_group(|tg| async move {
        for _ in 0..8 {
            tg.start_soon(async move {
                anyio::lowlevel::yield_now().await;
                assert_eq!(
                    std::thread::current().id(),
                    me,
                    "a task ran on another thread"
                );
                anyio::Ok(())
            })?;
        }
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// Options compose: a virtual clock on a current-thread runtime with its own timeout.
#[anyio::test(flavor = "current_thread", autojump = "0ms", timeout = 20)]
async fn options_compose() -> anyio::Result<()> {
    let start = anyio::current_time();
    anyio::sleep(Duration::from_secs(86_400)).await?;
    assert_eq!(anyio::current_time() - start, Duration::from_secs(86_400));
    Ok(())
}

/// A parameterised test without a framework: `#[anyio::test]` takes no arguments, so each
/// case is a small test calling one shared async fn (rstest generates exactly this shape:
/// see the attribute's docs).
async fn doubles(n: u64) -> anyio::Result<()> {
    anyio::lowlevel::checkpoint().await?;
    assert_eq!(n * 2, n + n);
    Ok(())
}

#[anyio::test]
async fn doubles_zero() -> anyio::Result<()> {
    doubles(0).await
}

#[anyio::test]
async fn doubles_large() -> anyio::Result<()> {
    doubles(u64::MAX / 2).await
}

/// With rstest: `#[rstest]` first, its cases, then `#[anyio::test]`. rstest turns each case
/// into an argument-free function carrying the attributes below it, and `#[anyio::test]`
/// runs each of those on every backend (`doubles_with_rstest::case_1::tokio`, ...).
#[rstest::rstest]
#[case(1)]
#[case(21)]
#[anyio::test]
async fn doubles_with_rstest(#[case] n: u64) -> anyio::Result<()> {
    doubles(n).await
}
