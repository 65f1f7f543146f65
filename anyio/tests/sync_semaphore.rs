//! `Semaphore`: permits, max_value, FIFO hand-off, fast_acquire and cancellation (AnyIO's
//! `TestSemaphore`, plus the abort protocol).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, ErrorKind, Event, Semaphore};
use futures_lite::future::poll_once;

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::Log;
use support::kind;

#[anyio::test]
async fn permits_bound_the_tasks_inside() -> anyio::Result<()> {
    let semaphore = Semaphore::new(2);
    anyio::task_group(|tg| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..2 {
                let s = semaphore.clone();
                tg.start_soon(async move {
                    let _permit = s.acquire().await?;
                    assert!(s.value() <= 1);
                    Ok::<_, anyio::Error>(())
                })?;
            }
            Ok(())
        }
    })
    .await?;
    assert_eq!(semaphore.value(), 2);
    Ok(())
}

#[anyio::test]
async fn forgotten_permit_is_given_back_by_release() -> anyio::Result<()> {
    let semaphore = Semaphore::new(2);
    anyio::task_group(|tg| {
        let semaphore = semaphore.clone();
        async move {
            for _ in 0..2 {
                let s = semaphore.clone();
                tg.start_soon(async move {
                    s.acquire().await?.forget();
                    assert!(s.value() <= 1);
                    s.release()
                })?;
            }
            Ok(())
        }
    })
    .await?;
    assert_eq!(semaphore.value(), 2);
    Ok(())
}

