//! `Event`: set, wait, statistics and cancellation (AnyIO's `TestEvent`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, ErrorKind, Event};
use futures_lite::future::poll_once;

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::kind;

#[anyio::test]
async fn set_wakes_the_waiter() -> anyio::Result<()> {
    let event = Event::new();
    anyio::task_group(|tg| {
        let event = event.clone();
        async move {
            let e = event.clone();
            tg.start_soon(async move {
                assert!(!e.is_set());
                e.set();
                Ok::<_, anyio::Error>(())
            })?;
            event.wait().await
        }
    })
    .await?;
    assert!(event.is_set());
    Ok(())
}

#[anyio::test]
async fn set_wakes_every_waiter() -> anyio::Result<()> {
    let event = Event::new();
    let woken = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (event, woken) = (event.clone(), woken.clone());
        async move {
            for _ in 0..5 {
                let (e, w) = (event.clone(), woken.clone());
                tg.start_soon(async move {
                    e.wait().await?;
                    w.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, anyio::Error>(())
                })?;
            }
            wait_all_tasks_blocked().await?;
            assert_eq!(woken.load(Ordering::SeqCst), 0);
            event.set();
            Ok(())
        }
    })
    .await?;
    assert_eq!(woken.load(Ordering::SeqCst), 5);
    Ok(())
}

#[anyio::test]
async fn wait_on_a_set_event_returns_at_once() -> anyio::Result<()> {
    let event = Event::new();
    event.set();
    event.set(); // a second set changes nothing
    anyio::fail_after(Duration::from_secs(10), event.wait()).await?;
    assert!(event.is_set());
    Ok(())
}

