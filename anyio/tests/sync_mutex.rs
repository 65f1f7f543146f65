//! `Mutex<T>`: the `Lock` contract (exclusion, FIFO hand-off, cancellation, abandoned
//! futures, fast_acquire) plus the data it owns, and no poisoning.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, Event, Mutex, MutexGuard};
use futures_lite::FutureExt;
use futures_lite::future::poll_once;

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::{Log, kind};

/// Many tasks, each reading, yielding and writing back under the guard: no update is lost
/// and no two tasks are ever inside at once.
#[anyio::test]
async fn many_tasks_update_the_value_one_at_a_time() -> anyio::Result<()> {
    const TASKS: usize = 20;
    const ROUNDS: usize = 25;
    let mutex = Arc::new(Mutex::new(0usize));
    let inside = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| {
        let (mutex, inside) = (mutex.clone(), inside.clone());
        async move {
            for _ in 0..TASKS {
                let (mutex, inside) = (mutex.clone(), inside.clone());
                tg.start_soon(async move {
                    for _ in 0..ROUNDS {
                        let mut n = mutex.lock().await?;
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "exclusive");
                        let seen = *n;
                        anyio::lowlevel::yield_now().await;
                        *n = seen + 1;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                    Ok::<_, anyio::Error>(())
                })?;
            }
            Ok(())
        }
    })
    .await?;
    assert_eq!(*mutex.lock().await?, TASKS * ROUNDS);
    Ok(())
}

#[anyio::test]
async fn waiters_get_the_mutex_in_fifo_order() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock().await?;
    anyio::task_group(|tg| {
        let mutex = mutex.clone();
        async move {
            for i in 0..5 {
                let m = mutex.clone();
                tg.start_soon(async move {
                    m.lock().await?.push(i);
                    anyio::lowlevel::checkpoint().await
                })?;
                wait_all_tasks_blocked().await?;
            }
            assert_eq!(mutex.statistics().tasks_waiting, 5);
            drop(guard);
            Ok(())
        }
    })
    .await?;
    assert_eq!(*mutex.lock().await?, [0, 1, 2, 3, 4]);
    Ok(())
}

/// A waiter cancelled while it waits returns `Cancelled`, leaves the queue, and the mutex
/// (with its value) goes to the next waiter: no hand-off is lost.
#[anyio::test]
async fn cancelled_waiter_leaves_and_the_next_one_gets_the_value() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(String::from("a")));
    let guard = mutex.lock().await?;
    let log = Log::new();
    anyio::task_group(|tg| {
        let (mutex, log) = (mutex.clone(), log.clone());
        async move {
            let m = mutex.clone();
            let cancelled =
                tg.start_soon(async move { m.lock().await.map(|mut s| s.push('x')) })?;
            wait_all_tasks_blocked().await?;
            let (m, g) = (mutex.clone(), log.clone());
            let next = tg.start_soon(async move {
                let mut s = m.lock().await?;
                s.push('b');
                g.push(format!("next: {}", *s));
                Ok::<_, anyio::Error>(())
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(mutex.statistics().tasks_waiting, 2);
            cancelled.cancel();
            wait_all_tasks_blocked().await?;
            assert_eq!(mutex.statistics().tasks_waiting, 1);
            drop(guard);
            anyio::fail_after(Duration::from_secs(10), next).await?;
            assert_eq!(kind(cancelled.await), ErrorKind::TaskCancelled);
            Ok(())
        }
    })
    .await?;
    assert_eq!(log.events(), ["next: ab"]);
    assert_eq!(mutex.lock().await?.as_str(), "ab");
    Ok(())
}

#[anyio::test]
async fn lock_in_cancelled_scope_fails_even_when_free() -> anyio::Result<()> {
    let mutex = Mutex::new(()).with_fast_acquire(true);
    let scope = CancelScope::new();
    scope.cancel();
    scope
        .run(async {
            assert_eq!(kind(mutex.lock().await), ErrorKind::Cancelled);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert!(!mutex.locked());
    Ok(())
}

impl<T: Send + 'static> handoff::Contended for Mutex<T> {
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

/// A `lock()` future polled once and dropped leaves no trace, and a mutex handed to it
/// passes on (the shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn abandoned_lock_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(|| Mutex::new(String::from("v"))).await?;
    handoff::abandoned_waits_leave_no_trace(|| Mutex::new(7u8).with_fast_acquire(true)).await
}

/// Runs a child that takes `mutex`, applies `update` to its value, reports through
/// `held`, and releases the mutex once `release` is set.
fn spawn_holder<T: Send + 'static>(
    tg: &anyio::TaskGroup,
    mutex: &Arc<Mutex<T>>,
    update: impl FnOnce(&mut T) + Send + 'static,
    held: &Event,
    release: &Event,
) -> anyio::Result<anyio::TaskHandle<()>> {
    let (mutex, held, release) = (mutex.clone(), held.clone(), release.clone());
    tg.start_soon(async move {
        let mut guard = mutex.lock().await?;
        update(&mut guard);
        held.set();
        release.wait().await
    })
}

/// A lock future handed the mutex and then dropped gives the value back unchanged.
#[anyio::test]
async fn dropped_waiter_gives_the_value_back() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(vec![1]));
    let m = mutex.clone();
    anyio::task_group(|tg| async move {
        let (held, release) = (Event::new(), Event::new());
        let holder = spawn_holder(&tg, &m, |v| v.push(2), &held, &release)?;
        held.wait().await?;
        let mut waiter = Box::pin(m.lock());
        assert!(poll_once(&mut waiter).await.is_none(), "queued");
        release.set();
        holder.await?; // handed to `waiter`, with the value
        assert!(m.locked());
        drop(waiter);
        Ok(())
    })
    .await?;
    assert!(!mutex.locked());
    assert_eq!(*mutex.try_lock()?, [1, 2]);
    Ok(())
}

