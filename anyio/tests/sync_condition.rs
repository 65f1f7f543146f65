//! `Condition`: wait and notify over a lock, FIFO notification, cancellation (AnyIO's
//! `TestCondition`, plus the abort protocol).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, Condition, ErrorKind, Event, Lock};
use futures_lite::future::poll_once;

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::Log;
use support::kind;

/// Spawns a task that takes the condition's lock, waits once, and logs `name` once it was
/// notified and holds the lock again.
fn spawn_waiter(
    tg: &anyio::TaskGroup,
    cond: &Condition,
    log: &Log,
    name: &str,
) -> anyio::Result<anyio::TaskHandle<()>> {
    let (cond, log, name) = (cond.clone(), log.clone(), name.to_owned());
    tg.start_soon(async move {
        let mut guard = cond.lock().await?;
        guard.wait().await?;
        assert!(cond.locked());
        log.push(name);
        Ok::<_, anyio::Error>(())
    })
}

#[anyio::test]
async fn notify_all_wakes_a_waiter() -> anyio::Result<()> {
    let cond = Condition::new();
    let c = cond.clone();
    anyio::task_group(|tg| async move {
        let mut guard = c.lock().await?;
        assert!(c.locked());
        let notifier = c.clone();
        tg.start_soon(async move {
            notifier.lock().await?.notify_all();
            Ok::<_, anyio::Error>(())
        })?;
        guard.wait().await?;
        assert!(c.locked(), "the lock is held again when wait returns");
        Ok(())
    })
    .await?;
    assert!(!cond.locked());
    Ok(())
}

#[anyio::test]
async fn try_lock_takes_a_free_lock() -> anyio::Result<()> {
    let cond = Condition::new();
    let guard = cond.try_lock()?;
    assert!(cond.locked());
    drop(guard);
    assert!(!cond.locked());
    Ok(())
}

#[anyio::test]
async fn try_lock_would_block_while_another_task_holds_it() -> anyio::Result<()> {
    let cond = Condition::new();
    let _guard = cond.lock().await?;
    let c = cond.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(c.try_lock()), ErrorKind::WouldBlock);
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    Ok(())
}

/// AnyIO's `test_wait_cancel`: a waiter cancelled while it waits returns `Cancelled`, but
/// only after it took the lock back (shielded), so its guard still holds the lock.
#[anyio::test]
async fn cancelled_wait_takes_the_lock_back_before_returning() -> anyio::Result<()> {
    let cond = Condition::new();
    let notified = Arc::new(AtomicBool::new(false));
    let held_after = Arc::new(AtomicBool::new(false));
    let c = cond.clone();
    let (n, h) = (notified.clone(), held_after.clone());
    anyio::task_group(|tg| async move {
        let waiting = Event::new();
        let w = waiting.clone();
        let (c2, n2) = (c.clone(), n.clone());
        tg.start_soon(async move {
            let mut guard = c2.lock().await?;
            w.set();
            let r = guard.wait().await;
            h.store(c2.locked(), Ordering::SeqCst);
            assert_eq!(kind(r), ErrorKind::Cancelled);
            drop(guard);
            n2.store(true, Ordering::SeqCst);
            Ok::<_, anyio::Error>(())
        })?;
        waiting.wait().await?;
        wait_all_tasks_blocked().await?;
        // The waiter released the lock while it waits; hold it so that the waiter must
        // queue for it after the cancellation.
        let guard = c.lock().await?;
        tg.cancel_scope().cancel();
        CancelScope::shielded()
            .run(wait_all_tasks_blocked())
            .await?;
        assert!(!n.load(Ordering::SeqCst), "still waiting for the lock");
        drop(guard);
        Ok(())
    })
    .await?;
    assert!(held_after.load(Ordering::SeqCst));
    assert!(notified.load(Ordering::SeqCst));
    assert!(!cond.locked());
    Ok(())
}

