//! The virtual clock (`anyio::testing::VirtualClock`, `#[anyio::test(virtual_time)]` and
//! `#[anyio::test(autojump = "0ms")]`): sleeps, `sleep_until`, scope deadlines and
//! `current_time()` follow virtual time on both backends, multi-thread executors included.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use anyio::testing::{self, VirtualClock};
use anyio::{
    CancelScope, Deadline, ErrorKind, Event, current_effective_deadline, current_time, fail_after,
    move_on_after, sleep, sleep_forever, sleep_until, task_group,
};

const HOUR: Duration = Duration::from_secs(3600);

fn clock() -> VirtualClock {
    testing::current_clock().expect("the test runs on a virtual clock")
}

/// 1,000 deadlines spread over one simulated hour, owned round-robin by 10 tasks: each
/// task wakes at each of its deadlines and records it. Returns (simulated, real) time.
async fn hour_of_deadlines() -> anyio::Result<(Duration, Duration)> {
    const N: u64 = 1000;
    const TASKS: u64 = 10;
    let real = Instant::now();
    let start = current_time();
    let woken: Arc<Mutex<Vec<u64>>> = Arc::default();
    task_group(|tg| {
        let woken = woken.clone();
        async move {
            for k in 0..TASKS {
                let woken = woken.clone();
                tg.start_soon(async move {
                    for i in (1..=N).filter(|i| i % TASKS == k) {
                        let at = start + HOUR * (i as u32) / (N as u32);
                        sleep_until(at).await?;
                        assert_eq!(
                            current_time(),
                            at,
                            "woken at another time than its deadline"
                        );
                        woken.lock().unwrap().push(i);
                    }
                    anyio::Ok(())
                })?;
            }
            anyio::Ok(())
        }
    })
    .await?;
    let woken = woken.lock().unwrap().clone();
    let expected: Vec<u64> = (1..=N).collect();
    assert_eq!(woken, expected, "wake-ups out of deadline order");
    let simulated = current_time() - start;
    assert_eq!(simulated, HOUR);
    Ok((simulated, real.elapsed()))
}

/// The case: an hour with 1,000 interleaved deadlines takes far less real time
/// than simulated time, and the wake-ups come in the order of the deadlines.
#[anyio::test(autojump = "0ms")]
async fn simulated_hour_wakes_in_deadline_order() -> anyio::Result<()> {
    let (simulated, real) = hour_of_deadlines().await?;
    let ratio = simulated.as_secs_f64() / real.as_secs_f64();
    println!("one simulated hour in {real:?} of real time (x{ratio:.0})");
    assert!(
        ratio > 50.0,
        "virtual time ran only {ratio:.1} times faster than real time"
    );
    Ok(())
}

/// The same on two executor threads per backend (tokio's multi-thread runtime with two
/// workers, smol's executor on two threads).
#[anyio::test(autojump = "0ms", threads = 2)]
async fn simulated_hour_in_order_on_two_threads() -> anyio::Result<()> {
    let (simulated, real) = hour_of_deadlines().await?;
    assert!(simulated > real * 50);
    Ok(())
}

/// A retry loop with exponential backoff (1 s doubling, capped at 1 h) against a service
/// that comes back after 24 simulated hours: every wait is exact, and the loop ends at the
/// first attempt past the 24 hours.
#[anyio::test(autojump = "0ms")]
async fn day_long_retry_loop_with_backoff() -> anyio::Result<()> {
    let start = current_time();
    let up_at = start + 24 * HOUR;
    let service = || async move {
        anyio::lowlevel::checkpoint().await?;
        if current_time() >= up_at {
            Ok(())
        } else {
            Err(anyio::Error::new(ErrorKind::BrokenResource, "service down"))
        }
    };
    let mut backoff = Duration::from_secs(1);
    let mut attempts = 0u32;
    let mut expected = Duration::ZERO;
    loop {
        attempts += 1;
        if service().await.is_ok() {
            break;
        }
        sleep(backoff).await?;
        expected += backoff;
        assert_eq!(
            current_time() - start,
            expected,
            "a backoff sleep was not exact"
        );
        backoff = (backoff * 2).min(HOUR);
    }
    // 1 + 2 + ... + 2048 s = 4095 s, then whole hours: 4095 + 23 h = 86,895 s ≥ 86,400 s.
    assert_eq!(expected, Duration::from_secs(4095) + 23 * HOUR);
    assert_eq!(attempts, 12 + 23 + 1);
    Ok(())
}

