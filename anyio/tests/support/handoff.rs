//! The hand-off scenarios that every sync primitive's tests share (issues 7 and 8), written
//! once here instead of copied per primitive.
//!
//! **Abandoned futures** ([`abandoned_waits_leave_no_trace`], every primitive):
//! A waiting future (`lock()`, `acquire()`, `wait()` …) that is polled once and then
//! dropped — by `poll_once`, a `select!`/`race` that another branch won, a timeout — must
//! leave no trace: it reserves nothing, keeps no place in the queue, stops counting in
//! `tasks_waiting`, and whatever was handed to it between its last poll and its drop goes
//! on to the next waiter. Each primitive implements [`Contended`]; its test file includes
//! this module with `#[path = "support/handoff.rs"] mod handoff;` and calls
//! [`abandoned_waits_leave_no_trace`].
//!
//! **Cancelled acquisitions** ([`cancelled_acquisitions_lose_nothing`], the primitives that
//! hand one resource to one waiter: semaphore, lock, mutex, a condition's lock, capacity
//! limiter): AnyIO's `test_cancel_during_acquire` (release before and after the cancelled
//! waiter leaves) and `test_cancelled_after_acquire`, and the completion-wins rule (a
//! resource handed over before the waiter's scope is cancelled is kept, then given back).
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, Event};
use futures_lite::future::{self, poll_once};

/// Whatever holds the resource; dropping it gives the resource back (a hand-off, when a
/// task waits).
pub type Held<'a> = Box<dyn Send + 'a>;

/// A waiting operation of a primitive, boxed so one scenario fits every primitive.
pub type Acquire<'a> = Pin<Box<dyn Future<Output = anyio::Result<Held<'a>>> + Send + 'a>>;

/// A primitive whose waiters queue for a resource.
pub trait Contended: Send + Sync + 'static {
    /// Takes the resource for the calling task while it is free, so that the next
    /// acquisitions queue.
    fn occupy(&self) -> anyio::Result<Held<'_>>;
    /// The waiting operation under test (it queues while the resource is occupied).
    fn acquire(&self) -> Acquire<'_>;
    /// `statistics().tasks_waiting`.
    fn tasks_waiting(&self) -> usize;
}

/// Runs the three scenarios, each on a fresh primitive from `make`.
pub async fn abandoned_waits_leave_no_trace<P: Contended>(
    make: impl Fn() -> P,
) -> anyio::Result<()> {
    abandoned_before_handoff(Arc::new(make())).await?;
    abandoned_after_handoff(Arc::new(make())).await?;
    lost_race(Arc::new(make())).await
}

/// Polls `fut` (which must stay pending) until it has joined the queue — a single poll
/// may first stop at a schedule point (an uncontended lock taken by a condition's wait).
async fn poll_until_queued<P: Contended>(p: &P, fut: &mut Acquire<'_>, before: usize) {
    for _ in 0..100 {
        assert!(
            poll_once(&mut *fut).await.is_none(),
            "the resource is occupied"
        );
        if p.tasks_waiting() == before + 1 {
            return;
        }
    }
    panic!("the acquisition never queued");
}