#[anyio::test]
async fn try_lock_takes_a_free_mutex_and_would_block_on_a_held_one() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(5));
    let guard = mutex.try_lock()?;
    assert_eq!(*guard, 5);
    assert_eq!(kind(mutex.try_lock()), ErrorKind::InvalidState); // ours
    let m = mutex.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(m.try_lock()), ErrorKind::WouldBlock); // another task's
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    drop(guard);
    assert_eq!(*mutex.try_lock()?, 5);
    Ok(())
}

/// Locking twice in one task is an error, not a deadlock (as `Lock`).
#[anyio::test]
async fn locking_twice_in_one_task_is_an_error() -> anyio::Result<()> {
    let mutex = Mutex::new(0);
    let _guard = mutex.lock().await?;
    assert_eq!(kind(mutex.lock().await), ErrorKind::InvalidState);
    assert_eq!(mutex.statistics().tasks_waiting, 0);
    Ok(())
}

/// No poisoning: a task that panics holding the guard releases the mutex as it unwinds,
/// and the next task sees the value as the panicking task left it.
#[anyio::test]
async fn panic_while_holding_the_guard_releases_without_poisoning() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(vec![1]));
    let m = mutex.clone();
    let caught = AssertUnwindSafe(anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let mut v = m.lock().await?;
            v.push(2);
            if v.len() == 2 {
                panic!("boom");
            }
            Ok::<_, anyio::Error>(())
        })?;
        Ok(())
    }))
    .catch_unwind()
    .await;
    assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));
    assert!(!mutex.locked());
    let mut v = mutex.try_lock()?;
    assert_eq!(*v, [1, 2]);
    v.push(3);
    Ok(())
}

/// The guard is `Send`: a task may hold it across `.await`s on a multi-thread runtime and
/// hand it to another task.
#[anyio::test]
async fn guard_crosses_awaits_and_tasks() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(0));
    let m = mutex.clone();
    anyio::task_group(|tg| async move {
        let mut guard: MutexGuard<'static, i32> = {
            // A guard borrowing a leaked mutex is 'static, so it can move into a task.
            let leaked: &'static Mutex<i32> = Box::leak(Box::new(Mutex::new(1)));
            leaked.lock().await?
        };
        let moved = tg.start_soon(async move {
            anyio::lowlevel::checkpoint().await?;
            *guard += 1;
            anyio::sleep(Duration::from_millis(1)).await?;
            Ok::<_, anyio::Error>(*guard)
        })?;
        let held_across = tg.start_soon(async move {
            let mut n = m.lock().await?;
            anyio::lowlevel::checkpoint().await?;
            *n += 10;
            Ok::<_, anyio::Error>(())
        })?;
        assert_eq!(moved.await?, 2);
        held_across.await
    })
    .await?;
    assert_eq!(*mutex.lock().await?, 10);
    Ok(())
}