/// AnyIO's `test_event_cancel`: the waiter's scope is cancelled and the event set before
/// the waiter first runs: its wait is a checkpoint in a cancelled scope, so it fails.
#[anyio::test]
async fn wait_in_a_cancelled_scope_fails_even_when_set() -> anyio::Result<()> {
    let event = Event::new();
    let woke = Arc::new(AtomicBool::new(false));
    let scope = CancelScope::new();
    scope.cancel();
    event.set();
    let out = scope
        .run(async {
            event.wait().await?;
            woke.store(true, Ordering::SeqCst);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(out, None);
    assert!(!woke.load(Ordering::SeqCst));
    Ok(())
}

/// AnyIO's `test_event_wait_before_set_before_cancel`: the event is set, then the waiter's
/// scope is cancelled: the wait was complete, so it returns normally.
#[anyio::test]
async fn set_before_cancel_lets_the_wait_return() -> anyio::Result<()> {
    let event = Event::new();
    let woke = Arc::new(AtomicBool::new(false));
    let scope = CancelScope::new();
    let mut waiter = Box::pin(scope.run(async {
        event.wait().await?;
        woke.store(true, Ordering::SeqCst);
        Ok::<_, anyio::Error>(())
    }));
    assert!(poll_once(&mut waiter).await.is_none(), "waiting");
    event.set();
    scope.cancel();
    assert_eq!(waiter.await?, Some(()));
    assert!(woke.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn cancelled_wait_leaves_no_waiter_behind() -> anyio::Result<()> {
    let event = Event::new();
    anyio::task_group(|tg| {
        let event = event.clone();
        async move {
            let e = event.clone();
            let waiter = tg.start_soon(async move { e.wait().await })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(event.statistics().tasks_waiting, 1);
            waiter.cancel();
            assert_eq!(kind(waiter.await), ErrorKind::TaskCancelled);
            assert_eq!(event.statistics().tasks_waiting, 0);
            Ok(())
        }
    })
    .await?;
    assert!(!event.is_set());
    Ok(())
}

#[anyio::test]
async fn dropped_wait_leaves_no_waiter_behind() -> anyio::Result<()> {
    let event = Event::new();
    let mut wait = Box::pin(event.wait());
    assert!(poll_once(&mut wait).await.is_none());
    assert_eq!(event.statistics().tasks_waiting, 1);
    drop(wait);
    assert_eq!(event.statistics().tasks_waiting, 0);
    event.set();
    Ok(())
}

#[anyio::test]
async fn deadline_cancels_a_wait() -> anyio::Result<()> {
    let event = Event::new();
    let out = anyio::move_on_after(Duration::from_millis(20), event.wait()).await?;
    assert!(out.is_none());
    assert_eq!(event.statistics().tasks_waiting, 0);
    Ok(())
}

#[anyio::test]
async fn statistics_report_waiters() -> anyio::Result<()> {
    let event = Event::new();
    assert_eq!(event.statistics().tasks_waiting, 0);
    anyio::task_group(|tg| {
        let event = event.clone();
        async move {
            for i in 1..=2 {
                let e = event.clone();
                tg.start_soon(async move { e.wait().await })?;
                wait_all_tasks_blocked().await?;
                assert_eq!(event.statistics().tasks_waiting, i);
            }
            event.set();
            assert_eq!(event.statistics().tasks_waiting, 0);
            Ok(())
        }
    })
    .await?;
    assert_eq!(event.statistics().tasks_waiting, 0);
    Ok(())
}

#[test]
fn event_made_and_set_outside_an_event_loop_works_inside_one() {
    let event = Event::new();
    assert!(!event.is_set());
    assert_eq!(event.statistics().tasks_waiting, 0);
    event.set();
    assert!(event.is_set());
    for backend in anyio::available_backends() {
        let event = event.clone();
        anyio::Runner::new(*backend)
            .run(|| async move { event.wait().await })
            .unwrap();
    }
}

/// Pairs of tasks on several threads play ping-pong through fresh events (every round trip
/// completes), while other tasks wait with random deadlines on events set after random
/// delays (every wait ends, set or cancelled, and leaves no waiter behind).
async fn stress_body() -> anyio::Result<String> {
    const PAIRS: usize = 8;
    const ROUNDS: usize = 2_000;
    let round_trips = Arc::new(AtomicUsize::new(0));
    let cancelled_waits = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (round_trips, cancelled_waits) = (round_trips.clone(), cancelled_waits.clone());
        async move {
            for p in 0..PAIRS {
                let pings: Arc<Vec<Event>> = Arc::new((0..ROUNDS).map(|_| Event::new()).collect());
                let pongs: Arc<Vec<Event>> = Arc::new((0..ROUNDS).map(|_| Event::new()).collect());
                let (pi, po) = (pings.clone(), pongs.clone());
                let rt = round_trips.clone();
                tg.start_soon(async move {
                    for i in 0..ROUNDS {
                        pi[i].set();
                        po[i].wait().await?;
                        rt.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, anyio::Error>(())
                })?;
                tg.start_soon(async move {
                    for i in 0..ROUNDS {
                        pings[i].wait().await?;
                        pongs[i].set();
                    }
                    Ok::<_, anyio::Error>(())
                })?;
                // Waiters that are cancelled at random moments, on events that a setter
                // sets at random moments.
                let cw = cancelled_waits.clone();
                tg.start_soon(async move {
                    let mut rng = support::Rng::new(p as u64 + 7);
                    for _ in 0..ROUNDS / 10 {
                        let event = Event::new();
                        let setter = event.clone();
                        let delay = Duration::from_micros(rng.below(200));
                        let timeout = Duration::from_micros(rng.below(200));
                        let cw = cw.clone();
                        anyio::task_group(|tg| async move {
                            tg.start_soon(async move {
                                anyio::sleep(delay).await?;
                                setter.set();
                                Ok::<_, anyio::Error>(())
                            })?;
                            let waited = anyio::move_on_after(timeout, event.wait()).await?;
                            match waited {
                                Some(()) => assert!(event.is_set()),
                                None => {
                                    cw.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            assert_eq!(event.statistics().tasks_waiting, 0);
                            Ok(())
                        })
                        .await?;
                    }
                    Ok::<_, anyio::Error>(())
                })?;
            }
            Ok(())
        }
    })
    .await?;
    let trips = round_trips.load(Ordering::Relaxed);
    assert_eq!(trips, PAIRS * ROUNDS);
    Ok(format!(
        "{PAIRS} pairs x {ROUNDS} round trips, {} timed waits of which {} cancelled",
        PAIRS * ROUNDS / 10,
        cancelled_waits.load(Ordering::Relaxed)
    ))
}

#[test]
fn stress_multi_thread_tokio() {
    support::stress(Backend::Tokio, "event stress", stress_body);
}

#[test]
fn stress_multi_thread_smol() {
    support::stress(Backend::Smol, "event stress", stress_body);
}

#[test]
fn handles_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let event = Event::new();
    assert_send_sync(&event);
    assert_send(&event.wait());
}

/// Setting the event is the "hand-off" (to every waiter at once).
struct SetOnDrop<'a>(&'a Event);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl handoff::Contended for Event {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(SetOnDrop(self)))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move {
            self.wait().await?;
            Ok(Box::new(()) as handoff::Held<'_>)
        })
    }

    fn tasks_waiting(&self) -> usize {
        self.statistics().tasks_waiting
    }
}

/// Issue 7: a `wait()` future polled once and dropped stops counting as a waiter, and the
/// other waiters still wake (the shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn abandoned_wait_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(Event::new).await
}
