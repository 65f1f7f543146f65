//! Task groups: structured concurrency, start/started, errors, panics, handles.
//! Behaviour translated from AnyIO's tests/test_taskgroups.py.

mod support;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::lowlevel::checkpoint;
use anyio::testing::wait_all_tasks_blocked;
use anyio::{
    Backend, CancelScope, Error, ErrorKind, Event, TaskState, TaskStatus, sleep, sleep_forever,
    task_group,
};
use futures_lite::FutureExt;
use support::{DropFlag, Log, Rng, stress};

fn fail(msg: &'static str) -> Error {
    Error::new(ErrorKind::Other, msg)
}

#[anyio::test]
async fn group_waits_for_every_child() -> anyio::Result<()> {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    task_group(|tg| async move {
        for i in 0..5u64 {
            let d = d.clone();
            tg.start_soon(async move {
                sleep(Duration::from_millis(i * 3)).await?;
                d.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Error>(())
            })?;
        }
        Ok(())
    })
    .await?;
    assert_eq!(done.load(Ordering::SeqCst), 5);
    Ok(())
}

#[anyio::test]
async fn empty_group_returns_body_value() -> anyio::Result<()> {
    assert_eq!(task_group(|_tg| async { Ok(9) }).await?, Some(9));
    Ok(())
}

