//! `anyio::to_thread`: worker threads, their limiter, and what cancellation does to them
//! (AnyIO's tests/test_to_thread.py). Every test runs on tokio and on smol; order is
//! enforced with gates and `wait_all_tasks_blocked`, never with sleeps.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::to_thread::{self, Builder};
use anyio::{CancelScope, CapacityLimiter, ErrorKind, Runner};
use futures_lite::FutureExt;

/// A one-way latch: threads wait until it is opened. Waits are bounded so a broken test
/// fails instead of hanging.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let guard = self.0.0.lock().unwrap();
        let (guard, timeout) = self
            .0
            .1
            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
            .unwrap();
        assert!(*guard && !timeout.timed_out(), "gate never opened");
    }
}

/// Waits for `gate` from async code without blocking the event loop (on a thread that has
/// a limiter of its own, so a full default limiter cannot hold it up).
async fn wait_gate(gate: &Gate) -> anyio::Result<()> {
    let gate = gate.clone();
    Builder::new()
        .limiter(CapacityLimiter::new(1)?)
        .run_sync(move || gate.wait())
        .await
}

#[anyio::test]
async fn run_sync_returns_the_closure_value() -> anyio::Result<()> {
    let v = to_thread::run_sync(|| 6 * 7).await?;
    assert_eq!(v, 42);
    Ok(())
}

#[anyio::test]
async fn run_sync_runs_on_another_thread() -> anyio::Result<()> {
    let here = std::thread::current().id();
    let there = to_thread::run_sync(|| std::thread::current().id()).await?;
    assert_ne!(here, there);
    Ok(())
}

#[anyio::test]
async fn panic_in_closure_resumes_in_caller() -> anyio::Result<()> {
    let out = AssertUnwindSafe(to_thread::run_sync(|| -> u32 { panic!("boom in thread") }))
        .catch_unwind()
        .await;
    let panic = out.expect_err("the panic must cross back");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom in thread"));
    Ok(())
}

