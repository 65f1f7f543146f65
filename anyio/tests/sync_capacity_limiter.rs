//! `CapacityLimiter`: tokens, borrowers, adjustable totals, FIFO hand-off and cancellation
//! (AnyIO's `TestCapacityLimiter`, plus the abort protocol).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, Borrower, CancelScope, CapacityLimiter, ErrorKind, Event};

#[path = "support/handoff.rs"]
mod handoff;
mod support;

use support::Log;
use support::kind;

#[anyio::test]
async fn zero_tokens_is_an_error() -> anyio::Result<()> {
    assert_eq!(kind(CapacityLimiter::new(0)), ErrorKind::InvalidArgument);
    let limiter = CapacityLimiter::new(1)?;
    assert_eq!(
        kind(limiter.set_total_tokens(0)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(limiter.total_tokens(), 1);
    Ok(())
}

#[anyio::test]
async fn borrowing_counts_tokens() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(2)?;
    assert_eq!(limiter.total_tokens(), 2);
    assert_eq!(limiter.available_tokens(), 2);
    assert_eq!(limiter.borrowed_tokens(), 0);
    let token = limiter.acquire().await?;
    assert_eq!(limiter.total_tokens(), 2);
    assert_eq!(limiter.available_tokens(), 1);
    assert_eq!(limiter.borrowed_tokens(), 1);
    assert_eq!(token.borrower(), Borrower::current_task());
    drop(token);
    assert_eq!(limiter.available_tokens(), 2);
    Ok(())
}

/// AnyIO's `test_limit`: with one token, the tasks take turns.
#[anyio::test]
async fn one_token_admits_one_task_at_a_time() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let inside = Arc::new(AtomicUsize::new(0));
    anyio::task_group(|tg| async move {
        for _ in 0..3 {
            let (limiter, inside) = (limiter.clone(), inside.clone());
            tg.start_soon(async move {
                for _ in 0..5 {
                    let _token = limiter.acquire().await?;
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    wait_all_tasks_blocked().await?;
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
                Ok::<_, anyio::Error>(())
            })?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn borrowing_twice_is_an_error() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(2)?;
    let _token = limiter.acquire().await?;
    assert_eq!(kind(limiter.acquire().await), ErrorKind::InvalidState);
    assert_eq!(kind(limiter.try_acquire()), ErrorKind::InvalidState);
    let job = Borrower::new();
    let _job_token = limiter.acquire_on_behalf_of(job).await?;
    assert_eq!(
        kind(limiter.acquire_on_behalf_of(job).await),
        ErrorKind::InvalidState
    );
    assert_eq!(
        kind(limiter.try_acquire_on_behalf_of(job)),
        ErrorKind::InvalidState
    );
    assert_eq!(limiter.borrowed_tokens(), 2);
    Ok(())
}

#[anyio::test]
async fn releasing_without_a_token_is_an_error() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    assert_eq!(kind(limiter.release()), ErrorKind::InvalidState);
    assert_eq!(
        kind(limiter.release_on_behalf_of(Borrower::new())),
        ErrorKind::InvalidState
    );
    Ok(())
}

#[anyio::test]
async fn releasing_a_borrowers_token_twice_is_an_error() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let job = limiter
        .acquire_on_behalf_of(Borrower::new())
        .await?
        .forget();
    limiter.release_on_behalf_of(job)?;
    assert_eq!(
        kind(limiter.release_on_behalf_of(job)),
        ErrorKind::InvalidState
    );
    assert_eq!(limiter.borrowed_tokens(), 0);
    limiter.acquire().await?.forget();
    limiter.release()?;
    assert_eq!(kind(limiter.release()), ErrorKind::InvalidState);
    Ok(())
}

/// A guard whose token was released by hand does not release anything when dropped, not
/// even a later token of the same borrower.
#[anyio::test]
async fn guard_released_by_hand_does_nothing_on_drop() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(2)?;
    let job = Borrower::new();
    let first = limiter.try_acquire_on_behalf_of(job)?;
    limiter.release_on_behalf_of(job)?;
    let second = limiter.try_acquire_on_behalf_of(job)?;
    drop(first);
    assert_eq!(limiter.borrowed_tokens(), 1, "the second loan is still out");
    drop(second);
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

/// AnyIO's `test_increase_tokens`: raising the total lets a waiting task in.
#[anyio::test]
async fn raising_total_tokens_wakes_a_waiter() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let (inside, second_in) = (Event::new(), Event::new());
    let (l, i, s) = (limiter.clone(), inside.clone(), second_in.clone());
    anyio::task_group(|tg| async move {
        let (l2, i2, s2) = (l.clone(), i.clone(), s.clone());
        tg.start_soon(async move {
            let _token = l2.acquire().await?;
            i2.set();
            s2.wait().await
        })?;
        i.wait().await?;
        let (l3, s3) = (l.clone(), s.clone());
        tg.start_soon(async move {
            let _token = l3.acquire().await?;
            s3.set(); // only possible once the total was raised
            Ok::<_, anyio::Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert!(!s.is_set());
        assert_eq!(l.statistics().tasks_waiting, 1);
        l.set_total_tokens(2)?;
        Ok(())
    })
    .await?;
    assert!(second_in.is_set());
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

/// AnyIO's `test_increase_tokens_lets_others_acquire`.
#[anyio::test]
async fn raising_total_tokens_admits_waiting_and_new_tasks() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let entered: Vec<Event> = (0..3).map(|_| Event::new()).collect();
    let go = Event::new();
    anyio::task_group(|tg| async move {
        let spawn = |i: usize| {
            let (l, e, g) = (limiter.clone(), entered[i].clone(), go.clone());
            tg.start_soon(async move {
                let _token = l.acquire().await?;
                e.set();
                g.wait().await
            })
        };
        spawn(0)?;
        spawn(1)?;
        wait_all_tasks_blocked().await?;
        assert_eq!(entered.iter().filter(|e| e.is_set()).count(), 1);
        limiter.set_total_tokens(3)?;
        spawn(2)?;
        anyio::fail_after(Duration::from_secs(10), async {
            for e in &entered {
                e.wait().await?;
            }
            Ok::<_, anyio::Error>(())
        })
        .await?;
        go.set();
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn lowering_total_tokens_keeps_current_loans() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(3)?;
    let a = limiter.try_acquire_on_behalf_of(Borrower::new())?;
    let b = limiter.try_acquire_on_behalf_of(Borrower::new())?;
    limiter.set_total_tokens(1)?;
    assert_eq!(limiter.borrowed_tokens(), 2);
    assert_eq!(limiter.available_tokens(), 0);
    drop(a);
    assert_eq!(
        kind(limiter.try_acquire_on_behalf_of(Borrower::new())),
        ErrorKind::WouldBlock,
        "still one token out of one"
    );
    drop(b);
    assert_eq!(limiter.available_tokens(), 1);
    Ok(())
}

/// AnyIO's `test_statistics`.
#[anyio::test]
async fn statistics_report_borrowers_and_waiters() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let stats = limiter.statistics();
    assert_eq!(stats.total_tokens, 1);
    assert_eq!(stats.borrowed_tokens, 0);
    assert_eq!(stats.tasks_waiting, 0);
    assert!(stats.borrowers.is_empty());
    let l = limiter.clone();
    anyio::task_group(|tg| async move {
        let token = l.acquire().await?;
        assert_eq!(l.statistics().borrowed_tokens, 1);
        assert_eq!(l.statistics().borrowers, vec![Borrower::current_task()]);
        assert_eq!(l.statistics().tasks_waiting, 0);
        for i in 1..=2 {
            let l2 = l.clone();
            tg.start_soon(async move { l2.acquire().await.map(drop) })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(l.statistics().tasks_waiting, i);
        }
        drop(token);
        Ok(())
    })
    .await?;
    let stats = limiter.statistics();
    assert_eq!(stats.tasks_waiting, 0);
    assert_eq!(stats.borrowed_tokens, 0);
    Ok(())
}

/// AnyIO's `test_ordered_queue`.
#[anyio::test]
async fn waiters_get_tokens_in_fifo_order() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let log = Log::new();
    let go = Event::new();
    let (l, g, lg) = (limiter.clone(), go.clone(), log.clone());
    anyio::task_group(|tg| async move {
        for i in 0..3 {
            let (l, g, lg) = (l.clone(), g.clone(), lg.clone());
            tg.start(|status| async move {
                status.started(());
                let _token = l.acquire().await?;
                g.wait().await?;
                lg.push(i.to_string());
                Ok::<_, anyio::Error>(())
            })
            .await?;
            wait_all_tasks_blocked().await?;
        }
        go.set();
        Ok(())
    })
    .await?;
    assert_eq!(log.events(), ["0", "1", "2"]);
    Ok(())
}

/// AnyIO's `test_acquire_cancelled` (regression #947): a waiter cancelled while queued does
/// not keep the next waiter from getting the token.
#[anyio::test]
async fn cancelled_waiter_does_not_block_the_next_one() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let l = limiter.clone();
    anyio::task_group(|tg| async move {
        let token = l.acquire().await?;
        let spawn_borrower = |entered: Event| {
            let l = l.clone();
            tg.start(|status| async move {
                let scope = CancelScope::new();
                status.started(scope.clone());
                scope
                    .run(async {
                        let _token = l.acquire().await?;
                        entered.set();
                        anyio::lowlevel::checkpoint().await
                    })
                    .await
                    .map(drop)
            })
        };
        let (first, second) = (Event::new(), Event::new());
        let scope1 = spawn_borrower(first.clone()).await?;
        wait_all_tasks_blocked().await?;
        spawn_borrower(second.clone()).await?;
        wait_all_tasks_blocked().await?;
        scope1.cancel();
        drop(token);
        anyio::fail_after(Duration::from_secs(10), second.wait()).await?;
        assert!(!first.is_set());
        Ok(())
    })
    .await?;
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

#[anyio::test]
async fn try_acquire_would_block_without_a_free_token() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let _token = limiter.try_acquire()?;
    let l = limiter.clone();
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            assert_eq!(kind(l.try_acquire()), ErrorKind::WouldBlock);
            Ok::<_, anyio::Error>(())
        })?
        .await
    })
    .await?;
    let (b1, b2) = (Borrower::new(), Borrower::new());
    let limiter = CapacityLimiter::new(1)?;
    let _t = limiter.try_acquire_on_behalf_of(b1)?;
    assert_eq!(
        kind(limiter.try_acquire_on_behalf_of(b2)),
        ErrorKind::WouldBlock
    );
    Ok(())
}

