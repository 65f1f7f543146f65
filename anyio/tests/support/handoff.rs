//! The "abandoned future" scenario that every sync primitive's tests share (issue 7).
//!
//! A waiting future (`lock()`, `acquire()`, `wait()` …) that is polled once and then
//! dropped — by `poll_once`, a `select!`/`race` that another branch won, a timeout — must
//! leave no trace: it reserves nothing, keeps no place in the queue, stops counting in
//! `tasks_waiting`, and whatever was handed to it between its last poll and its drop goes
//! on to the next waiter. Each primitive implements [`Contended`]; its test file includes
//! this module with `#[path = "support/handoff.rs"] mod handoff;` and calls
//! [`abandoned_waits_leave_no_trace`].
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyio::Event;
use anyio::testing::wait_all_tasks_blocked;
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