#[anyio::test]
async fn wait_in_a_cancelled_scope_fails_at_once_keeping_the_lock() -> anyio::Result<()> {
    let cond = Condition::new();
    let scope = CancelScope::new();
    scope.cancel();
    scope
        .run(async {
            let mut guard = cond.try_lock()?;
            assert_eq!(kind(guard.wait().await), ErrorKind::Cancelled);
            assert!(cond.locked());
            assert_eq!(cond.statistics().tasks_waiting, 0);
            drop(guard);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert!(!cond.locked());
    Ok(())
}

/// AnyIO's `test_notification_handover_on_cancel`: the first waiter is cancelled, then
/// `notify(1)` is called: the notification goes to the second waiter.
#[anyio::test]
async fn notification_skips_a_cancelled_waiter() -> anyio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let c = cond.clone();
    let l = log.clone();
    anyio::task_group(|tg| async move {
        let first = spawn_waiter(&tg, &c, &l, "first")?;
        wait_all_tasks_blocked().await?;
        let second = spawn_waiter(&tg, &c, &l, "second")?;
        wait_all_tasks_blocked().await?;
        let guard = c.lock().await?;
        first.cancel();
        guard.notify(1);
        drop(guard);
        anyio::fail_after(Duration::from_secs(10), second).await?;
        assert_eq!(kind(first.await), ErrorKind::TaskCancelled);
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), ["second"]);
    Ok(())
}

/// A waiter that was notified and then dropped (not polled again) passes the notification
/// on to the next waiter.
#[anyio::test]
async fn dropped_waiter_that_was_notified_passes_it_on() -> anyio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let c = cond.clone();
    let l = log.clone();
    anyio::task_group(|tg| async move {
        let mut guard = c.lock().await?;
        let mut wait = Box::pin(guard.wait());
        assert!(
            poll_once(&mut wait).await.is_none(),
            "waiting, lock released"
        );
        assert!(!c.locked());
        let second = spawn_waiter(&tg, &c, &l, "second")?;
        wait_all_tasks_blocked().await?;
        assert_eq!(c.statistics().tasks_waiting, 2);
        c.lock().await?.notify(1); // notifies `wait`, the first in line
        drop(wait); // which passes it on
        anyio::fail_after(Duration::from_secs(10), second).await?;
        // The dropped wait never took the lock back: the guard no longer holds it.
        assert_eq!(kind(guard.wait().await), ErrorKind::InvalidState);
        drop(guard);
        assert!(!c.locked());
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), ["second"]);
    Ok(())
}

#[anyio::test]
async fn notify_wakes_waiters_in_fifo_order() -> anyio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let c = cond.clone();
    let l = log.clone();
    anyio::task_group(|tg| async move {
        for name in ["a", "b", "c"] {
            spawn_waiter(&tg, &c, &l, name)?;
            wait_all_tasks_blocked().await?;
        }
        for _ in 0..3 {
            c.lock().await?.notify(1);
            wait_all_tasks_blocked().await?;
        }
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), ["a", "b", "c"]);
    Ok(())
}

#[anyio::test]
async fn notify_n_wakes_at_most_n_waiters() -> anyio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let c = cond.clone();
    let l = log.clone();
    anyio::task_group(|tg| async move {
        for name in ["a", "b", "c"] {
            spawn_waiter(&tg, &c, &l, name)?;
        }
        wait_all_tasks_blocked().await?;
        c.lock().await?.notify(2);
        wait_all_tasks_blocked().await?;
        assert_eq!(l.events().len(), 2);
        assert_eq!(c.statistics().tasks_waiting, 1);
        c.lock().await?.notify(5); // more than are waiting
        Ok(())
    })
    .await?;
    assert_eq!(log.events().len(), 3);
    Ok(())
}

#[anyio::test]
async fn notify_with_no_waiter_is_not_remembered() -> anyio::Result<()> {
    let cond = Condition::new();
    cond.lock().await?.notify_all();
    let mut guard = cond.lock().await?;
    let out = anyio::move_on_after(Duration::from_millis(20), guard.wait()).await?;
    assert!(out.is_none(), "the earlier notification was not stored");
    assert!(cond.locked());
    Ok(())
}

