//! Cancel scopes: level-triggered cancellation, absorption, deadlines, shielding.
//! Behaviour translated from AnyIO's tests/test_taskgroups.py (cancel scope part) and trio.

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyio::lowlevel::checkpoint;
use anyio::testing::wait_all_tasks_blocked;
use anyio::{
    CancelScope, Deadline, Error, ErrorKind, current_effective_deadline, fail_after, fail_at,
    move_on_after, move_on_at, sleep, sleep_forever,
};
use support::{DropFlag, Log};

const LONG: Duration = Duration::from_secs(30);

#[anyio::test]
async fn uncancelled_scope_returns_value() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let out = scope.run(async { Ok::<_, Error>(5) }).await?;
    assert_eq!(out, Some(5));
    assert!(!scope.cancel_called());
    assert!(!scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn cancel_before_run_fails_first_checkpoint() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let reached = Arc::new(AtomicBool::new(false));
    let r = reached.clone();
    let out = scope
        .run(async move {
            checkpoint().await?;
            r.store(true, Ordering::SeqCst);
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(out, None);
    assert!(!reached.load(Ordering::SeqCst));
    assert!(scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn cancellation_is_level_triggered() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let inner = scope.clone();
    let out = scope
        .run(async move {
            inner.cancel();
            let mut failures = 0;
            for _ in 0..3 {
                if let Err(e) = checkpoint().await {
                    assert_eq!(e.kind(), ErrorKind::Cancelled);
                    failures += 1;
                }
            }
            assert_eq!(failures, 3);
            sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn cancel_twice_is_harmless() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel_with_reason("first");
    scope.cancel_with_reason("second");
    let err = scope
        .run(async {
            let e = checkpoint().await.unwrap_err();
            assert!(e.to_string().contains("first"), "{e}");
            Err::<(), _>(e)
        })
        .await;
    assert_eq!(err?, None);
    Ok(())
}

#[anyio::test]
async fn cancel_reason_and_canceller_in_message() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel_with_reason("shutting down");
    let seen = scope
        .run(async { Ok::<_, Error>(checkpoint().await.unwrap_err().to_string()) })
        .await?
        .unwrap();
    assert!(seen.contains("shutting down"), "{seen}");
    assert!(seen.contains("'main'"), "{seen}");
    Ok(())
}

#[anyio::test]
async fn scope_runs_only_once() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.run(async { Ok::<_, Error>(()) }).await?;
    let err = scope.run(async { Ok::<_, Error>(()) }).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    Ok(())
}

#[anyio::test]
async fn move_on_after_cancels_sleep() -> anyio::Result<()> {
    let start = Instant::now();
    let out = move_on_after(Duration::from_millis(20), sleep(LONG)).await?;
    assert_eq!(out, None);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(start.elapsed() < LONG);
    Ok(())
}

#[anyio::test]
async fn move_on_after_without_expiry_returns_value() -> anyio::Result<()> {
    let out = move_on_after(LONG, async { Ok::<_, Error>("done") }).await?;
    assert_eq!(out, Some("done"));
    Ok(())
}

#[anyio::test]
async fn move_on_at_past_deadline_cancels_at_once() -> anyio::Result<()> {
    let out = move_on_at(Instant::now(), async {
        checkpoint().await?;
        panic!("the checkpoint should have failed");
        #[allow(unreachable_code)]
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn move_on_at_future_deadline_returns_value() -> anyio::Result<()> {
    let out = move_on_at(Instant::now() + LONG, async { Ok::<_, Error>(1) }).await?;
    assert_eq!(out, Some(1));
    Ok(())
}

#[anyio::test]
async fn fail_after_times_out() -> anyio::Result<()> {
    let err = fail_after(Duration::from_millis(10), sleep_forever())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    Ok(())
}

#[anyio::test]
async fn fail_after_without_expiry_returns_value() -> anyio::Result<()> {
    assert_eq!(fail_after(LONG, async { Ok::<_, Error>(3) }).await?, 3);
    Ok(())
}

#[anyio::test]
async fn fail_at_times_out_and_passes_values() -> anyio::Result<()> {
    let err = fail_at(Instant::now(), checkpoint()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(
        fail_at(Instant::now() + LONG, async { Ok::<_, Error>(4) }).await?,
        4
    );
    Ok(())
}

#[anyio::test]
async fn fail_after_inside_cancelled_scope_propagates_cancellation() -> anyio::Result<()> {
    let outer = CancelScope::new();
    outer.cancel();
    let seen = Log::new();
    let s = seen.clone();
    let out = outer
        .run(async move {
            let r = fail_after(LONG, sleep_forever()).await;
            s.push(format!("{:?}", r.as_ref().map_err(|e| e.kind())));
            r
        })
        .await?;
    assert_eq!(out, None);
    assert_eq!(seen.events(), vec!["Err(Cancelled)"]);
    Ok(())
}

#[anyio::test]
async fn inner_deadline_absorbed_by_inner_scope() -> anyio::Result<()> {
    let outer = CancelScope::new().with_timeout(LONG);
    let out = outer
        .run(async {
            let inner = move_on_after(Duration::from_millis(5), sleep_forever()).await?;
            assert_eq!(inner, None);
            Ok::<_, Error>("outer went on")
        })
        .await?;
    assert_eq!(out, Some("outer went on"));
    assert!(!outer.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn outer_deadline_not_absorbed_by_inner_scope() -> anyio::Result<()> {
    let inner = CancelScope::new().with_timeout(LONG);
    let inner2 = inner.clone();
    let out = move_on_after(Duration::from_millis(5), async move {
        inner2.run(sleep_forever()).await?;
        panic!("the outer cancellation must travel through the inner scope");
        #[allow(unreachable_code)]
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(out, None);
    assert!(!inner.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn both_cancelled_outer_absorbs() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    let (o, i) = (outer.clone(), inner.clone());
    let out = outer
        .run(async move {
            i.clone()
                .run(async move {
                    i.cancel();
                    o.cancel();
                    checkpoint().await
                })
                .await?;
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(out, None);
    assert!(outer.cancelled_caught());
    assert!(!inner.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn shielded_scope_hides_outer_cancellation() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let o = outer.clone();
    let log = Log::new();
    let l = log.clone();
    let out = outer
        .run(async move {
            o.cancel();
            CancelScope::shielded()
                .run(async {
                    sleep(Duration::from_millis(5)).await?;
                    l.push("shielded sleep finished");
                    Ok::<_, Error>(())
                })
                .await?;
            checkpoint().await?;
            l.push("unreachable");
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(out, None);
    assert_eq!(log.events(), vec!["shielded sleep finished"]);
    Ok(())
}

#[anyio::test]
async fn shielded_cleanup_runs_after_cancellation() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let out = move_on_after(Duration::from_millis(5), async move {
        let result = sleep_forever().await;
        l.push("cancelled");
        CancelScope::shielded()
            .run(async {
                sleep(Duration::from_millis(5)).await?;
                l.push("cleaned up");
                Ok::<_, Error>(())
            })
            .await?;
        result
    })
    .await?;
    assert_eq!(out, None);
    assert_eq!(log.events(), vec!["cancelled", "cleaned up"]);
    Ok(())
}

#[anyio::test]
async fn shielded_scope_own_cancel_still_applies() -> anyio::Result<()> {
    let shielded = CancelScope::shielded();
    let s = shielded.clone();
    let out = shielded
        .run(async move {
            s.cancel();
            sleep_forever().await
        })
        .await?;
    assert_eq!(out, None);
    assert!(shielded.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn shielded_scope_own_deadline_still_applies() -> anyio::Result<()> {
    let scope = CancelScope::shielded().with_timeout(Duration::from_millis(5));
    assert_eq!(scope.run(sleep_forever()).await?, None);
    Ok(())
}

#[anyio::test]
async fn unshielding_under_cancelled_parent_wakes_the_sleeper() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let shielded = CancelScope::shielded();
    let (o, s) = (outer.clone(), shielded.clone());
    let out = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            wait_all_tasks_blocked().await?;
            o.cancel();
            wait_all_tasks_blocked().await?;
            // Still shielded: the sleeper is asleep. Lifting the shield exposes it.
            s.set_shield(false);
            Ok::<_, Error>(())
        })?;
        outer
            .run(async move { shielded.run(sleep_forever()).await })
            .await
    })
    .await?;
    assert_eq!(out, Some(None));
    Ok(())
}

#[anyio::test]
async fn cancel_outer_from_inside_shielded_scope() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let o = outer.clone();
    let log = Log::new();
    let l = log.clone();
    outer
        .run(async move {
            CancelScope::shielded()
                .run(async {
                    o.cancel();
                    checkpoint().await?;
                    l.push("inside shield: not cancelled");
                    Ok::<_, Error>(())
                })
                .await?;
            let r = checkpoint().await;
            l.push(format!("outside: {:?}", r.as_ref().map_err(|e| e.kind())));
            r
        })
        .await?;
    assert_eq!(
        log.events(),
        vec!["inside shield: not cancelled", "outside: Err(Cancelled)"]
    );
    Ok(())
}

#[anyio::test]
async fn deadline_moved_later_while_running() -> anyio::Result<()> {
    let scope = CancelScope::new().with_timeout(Duration::from_millis(10));
    let s = scope.clone();
    let out = scope
        .run(async move {
            s.set_deadline(Instant::now() + LONG);
            sleep(Duration::from_millis(30)).await?;
            Ok::<_, Error>("survived the original deadline")
        })
        .await?;
    assert_eq!(out, Some("survived the original deadline"));
    Ok(())
}

#[anyio::test]
async fn deadline_moved_earlier_wakes_sleeper() -> anyio::Result<()> {
    let scope = CancelScope::new().with_timeout(LONG);
    let s = scope.clone();
    let start = Instant::now();
    let out = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            wait_all_tasks_blocked().await?;
            s.set_deadline(Instant::now() + Duration::from_millis(5));
            Ok::<_, Error>(())
        })?;
        scope.run(sleep_forever()).await
    })
    .await?;
    assert_eq!(out, Some(None));
    assert!(start.elapsed() < LONG);
    Ok(())
}

#[anyio::test]
async fn deadline_removed_lets_future_finish() -> anyio::Result<()> {
    let scope = CancelScope::new().with_timeout(Duration::from_millis(5));
    let s = scope.clone();
    let out = scope
        .run(async move {
            s.set_deadline(None);
            sleep(Duration::from_millis(20)).await?;
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(out, Some(()));
    assert_eq!(scope.deadline(), None);
    Ok(())
}

#[anyio::test]
async fn duration_max_means_no_deadline() -> anyio::Result<()> {
    let scope = CancelScope::new().with_timeout(Duration::MAX);
    assert_eq!(scope.deadline(), None);
    let out = move_on_after(Duration::MAX, async { Ok::<_, Error>(1) }).await?;
    assert_eq!(out, Some(1));
    Ok(())
}

#[anyio::test]
async fn effective_deadline_reports_nearest_unshielded() -> anyio::Result<()> {
    assert_eq!(current_effective_deadline(), Deadline::Never);
    let near = Instant::now() + Duration::from_secs(10);
    let far = Instant::now() + Duration::from_secs(20);
    CancelScope::new()
        .with_deadline(near)
        .run(async move {
            CancelScope::new()
                .with_deadline(far)
                .run(async move {
                    assert_eq!(current_effective_deadline().instant(), Some(near));
                    CancelScope::shielded()
                        .run(async {
                            assert_eq!(current_effective_deadline(), Deadline::Never);
                            Ok::<_, Error>(())
                        })
                        .await?;
                    Ok::<_, Error>(())
                })
                .await?;
            Ok::<_, Error>(())
        })
        .await?;
    Ok(())
}

#[anyio::test]
async fn effective_deadline_in_cancelled_scope_is_cancelled() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    scope
        .run(async {
            assert_eq!(current_effective_deadline(), Deadline::Cancelled);
            assert_eq!(
                current_effective_deadline().remaining(),
                Some(Duration::ZERO)
            );
            Ok::<_, Error>(())
        })
        .await?;
    Ok(())
}

#[anyio::test]
async fn cancel_from_another_task() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let remote = scope.clone();
    let out = anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            wait_all_tasks_blocked().await?;
            remote.cancel();
            Ok::<_, Error>(())
        })?;
        scope.run(sleep_forever()).await
    })
    .await?;
    assert_eq!(out, Some(None));
    Ok(())
}

#[anyio::test]
async fn cancel_from_a_plain_thread_wakes_the_task() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let remote = scope.clone();
    let thread = std::thread::spawn(move || {
        // Cancel only once the task is parked in its sleep.
        while !remote.cancel_called() {
            std::thread::sleep(Duration::from_millis(2));
            remote.cancel();
        }
    });
    let out = scope.run(sleep_forever()).await?;
    assert_eq!(out, None);
    thread.join().unwrap();
    Ok(())
}

#[anyio::test]
async fn genuine_cleanup_error_is_not_swallowed() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let err = scope
        .run(async {
            let _ = checkpoint().await;
            Err::<(), _>(Error::new(ErrorKind::Other, "cleanup failed"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(!scope.cancelled_caught());
    Ok(())
}

async fn io_style() -> io::Result<()> {
    checkpoint().await?;
    Ok(())
}

#[anyio::test]
async fn cancellation_inside_io_error_is_absorbed() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out: Option<()> = scope.run(io_style()).await.map_err(Error::from)?;
    assert_eq!(out, None);
    assert!(scope.cancelled_caught());
    Ok(())
}

#[cfg(feature = "anyhow")]
#[anyio::test]
async fn cancellation_inside_anyhow_error_is_absorbed() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            checkpoint().await?;
            Ok::<_, anyhow::Error>(())
        })
        .await
        .map_err(Error::from)?;
    assert_eq!(out, None);
    assert!(scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn dropping_a_running_scope_marks_it_cancelled() -> anyio::Result<()> {
    let scope = CancelScope::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let running = scope.run(async move {
        let _flag = flag;
        sleep_forever().await
    });
    let raced = futures_lite::future::or(async { running.await.map(|_| "scope") }, async {
        sleep(Duration::from_millis(5)).await?;
        Ok("timer")
    })
    .await?;
    assert_eq!(raced, "timer");
    assert!(dropped.load(Ordering::SeqCst));
    assert!(scope.cancel_called());
    Ok(())
}

#[anyio::test]
async fn cancellable_drops_foreign_future_on_cancel() -> anyio::Result<()> {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let foreign = async move {
        let _flag = flag;
        futures_lite::future::pending::<()>().await
    };
    let out = move_on_after(Duration::from_millis(5), anyio::cancellable(foreign)).await?;
    assert_eq!(out, None);
    assert!(dropped.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn cancellable_returns_foreign_output() -> anyio::Result<()> {
    let v = anyio::cancellable(async { 7 }).await?;
    assert_eq!(v, 7);
    Ok(())
}

#[anyio::test]
async fn deadline_in_the_past_cancels_first_checkpoint() -> anyio::Result<()> {
    let scope = CancelScope::new().with_deadline(Instant::now() - Duration::from_millis(1));
    assert_eq!(scope.run(checkpoint()).await?, None);
    assert!(scope.cancel_called());
    Ok(())
}

#[anyio::test]
async fn scope_inside_child_task_cancels_only_that_child() -> anyio::Result<()> {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let child_done = anyio::Event::new();
    let done = child_done.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let out = move_on_after(Duration::from_millis(5), sleep_forever()).await?;
            l1.push(format!("child scope: {out:?}"));
            done.set();
            Ok::<_, Error>(())
        })?;
        // The child's deadline fired in the child's scope only: the host, which waited
        // for it, is still uncancelled at its next checkpoint.
        child_done.wait().await?;
        checkpoint().await?;
        l2.push("host not cancelled");
        Ok(())
    })
    .await?;
    assert_eq!(
        log.events(),
        vec!["child scope: None", "host not cancelled"]
    );
    Ok(())
}

#[anyio::test]
async fn shielded_inner_scope_absorbs_own_cancel_then_outer_raises() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let o = outer.clone();
    let log = Log::new();
    let l = log.clone();
    outer
        .run(async move {
            let inner = CancelScope::shielded();
            let i = inner.clone();
            let r = inner
                .run(async move {
                    i.cancel();
                    o.cancel();
                    checkpoint().await
                })
                .await?;
            l.push(format!("inner: {r:?}"));
            checkpoint().await?;
            l.push("unreachable");
            Ok::<_, Error>(())
        })
        .await?;
    assert_eq!(log.events(), vec!["inner: None"]);
    assert!(outer.cancelled_caught());
    Ok(())
}

#[test]
fn cancellation_reaches_tasks_on_other_threads() {
    support::with_timeout(60, cancellation_reaches_tasks_on_other_threads_inner);
}

fn cancellation_reaches_tasks_on_other_threads_inner() {
    for backend in anyio::available_backends() {
        let runner = match backend.name() {
            "smol" => {
                anyio::Runner::new(*backend).smol_options(anyio::SmolOptions::new().threads(2))
            }
            _ => anyio::Runner::new(*backend)
                .tokio_options(anyio::TokioOptions::new().worker_threads(2)),
        };
        let threads = runner
            .run(|| async {
                let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
                let scope = CancelScope::new();
                let s = scope.clone();
                let seen2 = seen.clone();
                let out = s
                    .run(anyio::task_group(|tg| async move {
                        for _ in 0..16 {
                            let seen = seen2.clone();
                            tg.start_soon(async move {
                                seen.lock().unwrap().insert(std::thread::current().id());
                                sleep_forever().await
                            })?;
                        }
                        wait_all_tasks_blocked().await?;
                        scope.cancel();
                        sleep_forever().await
                    }))
                    .await?;
                assert_eq!(out, None);
                let n = seen.lock().unwrap().len();
                Ok::<_, Error>(n)
            })
            .unwrap();
        println!("{backend}: 16 children cancelled across {threads} thread(s)");
        assert!(threads >= 1);
    }
}

/// A checkpoint that passed (its scope's clean walk is cached) sees every later change of
/// the chain at its next checkpoint: an outer scope cancelled by another task (ordered by
/// an event, no yield in between), a deadline set in the past, a shield lowered under a
/// cancelled scope.
#[anyio::test]
async fn a_passed_checkpoint_hides_no_later_cancellation() -> anyio::Result<()> {
    // Cancelled by another task, seen right after the event that follows the cancel.
    let outer = CancelScope::new();
    let (cancelled, go) = (anyio::Event::new(), anyio::Event::new());
    let (canceller, done, start) = (outer.clone(), cancelled.clone(), go.clone());
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            start.wait().await?;
            canceller.cancel();
            done.set();
            Ok(())
        })?;
        let inner = outer.run(async {
            checkpoint().await?; // clean: cached
            go.set();
            // Shielded, so it returns once the other task has cancelled `outer`.
            let _ = CancelScope::shielded().run(cancelled.wait()).await?;
            checkpoint().await
        });
        assert!(inner.await?.is_none(), "the cancellation was seen");
        Ok(())
    })
    .await?;

    // A deadline set after a cached walk.
    let scope = CancelScope::new();
    let out = scope
        .run(async {
            checkpoint().await?;
            scope.set_deadline(Instant::now());
            checkpoint().await
        })
        .await?;
    assert!(out.is_none(), "the passed deadline was seen");

    // A shield lowered under a cancelled scope after a cached walk.
    let outer = CancelScope::new();
    let shielded = CancelScope::shielded();
    let out = outer
        .run(async {
            outer.cancel();
            let inner = shielded
                .run(async {
                    checkpoint().await?; // shielded: passes
                    shielded.set_shield(false);
                    checkpoint().await
                })
                .await;
            // The outer scope's cancellation is not the inner scope's to absorb: it leaves
            // the inner scope as an error.
            let e = inner.expect_err("the lowered shield lets the cancellation in");
            assert_eq!(e.kind(), ErrorKind::Cancelled);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(out, Some(()), "the body ran to its end");
    Ok(())
}