/// `fast_acquire`: taking a free permit is not a schedule point, so a thousand acquisitions
/// run in one poll.
#[anyio::test]
async fn fast_acquire_never_yields_when_a_permit_is_free() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1).with_fast_acquire(true);
    assert!(semaphore.fast_acquire());
    let s = semaphore.clone();
    let many = poll_once(Box::pin(async move {
        for _ in 0..1000 {
            drop(s.acquire().await?);
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(matches!(many, Some(Ok(()))), "finished without yielding");
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

/// Without `fast_acquire`, taking a free permit is a schedule point (under the cooperative
/// budget). A future dropped while it yields, holding a permit, gives it back.
#[anyio::test]
async fn plain_acquire_is_a_schedule_point() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1);
    let s = semaphore.clone();
    let many = poll_once(Box::pin(async move {
        for _ in 0..1000 {
            drop(s.acquire().await?);
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(many.is_none(), "a loop of acquisitions yielded");
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

#[anyio::test]
async fn try_acquire_takes_a_permit_then_would_block() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1);
    let permit = semaphore.try_acquire()?;
    assert_eq!(semaphore.value(), 0);
    assert_eq!(kind(semaphore.try_acquire()), ErrorKind::WouldBlock);
    drop(permit);
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

#[anyio::test]
async fn acquire_in_cancelled_scope_fails_even_when_a_permit_is_free() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1).with_fast_acquire(true);
    let scope = CancelScope::new();
    scope.cancel();
    let s = semaphore.clone();
    scope
        .run(async move {
            assert_eq!(kind(s.acquire().await), ErrorKind::Cancelled);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

#[anyio::test]
async fn max_value_is_reported() -> anyio::Result<()> {
    assert_eq!(Semaphore::with_max_value(0, 2)?.max_value(), Some(2));
    assert_eq!(Semaphore::new(0).max_value(), None);
    Ok(())
}

#[anyio::test]
async fn release_past_max_value_is_an_error() -> anyio::Result<()> {
    let semaphore = Semaphore::with_max_value(1, 2)?;
    semaphore.release()?;
    assert_eq!(kind(semaphore.release()), ErrorKind::InvalidState);
    assert_eq!(semaphore.value(), 2);
    Ok(())
}

#[anyio::test]
async fn max_value_below_initial_value_is_an_error() -> anyio::Result<()> {
    assert_eq!(
        kind(Semaphore::with_max_value(3, 2)),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

/// A permit dropped while extra `release` calls have filled the semaphore up to its
/// maximum cannot fail: the value stays at the maximum.
#[anyio::test]
async fn dropping_a_permit_at_max_value_keeps_the_value_at_max() -> anyio::Result<()> {
    let semaphore = Semaphore::with_max_value(1, 1)?;
    let permit = semaphore.acquire().await?;
    semaphore.release()?;
    drop(permit);
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

#[anyio::test]
async fn statistics_report_waiters() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1);
    assert_eq!(semaphore.statistics().tasks_waiting, 0);
    anyio::task_group(|tg| {
        let semaphore = semaphore.clone();
        async move {
            let permit = semaphore.acquire().await?;
            assert_eq!(semaphore.statistics().tasks_waiting, 0);
            for i in 1..=2 {
                let s = semaphore.clone();
                tg.start_soon(async move { s.acquire().await.map(drop) })?;
                wait_all_tasks_blocked().await?;
                assert_eq!(semaphore.statistics().tasks_waiting, i);
            }
            drop(permit);
            Ok(())
        }
    })
    .await?;
    assert_eq!(semaphore.statistics().tasks_waiting, 0);
    Ok(())
}

/// AnyIO's `test_acquire_race`: a permit released while a task waits goes to that task,
/// not to whoever calls `try_acquire` first.
#[anyio::test]
async fn released_permit_goes_to_the_waiter_not_to_try_acquire() -> anyio::Result<()> {
    let semaphore = Semaphore::new(1);
    anyio::task_group(|tg| {
        let semaphore = semaphore.clone();
        async move {
            semaphore.try_acquire()?.forget();
            let (s, done) = (semaphore.clone(), Event::new());
            let d = done.clone();
            tg.start_soon(async move {
                let _permit = s.acquire().await?;
                d.wait().await
            })?;
            wait_all_tasks_blocked().await?;
            semaphore.release()?;
            assert_eq!(kind(semaphore.try_acquire()), ErrorKind::WouldBlock);
            done.set();
            Ok(())
        }
    })
    .await?;
    assert_eq!(semaphore.value(), 1);
    Ok(())
}

#[anyio::test]
async fn waiters_get_permits_in_fifo_order() -> anyio::Result<()> {
    let semaphore = Semaphore::new(0);
    let log = Log::new();
    anyio::task_group(|tg| {
        let (semaphore, log) = (semaphore.clone(), log.clone());
        async move {
            for i in 0..5 {
                let (s, g) = (semaphore.clone(), log.clone());
                tg.start_soon(async move {
                    let _permit = s.acquire().await?;
                    g.push(i.to_string());
                    anyio::lowlevel::checkpoint().await
                })?;
                wait_all_tasks_blocked().await?;
            }
            semaphore.release()?;
            Ok(())
        }
    })
    .await?;
    assert_eq!(log.events(), ["0", "1", "2", "3", "4"]);
    Ok(())
}

#[anyio::test]
async fn deadline_cancels_a_waiting_acquire() -> anyio::Result<()> {
    let semaphore = Semaphore::new(0);
    let out = anyio::move_on_after(Duration::from_millis(20), semaphore.acquire()).await?;
    assert!(out.is_none());
    assert_eq!(semaphore.statistics().tasks_waiting, 0);
    assert_eq!(semaphore.value(), 0);
    Ok(())
}

#[test]
fn semaphore_made_outside_an_event_loop_works_inside_one() {
    let semaphore = Semaphore::with_max_value(1, 3).unwrap();
    assert_eq!(semaphore.value(), 1);
    assert_eq!(semaphore.max_value(), Some(3));
    assert_eq!(semaphore.statistics().tasks_waiting, 0);
    for backend in anyio::available_backends() {
        let semaphore = semaphore.clone();
        anyio::Runner::new(*backend)
            .run(|| async move { semaphore.acquire().await.map(drop) })
            .unwrap();
    }
    assert_eq!(semaphore.value(), 1);
}

/// Tasks on several threads take permits of a 3-permit semaphore with a checkpoint inside,
/// cancelled at random moments: never more than 3 inside, every permit back at the end.
async fn stress_body() -> anyio::Result<String> {
    const PERMITS: usize = 3;
    const TASKS: usize = 16;
    const ROUNDS: usize = 2_000;
    let semaphore = Semaphore::with_max_value(PERMITS, PERMITS)?;
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (semaphore, inside, done, cancelled) = (
            semaphore.clone(),
            inside.clone(),
            done.clone(),
            cancelled.clone(),
        );
        async move {
            for t in 0..TASKS {
                let (semaphore, inside, done, cancelled) = (
                    semaphore.clone(),
                    inside.clone(),
                    done.clone(),
                    cancelled.clone(),
                );
                tg.start_soon(async move {
                    let mut rng = support::Rng::new(t as u64 + 100);
                    for _ in 0..ROUNDS {
                        let timeout = Duration::from_micros(rng.below(300));
                        let section = async {
                            let _permit = semaphore.acquire().await?;
                            assert!(inside.fetch_add(1, Ordering::SeqCst) < PERMITS);
                            anyio::lowlevel::yield_now().await;
                            let r = anyio::lowlevel::checkpoint().await;
                            inside.fetch_sub(1, Ordering::SeqCst);
                            r
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
    assert_eq!(semaphore.value(), PERMITS);
    assert_eq!(semaphore.statistics().tasks_waiting, 0);
    let (done, cancelled) = (
        done.load(Ordering::Relaxed),
        cancelled.load(Ordering::Relaxed),
    );
    assert_eq!(done + cancelled, TASKS * ROUNDS);
    Ok(format!(
        "{TASKS} tasks x {ROUNDS} sections, {PERMITS} permits: {done} completed, {cancelled} cancelled"
    ))
}

#[test]
fn stress_multi_thread_tokio() {
    support::stress(Backend::Tokio, "semaphore stress", stress_body);
}

#[test]
fn stress_multi_thread_smol() {
    support::stress(Backend::Smol, "semaphore stress", stress_body);
}

#[test]
fn handles_permits_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let semaphore = Semaphore::new(1);
    assert_send_sync(&semaphore);
    assert_send(&semaphore.acquire());
    assert_send_sync(&semaphore.try_acquire().unwrap());
}

/// Issue 7: a permit given back to a semaphore at `usize::MAX` (its maximum) used to
/// overflow (a panic in debug builds, a value wrapped to 0 in release ones). A drop cannot
/// fail, so the value saturates at the maximum.
#[anyio::test]
async fn permit_dropped_at_usize_max_saturates() -> anyio::Result<()> {
    let semaphore = Semaphore::with_max_value(usize::MAX, usize::MAX)?;
    let permit = semaphore.acquire().await?;
    semaphore.release()?;
    assert_eq!(semaphore.value(), usize::MAX);
    drop(permit);
    assert_eq!(semaphore.value(), usize::MAX);
    assert_eq!(kind(semaphore.release()), ErrorKind::InvalidState);
    Ok(())
}

/// Without a maximum, `usize::MAX` is the most a semaphore can count: a release past it is
/// the same error as a release past `max_value`, not a permit silently lost.
#[anyio::test]
async fn release_past_usize_max_is_an_error() -> anyio::Result<()> {
    let semaphore = Semaphore::new(usize::MAX);
    assert_eq!(kind(semaphore.release()), ErrorKind::InvalidState);
    assert_eq!(semaphore.value(), usize::MAX);
    let permit = semaphore.try_acquire()?;
    assert_eq!(semaphore.value(), usize::MAX - 1);
    semaphore.release()?;
    drop(permit); // saturates: a drop cannot fail
    assert_eq!(semaphore.value(), usize::MAX);
    Ok(())
}

/// A huge count hands permits to waiters as usual.
#[anyio::test]
async fn semaphore_near_usize_max_hands_off_to_waiters() -> anyio::Result<()> {
    let semaphore = Semaphore::with_max_value(0, usize::MAX)?;
    anyio::task_group(|tg| {
        let semaphore = semaphore.clone();
        async move {
            let waiter = semaphore.clone();
            let h = tg.start_soon(async move {
                waiter.acquire().await?.forget();
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            semaphore.release()?;
            h.await
        }
    })
    .await?;
    assert_eq!(semaphore.value(), 0);
    Ok(())
}

impl handoff::Contended for Semaphore {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(self.try_acquire()?))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move { Ok(Box::new(self.acquire().await?) as handoff::Held<'_>) })
    }

    fn tasks_waiting(&self) -> usize {
        self.statistics().tasks_waiting
    }
}

/// Issue 7: an `acquire()` future polled once and dropped leaves no trace, and a permit
/// handed to it passes on (the shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn abandoned_acquire_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(|| Semaphore::new(1)).await?;
    handoff::abandoned_waits_leave_no_trace(|| {
        Semaphore::with_max_value(1, 1)
            .expect("1 <= 1")
            .with_fast_acquire(true)
    })
    .await
}

/// A cancelled `acquire()` loses no permit and takes none (AnyIO's
/// `test_cancel_during_acquire`, `test_cancelled_after_acquire`, completion wins: the
/// shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn cancelled_acquisitions_lose_nothing() -> anyio::Result<()> {
    handoff::cancelled_acquisitions_lose_nothing(|| Semaphore::new(1)).await?;
    handoff::cancelled_acquisitions_lose_nothing(|| Semaphore::new(1).with_fast_acquire(true)).await
}
