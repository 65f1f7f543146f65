//! Low-level: checkpoints, RunVar, task introspection, wait_all_tasks_blocked.
//! Behaviour translated from AnyIO's tests/test_lowlevel.py and test_debugging.py.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyio::lowlevel::{RunVar, cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, Error, ErrorKind, Flavor, Runner, TokioOptions};

#[anyio::test]
async fn checkpoint_if_cancelled_checks_without_yielding() -> anyio::Result<()> {
    checkpoint_if_cancelled().await?;
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope.run(checkpoint_if_cancelled()).await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn cancel_shielded_checkpoint_ignores_cancellation() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            cancel_shielded_checkpoint().await;
            Ok::<_, Error>("completed")
        })
        .await?;
    assert_eq!(out, Some("completed"));
    Ok(())
}

#[anyio::test]
async fn checkpoint_fails_in_cancelled_scope() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    assert_eq!(scope.run(checkpoint()).await?, None);
    Ok(())
}

/// On a single-threaded executor, a checkpoint must let other tasks run: the loop below
/// only ends because the child gets polled between the host's checkpoints.
#[test]
fn checkpoint_is_a_schedule_point() {
    let runners = [
        Runner::new(Backend::Tokio)
            .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread)),
        Runner::new(Backend::Smol),
    ];
    for runner in runners {
        runner
            .run(|| async {
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                anyio::task_group(|tg| async move {
                    tg.start_soon(async move {
                        f.store(true, Ordering::SeqCst);
                        Ok::<_, Error>(())
                    })?;
                    let mut spins = 0;
                    while !flag.load(Ordering::SeqCst) {
                        checkpoint().await?;
                        spins += 1;
                        assert!(spins < 1000, "the child never ran");
                    }
                    Ok(())
                })
                .await?;
                Ok::<_, Error>(())
            })
            .unwrap();
    }
}

static COUNTER: RunVar<u32> = RunVar::new("counter");
static OTHER_WITH_SAME_NAME: RunVar<u32> = RunVar::new("counter");

#[anyio::test]
async fn run_var_get_set_reset() -> anyio::Result<()> {
    let e = COUNTER.get().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert_eq!(COUNTER.get_or(5)?, 5);
    assert_eq!(COUNTER.set(6)?, Some(5));
    assert_eq!(COUNTER.get()?, 6);
    assert_eq!(COUNTER.reset()?, Some(6));
    assert!(COUNTER.get().is_err());
    assert_eq!(COUNTER.name(), "counter");
    Ok(())
}

#[anyio::test]
async fn run_vars_do_not_share_storage_by_name() -> anyio::Result<()> {
    static A: RunVar<&'static str> = RunVar::new("same");
    static B: RunVar<&'static str> = RunVar::new("same");
    A.set("a")?;
    assert!(B.get().is_err());
    B.set("b")?;
    assert_eq!(A.get()?, "a");
    let _ = &OTHER_WITH_SAME_NAME;
    Ok(())
}

#[test]
fn run_var_is_scoped_to_one_run() {
    static PER_RUN: RunVar<u64> = RunVar::new("per_run");
    for backend in anyio::available_backends() {
        for _ in 0..2 {
            Runner::new(*backend)
                .run(|| async {
                    assert!(PER_RUN.get().is_err(), "a new run starts without a value");
                    PER_RUN.set(1)?;
                    // Children of the run see the same value.
                    let seen = anyio::task_group(|tg| async move {
                        tg.start_soon(async { PER_RUN.get() })?.await
                    })
                    .await?;
                    assert_eq!(seen, Some(1));
                    Ok::<_, Error>(())
                })
                .unwrap();
        }
    }
}

#[anyio::test]
async fn wait_all_tasks_blocked_waits_for_busy_children() -> anyio::Result<()> {
    let progress = Arc::new(AtomicUsize::new(0));
    let p = progress.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            for _ in 0..100 {
                p.fetch_add(1, Ordering::SeqCst);
                checkpoint().await?;
            }
            anyio::sleep_forever().await
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(progress.load(Ordering::SeqCst), 100);
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn wait_all_tasks_blocked_sees_woken_tasks_as_runnable() -> anyio::Result<()> {
    let stage = Arc::new(AtomicUsize::new(0));
    let s = stage.clone();
    let scope = CancelScope::new().with_timeout(Duration::from_secs(30));
    let gate = scope.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            // Blocked until the gate scope is cancelled, then busy for a while.
            gate.run(anyio::sleep_forever()).await?;
            for _ in 0..50 {
                checkpoint().await?;
            }
            s.store(1, Ordering::SeqCst);
            anyio::sleep_forever().await
        })?;
        wait_all_tasks_blocked().await?;
        scope.cancel(); // wakes the child: it is runnable, not blocked, from now on
        wait_all_tasks_blocked().await?;
        assert_eq!(stage.load(Ordering::SeqCst), 1);
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn wait_all_tasks_blocked_is_cancellable() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    assert_eq!(scope.run(wait_all_tasks_blocked()).await?, None);
    Ok(())
}

#[anyio::test]
async fn current_task_is_the_root_outside_groups() -> anyio::Result<()> {
    let me = anyio::get_current_task().unwrap();
    assert_eq!(me.name, "main");
    let all = anyio::get_running_tasks();
    assert!(all.iter().any(|t| t.id == me.id));
    Ok(())
}

#[anyio::test]
async fn sleep_until_past_deadline_is_a_checkpoint() -> anyio::Result<()> {
    let past = anyio::current_time() - Duration::from_millis(5);
    anyio::sleep_until(past).await?;
    let scope = CancelScope::new();
    scope.cancel();
    assert_eq!(scope.run(anyio::sleep_until(past)).await?, None);
    assert!(scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn sleep_zero_is_a_checkpoint() -> anyio::Result<()> {
    anyio::sleep(Duration::ZERO).await?;
    let scope = CancelScope::new();
    scope.cancel();
    assert_eq!(scope.run(anyio::sleep(Duration::ZERO)).await?, None);
    Ok(())
}

#[anyio::test]
async fn sleep_duration_max_sleeps_until_cancelled() -> anyio::Result<()> {
    let out = anyio::move_on_after(Duration::from_millis(5), anyio::sleep(Duration::MAX)).await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn sleep_waits_at_least_the_duration() -> anyio::Result<()> {
    let start = std::time::Instant::now();
    anyio::sleep(Duration::from_millis(15)).await?;
    assert!(start.elapsed() >= Duration::from_millis(15));
    Ok(())
}

#[test]
fn worker_threads_of_tokio_still_detect_tokio() {
    // A thread of tokio's blocking pool is inside the runtime context: detection says
    // tokio there (anyio's own worker threads are marked and report no event loop).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lib = rt
        .block_on(async { tokio::task::spawn_blocking(anyio::current_async_library).await })
        .unwrap()
        .unwrap();
    assert_eq!(lib, "tokio");
}