/// AnyIO's regression #1170: a token released while a task waits is reserved for that task;
/// a `try_acquire` in between does not get it.
#[anyio::test]
async fn released_token_is_reserved_for_the_waiter() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let (a, b) = (Borrower::new(), Borrower::new());
    limiter.try_acquire_on_behalf_of(a)?.forget();
    let l = limiter.clone();
    anyio::task_group(|tg| async move {
        let l2 = l.clone();
        tg.start_soon(async move {
            l2.acquire_on_behalf_of(b).await?.forget();
            Ok::<_, anyio::Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(l.statistics().tasks_waiting, 1);
        l.release_on_behalf_of(a)?;
        assert_eq!(
            kind(l.try_acquire_on_behalf_of(Borrower::new())),
            ErrorKind::WouldBlock
        );
        Ok(())
    })
    .await?;
    assert!(limiter.borrowed_tokens() <= limiter.total_tokens());
    assert_eq!(limiter.statistics().borrowers, vec![b]);
    limiter.release_on_behalf_of(b)
}

#[anyio::test]
async fn acquire_in_cancelled_scope_fails_even_when_a_token_is_free() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let scope = CancelScope::new();
    scope.cancel();
    scope
        .run(async {
            assert_eq!(kind(limiter.acquire().await), ErrorKind::Cancelled);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

#[anyio::test]
async fn deadline_cancels_a_waiting_acquire() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let _token = limiter.try_acquire_on_behalf_of(Borrower::new())?;
    let out = anyio::move_on_after(Duration::from_millis(20), limiter.acquire()).await?;
    assert!(out.is_none());
    assert_eq!(limiter.statistics().tasks_waiting, 0);
    // The cancelled borrower may try again (it is not left "waiting").
    assert_eq!(kind(limiter.try_acquire()), ErrorKind::WouldBlock);
    Ok(())
}

#[anyio::test]
async fn a_task_is_its_own_borrower_and_new_borrowers_are_unique() -> anyio::Result<()> {
    let me = Borrower::current_task();
    assert_eq!(me, Borrower::current_task());
    assert_eq!(me.task_id(), anyio::get_current_task().map(|t| t.id));
    let (a, b) = (Borrower::new(), Borrower::new());
    assert_ne!(a, b);
    assert_eq!(a.task_id(), None);
    let other = anyio::task_group(|tg| async move {
        tg.start_soon(async { Ok::<_, anyio::Error>(Borrower::current_task()) })?
            .await
    })
    .await?;
    assert_ne!(other, Some(me));
    Ok(())
}

#[test]
fn limiter_made_outside_an_event_loop_works_inside_one() {
    let limiter = CapacityLimiter::new(1).unwrap();
    limiter.set_total_tokens(2).unwrap();
    let stats = limiter.statistics();
    assert_eq!(stats.total_tokens, 2);
    assert_eq!(stats.borrowed_tokens, 0);
    assert!(stats.borrowers.is_empty());
    assert_eq!(stats.tasks_waiting, 0);
    for backend in anyio::available_backends() {
        let limiter = limiter.clone();
        anyio::Runner::new(*backend)
            .run(|| async move { limiter.acquire().await.map(drop) })
            .unwrap();
    }
    assert_eq!(limiter.borrowed_tokens(), 0);
}

/// Tasks on several threads borrow tokens, cancelled at random moments, while another task
/// moves the total between 1 and 4: never more tokens out than the total at the time of
/// lending, all back at the end.
async fn stress_body() -> anyio::Result<String> {
    const TASKS: usize = 16;
    const ROUNDS: usize = 1_000;
    let limiter = CapacityLimiter::new(2)?;
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    let stop = Event::new();
    anyio::task_group(|tg| {
        let (limiter, inside, done, cancelled, stop) = (
            limiter.clone(),
            inside.clone(),
            done.clone(),
            cancelled.clone(),
            stop.clone(),
        );
        async move {
            let mut workers = Vec::new();
            for t in 0..TASKS {
                let (limiter, inside, done, cancelled) = (
                    limiter.clone(),
                    inside.clone(),
                    done.clone(),
                    cancelled.clone(),
                );
                workers.push(tg.start_soon(async move {
                    let mut rng = support::Rng::new(t as u64 + 1000);
                    for _ in 0..ROUNDS {
                        let timeout = Duration::from_micros(rng.below(300));
                        let section = async {
                            let _token = limiter.acquire().await?;
                            // The total may shrink below the tokens out; never 5 inside.
                            assert!(inside.fetch_add(1, Ordering::SeqCst) < 4);
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
                })?);
            }
            let l = limiter.clone();
            let s = stop.clone();
            tg.start_soon(async move {
                let mut rng = support::Rng::new(99);
                while !s.is_set() {
                    l.set_total_tokens(1 + rng.below(4) as usize)?;
                    anyio::sleep(Duration::from_micros(100)).await?;
                }
                Ok::<_, anyio::Error>(())
            })?;
            for w in workers {
                w.await?;
            }
            stop.set();
            Ok(())
        }
    })
    .await?;
    assert_eq!(limiter.borrowed_tokens(), 0);
    assert_eq!(limiter.statistics().tasks_waiting, 0);
    let (done, cancelled) = (
        done.load(Ordering::Relaxed),
        cancelled.load(Ordering::Relaxed),
    );
    assert_eq!(done + cancelled, TASKS * ROUNDS);
    Ok(format!(
        "{TASKS} tasks x {ROUNDS} loans, total moving within 1..=4: {done} completed, \
         {cancelled} cancelled"
    ))
}

#[test]
fn stress_multi_thread_tokio() {
    support::stress(Backend::Tokio, "capacity limiter stress", stress_body);
}

#[test]
fn stress_multi_thread_smol() {
    support::stress(Backend::Smol, "capacity limiter stress", stress_body);
}

#[test]
fn handles_guards_and_futures_are_send() {
    use support::{assert_send, assert_send_sync};
    let limiter = CapacityLimiter::new(1).unwrap();
    assert_send_sync(&limiter);
    assert_send(&limiter.acquire());
    assert_send(&limiter.acquire_on_behalf_of(Borrower::new()));
    assert_send_sync(&limiter.try_acquire_on_behalf_of(Borrower::new()).unwrap());
    assert_send_sync(&Borrower::new());
}

/// Issue 7: `usize::MAX` tokens stand for AnyIO's `math.inf`; the counts stay exact at that
/// size, and going from "infinite" back to a small total keeps the loans.
#[anyio::test]
async fn usize_max_tokens_counts_without_overflow() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(usize::MAX)?;
    assert_eq!(limiter.available_tokens(), usize::MAX);
    let a = limiter.try_acquire_on_behalf_of(Borrower::new())?;
    let b = limiter.acquire().await?;
    assert_eq!(limiter.available_tokens(), usize::MAX - 2);
    assert_eq!(limiter.statistics().borrowed_tokens, 2);
    assert_eq!(limiter.statistics().total_tokens, usize::MAX);
    limiter.set_total_tokens(1)?;
    assert_eq!(limiter.available_tokens(), 0);
    assert_eq!(limiter.borrowed_tokens(), 2);
    drop((a, b));
    assert_eq!(limiter.available_tokens(), 1);
    Ok(())
}

/// Raising a limiter to "infinite" (`usize::MAX`) while tasks wait lets every one of them
/// in at once.
#[anyio::test]
async fn raising_total_tokens_to_usize_max_admits_every_waiter() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let holder = limiter.try_acquire_on_behalf_of(Borrower::new())?;
    let admitted = Arc::new(AtomicUsize::new(0));
    let done = Event::new();
    anyio::task_group(|tg| {
        let (limiter, admitted, done) = (limiter.clone(), admitted.clone(), done.clone());
        async move {
            for _ in 0..5 {
                let (limiter, admitted, done) = (limiter.clone(), admitted.clone(), done.clone());
                tg.start_soon(async move {
                    let _token = limiter.acquire().await?;
                    admitted.fetch_add(1, Ordering::SeqCst);
                    done.wait().await // the token is held until the host looked
                })?;
            }
            wait_all_tasks_blocked().await?;
            assert_eq!(limiter.statistics().tasks_waiting, 5);
            limiter.set_total_tokens(usize::MAX)?;
            // Handed over at once, under the limiter's lock.
            assert_eq!(limiter.statistics().tasks_waiting, 0);
            assert_eq!(limiter.borrowed_tokens(), 6);
            done.set();
            Ok(())
        }
    })
    .await?;
    assert_eq!(admitted.load(Ordering::SeqCst), 5);
    drop(holder);
    assert_eq!(limiter.available_tokens(), usize::MAX);
    Ok(())
}

impl handoff::Contended for CapacityLimiter {
    fn occupy(&self) -> anyio::Result<handoff::Held<'_>> {
        Ok(Box::new(self.try_acquire_on_behalf_of(Borrower::new())?))
    }

    fn acquire(&self) -> handoff::Acquire<'_> {
        Box::pin(async move { Ok(Box::new(self.acquire().await?) as handoff::Held<'_>) })
    }

    fn tasks_waiting(&self) -> usize {
        self.statistics().tasks_waiting
    }
}

/// Issue 7: an `acquire()` future polled once and dropped leaves no trace (its borrower
/// is not left "already waiting"), and a token handed to it passes on (the shared
/// scenario of `support/handoff.rs`).
#[anyio::test]
async fn abandoned_acquire_futures_leave_no_trace() -> anyio::Result<()> {
    handoff::abandoned_waits_leave_no_trace(|| CapacityLimiter::new(1).expect("1 token")).await
}

/// A cancelled `acquire()` loses no token and takes none (AnyIO's
/// `test_cancel_during_acquire`, `test_cancelled_after_acquire`, completion wins: the
/// shared scenario of `support/handoff.rs`).
#[anyio::test]
async fn cancelled_acquisitions_lose_nothing() -> anyio::Result<()> {
    handoff::cancelled_acquisitions_lose_nothing(|| CapacityLimiter::new(1).expect("1 token")).await
}