/// AnyIO's `test_statistics`.
#[anyio::test]
async fn statistics_report_waiters_and_the_lock() -> anyio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let c = cond.clone();
    let l = log.clone();
    anyio::task_group(|tg| async move {
        assert!(!c.statistics().lock_statistics.locked);
        assert_eq!(c.statistics().tasks_waiting, 0);
        {
            let _guard = c.lock().await?;
            assert!(c.statistics().lock_statistics.locked);
            assert_eq!(c.statistics().tasks_waiting, 0);
        }
        for i in 1..=2 {
            spawn_waiter(&tg, &c, &l, "w")?;
            wait_all_tasks_blocked().await?;
            assert_eq!(c.statistics().tasks_waiting, i);
        }
        for i in (0..=1).rev() {
            c.lock().await?.notify(1);
            wait_all_tasks_blocked().await?;
            assert_eq!(c.statistics().tasks_waiting, i);
        }
        Ok(())
    })
    .await?;
    assert!(!cond.statistics().lock_statistics.locked);
    assert_eq!(cond.statistics().tasks_waiting, 0);
    Ok(())
}

/// AnyIO's `test_wait_for`: a notification does not end the wait while the predicate is
/// false.
#[anyio::test]
async fn wait_for_returns_once_the_predicate_holds() -> anyio::Result<()> {
    let cond = Condition::new();
    let value: Arc<Mutex<Option<&str>>> = Arc::default();
    let result: Arc<Mutex<Option<&str>>> = Arc::default();
    let (c, v, r) = (cond.clone(), value.clone(), result.clone());
    anyio::task_group(|tg| async move {
        let (c2, v2, r2) = (c.clone(), v.clone(), r.clone());
        tg.start_soon(async move {
            let mut guard = c2.lock().await?;
            guard.wait_for(|| v2.lock().unwrap().is_some()).await?;
            *r2.lock().unwrap() = *v2.lock().unwrap();
            Ok::<_, anyio::Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        c.lock().await?.notify_all();
        wait_all_tasks_blocked().await?;
        assert_eq!(*r.lock().unwrap(), None);
        let guard = c.lock().await?;
        *v.lock().unwrap() = Some("foo");
        guard.notify_all();
        Ok(())
    })
    .await?;
    assert_eq!(*result.lock().unwrap(), Some("foo"));
    Ok(())
}

#[anyio::test]
async fn condition_over_a_shared_lock_excludes_its_users() -> anyio::Result<()> {
    let lock = Lock::new();
    let cond = Condition::with_lock(lock.clone());
    let guard = cond.lock().await?;
    assert!(lock.locked());
    let l = lock.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(l.try_lock()), ErrorKind::WouldBlock);
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    drop(guard);
    assert!(!lock.locked());
    Ok(())
}

#[test]
fn condition_made_outside_an_event_loop_works_inside_one() {
    let cond = Condition::new();
    assert_eq!(cond.statistics().tasks_waiting, 0);
    for backend in anyio::available_backends() {
        let cond = cond.clone();
        anyio::Runner::new(*backend)
            .run(|| async move { cond.lock().await.map(drop) })
            .unwrap();
    }
}

/// Producers and consumers on several threads pass items through a bounded queue guarded
/// by a condition; consumers wait with random deadlines. Every item is consumed exactly
/// once and no task hangs.
async fn stress_body() -> anyio::Result<String> {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const ITEMS: usize = 5_000;
    let cond = Condition::new();
    let queue: Arc<Mutex<Vec<usize>>> = Arc::default();
    let seen: Arc<Mutex<Vec<bool>>> = Arc::new(Mutex::new(vec![false; PRODUCERS * ITEMS]));
    let consumed = Arc::new(AtomicUsize::new(0));
    let timeouts = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (cond, queue, seen, consumed, timeouts) = (
            cond.clone(),
            queue.clone(),
            seen.clone(),
            consumed.clone(),
            timeouts.clone(),
        );
        async move {
            for p in 0..PRODUCERS {
                let (cond, queue) = (cond.clone(), queue.clone());
                tg.start_soon(async move {
                    for i in 0..ITEMS {
                        let guard = cond.lock().await?;
                        queue.lock().unwrap().push(p * ITEMS + i);
                        guard.notify(1);
                    }
                    Ok::<_, anyio::Error>(())
                })?;
            }
            for c in 0..CONSUMERS {
                let (cond, queue, seen, consumed, timeouts) = (
                    cond.clone(),
                    queue.clone(),
                    seen.clone(),
                    consumed.clone(),
                    timeouts.clone(),
                );
                tg.start_soon(async move {
                    let mut rng = support::Rng::new(c as u64 + 42);
                    while consumed.load(Ordering::SeqCst) < PRODUCERS * ITEMS {
                        let timeout = Duration::from_micros(rng.below(500));
                        let take = async {
                            let mut guard = cond.lock().await?;
                            guard
                                .wait_for(|| {
                                    !queue.lock().unwrap().is_empty()
                                        || consumed.load(Ordering::SeqCst) >= PRODUCERS * ITEMS
                                })
                                .await?;
                            Ok::<_, anyio::Error>(queue.lock().unwrap().pop())
                        };
                        match anyio::move_on_after(timeout, take).await? {
                            Some(Some(item)) => {
                                let mut seen = seen.lock().unwrap();
                                assert!(!seen[item], "item {item} consumed twice");
                                seen[item] = true;
                                consumed.fetch_add(1, Ordering::SeqCst);
                            }
                            Some(None) => {}
                            None => {
                                timeouts.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    // Wake the other consumers so that they see the end.
                    cond.lock().await?.notify_all();
                    Ok::<_, anyio::Error>(())
                })?;
            }
            Ok(())
        }
    })
    .await?;
    assert!(seen.lock().unwrap().iter().all(|s| *s));
    assert!(!cond.locked());
    Ok(format!(
        "{PRODUCERS} producers x {ITEMS} items, {CONSUMERS} consumers, {} consumer timeouts",
        timeouts.load(Ordering::Relaxed)
    ))
}

#[test]
fn stress_multi_thread_tokio() {
    support::stress(Backend::Tokio, "condition stress", stress_body);
}

#[test]
fn stress_multi_thread_smol() {
    support::stress(Backend::Smol, "condition stress", stress_body);
}

#[test]
fn handles_guards_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let cond = Condition::new();
    assert_send_sync(&cond);
    assert_send(&cond.lock());
    let mut guard = cond.try_lock().unwrap();
    assert_send(&guard.wait());
    assert_send(&guard.wait_for(|| true));
    assert_send_sync(&guard);
}

/// The condition's lock, as the shared scenario sees it.
impl handoff::Contended for Condition {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(self.try_lock()?))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move { Ok(Box::new(self.lock().await?) as handoff::Held<'_>) })
    }

    fn tasks_waiting(&self) -> usize {
        self.statistics().lock_statistics.tasks_waiting
    }
}

/// The condition's notifications: a waiter is a task in `wait()`, the hand-off a
/// `notify(1)`.
struct Notifications(Condition);

/// Notifies one waiter when dropped (the lock is free then: every task waits).
struct NotifyOnDrop<'a>(&'a Condition);

impl Drop for NotifyOnDrop<'_> {
    fn drop(&mut self) {
        let guard = self
            .0
            .try_lock()
            .expect("the lock is free while tasks wait");
        guard.notify(1);
    }
}

impl handoff::Contended for Notifications {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(NotifyOnDrop(&self.0)))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move {
            let mut guard = self.0.lock().await?;
            guard.wait().await?;
            Ok(Box::new(guard) as handoff::Held<'_>)
        })
    }

    fn tasks_waiting(&self) -> usize {
        self.0.statistics().tasks_waiting
    }
}

/// Issue 7: a `lock()` or `wait()` future polled once and dropped leaves no trace, and a
/// lock or notification handed to it passes on (the shared scenario of
/// `support/handoff.rs`).
#[anyio::test]
async fn abandoned_lock_and_wait_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(Condition::new).await?;
    handoff::abandoned_waits_leave_no_trace(|| Notifications(Condition::new())).await
}

/// A cancelled `lock()` of the condition's lock loses no hand-off and takes none (the
/// shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn cancelled_lock_acquisitions_lose_nothing() -> anyio::Result<()> {
    handoff::cancelled_acquisitions_lose_nothing(Condition::new).await
}