#[anyio::test]
async fn call_in_cancelled_scope_never_runs_the_closure() -> anyio::Result<()> {
    let ran = Arc::new(AtomicUsize::new(0));
    let scope = CancelScope::new();
    scope.cancel();
    let r = ran.clone();
    let out = scope
        .run(async move {
            to_thread::run_sync(move || r.fetch_add(1, Ordering::SeqCst)).await?;
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(out, None);
    assert!(scope.cancelled_caught());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    Ok(())
}

#[anyio::test]
async fn custom_limiter_bounds_concurrent_threads() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(3)?;
    let active = Arc::new(AtomicUsize::new(0));
    let max_active = Arc::new(AtomicUsize::new(0));
    let three_running = Gate::default();
    let release = Gate::default();
    let l = limiter.clone();
    let (a, m, t, r) = (
        active.clone(),
        max_active.clone(),
        three_running.clone(),
        release.clone(),
    );
    anyio::task_group(|tg| async move {
        for _ in 0..4 {
            let (l, a, m, t, r) = (l.clone(), a.clone(), m.clone(), t.clone(), r.clone());
            tg.start_soon(async move {
                Builder::new()
                    .limiter(l)
                    .run_sync(move || {
                        let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(now, Ordering::SeqCst);
                        if now == 3 {
                            t.open();
                        }
                        r.wait();
                        a.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })?;
        }
        wait_gate(&three_running).await?;
        wait_all_tasks_blocked().await?; // the fourth call is parked on the limiter
        assert_eq!(a.load(Ordering::SeqCst), 3);
        assert_eq!(l.borrowed_tokens(), 3);
        let stats = l.statistics();
        assert_eq!((stats.borrowed_tokens, stats.tasks_waiting), (3, 1));
        // A call's loan is anonymous: it counts, but names no borrower.
        assert!(stats.borrowers.is_empty(), "{:?}", stats.borrowers);
        r.open();
        Ok(())
    })
    .await?;
    assert_eq!(active.load(Ordering::SeqCst), 0);
    assert_eq!(max_active.load(Ordering::SeqCst), 3);
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

#[anyio::test]
async fn default_limiter_lets_40_of_41_calls_run() -> anyio::Result<()> {
    let limiter = to_thread::current_default_thread_limiter()?;
    assert_eq!(limiter.total_tokens(), 40);
    let active = Arc::new(AtomicUsize::new(0));
    let max_active = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let forty_running = Gate::default();
    let release = Gate::default();
    let (a, m, d, f, r) = (
        active.clone(),
        max_active.clone(),
        done.clone(),
        forty_running.clone(),
        release.clone(),
    );
    anyio::task_group(|tg| async move {
        for _ in 0..41 {
            let (a, m, d, f, r) = (a.clone(), m.clone(), d.clone(), f.clone(), r.clone());
            tg.start_soon(to_thread::run_sync(move || {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                if now == 40 {
                    f.open();
                }
                r.wait();
                a.fetch_sub(1, Ordering::SeqCst);
                d.fetch_add(1, Ordering::SeqCst);
            }))?;
        }
        wait_gate(&forty_running).await?;
        wait_all_tasks_blocked().await?;
        assert_eq!(
            a.load(Ordering::SeqCst),
            40,
            "the 41st call must wait for a token"
        );
        assert_eq!(limiter.borrowed_tokens(), 40);
        r.open();
        Ok(())
    })
    .await?;
    assert_eq!(done.load(Ordering::SeqCst), 41);
    assert_eq!(max_active.load(Ordering::SeqCst), 40);
    Ok(())
}

#[test]
fn default_limiter_is_scoped_to_one_run() {
    for backend in anyio::available_backends() {
        let (first, second) = Runner::new(*backend)
            .run(|| async {
                let a = to_thread::current_default_thread_limiter()?;
                a.set_total_tokens(60)?;
                let b = to_thread::current_default_thread_limiter()?;
                Ok::<_, anyio::Error>((a.total_tokens(), b.total_tokens()))
            })
            .unwrap();
        assert_eq!((first, second), (60, 60), "{backend}: one limiter per run");
        let fresh = Runner::new(*backend)
            .run(|| async {
                Ok::<_, anyio::Error>(to_thread::current_default_thread_limiter()?.total_tokens())
            })
            .unwrap();
        assert_eq!(fresh, 40, "{backend}: a new run starts with 40 tokens");
    }
}

#[anyio::test]
async fn token_is_returned_when_the_call_returns() -> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    for _ in 0..3 {
        Builder::new()
            .limiter(limiter.clone())
            .run_sync(|| ())
            .await?;
        assert_eq!(limiter.borrowed_tokens(), 0);
    }
    Ok(())
}

/// Events of the cancellation tests, in the order they happened.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<&'static str>>>);

impl Log {
    fn push(&self, e: &'static str) {
        self.0.lock().unwrap().push(e);
    }

    fn events(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().clone()
    }
}

#[anyio::test]
async fn cancelled_call_waits_for_thread_and_returns_its_value() -> anyio::Result<()> {
    let log = Log::default();
    let release = Gate::default();
    let scope = CancelScope::new();
    let (l, r, s) = (log.clone(), release.clone(), scope.clone());
    anyio::task_group(|tg| async move {
        let (l2, r2) = (l.clone(), r.clone());
        tg.start_soon(async move {
            let out = s
                .run(async move {
                    let l3 = l2.clone();
                    let v = to_thread::run_sync(move || {
                        r2.wait();
                        l3.push("thread finished");
                        7
                    })
                    .await;
                    assert_eq!(v.as_ref().ok(), Some(&7), "the thread's value is returned");
                    l2.push("run_sync returned the value");
                    let next = anyio::lowlevel::checkpoint().await;
                    assert_eq!(next.as_ref().unwrap_err().kind(), ErrorKind::Cancelled);
                    l2.push("next checkpoint cancelled");
                    next
                })
                .await?;
            assert_eq!(out, None);
            Ok::<_, anyio::Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        scope.cancel();
        wait_all_tasks_blocked().await?;
        l.push("scope cancelled, caller still waiting");
        r.open();
        Ok(())
    })
    .await?;
    assert_eq!(
        log.events(),
        [
            "scope cancelled, caller still waiting",
            "thread finished",
            "run_sync returned the value",
            "next checkpoint cancelled"
        ]
    );
    Ok(())
}

/// Opens its gate when dropped, to see when an abandoned thread's result is dropped.
struct OpensOnDrop(Gate);

impl Drop for OpensOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

#[anyio::test]
async fn abandoned_call_returns_cancelled_at_once_and_thread_runs_on() -> anyio::Result<()> {
    let release = Gate::default();
    let dropped = Gate::default();
    let limiter = CapacityLimiter::new(1)?;
    let scope = CancelScope::new();
    let (r, d, l) = (release.clone(), dropped.clone(), limiter.clone());
    let (s, canceller) = (scope.clone(), scope.clone());
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let out = s
                .run(async move {
                    Builder::new()
                        .limiter(l)
                        .abandon_on_cancel(true)
                        .run_sync(move || {
                            r.wait();
                            OpensOnDrop(d)
                        })
                        .await?;
                    Ok::<_, anyio::Error>(())
                })
                .await?;
            assert_eq!(out, None);
            Ok::<_, anyio::Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        canceller.cancel();
        Ok(())
    })
    .await?;
    // The caller is back while the thread is still blocked.
    assert!(scope.cancelled_caught());
    assert_eq!(
        limiter.borrowed_tokens(),
        1,
        "an abandoned thread keeps its token"
    );
    release.open();
    // Once the thread ends, its result is dropped and its token given back.
    wait_gate(&dropped).await?;
    Builder::new()
        .limiter(limiter.clone())
        .run_sync(|| ())
        .await?;
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}

#[anyio::test]
async fn current_async_library_is_an_error_on_a_worker_thread() -> anyio::Result<()> {
    let err = to_thread::run_sync(anyio::current_async_library)
        .await?
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoEventLoop);
    // ... and the worker flag does not stick to the pool thread's later work.
    assert!(anyio::current_async_library().is_ok());
    Ok(())
}

/// tokio only: each test's runtime has a blocking pool of its own, so the threads seen
/// are this test's. smol's pool (the `blocking` crate's) is one per process, shared with
/// the tests running in parallel, and wakes any of its idle threads, so thread identity
/// says nothing there.
#[anyio::test(backends = ["tokio"])]
async fn idle_worker_threads_are_reused() -> anyio::Result<()> {
    let mut threads = HashSet::new();
    for _ in 0..50 {
        threads.insert(to_thread::run_sync(|| std::thread::current().id()).await?);
    }
    assert!(
        threads.len() <= 10,
        "50 sequential calls used {} threads",
        threads.len()
    );
    Ok(())
}

#[anyio::test]
async fn many_calls_from_one_task_run_concurrently() -> anyio::Result<()> {
    let all_started = Gate::default();
    let started = Arc::new(AtomicUsize::new(0));
    let results = anyio::gather((0..5u32).map(|i| {
        let (g, s) = (all_started.clone(), started.clone());
        to_thread::run_sync(move || {
            if s.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
                g.open();
            }
            g.wait(); // only returns once all 5 run at the same time
            i
        })
    }))
    .await?;
    assert_eq!(results, vec![0, 1, 2, 3, 4]);
    Ok(())
}

#[test]
fn run_sync_works_in_a_plain_tokio_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = rt
        .block_on(async { to_thread::run_sync(|| 5).await })
        .unwrap();
    assert_eq!(v, 5);
}