#[anyio::test]
async fn child_can_start_siblings() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    task_group(|tg| async move {
        let tg2 = tg.clone();
        tg.start_soon(async move {
            l.push("parent child");
            let l = l.clone();
            tg2.start_soon(async move {
                sleep(Duration::from_millis(5)).await?;
                l.push("sibling");
                Ok::<_, Error>(())
            })?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), vec!["parent child", "sibling"]);
    Ok(())
}

#[anyio::test]
async fn start_soon_after_exit_is_an_error() -> anyio::Result<()> {
    let mut kept = None;
    task_group(|tg| {
        kept = Some(tg.clone());
        async { Ok(()) }
    })
    .await?;
    let tg = kept.unwrap();
    assert!(!tg.is_active());
    let err = tg.start_soon(async { Ok::<_, Error>(()) }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    let err = tg
        .start(|s: TaskStatus<()>| async move {
            s.started(());
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    Ok(())
}

#[anyio::test]
async fn start_returns_the_started_value() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    task_group(|tg| async move {
        let l2 = l.clone();
        let host_went_on = Event::new();
        let h = host_went_on.clone();
        let v = tg
            .start(|status: TaskStatus<&'static str>| async move {
                l2.push("child before started");
                status.started("ready");
                h.wait().await?;
                l2.push("child after started");
                Ok::<_, Error>(())
            })
            .await?;
        l.push(format!("host got {v}"));
        host_went_on.set();
        Ok(())
    })
    .await?;
    assert_eq!(
        log.events(),
        vec![
            "child before started",
            "host got ready",
            "child after started"
        ]
    );
    Ok(())
}

#[anyio::test]
async fn start_with_unit_value() -> anyio::Result<()> {
    task_group(|tg| async move {
        tg.start(|s: TaskStatus<()>| async move {
            s.started(());
            Ok::<_, Error>(())
        })
        .await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn error_before_started_goes_to_starter_not_group() -> anyio::Result<()> {
    let sibling_finished = Arc::new(AtomicBool::new(false));
    let sf = sibling_finished.clone();
    let out = task_group(|tg| async move {
        tg.start_soon(async move {
            sleep(Duration::from_millis(10)).await?;
            sf.store(true, Ordering::SeqCst);
            Ok::<_, Error>(())
        })?;
        let err = tg
            .start(|_s: TaskStatus<u32>| async move { Err::<(), _>(fail("bind failed")) })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "bind failed");
        Ok("host went on")
    })
    .await?;
    assert_eq!(out, Some("host went on"));
    assert!(sibling_finished.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn error_after_started_fails_the_group() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        tg.start(|s: TaskStatus<()>| async move {
            s.started(());
            checkpoint().await?;
            Err::<(), _>(fail("crashed later"))
        })
        .await?;
        sleep_forever().await
    })
    .await
    .unwrap_err();
    assert_eq!(err.message(), "crashed later");
    Ok(())
}

#[anyio::test]
async fn start_without_started_is_an_error() -> anyio::Result<()> {
    task_group(|tg| async move {
        let err = tg
            .start(|_s: TaskStatus<u8>| async move { Ok::<_, Error>(()) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.message().contains("started"), "{err}");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn dropping_status_early_fails_start_and_cancels_child() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    task_group(|tg| async move {
        let err = tg
            .start(|s: TaskStatus<u8>| async move {
                drop(s);
                let r = sleep_forever().await;
                l.push(format!("child: {:?}", r.as_ref().map_err(|e| e.kind())));
                r
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), vec!["child: Err(Cancelled)"]);
    Ok(())
}

#[anyio::test]
async fn cancelled_starter_cancels_the_starting_child() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let out = task_group(|tg| async move {
        let scope = CancelScope::new().with_timeout(Duration::from_millis(5));
        let r = scope
            .run(tg.start(|s: TaskStatus<u8>| async move {
                let _status = s; // held, never started
                let r = sleep_forever().await;
                l.push("child cancelled");
                r
            }))
            .await?;
        assert_eq!(r, None);
        Ok("host continues")
    })
    .await?;
    assert_eq!(out, Some("host continues"));
    assert_eq!(log.events(), vec!["child cancelled"]);
    Ok(())
}

#[anyio::test]
async fn failing_child_cancels_siblings_and_host() -> anyio::Result<()> {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let err = task_group(|tg| async move {
        tg.start_soon(async move {
            let r = sleep_forever().await;
            l1.push(format!("sibling: {:?}", r.as_ref().map_err(|e| e.kind())));
            r
        })?;
        tg.start_soon(async {
            wait_all_tasks_blocked().await?;
            Err::<(), _>(fail("child failed"))
        })?;
        let r = sleep_forever().await;
        l2.push(format!("host: {:?}", r.as_ref().map_err(|e| e.kind())));
        r
    })
    .await
    .unwrap_err();
    assert_eq!(err.message(), "child failed");
    let mut events = log.events();
    events.sort();
    assert_eq!(
        events,
        vec!["host: Err(Cancelled)", "sibling: Err(Cancelled)"]
    );
    Ok(())
}

#[anyio::test]
async fn failing_host_cancels_children() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let err = task_group(|tg| async move {
        tg.start_soon(async move {
            let r = sleep_forever().await;
            l.push(format!("child: {:?}", r.as_ref().map_err(|e| e.kind())));
            r
        })?;
        wait_all_tasks_blocked().await?;
        Err::<(), _>(fail("host failed"))
    })
    .await
    .unwrap_err();
    assert_eq!(err.message(), "host failed");
    assert_eq!(log.events(), vec!["child: Err(Cancelled)"]);
    Ok(())
}

#[anyio::test]
async fn several_errors_are_all_kept() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        for msg in ["first", "second"] {
            tg.start_soon(async move {
                // Both fail in the same round, before either sees the other's cancellation.
                Err::<(), _>(fail(msg))
            })?;
        }
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Multiple);
    let mut msgs: Vec<&str> = err.errors().iter().map(|e| e.message()).collect();
    msgs.sort();
    assert_eq!(msgs, vec!["first", "second"]);
    Ok(())
}

#[anyio::test]
async fn host_and_child_errors_are_combined() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        tg.start_soon(async {
            // Cleanup that fails after the cancellation caused by the host.
            let _ = sleep_forever().await;
            Err::<(), _>(fail("child cleanup failed"))
        })?;
        wait_all_tasks_blocked().await?;
        Err::<(), _>(fail("host failed"))
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Multiple);
    let msgs: Vec<&str> = err.errors().iter().map(|e| e.message()).collect();
    assert_eq!(msgs, vec!["host failed", "child cleanup failed"]);
    Ok(())
}

#[anyio::test]
async fn group_absorbs_own_cancellation() -> anyio::Result<()> {
    let out = task_group(|tg| async move {
        tg.start_soon(sleep_forever())?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        sleep_forever().await?;
        Ok(1)
    })
    .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn group_cancelled_after_body_returned_keeps_value() -> anyio::Result<()> {
    let out = task_group(|tg| async move {
        tg.start_soon(sleep_forever())?;
        tg.cancel_scope().cancel();
        Ok("body value")
    })
    .await?;
    assert_eq!(out, Some("body value"));
    Ok(())
}

#[anyio::test]
async fn group_deadline_cancels_everything() -> anyio::Result<()> {
    let start = Instant::now();
    let out = task_group(|tg| async move {
        tg.cancel_scope()
            .set_deadline(Instant::now() + Duration::from_millis(10));
        for _ in 0..3 {
            tg.start_soon(sleep_forever())?;
        }
        sleep_forever().await?;
        Ok(())
    })
    .await?;
    assert_eq!(out, None);
    assert!(start.elapsed() >= Duration::from_millis(10));
    Ok(())
}

#[anyio::test]
async fn outer_cancellation_travels_through_the_group() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let o = outer.clone();
    let out = outer
        .run(async move {
            let r = task_group(|tg| async move {
                tg.start_soon(sleep_forever())?;
                wait_all_tasks_blocked().await?;
                o.cancel();
                sleep_forever().await?;
                Ok(())
            })
            .await;
            assert_eq!(r.as_ref().unwrap_err().kind(), ErrorKind::Cancelled);
            r
        })
        .await?;
    assert_eq!(out, None);
    assert!(outer.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn outer_cancellation_after_body_returned_still_propagates() -> anyio::Result<()> {
    let outer = CancelScope::new();
    let o = outer.clone();
    let out = outer
        .run(async move {
            task_group(|tg| async move {
                tg.start_soon(sleep_forever())?;
                o.cancel();
                Ok(())
            })
            .await
        })
        .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn cancelling_outer_group_reaches_grandchildren() -> anyio::Result<()> {
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let out = task_group(|tg| async move {
        for _ in 0..3 {
            let f = f.clone();
            tg.start_soon(async move {
                task_group(|inner| async move {
                    for _ in 0..3 {
                        let f = f.clone();
                        inner.start_soon(async move {
                            let _flag = Counted(f);
                            sleep_forever().await
                        })?;
                    }
                    sleep_forever().await
                })
                .await
            })?;
        }
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    assert_eq!(out, Some(()));
    assert_eq!(finished.load(Ordering::SeqCst), 9);
    Ok(())
}

/// Drops `group` (its future loses a race with a 10 ms timer), then waits until every flag
/// is set: the aborted children's futures were dropped.
async fn drop_group_and_wait<F>(group: F, flags: &[&Arc<AtomicBool>]) -> anyio::Result<()>
where
    F: std::future::Future<Output = anyio::Result<Option<()>>>,
{
    let raced = futures_lite::future::or(async { group.await.map(|_| "group") }, async {
        sleep(Duration::from_millis(10)).await?;
        Ok("timer")
    })
    .await?;
    assert_eq!(raced, "timer");
    // The abort takes effect when the executor next runs each child (bounded by time, not
    // by a count of short sleeps, so a loaded machine does not fail it).
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up {
        if flags.iter().all(|f| f.load(Ordering::SeqCst)) {
            return Ok(());
        }
        sleep(Duration::from_millis(1)).await?;
    }
    panic!("a child of a dropped group was never aborted");
}

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[anyio::test]
async fn handle_gives_value_and_status() -> anyio::Result<()> {
    task_group(|tg| async move {
        let go = Event::new();
        let g = go.clone();
        let h = tg.start_soon(async move {
            g.wait().await?;
            Ok::<_, Error>(11)
        })?;
        assert_eq!(h.status(), TaskState::Pending);
        go.set();
        h.wait().await?;
        assert_eq!(h.status(), TaskState::Finished);
        assert!(h.is_finished());
        assert_eq!(h.await?, 11);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn handle_of_failed_child_is_task_failed() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        let h = tg.start_soon(async { Err::<(), _>(fail("oops")) })?;
        // The failure cancels the group, this body included, possibly before the handle is
        // first polled: shielded, the await sees the child's end and not that cancellation.
        let e = CancelScope::shielded().run(h).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskFailed);
        assert_eq!(e.source_as::<Error>().unwrap().message(), "oops");
        Ok(())
    })
    .await
    .unwrap_err();
    // The failure reached the group as well.
    assert_eq!(err.message(), "oops");
    Ok(())
}

#[anyio::test]
async fn cancelled_handle_is_task_cancelled_and_group_goes_on() -> anyio::Result<()> {
    let out = task_group(|tg| async move {
        let victim = tg.start_soon(sleep_forever())?;
        let other = tg.start_soon(async {
            sleep(Duration::from_millis(5)).await?;
            Ok::<_, Error>("other finished")
        })?;
        wait_all_tasks_blocked().await?;
        victim.cancel();
        // The victim may already have finished on another thread.
        assert!(matches!(
            victim.status(),
            TaskState::Cancelling | TaskState::Cancelled
        ));
        victim.wait().await?;
        assert_eq!(victim.status(), TaskState::Cancelled);
        let e = victim.await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskCancelled);
        other.await
    })
    .await?;
    assert_eq!(out, Some("other finished"));
    Ok(())
}

#[anyio::test]
async fn cancel_after_finish_has_no_effect() -> anyio::Result<()> {
    task_group(|tg| async move {
        let h = tg.start_soon(async { Ok::<_, Error>(1) })?;
        h.wait().await?;
        h.cancel();
        assert_eq!(h.status(), TaskState::Finished);
        assert_eq!(h.await?, 1);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn awaiting_handle_in_cancelled_scope_is_cancelled_not_task_cancelled() -> anyio::Result<()> {
    task_group(|tg| async move {
        let h = tg.start_soon(async {
            sleep(Duration::from_millis(10)).await?;
            Ok::<_, Error>(5)
        })?;
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { h.wait().await }).await?;
        assert_eq!(out, None);
        // The child was not affected.
        h.wait().await?;
        assert_eq!(h.status(), TaskState::Finished);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn child_panic_resumes_in_host_after_siblings_finish() -> anyio::Result<()> {
    let sibling_done = Arc::new(AtomicBool::new(false));
    let sd = sibling_done.clone();
    let caught = AssertUnwindSafe(task_group(|tg| async move {
        tg.start_soon(async move {
            let r = sleep_forever().await;
            // Cleanup still runs, shielded, before the panic reaches the host.
            CancelScope::shielded()
                .run(sleep(Duration::from_millis(5)))
                .await?;
            sd.store(true, Ordering::SeqCst);
            r
        })?;
        tg.start_soon(async {
            wait_all_tasks_blocked().await?;
            if true {
                panic!("boom");
            }
            Ok::<_, Error>(())
        })?;
        sleep_forever().await
    }))
    .catch_unwind()
    .await;
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert!(sibling_done.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn host_panic_waits_for_children_then_resumes() -> anyio::Result<()> {
    let child_done = Arc::new(AtomicBool::new(false));
    let cd = child_done.clone();
    let caught = AssertUnwindSafe(task_group(|tg| async move {
        tg.start_soon(async move {
            let r = sleep_forever().await;
            cd.store(true, Ordering::SeqCst);
            r
        })?;
        wait_all_tasks_blocked().await?;
        if true {
            panic!("host boom");
        }
        Ok(())
    }))
    .catch_unwind()
    .await;
    assert!(caught.is_err());
    assert!(child_done.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn task_names_and_parents() -> anyio::Result<()> {
    let me = anyio::get_current_task().unwrap();
    assert_eq!(me.name, "main");
    assert_eq!(me.parent_id, None);
    task_group(|tg| async move {
        let named = tg
            .task()
            .name("worker")
            .spawn(async { Ok::<_, Error>(anyio::get_current_task().unwrap()) })?;
        let unnamed =
            tg.start_soon(async { Ok::<_, Error>(anyio::get_current_task().unwrap()) })?;
        assert_eq!(named.name(), "worker");
        let info = named.await?;
        assert_eq!(info.name, "worker");
        assert_eq!(info.parent_id, Some(me.id));
        let info = unnamed.await?;
        assert_eq!(info.name, format!("task-{}", info.id));
        assert_eq!(info.parent_id, Some(me.id));
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn running_tasks_are_listed_until_they_finish() -> anyio::Result<()> {
    task_group(|tg| async move {
        let h = tg.task().name("sleeper").spawn(sleep_forever())?;
        wait_all_tasks_blocked().await?;
        let names: Vec<String> = anyio::get_running_tasks()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.contains(&"sleeper".to_owned()), "{names:?}");
        h.cancel();
        h.wait().await?;
        assert!(
            !anyio::get_running_tasks()
                .iter()
                .any(|t| t.name == "sleeper")
        );
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn dropping_group_future_aborts_children() -> anyio::Result<()> {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let group = task_group(|tg| async move {
        let flag = DropFlag(d);
        tg.start_soon(async move {
            let _flag = flag;
            sleep_forever().await
        })?;
        sleep_forever().await
    });
    drop_group_and_wait(group, &[&dropped]).await
}

#[anyio::test]
async fn dropping_group_future_aborts_shielded_and_busy_children() -> anyio::Result<()> {
    let shielded_dropped = Arc::new(AtomicBool::new(false));
    let busy_dropped = Arc::new(AtomicBool::new(false));
    let (s, b) = (shielded_dropped.clone(), busy_dropped.clone());
    let group = task_group(|tg| async move {
        let flag = DropFlag(s);
        tg.start_soon(async move {
            let _flag = flag;
            // A shield hides cancellation, but not an abort.
            CancelScope::shielded().run(sleep_forever()).await?;
            Ok(())
        })?;
        let flag = DropFlag(b);
        tg.start_soon(async move {
            let _flag = flag;
            // Never sees a cancellation: only the abort can stop it.
            loop {
                anyio::lowlevel::cancel_shielded_checkpoint().await;
            }
            #[allow(unreachable_code)]
            Ok(())
        })?;
        sleep_forever().await
    });
    drop_group_and_wait(group, &[&shielded_dropped, &busy_dropped]).await
}

#[anyio::test]
async fn dropping_group_future_aborts_a_child_parked_in_a_foreign_future() -> anyio::Result<()> {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let group = task_group(|tg| async move {
        let flag = DropFlag(d);
        tg.start_soon(async move {
            let _flag = flag;
            // Not an anyio operation: never sees cancellation, never woken by anything.
            futures_lite::future::pending::<()>().await;
            Ok(())
        })?;
        sleep_forever().await
    });
    drop_group_and_wait(group, &[&dropped]).await
}

#[anyio::test]
async fn children_spawned_in_cancelled_group_see_cancellation() -> anyio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let out = task_group(|tg| async move {
        tg.cancel_scope().cancel();
        tg.start_soon(async move {
            let r = checkpoint().await;
            l.push(format!("{:?}", r.as_ref().map_err(|e| e.kind())));
            r
        })?;
        Ok(())
    })
    .await?;
    assert_eq!(out, Some(()));
    assert_eq!(log.events(), vec!["Err(Cancelled)"]);
    Ok(())
}

#[anyio::test]
async fn gather_keeps_order() -> anyio::Result<()> {
    let out = anyio::gather((0..5u64).map(|i| async move {
        sleep(Duration::from_millis(10 - 2 * i)).await?;
        Ok::<_, Error>(i)
    }))
    .await?;
    assert_eq!(out, vec![0, 1, 2, 3, 4]);
    let empty: Vec<u8> =
        anyio::gather(Vec::<futures_lite::future::Ready<anyio::Result<u8>>>::new()).await?;
    assert!(empty.is_empty());
    Ok(())
}

#[anyio::test]
async fn gather_failure_cancels_the_rest() -> anyio::Result<()> {
    let cancelled = Arc::new(AtomicUsize::new(0));
    let c = cancelled.clone();
    let futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = anyio::Result<u32>> + Send>>> = vec![
        Box::pin(async move {
            let r = sleep_forever().await;
            c.fetch_add(1, Ordering::SeqCst);
            r.map(|_| 0)
        }),
        Box::pin(async {
            wait_all_tasks_blocked().await?;
            Err(fail("gather member failed"))
        }),
    ];
    let err = anyio::gather(futs).await.unwrap_err();
    assert_eq!(err.message(), "gather member failed");
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    Ok(())
}

#[anyio::test]
async fn amap_maps_in_order() -> anyio::Result<()> {
    let out = anyio::amap(
        |n: u64| async move {
            sleep(Duration::from_millis(5 - n)).await?;
            Ok::<_, Error>(n * 10)
        },
        0..5,
    )
    .await?;
    assert_eq!(out, vec![0, 10, 20, 30, 40]);
    Ok(())
}

#[anyio::test]
async fn child_results_cross_threads_on_multi_thread_runtimes() -> anyio::Result<()> {
    let total = task_group(|tg| async move {
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                tg.start_soon(async move {
                    checkpoint().await?;
                    Ok::<_, Error>(i)
                })
            })
            .collect::<anyio::Result<_>>()?;
        let mut sum = 0;
        for h in handles {
            sum += h.await?;
        }
        Ok(sum)
    })
    .await?;
    assert_eq!(total, Some((0..50).sum()));
    Ok(())
}

// ---- A child's error racing `started()` called by another task (StartSlot) ----

/// Busy-waits about `n` iterations: shifts one side of a race by a few nanoseconds.
fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// Each round: a child started with `start` hands its `TaskStatus` to a helper task, which
/// calls `started` at about the moment the child fails. The child's error must reach the
/// starter (the child had not started) or the group (it had) — never neither.
fn error_racing_started_by_another_task_is_never_lost(backend: Backend) {
    stress(backend, "error racing started()", || async {
        const ROUNDS: u64 = 3000;
        let mut rng = Rng::new(0x5eed_0008);
        let (mut to_starter, mut to_group) = (0u64, 0u64);
        for round in 0..ROUNDS {
            // The helper must first be picked up by another worker: the child waits a varying while.
            let (delay_helper, delay_child) = (rng.below(64), rng.below(20_000));
            let out = task_group(|tg| async move {
                let tg2 = tg.clone();
                let started = tg
                    .start(move |status: TaskStatus<u64>| async move {
                        let go = Arc::new(AtomicBool::new(false));
                        let g = go.clone();
                        tg2.start_soon(async move {
                            while !g.load(Ordering::SeqCst) {
                                std::hint::spin_loop();
                            }
                            spin(delay_helper);
                            status.started(round);
                            anyio::Ok(())
                        })?;
                        // tokio keeps the latest spawned task in a slot other workers cannot
                        // steal from: a second spawn pushes the helper where they can.
                        tg2.start_soon(async { anyio::Ok(()) })?;
                        go.store(true, Ordering::SeqCst);
                        spin(delay_child);
                        Err::<(), _>(fail("the child failed"))
                    })
                    .await;
                match &started {
                    Ok(v) => assert_eq!(*v, round),
                    Err(e) => assert_eq!(e.message(), "the child failed"),
                }
                anyio::Ok(started.is_ok())
            })
            .await;
            match out {
                Ok(Some(false)) => to_starter += 1,
                Err(e) if e.message() == "the child failed" => to_group += 1,
                Ok(Some(true)) => panic!("round {round}: started, and the child's error was lost"),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        Ok(format!(
            "{ROUNDS} rounds: error to the starter {to_starter}, to the group {to_group}"
        ))
    });
}

#[cfg(feature = "tokio")]
#[test]
fn error_racing_started_by_another_task_is_never_lost_tokio() {
    error_racing_started_by_another_task_is_never_lost(Backend::Tokio);
}

#[cfg(feature = "smol")]
#[test]
fn error_racing_started_by_another_task_is_never_lost_smol() {
    error_racing_started_by_another_task_is_never_lost(Backend::Smol);
}

// ---- No child is polled after its group's future is dropped ----

pin_project_lite::pin_project! {
    /// Counts the polls of `fut` that begin after `dropping` was set.
    struct Probe<F> {
        dropping: Arc<AtomicBool>,
        late_polls: Arc<AtomicUsize>,
        #[pin]
        fut: F,
    }
}

impl<F: std::future::Future> std::future::Future for Probe<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        if this.dropping.load(Ordering::SeqCst) {
            this.late_polls.fetch_add(1, Ordering::SeqCst);
        }
        this.fut.poll(cx)
    }
}

/// Sets `dropping` when its drop starts, before the future inside is dropped.
struct MarkOnDrop<F> {
    dropping: Arc<AtomicBool>,
    fut: std::pin::Pin<Box<F>>,
}

impl<F> Drop for MarkOnDrop<F> {
    fn drop(&mut self) {
        self.dropping.store(true, Ordering::SeqCst);
    }
}

/// Each round: children blocked in a receive (woken by the body's sender being dropped) and
/// in the group's scope (woken by its cancellation); the group's future is dropped. A poll
/// of a child that begins after that drop started breaks the documented rule.
fn no_child_is_polled_after_its_group_is_dropped(backend: Backend) {
    stress(backend, "polls after a group's drop", || async {
        const ROUNDS: usize = 300;
        const CHILDREN: usize = 4;
        let late_polls = Arc::new(AtomicUsize::new(0));
        for round in 0..ROUNDS {
            let dropping = Arc::new(AtomicBool::new(false));
            let flags: Vec<Arc<AtomicBool>> = (0..CHILDREN)
                .map(|_| Arc::new(AtomicBool::new(false)))
                .collect();
            let (d, late, fl) = (dropping.clone(), late_polls.clone(), flags.clone());
            let group = task_group(|tg| async move {
                let (tx, rx) = anyio::create_memory_object_stream::<u8>(0);
                for flag in fl {
                    let rx = rx.clone();
                    tg.start_soon(Probe {
                        dropping: d.clone(),
                        late_polls: late.clone(),
                        fut: async move {
                            let _flag = DropFlag(flag);
                            let _ = rx.receive().await;
                            sleep_forever().await
                        },
                    })?;
                }
                let _tx = tx; // dropped with the body: wakes every receiver
                sleep_forever().await
            });
            let mut group = MarkOnDrop {
                dropping,
                fut: Box::pin(group),
            };
            let blocked = futures_lite::future::or(
                async {
                    let _ = group.fut.as_mut().await;
                    false
                },
                async { wait_all_tasks_blocked().await.is_ok() },
            )
            .await;
            assert!(blocked, "round {round}: the group ended");
            drop(group);
            let refs: Vec<&Arc<AtomicBool>> = flags.iter().collect();
            let give_up = Instant::now() + Duration::from_secs(30);
            while !refs.iter().all(|f| f.load(Ordering::SeqCst)) {
                assert!(
                    Instant::now() < give_up,
                    "round {round}: a child was never aborted"
                );
                sleep(Duration::from_millis(1)).await?;
            }
        }
        let late = late_polls.load(Ordering::SeqCst);
        assert_eq!(
            late, 0,
            "{late} polls of children began after their group's drop"
        );
        Ok(format!(
            "{ROUNDS} groups of {CHILDREN} dropped, no late poll"
        ))
    });
}

#[cfg(feature = "tokio")]
#[test]
fn no_child_is_polled_after_its_group_is_dropped_tokio() {
    no_child_is_polled_after_its_group_is_dropped(Backend::Tokio);
}

#[cfg(feature = "smol")]
#[test]
fn no_child_is_polled_after_its_group_is_dropped_smol() {
    no_child_is_polled_after_its_group_is_dropped(Backend::Smol);
}

// ---- Leaving a group is a checkpoint ----

#[anyio::test]
async fn leaving_an_empty_group_lets_other_tasks_run() -> anyio::Result<()> {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    task_group(|tg| async move {
        tg.start_soon(async move {
            r.store(true, Ordering::SeqCst);
            anyio::Ok(())
        })?;
        // Never awaits anything but empty groups: only their exits can let the sibling run.
        for _ in 0..100_000 {
            if ran.load(Ordering::SeqCst) {
                return Ok(());
            }
            task_group(|_tg| async { anyio::Ok(()) }).await?;
        }
        panic!("100000 empty task groups never let a sibling run");
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn leaving_an_empty_group_in_a_cancelled_scope_is_cancelled() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            let r = task_group(|_tg| async { anyio::Ok(1) }).await;
            assert_eq!(support::kind(r.clone()), ErrorKind::Cancelled);
            r
        })
        .await?;
    assert_eq!(out, None);
    assert!(scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn leaving_an_empty_group_that_cancelled_itself_keeps_the_value() -> anyio::Result<()> {
    let out = task_group(|tg| async move {
        tg.cancel_scope().cancel();
        anyio::Ok(5)
    })
    .await?;
    assert_eq!(out, Some(5));
    Ok(())
}

// ---- Parent ids (AnyIO's test_start_soon_parent_id, test_start_parent_id) ----

#[anyio::test]
async fn a_child_started_by_a_sibling_has_the_host_as_parent() -> anyio::Result<()> {
    let root = anyio::get_current_task().unwrap();
    let parent = task_group(|tg| async move {
        let tg2 = tg.clone();
        let starter = tg.start_soon(async move {
            let sub =
                tg2.start_soon(async { anyio::Ok(anyio::get_current_task().unwrap().parent_id) })?;
            sub.await
        })?;
        starter.await
    })
    .await?;
    assert_eq!(parent, Some(Some(root.id)));
    Ok(())
}

#[anyio::test]
async fn a_started_child_is_reparented_to_the_host_by_started() -> anyio::Result<()> {
    let root = anyio::get_current_task().unwrap();
    let permanent = Arc::new(std::sync::Mutex::new(None));
    let p = permanent.clone();
    let (starter_id, initial) = task_group(|tg| async move {
        let tg2 = tg.clone();
        let starter = tg.start_soon(async move {
            let me = anyio::get_current_task().unwrap().id;
            let initial = tg2
                .start(|status: TaskStatus<Option<u64>>| async move {
                    status.started(anyio::get_current_task().unwrap().parent_id);
                    *p.lock().unwrap() = Some(anyio::get_current_task().unwrap().parent_id);
                    anyio::Ok(())
                })
                .await?;
            anyio::Ok((me, initial))
        })?;
        starter.await
    })
    .await?
    .unwrap();
    assert_eq!(initial, Some(starter_id));
    assert_eq!(*permanent.lock().unwrap(), Some(Some(root.id)));
    Ok(())
}

// ---- Errors ----

#[anyio::test]
async fn several_errors_display_the_names_of_their_tasks() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        tg.task()
            .name("alpha")
            .spawn(async { Err::<(), _>(fail("a broke")) })?;
        tg.task()
            .name("beta")
            .spawn(async { Err::<(), _>(fail("b broke")) })?;
        anyio::Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Multiple);
    let shown = err.to_string();
    assert!(shown.starts_with("2 tasks failed: "), "{shown}");
    assert!(shown.contains("task 'alpha': a broke"), "{shown}");
    assert!(shown.contains("task 'beta': b broke"), "{shown}");
    Ok(())
}

// ---- Child result types (docs/decisions.md, "Child results") ----

/// `?` on a send converts its `SendError<T>` into `anyio::Error` for any item type.
async fn forward<T>(tx: &anyio::MemoryObjectSendStream<T>, item: T) -> anyio::Result<()> {
    tx.send(item).await?;
    Ok(())
}

#[anyio::test]
async fn child_result_idioms_compile_and_run() -> anyio::Result<()> {
    let (tx, rx) = anyio::create_memory_object_stream::<u32>(0);
    // Borrowed, so the receiver outlives the group: the sender ends by cancellation only.
    let rx = &rx;
    let got = task_group(|tg| async move {
        // A child that never returns names its value type: nothing else can infer it.
        tg.start_soon::<_, ()>(async move {
            for i in 0.. {
                forward(&tx, i).await?;
            }
            unreachable!("the receiver stops first");
        })?;
        // A foreign error converts with `?` where anyio::Error: From<E> (io::Error, anyhow),
        // and with Error::other for any other error type.
        let io_child = tg.start_soon(async {
            let n: u32 = std::str::from_utf8(b"7")
                .map_err(Error::other)?
                .parse()
                .map_err(Error::other)?;
            Err::<(), _>(std::io::Error::other("io failure"))?;
            anyio::Ok(n)
        })?;
        let first = rx.receive().await?;
        let io_err = CancelScope::shielded().run(io_child).await.unwrap_err();
        assert_eq!(io_err.kind(), ErrorKind::TaskFailed);
        assert_eq!(io_err.source_as::<Error>().unwrap().kind(), ErrorKind::Io);
        anyio::Ok(first)
    })
    .await;
    // The io child's failure reached the group (and cancelled the sender).
    assert_eq!(support::kind(got), ErrorKind::Io);
    Ok(())
}

/// The wrong way to shut down gracefully (see the recipe in the module docs): the handler
/// is a child of the cancelled scope, and the host's shield does not reach it.
#[anyio::test]
async fn shielding_the_drain_does_not_protect_the_handlers_of_a_cancelled_group()
-> anyio::Result<()> {
    task_group(|tg| async move {
        let handler = tg.start_soon(async {
            sleep(Duration::from_secs(30)).await?;
            anyio::Ok("completed")
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        let drained = CancelScope::shielded().run(handler).await;
        assert_eq!(support::kind(drained), ErrorKind::TaskCancelled);
        anyio::Ok(())
    })
    .await?;
    Ok(())
}
