//! `Lock`: exclusion, FIFO hand-off, fast_acquire, ownership errors and cancellation
//! (AnyIO's `TestLock`, plus the abort protocol).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, ErrorKind, Event, Lock, LockGuard};
use futures_lite::future::poll_once;

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::Log;
use support::kind;

#[anyio::test]
async fn guard_excludes_other_task_until_dropped() -> anyio::Result<()> {
    let lock = Lock::new();
    let log = Log::new();
    let guard = lock.lock().await?;
    anyio::task_group(|tg| {
        let (lock, log) = (lock.clone(), log.clone());
        async move {
            let (l, g) = (lock.clone(), log.clone());
            tg.start_soon(async move {
                assert!(l.locked());
                let _guard = l.lock().await?;
                g.push("2");
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            log.push("1");
            drop(guard);
            Ok(())
        }
    })
    .await?;
    assert!(!lock.locked());
    assert_eq!(log.events(), ["1", "2"]);
    Ok(())
}

#[anyio::test]
async fn forgotten_guard_is_released_by_hand() -> anyio::Result<()> {
    let lock = Lock::new();
    let log = Log::new();
    lock.lock().await?.forget();
    anyio::task_group(|tg| {
        let (lock, log) = (lock.clone(), log.clone());
        async move {
            let (l, g) = (lock.clone(), log.clone());
            tg.start_soon(async move {
                l.lock().await?.forget();
                g.push("2");
                l.release()
            })?;
            wait_all_tasks_blocked().await?;
            log.push("1");
            lock.release()
        }
    })
    .await?;
    assert!(!lock.locked());
    assert_eq!(log.events(), ["1", "2"]);
    Ok(())
}

/// `fast_acquire`: uncontended acquisitions are not schedule points, so a thousand of them
/// run in one poll.
#[anyio::test]
async fn fast_acquire_never_yields_when_uncontended() -> anyio::Result<()> {
    let lock = Lock::new().with_fast_acquire(true);
    assert!(lock.fast_acquire());
    let lock2 = lock.clone();
    let many = poll_once(Box::pin(async move {
        for _ in 0..1000 {
            lock2.lock().await?.unlock();
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(matches!(many, Some(Ok(()))), "finished without yielding");
    assert!(!lock.locked());
    Ok(())
}

/// Without `fast_acquire`, an uncontended acquisition is a schedule point (under the
/// cooperative budget): a loop of them yields. A future dropped while it yields, holding
/// the lock, releases it.
#[anyio::test]
async fn plain_acquire_is_a_schedule_point() -> anyio::Result<()> {
    let lock = Lock::new();
    let lock2 = lock.clone();
    let many = poll_once(Box::pin(async move {
        for _ in 0..1000 {
            lock2.lock().await?.unlock();
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(many.is_none(), "a loop of acquisitions yielded");
    assert!(!lock.locked(), "dropping the loop released the lock");
    Ok(())
}

#[anyio::test]
async fn try_lock_takes_a_free_lock() -> anyio::Result<()> {
    let lock = Lock::new();
    let guard = lock.try_lock()?;
    assert!(lock.locked());
    drop(guard);
    assert!(!lock.locked());
    Ok(())
}

#[anyio::test]
async fn try_lock_would_block_while_another_task_holds_it() -> anyio::Result<()> {
    let lock = Lock::new();
    let _guard = lock.lock().await?;
    let l = lock.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(l.try_lock()), ErrorKind::WouldBlock);
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn acquiring_twice_in_one_task_is_an_error() -> anyio::Result<()> {
    for fast in [false, true] {
        let lock = Lock::new().with_fast_acquire(fast);
        let _guard = lock.lock().await?;
        assert_eq!(kind(lock.lock().await), ErrorKind::InvalidState);
        assert_eq!(kind(lock.try_lock()), ErrorKind::InvalidState);
        assert!(lock.locked());
    }
    Ok(())
}

#[anyio::test]
async fn releasing_an_unlocked_lock_is_an_error() -> anyio::Result<()> {
    let lock = Lock::new();
    assert_eq!(kind(lock.release()), ErrorKind::InvalidState);
    lock.lock().await?.forget();
    lock.release()?;
    assert_eq!(
        kind(lock.release()),
        ErrorKind::InvalidState,
        "released twice"
    );
    assert!(!lock.locked());
    Ok(())
}

#[anyio::test]
async fn releasing_another_tasks_lock_is_an_error() -> anyio::Result<()> {
    let lock = Lock::new();
    lock.lock().await?.forget();
    let l = lock.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(l.release()), ErrorKind::InvalidState);
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    assert!(lock.locked());
    lock.release()
}

#[anyio::test]
async fn lock_in_cancelled_scope_fails_even_when_free() -> anyio::Result<()> {
    let lock = Lock::new().with_fast_acquire(true);
    let scope = CancelScope::new();
    scope.cancel();
    let l = lock.clone();
    scope
        .run(async move {
            assert_eq!(kind(l.lock().await), ErrorKind::Cancelled);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert!(!lock.locked());
    Ok(())
}

/// Runs a child that takes `lock`, reports it through `held`, and releases it once
/// `release` is set.
fn spawn_holder(
    tg: &anyio::TaskGroup,
    lock: &Lock,
    held: &Event,
    release: &Event,
) -> anyio::Result<anyio::TaskHandle<()>> {
    let (lock, held, release) = (lock.clone(), held.clone(), release.clone());
    tg.start_soon(async move {
        let _guard = lock.lock().await?;
        held.set();
        release.wait().await
    })
}

#[anyio::test]
async fn waiters_get_the_lock_in_fifo_order() -> anyio::Result<()> {
    let lock = Lock::new();
    let log = Log::new();
    let guard = lock.lock().await?;
    anyio::task_group(|tg| {
        let (lock, log) = (lock.clone(), log.clone());
        async move {
            for i in 0..5 {
                let (l, g) = (lock.clone(), log.clone());
                tg.start_soon(async move {
                    let _guard = l.lock().await?;
                    g.push(i.to_string());
                    anyio::lowlevel::checkpoint().await
                })?;
                wait_all_tasks_blocked().await?;
            }
            drop(guard);
            Ok(())
        }
    })
    .await?;
    assert_eq!(log.events(), ["0", "1", "2", "3", "4"]);
    Ok(())
}

#[anyio::test]
async fn statistics_report_waiters() -> anyio::Result<()> {
    let lock = Lock::new();
    let stats = lock.statistics();
    assert!(!stats.locked);
    assert_eq!(stats.owner, None);
    assert_eq!(stats.tasks_waiting, 0);
    anyio::task_group(|tg| {
        let lock = lock.clone();
        async move {
            let guard = lock.lock().await?;
            assert!(lock.statistics().locked);
            assert_eq!(lock.statistics().tasks_waiting, 0);
            for i in 1..=2 {
                let l = lock.clone();
                tg.start_soon(async move { l.lock().await.map(drop) })?;
                wait_all_tasks_blocked().await?;
                assert_eq!(lock.statistics().tasks_waiting, i);
            }
            drop(guard);
            Ok(())
        }
    })
    .await?;
    let stats = lock.statistics();
    assert!(!stats.locked);
    assert_eq!(stats.tasks_waiting, 0);
    Ok(())
}

/// AnyIO's `test_owner_after_release`: the owner is the task that holds the lock, and a
/// release makes the next waiter the owner at once.
#[anyio::test]
async fn owner_is_the_holding_task_and_passes_to_the_next_waiter() -> anyio::Result<()> {
    let lock = Lock::new();
    let go = Event::new();
    anyio::task_group(|tg| {
        let (lock, go) = (lock.clone(), go.clone());
        async move {
            let (l, g) = (lock.clone(), go.clone());
            tg.task().name("task1").spawn(async move {
                let guard = l.lock().await?;
                assert_eq!(
                    l.statistics().owner.map(|o| o.name).as_deref(),
                    Some("task1")
                );
                g.wait().await?;
                drop(guard);
                assert_eq!(
                    l.statistics().owner.map(|o| o.name).as_deref(),
                    Some("task2")
                );
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            let l = lock.clone();
            tg.task()
                .name("task2")
                .spawn(async move { l.lock().await.map(LockGuard::forget) })?;
            wait_all_tasks_blocked().await?;
            go.set();
            Ok(())
        }
    })
    .await?;
    assert!(lock.locked(), "task2 kept it");
    Ok(())
}

#[anyio::test]
async fn deadline_cancels_a_waiting_lock() -> anyio::Result<()> {
    let lock = Lock::new();
    let l = lock.clone();
    anyio::task_group(|tg| async move {
        let (held, release) = (Event::new(), Event::new());
        spawn_holder(&tg, &l, &held, &release)?;
        held.wait().await?;
        let out = anyio::move_on_after(Duration::from_millis(20), l.lock()).await?;
        assert!(out.is_none());
        assert_eq!(l.statistics().tasks_waiting, 0);
        release.set();
        Ok(())
    })
    .await?;
    assert!(!lock.locked());
    Ok(())
}

#[test]
fn lock_made_outside_an_event_loop_works_inside_one() {
    let lock = Lock::new();
    let stats = lock.statistics();
    assert!(!stats.locked);
    assert_eq!(stats.owner, None);
    assert_eq!(stats.tasks_waiting, 0);
    for backend in anyio::available_backends() {
        let lock = lock.clone();
        anyio::Runner::new(*backend)
            .run(|| async move { lock.lock().await.map(drop) })
            .unwrap();
    }
    assert!(!lock.locked());
}

/// Many tasks on several threads take the lock with a checkpoint inside, some of them
/// cancelled at random while they wait or hold it: the section never has two tasks in it,
/// nothing is left locked, and every completed section is counted.
async fn stress_body() -> anyio::Result<String> {
    const TASKS: usize = 16;
    const ROUNDS: usize = 2_000;
    let lock = Lock::new();
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (lock, inside, done, cancelled) = (
            lock.clone(),
            inside.clone(),
            done.clone(),
            cancelled.clone(),
        );
        async move {
            for t in 0..TASKS {
                let (lock, inside, done, cancelled) = (
                    lock.clone(),
                    inside.clone(),
                    done.clone(),
                    cancelled.clone(),
                );
                tg.start_soon(async move {
                    let mut rng = support::Rng::new(t as u64 + 1);
                    for _ in 0..ROUNDS {
                        let timeout = Duration::from_micros(rng.below(300));
                        let section = async {
                            let _guard = lock.lock().await?;
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                            anyio::lowlevel::yield_now().await;
                            anyio::lowlevel::checkpoint().await.inspect_err(|_| {
                                inside.fetch_sub(1, Ordering::SeqCst);
                            })?;
                            assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1);
                            Ok::<_, anyio::Error>(())
                        };
                        match anyio::move_on_after(timeout, section).await? {
                            Some(()) => done.fetch_add(1, Ordering::Relaxed),
                            None => cancelled.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    Ok::<_, anyio::Error>(())
                })?;
            }
            Ok(())
        }
    })
    .await?;
    assert!(!lock.locked());
    assert_eq!(lock.statistics().tasks_waiting, 0);
    let (done, cancelled) = (
        done.load(Ordering::Relaxed),
        cancelled.load(Ordering::Relaxed),
    );
    assert_eq!(done + cancelled, TASKS * ROUNDS);
    Ok(format!(
        "{TASKS} tasks x {ROUNDS} sections: {done} completed, {cancelled} cancelled"
    ))
}

#[test]
fn stress_multi_thread_tokio() {
    support::stress(Backend::Tokio, "lock stress", stress_body);
}

#[test]
fn stress_multi_thread_smol() {
    support::stress(Backend::Smol, "lock stress", stress_body);
}

#[test]
fn handles_guards_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let lock = Lock::new();
    assert_send_sync(&lock);
    assert_send(&lock.lock());
    assert_send_sync(&lock.try_lock().unwrap());
    assert_send_sync(&lock.statistics());
}

impl handoff::Contended for Lock {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(self.try_lock()?))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move { Ok(Box::new(self.lock().await?) as handoff::Held<'_>) })
    }

    fn tasks_waiting(&self) -> usize {
        self.statistics().tasks_waiting
    }
}

/// Issue 7: a `lock()` future polled once and dropped leaves no trace, and a lock handed
/// to it passes on (the shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn abandoned_lock_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(Lock::new).await?;
    handoff::abandoned_waits_leave_no_trace(|| Lock::new().with_fast_acquire(true)).await
}

/// A cancelled `lock()` loses no hand-off and takes none (AnyIO's
/// `test_cancel_during_acquire`, `test_cancelled_after_acquire`, completion wins: the
/// shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn cancelled_acquisitions_lose_nothing() -> anyio::Result<()> {
    handoff::cancelled_acquisitions_lose_nothing(Lock::new).await?;
    handoff::cancelled_acquisitions_lose_nothing(|| Lock::new().with_fast_acquire(true)).await
}