/// Polled once, dropped before any hand-off: the waiter count drops back, a new
/// acquisition of the same task queues as usual (no "already waiting" left behind), and
/// the next waiter gets the resource when it is given back.
async fn abandoned_before_handoff<P: Contended>(p: Arc<P>) -> anyio::Result<()> {
    let held = p.occupy()?;
    anyio::task_group(|tg| {
        let p = p.clone();
        async move {
            let q = p.clone();
            tg.start_soon(async move {
                for _ in 0..2 {
                    let mut fut = q.acquire();
                    poll_until_queued(&*q, &mut fut, 0).await;
                    drop(fut);
                    assert_eq!(q.tasks_waiting(), 0, "an abandoned waiter still counts");
                }
                Ok::<_, anyio::Error>(())
            })?
            .await?;
            let q = p.clone();
            let next = tg.start_soon(async move {
                drop(q.acquire().await?);
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(p.tasks_waiting(), 1);
            drop(held);
            next.await?;
            assert_eq!(p.tasks_waiting(), 0);
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Polled once, handed the resource, dropped without another poll: the resource goes on
/// to the next waiter instead of being lost with the future.
async fn abandoned_after_handoff<P: Contended>(p: Arc<P>) -> anyio::Result<()> {
    let held = p.occupy()?;
    let (queued, handed) = (Event::new(), Event::new());
    anyio::task_group(|tg| {
        let p = p.clone();
        async move {
            let (q, queued2, handed2) = (p.clone(), queued.clone(), handed.clone());
            let abandoner = tg.start_soon(async move {
                let mut fut = q.acquire();
                poll_until_queued(&*q, &mut fut, 0).await;
                queued2.set();
                handed2.wait().await?; // the resource is handed to `fut` meanwhile
                drop(fut);
                Ok::<_, anyio::Error>(())
            })?;
            queued.wait().await?;
            let q = p.clone();
            let next = tg.start_soon(async move {
                drop(q.acquire().await?);
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(p.tasks_waiting(), 2);
            drop(held); // handed to the abandoner's future, which is not polled again
            handed.set();
            abandoner.await?;
            next.await?; // only if the dropped future passed the resource on
            assert_eq!(p.tasks_waiting(), 0);
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// The `select!`/`race` shape: the acquisition loses to a ready future and is dropped;
/// the same task's next acquisition then waits and gets the resource normally.
async fn lost_race<P: Contended>(p: Arc<P>) -> anyio::Result<()> {
    let held = p.occupy()?;
    anyio::task_group(|tg| {
        let p = p.clone();
        async move {
            let q = p.clone();
            let racer = tg.start_soon(async move {
                let acquired = async { q.acquire().await.map(|_held| Some(())) };
                let other = future::ready(Ok(None));
                assert!(future::or(acquired, other).await?.is_none(), "ready wins");
                assert_eq!(q.tasks_waiting(), 0, "the losing acquisition still counts");
                drop(q.acquire().await?);
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(p.tasks_waiting(), 1);
            drop(held);
            racer.await?;
            assert_eq!(p.tasks_waiting(), 0);
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Runs the cancelled-acquisition scenarios (see the module docs), each on a fresh
/// primitive from `make`. The primitive must hand its resource to one waiter at a time,
/// and [`Contended::occupy`] must fail while the resource is taken.
pub async fn cancelled_acquisitions_lose_nothing<P: Contended>(
    make: impl Fn() -> P,
) -> anyio::Result<()> {
    cancel_during_acquire(Arc::new(make()), true).await?;
    cancel_during_acquire(Arc::new(make()), false).await?;
    cancelled_waiter_does_not_keep_it_from_others(Arc::new(make())).await?;
    handed_over_before_cancellation_is_kept(Arc::new(make())).await
}

/// The resource is free and nobody waits: it can be taken at once.
fn assert_free<P: Contended>(p: &P) {
    assert_eq!(p.tasks_waiting(), 0, "a waiter was left behind");
    drop(p.occupy().expect("the resource was given back"));
}

/// AnyIO's `test_cancel_during_acquire[releasefirst|releaselast]`: a waiter whose group is
/// cancelled never gets the resource, whether the resource is given back before or after
/// the cancelled waiter has left, and the resource ends up free.
async fn cancel_during_acquire<P: Contended>(p: Arc<P>, release_first: bool) -> anyio::Result<()> {
    let acquired = Arc::new(AtomicBool::new(false));
    let held = p.occupy()?;
    anyio::task_group(|tg| {
        let (p, acquired) = (p.clone(), acquired.clone());
        async move {
            let q = p.clone();
            tg.start(|status| async move {
                status.started(());
                let _held = q.acquire().await?;
                // SeqCst: a test flag, read after the group has ended.
                acquired.store(true, Ordering::SeqCst);
                Ok::<_, anyio::Error>(())
            })
            .await?;
            wait_all_tasks_blocked().await?;
            assert_eq!(p.tasks_waiting(), 1);
            tg.cancel_scope().cancel();
            CancelScope::shielded()
                .run(async {
                    if release_first {
                        drop(held);
                        wait_all_tasks_blocked().await
                    } else {
                        wait_all_tasks_blocked().await?;
                        drop(held);
                        Ok(())
                    }
                })
                .await?;
            Ok(())
        }
    })
    .await?;
    // SeqCst: see the store.
    assert!(
        !acquired.load(Ordering::SeqCst),
        "a cancelled waiter got it"
    );
    assert_free(&*p);
    Ok(())
}

/// AnyIO's `test_cancelled_after_acquire`: a waiter cancelled just before the resource is
/// given back does not keep it from the next task, and ends with `TaskCancelled`.
async fn cancelled_waiter_does_not_keep_it_from_others<P: Contended>(
    p: Arc<P>,
) -> anyio::Result<()> {
    let held = p.occupy()?;
    anyio::task_group(|tg| {
        let p = p.clone();
        async move {
            let q = p.clone();
            let waiter = tg.start_soon(async move { q.acquire().await.map(drop) })?;
            wait_all_tasks_blocked().await?;
            waiter.cancel();
            drop(held);
            assert_eq!(p.tasks_waiting(), 0);
            drop(anyio::fail_after(Duration::from_secs(10), p.acquire()).await?);
            let ended = waiter.await.map_err(|e| e.kind());
            assert_eq!(ended, Err(ErrorKind::TaskCancelled));
            Ok(())
        }
    })
    .await?;
    assert_free(&*p);
    Ok(())
}

/// Completion wins: the resource was handed to the waiter before its scope was cancelled,
/// so the waiter keeps it, sees the cancellation at its next checkpoint and gives it back
/// as it unwinds. The waiter is polled by hand, so nothing runs between the hand-off and
/// the cancellation; a holder task owns the resource meanwhile (a lock is its owner's).
async fn handed_over_before_cancellation_is_kept<P: Contended>(p: Arc<P>) -> anyio::Result<()> {
    let acquired = Arc::new(AtomicBool::new(false));
    anyio::task_group(|tg| {
        let (p, acquired) = (p.clone(), acquired.clone());
        async move {
            let (held, release) = (Event::new(), Event::new());
            let (q, held2, release2) = (p.clone(), held.clone(), release.clone());
            let holder = tg.start_soon(async move {
                let _held = q.occupy()?;
                held2.set();
                release2.wait().await
            })?;
            held.wait().await?;
            let scope = CancelScope::new();
            let mut waiter = Box::pin(scope.run(async {
                let _held = p.acquire().await?;
                // SeqCst: see `cancel_during_acquire`.
                acquired.store(true, Ordering::SeqCst);
                anyio::lowlevel::checkpoint().await
            }));
            for _ in 0..100 {
                assert!(
                    poll_once(&mut waiter).await.is_none(),
                    "the resource is held"
                );
                if p.tasks_waiting() == 1 {
                    break;
                }
            }
            assert_eq!(p.tasks_waiting(), 1, "the acquisition never queued");
            release.set();
            holder.await?; // the holder's drop handed the resource to `waiter`
            assert_eq!(p.tasks_waiting(), 0);
            scope.cancel(); // after the hand-off
            assert_eq!(waiter.await?, None, "the scope absorbed its cancellation");
            Ok(())
        }
    })
    .await?;
    // SeqCst: see the store.
    assert!(
        acquired.load(Ordering::SeqCst),
        "the handed-over resource was lost"
    );
    assert_free(&*p);
    Ok(())
}
