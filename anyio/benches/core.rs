//! Benchmarks of the foundation: task groups, cancel scopes and checkpoints, each against
//! the raw runtime doing the same work in the same process, alternating runs.
//!
//! Fairness: both sides run on the same kind of executor — on tokio, a multi-thread
//! runtime with two workers, the body driven by `block_on` (anyio's root task is too); on
//! smol, one `async-executor` driven by `async_io::block_on` on the calling thread (what
//! `Runner::new(Backend::Smol)` uses by default). Runtime construction is outside the timed
//! region on both sides.
//!
//! `cargo bench --bench core` (set `ANYIO_BENCH_ROUNDS` to change the number of rounds).

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyio::{Backend, Error};
use support::{Case, anyio_timed, tokio_timed};

const SPAWNS: usize = 100_000;
const SCOPES: usize = 1_000_000;
const CHECKPOINTS: usize = 1_000_000;

fn smol_timed<Fut: Future<Output = ()>>(
    body: impl FnOnce(Arc<async_executor::Executor<'static>>) -> Fut,
) -> Duration {
    let ex = Arc::new(async_executor::Executor::new());
    let fut = body(ex.clone());
    async_io::block_on(ex.run(async move {
        let start = Instant::now();
        fut.await;
        start.elapsed()
    }))
}

async fn anyio_spawn_join() -> anyio::Result<()> {
    anyio::task_group(|tg| async move {
        for _ in 0..SPAWNS {
            tg.start_soon(async { Ok::<_, Error>(()) })?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn anyio_scopes() -> anyio::Result<()> {
    for _ in 0..SCOPES {
        anyio::move_on_after(Duration::from_secs(10), anyio::lowlevel::checkpoint()).await?;
    }
    Ok(())
}

async fn anyio_checkpoints() -> anyio::Result<()> {
    for _ in 0..CHECKPOINTS {
        anyio::lowlevel::checkpoint().await?;
    }
    Ok(())
}

/// Unconditional yields: the cost of the task wrapper on every poll (informational).
async fn anyio_yields() -> anyio::Result<()> {
    for _ in 0..CHECKPOINTS {
        anyio::lowlevel::yield_now().await;
    }
    Ok(())
}

fn main() {
    let rounds: usize = std::env::var("ANYIO_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    support::header(&format!(
        "anyio core benchmarks: median of {rounds} alternating rounds (ratio = anyio / raw)"
    ));
    let cases = vec![
        Case {
            name: format!("tokio: spawn+join {SPAWNS} children (vs JoinSet)"),
            anyio: Box::new(|| anyio_timed(Backend::Tokio, anyio_spawn_join)),
            raw: Box::new(|| {
                tokio_timed(|| async {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..SPAWNS {
                        set.spawn(async {});
                    }
                    while set.join_next().await.is_some() {}
                })
            }),
            target: 1.3,
        },
        Case {
            name: format!("smol: spawn+join {SPAWNS} children (vs executor tasks)"),
            anyio: Box::new(|| anyio_timed(Backend::Smol, anyio_spawn_join)),
            raw: Box::new(|| {
                smol_timed(|ex| async move {
                    let tasks: Vec<_> = (0..SPAWNS).map(|_| ex.spawn(async {})).collect();
                    for t in tasks {
                        t.await;
                    }
                })
            }),
            target: 1.3,
        },
        Case {
            name: format!("tokio: {SCOPES} move_on_after(10s, checkpoint) (vs timeout)"),
            anyio: Box::new(|| anyio_timed(Backend::Tokio, anyio_scopes)),
            raw: Box::new(|| {
                tokio_timed(|| async {
                    for _ in 0..SCOPES {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), tokio::task::yield_now())
                                .await;
                    }
                })
            }),
            target: 1.0,
        },
        Case {
            name: format!("smol: {SCOPES} move_on_after(10s, checkpoint) (vs Timer race)"),
            anyio: Box::new(|| anyio_timed(Backend::Smol, anyio_scopes)),
            raw: Box::new(|| {
                smol_timed(|_| async {
                    for _ in 0..SCOPES {
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
                })
            }),
            target: 1.0,
        },
        Case {
            name: format!("tokio: {CHECKPOINTS} checkpoints (vs yield_now)"),
            anyio: Box::new(|| anyio_timed(Backend::Tokio, anyio_checkpoints)),
            raw: Box::new(|| {
                tokio_timed(|| async {
                    for _ in 0..CHECKPOINTS {
                        tokio::task::yield_now().await;
                    }
                })
            }),
            target: 1.2,
        },
        Case {
            name: format!("smol: {CHECKPOINTS} checkpoints (vs yield_now)"),
            anyio: Box::new(|| anyio_timed(Backend::Smol, anyio_checkpoints)),
            raw: Box::new(|| {
                smol_timed(|_| async {
                    for _ in 0..CHECKPOINTS {
                        futures_lite::future::yield_now().await;
                    }
                })
            }),
            target: 1.2,
        },
        Case {
            name: format!("tokio: {CHECKPOINTS} lowlevel::yield_now (vs yield_now)"),
            anyio: Box::new(|| anyio_timed(Backend::Tokio, anyio_yields)),
            raw: Box::new(|| {
                tokio_timed(|| async {
                    for _ in 0..CHECKPOINTS {
                        tokio::task::yield_now().await;
                    }
                })
            }),
            target: f64::NAN,
        },
        Case {
            name: format!("smol: {CHECKPOINTS} lowlevel::yield_now (vs yield_now)"),
            anyio: Box::new(|| anyio_timed(Backend::Smol, anyio_yields)),
            raw: Box::new(|| {
                smol_timed(|_| async {
                    for _ in 0..CHECKPOINTS {
                        futures_lite::future::yield_now().await;
                    }
                })
            }),
            target: f64::NAN,
        },
    ];
    support::run(cases, rounds);
}