#[cfg(feature = "smol")]
#[test]
fn run_sync_works_under_a_foreign_executor_on_smol() {
    let v = futures_lite::future::block_on(async { to_thread::run_sync(|| 5).await }).unwrap();
    assert_eq!(v, 5);
}

/// Counts how often it was dropped, to see whether a closure's captures were destroyed.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[anyio::test]
async fn run_sync_or_return_gives_back_the_closure_of_a_cancelled_call() -> anyio::Result<()> {
    let drops = Arc::new(AtomicUsize::new(0));
    let owned = DropCounter(drops.clone());
    let scope = CancelScope::new();
    scope.cancel();
    let d = drops.clone();
    let out = scope
        .run(async move {
            let err = to_thread::run_sync_or_return(move || {
                let _conn = owned;
                7
            })
            .await
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Cancelled);
            assert!(err.is_not_started());
            let f = err.into_closure().expect("the closure comes back");
            assert_eq!(d.load(Ordering::SeqCst), 0, "what it owns is still alive");
            assert_eq!(f(), 7);
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(out, Some(()), "the body handled the cancellation itself");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    Ok(())
}

#[anyio::test]
async fn run_sync_or_return_gives_back_the_closure_cancelled_waiting_for_a_token()
-> anyio::Result<()> {
    let limiter = CapacityLimiter::new(1)?;
    let release = Gate::default();
    let scope = CancelScope::new();
    let (l, l2, r) = (limiter.clone(), limiter.clone(), release.clone());
    let s = scope.clone();
    anyio::task_group(|tg| async move {
        // The only token, held by a thread until the gate opens.
        tg.start_soon(async move { Builder::new().limiter(l).run_sync(move || r.wait()).await })?;
        wait_all_tasks_blocked().await?;
        tg.start_soon(async move {
            s.run(async move {
                let err = Builder::new()
                    .limiter(l2)
                    .run_sync_or_return(|| "ran")
                    .await
                    .unwrap_err();
                assert!(err.is_cancelled());
                let f = err.into_closure().expect("never ran: it comes back");
                assert_eq!(f(), "ran");
                Ok::<_, anyio::Error>(())
            })
            .await?;
            Ok(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        scope.cancel();
        wait_all_tasks_blocked().await?;
        release.open();
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn run_sync_or_return_returns_the_result_and_converts_with_question_mark() -> anyio::Result<()>
{
    let n = to_thread::run_sync_or_return(|| 40 + 2).await?;
    assert_eq!(n, 42);
    Ok(())
}

#[anyio::test]
async fn an_abandoned_call_has_no_closure_to_give_back() -> anyio::Result<()> {
    let release = Gate::default();
    let verdict = Arc::new(Mutex::new(None));
    let (r, v) = (release.clone(), verdict.clone());
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            let err = Builder::new()
                .abandon_on_cancel(true)
                .run_sync_or_return(move || r.wait())
                .await
                .unwrap_err();
            *v.lock().unwrap() = Some((err.kind(), err.is_not_started()));
            Ok(())
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    release.open();
    let verdict = verdict.lock().unwrap().take().unwrap();
    assert_eq!(verdict, (ErrorKind::Cancelled, false));
    Ok(())
}

#[anyio::test]
async fn a_shielded_call_runs_its_closure_in_a_cancelled_scope() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            let n = CancelScope::shielded()
                .run(to_thread::run_sync(|| 5))
                .await?;
            assert_eq!(n, Some(5));
            anyio::lowlevel::checkpoint().await?;
            Ok::<_, anyio::Error>(())
        })
        .await?;
    assert_eq!(out, None, "the cancellation is seen at the next checkpoint");
    Ok(())
}

#[anyio::test]
async fn a_call_dropped_once_its_job_is_submitted_still_runs_the_closure() -> anyio::Result<()> {
    // Polled once (a free token: the job goes to the pool in that poll) and dropped at once,
    // often before a pool thread took the job: the job must still run, as a thread that
    // started would (the pool's join handle is detached, never cancelled). A pool thread
    // that was awake may finish the job within that first poll; then the call is simply
    // done, so the dropped calls are counted.
    let mut dropped = 0;
    for _ in 0..50 {
        let ran = Gate::default();
        let r = ran.clone();
        let mut call = Box::pin(to_thread::run_sync(move || r.open()));
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        if first.is_pending() {
            dropped += 1;
        }
        drop(call);
        wait_gate(&ran).await?;
    }
    assert!(dropped > 0, "every call finished within its first poll");
    // Nothing stays reserved: with one token in all, a further call gets it once every
    // dropped call's job has given its token back (a leaked token would hold it forever).
    let limiter = to_thread::current_default_thread_limiter()?;
    limiter.set_total_tokens(1)?;
    anyio::fail_after(Duration::from_secs(30), to_thread::run_sync(|| ())).await?;
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}