#[anyio::test]
async fn fast_acquire_never_yields_when_uncontended() -> anyio::Result<()> {
    let mutex = Mutex::new(0u32).with_fast_acquire(true);
    assert!(mutex.fast_acquire());
    let many = poll_once(Box::pin(async {
        for _ in 0..1000 {
            *mutex.lock().await? += 1;
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(matches!(many, Some(Ok(()))), "finished without yielding");
    assert_eq!(*mutex.try_lock()?, 1000);
    Ok(())
}

/// Without `fast_acquire` an uncontended `lock()` is a schedule point; a future dropped
/// while it yields, holding the mutex, gives it (and the value) back.
#[anyio::test]
async fn plain_lock_is_a_schedule_point() -> anyio::Result<()> {
    let mutex = Mutex::new(0u32);
    let many = poll_once(Box::pin(async {
        for _ in 0..1000 {
            *mutex.lock().await? += 1;
        }
        Ok::<_, anyio::Error>(())
    }))
    .await;
    assert!(many.is_none(), "a loop of acquisitions yielded");
    assert!(!mutex.locked());
    assert!(*mutex.try_lock()? > 0);
    Ok(())
}

#[anyio::test]
async fn statistics_report_the_owner_and_waiters() -> anyio::Result<()> {
    let mutex = Arc::new(Mutex::new(()));
    let stats = mutex.statistics();
    assert!(!stats.locked);
    assert_eq!(stats.owner, None);
    let guard = mutex.lock().await?;
    let me = anyio::get_current_task().map(|t| t.id);
    assert_eq!(mutex.statistics().owner.map(|t| t.id), me);
    assert!(me.is_some());
    anyio::task_group(|tg| {
        let mutex = mutex.clone();
        async move {
            let m = mutex.clone();
            tg.start_soon(async move { m.lock().await.map(drop) })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(mutex.statistics().tasks_waiting, 1);
            drop(guard);
            Ok(())
        }
    })
    .await?;
    let stats = mutex.statistics();
    assert!(!stats.locked);
    assert_eq!(stats.tasks_waiting, 0);
    Ok(())
}

#[anyio::test]
async fn get_mut_into_inner_default_and_debug() -> anyio::Result<()> {
    let mut mutex: Mutex<Vec<u8>> = Mutex::default();
    mutex.get_mut().push(1);
    {
        let guard = mutex.lock().await?;
        assert_eq!(format!("{guard:?}"), "[1]");
        assert!(format!("{mutex:?}").contains("locked: true"));
    }
    assert_eq!(Mutex::from(3).into_inner(), 3);
    assert_eq!(mutex.into_inner(), [1]);
    Ok(())
}

/// A mutex made outside any event loop works inside one (it uses no backend type).
#[test]
fn mutex_made_outside_an_event_loop_works_inside_one() {
    let mutex = Mutex::new(1);
    for backend in anyio::available_backends() {
        anyio::Runner::new(*backend)
            .run(|| async {
                *mutex.lock().await? += 1;
                Ok::<_, anyio::Error>(())
            })
            .unwrap();
    }
    assert!(mutex.into_inner() > 1);
}

#[test]
fn handles_guards_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let mutex = Mutex::new(String::new());
    assert_send_sync(&mutex);
    assert_send(&mutex.lock());
    assert_send_sync(&mutex.try_lock().unwrap());
    assert_send(&async {
        let mut guard = mutex.lock().await?;
        anyio::lowlevel::checkpoint().await?; // held across an await
        guard.push('x');
        Ok::<_, anyio::Error>(())
    });
}

/// A cancelled `lock()` loses no hand-off and takes none (the shared scenario of
/// `support/handoff.rs`).
#[anyio::test]
async fn cancelled_acquisitions_lose_nothing() -> anyio::Result<()> {
    handoff::cancelled_acquisitions_lose_nothing(|| Mutex::new(1u8)).await?;
    handoff::cancelled_acquisitions_lose_nothing(|| Mutex::new(1u8).with_fast_acquire(true)).await
}