/// `fail_after(1h)` fires at exactly one virtual hour, and the effective deadline inside
/// reads the virtual clock.
#[anyio::test(autojump = "0ms")]
async fn fail_after_an_hour_fires_at_exactly_an_hour() -> anyio::Result<()> {
    let start = current_time();
    let err = fail_after(HOUR, async {
        assert_eq!(current_effective_deadline(), Deadline::At(start + HOUR));
        assert_eq!(current_effective_deadline().remaining(), Some(HOUR));
        sleep_forever().await
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(current_time() - start, HOUR);
    Ok(())
}

/// A deadline moved while its scope waits: the scope ends at the new deadline, not the
/// old one (a hand-moved clock, so each step is checked).
#[anyio::test(virtual_time)]
async fn deadline_moved_while_waiting() -> anyio::Result<()> {
    let clock = clock();
    let start = current_time();
    let scope = CancelScope::new().with_deadline(start + Duration::from_secs(10));
    let ended = Event::new();
    task_group(|tg| {
        let (scope, ended) = (scope.clone(), ended.clone());
        async move {
            let (s, e) = (scope.clone(), ended.clone());
            tg.start_soon(async move {
                let out = s.run(sleep_forever()).await?;
                assert_eq!(out, None);
                e.set();
                anyio::Ok(())
            })?;
            testing::wait_all_tasks_blocked().await?;
            assert_eq!(clock.next_deadline(), Some(start + Duration::from_secs(10)));
            scope.set_deadline(start + Duration::from_secs(100));
            testing::wait_all_tasks_blocked().await?;
            assert_eq!(
                clock.next_deadline(),
                Some(start + Duration::from_secs(100))
            );
            clock.advance(Duration::from_secs(50))?;
            testing::wait_all_tasks_blocked().await?;
            assert!(!ended.is_set(), "the scope ended at its old deadline");
            clock.advance(Duration::from_secs(50))?;
            ended.wait().await?;
            assert_eq!(current_time() - start, Duration::from_secs(100));
            anyio::Ok(())
        }
    })
    .await?;
    assert!(scope.cancelled_caught());
    Ok(())
}

/// A shielded scope under a virtual deadline: its sleep runs its whole virtual minute past
/// the outer 10 s deadline, and the outer scope cancels at the first checkpoint after.
#[anyio::test(autojump = "0ms")]
async fn shielded_scope_under_a_virtual_deadline() -> anyio::Result<()> {
    let start = current_time();
    let shielded_until = Arc::new(Mutex::new(None));
    let record = shielded_until.clone();
    let out = move_on_after(Duration::from_secs(10), async move {
        CancelScope::shielded()
            .run(async {
                sleep(Duration::from_secs(60)).await?;
                *record.lock().unwrap() = Some(current_time());
                anyio::Ok(())
            })
            .await?;
        sleep(Duration::from_secs(1)).await?;
        unreachable!("the outer deadline has passed");
        #[allow(unreachable_code)]
        anyio::Ok(())
    })
    .await?;
    assert_eq!(out, None::<()>);
    assert_eq!(
        *shielded_until.lock().unwrap(),
        Some(start + Duration::from_secs(60))
    );
    assert_eq!(current_time() - start, Duration::from_secs(60));
    Ok(())
}

/// `to_thread` work runs in real time while the task waiting for it counts as blocked, so
/// autojump moves virtual time meanwhile: here the thread waits until a virtual hour has
/// passed in another task, which can only happen by autojump while the thread is busy.
/// On the worker thread, `current_time()` is the real clock.
#[anyio::test(autojump = "0ms")]
async fn to_thread_work_with_virtual_sleeps() -> anyio::Result<()> {
    let start = current_time();
    let (tx, rx) = mpsc::channel::<Instant>();
    let order: Arc<Mutex<Vec<&str>>> = Arc::default();
    task_group(|tg| {
        let order = order.clone();
        async move {
            let o = order.clone();
            tg.start_soon(async move {
                let thread_clock = anyio::to_thread::run_sync(move || {
                    let woke_at = rx.recv().expect("the sleeper reports");
                    (woke_at, current_time())
                })
                .await?;
                o.lock().unwrap().push("thread returned");
                let (woke_at, thread_now) = thread_clock;
                assert_eq!(woke_at, start + HOUR);
                assert!(
                    thread_now < start + HOUR,
                    "the worker thread read virtual time"
                );
                anyio::Ok(())
            })?;
            let o = order.clone();
            tg.start_soon(async move {
                sleep(HOUR).await?;
                o.lock().unwrap().push("virtual hour passed");
                tx.send(current_time()).expect("the thread waits");
                anyio::Ok(())
            })?;
            anyio::Ok(())
        }
    })
    .await?;
    assert_eq!(
        *order.lock().unwrap(),
        ["virtual hour passed", "thread returned"]
    );
    assert_eq!(current_time() - start, HOUR);
    Ok(())
}

/// Autojump never fires while a task is runnable: a task that keeps passing checkpoints
/// (and so keeps being rescheduled) holds the clock still, however long that takes in
/// real time; once it is done, the sleeper's hour passes at once.
#[anyio::test(autojump = "0ms")]
async fn autojump_waits_while_a_task_is_runnable() -> anyio::Result<()> {
    let start = current_time();
    task_group(|tg| async move {
        tg.start_soon(async move {
            sleep(HOUR).await?;
            assert_eq!(current_time() - start, HOUR);
            anyio::Ok(())
        })?;
        let real = Instant::now();
        let mut rounds = 0u64;
        while real.elapsed() < Duration::from_millis(200) || rounds < 10_000 {
            anyio::lowlevel::yield_now().await;
            assert_eq!(
                current_time(),
                start,
                "the clock jumped while a task was runnable"
            );
            rounds += 1;
        }
        anyio::Ok(())
    })
    .await?;
    assert_eq!(current_time() - start, HOUR);
    Ok(())
}

/// `wait_all_tasks_blocked` under autojump: the clock does not jump while a task waits in
/// it (the waiter goes first, as in trio).
#[anyio::test(autojump = "0ms")]
async fn autojump_lets_wait_all_tasks_blocked_go_first() -> anyio::Result<()> {
    let start = current_time();
    task_group(|tg| async move {
        tg.start_soon(sleep(HOUR))?;
        testing::wait_all_tasks_blocked().await?;
        assert_eq!(
            current_time(),
            start,
            "the clock jumped before the waiter returned"
        );
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// `advance` by hand wakes the timers due by then, and only those.
#[anyio::test(virtual_time)]
async fn advance_wakes_only_due_timers() -> anyio::Result<()> {
    let clock = clock();
    let start = current_time();
    let (ten, twenty) = (Event::new(), Event::new());
    task_group(|tg| {
        let (t10, t20) = (ten.clone(), twenty.clone());
        async move {
            tg.start_soon(async move {
                sleep(Duration::from_secs(10)).await?;
                t10.set();
                anyio::Ok(())
            })?;
            tg.start_soon(async move {
                sleep(Duration::from_secs(20)).await?;
                t20.set();
                anyio::Ok(())
            })?;
            testing::wait_all_tasks_blocked().await?;
            clock.advance(Duration::from_secs(15))?;
            ten.wait().await?;
            testing::wait_all_tasks_blocked().await?;
            assert!(!twenty.is_set());
            assert_eq!(current_time() - start, Duration::from_secs(15));
            clock.advance(Duration::from_secs(5))?;
            twenty.wait().await?;
            anyio::Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Advancing past the crate's range is refused with `InvalidArgument` and leaves the clock
/// as it was.
#[anyio::test(virtual_time)]
async fn advance_past_the_range_is_refused() -> anyio::Result<()> {
    let clock = clock();
    let before = clock.now();
    for by in [Duration::MAX, Duration::from_secs(1 << 40)] {
        let err = clock.advance(by).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(clock.now(), before);
    }
    assert_eq!(current_time(), before);
    Ok(())
}

/// Only the run with the clock follows it: a run in another thread meanwhile sleeps in
/// real time, and outside the run's tasks the clock is real.
#[anyio::test(virtual_time)]
async fn other_runs_keep_real_time() -> anyio::Result<()> {
    let clock = clock();
    clock.advance(HOUR)?;
    let real_run = std::thread::spawn(|| {
        let start = Instant::now();
        anyio::run(|| async {
            assert!(testing::current_clock().is_none());
            sleep(Duration::from_millis(20)).await
        })
        .unwrap();
        start.elapsed()
    });
    let took = anyio::to_thread::run_sync(move || real_run.join().unwrap()).await?;
    assert!(
        took >= Duration::from_millis(20),
        "the other run's sleep was not real"
    );
    assert!(current_time() >= Instant::now() + HOUR - Duration::from_secs(60));
    Ok(())
}

/// A timer that is not anyio's (a raw `tokio::time::sleep`) stays on tokio's real clock
/// under a virtual clock: it takes its real time and does not move virtual time.
#[cfg(feature = "tokio")]
#[anyio::test(virtual_time, backends = ["tokio"])]
async fn raw_tokio_sleep_stays_real() -> anyio::Result<()> {
    let start = current_time();
    let real = Instant::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(real.elapsed() >= Duration::from_millis(20));
    assert_eq!(current_time(), start);
    Ok(())
}

/// The clock through `Runner` directly, shared with the code that started the run.
#[test]
fn runner_with_a_clock_reports_its_time() {
    for &backend in anyio::available_backends() {
        let clock = VirtualClock::with_autojump(Duration::ZERO);
        let start = clock.now();
        let out = anyio::Runner::new(backend)
            .virtual_clock(clock.clone())
            .run(|| fail_after(Duration::from_secs(5), sleep_forever()));
        assert_eq!(out.unwrap_err().kind(), ErrorKind::TimedOut);
        assert_eq!(clock.now() - start, Duration::from_secs(5), "{backend}");
        assert_eq!(clock.next_deadline(), None);
    }
}

/// A virtual sleep or scope deadline polled once and dropped leaves nothing armed on the
/// clock (and so nothing for autojump to jump to).
#[anyio::test(virtual_time)]
async fn dropped_sleep_leaves_no_timer() -> anyio::Result<()> {
    let clock = clock();
    for fut in [
        Box::pin(sleep(HOUR)) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
        Box::pin(async {
            move_on_after(HOUR, sleep_forever()).await?;
            anyio::Ok(())
        }),
    ] {
        let mut fut = fut;
        let pending = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending()));
        assert!(pending.await, "the sleep ended at once");
        assert_eq!(clock.next_deadline(), Some(current_time() + HOUR));
        drop(fut);
        assert_eq!(
            clock.next_deadline(),
            None,
            "a dropped sleep left its timer armed"
        );
    }
    Ok(())
}
