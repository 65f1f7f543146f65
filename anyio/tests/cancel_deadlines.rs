//! Deadlines at the edges of the clock: far in the future, past the range of `Instant`, in
//! the past, and before the process started. Each reads back as set (or as "no deadline"
//! when it could never expire), never panics, and a deadline in the past cancels at once.

use std::time::{Duration, Instant};

use anyio::{
    CancelScope, Deadline, Error, ErrorKind, current_effective_deadline, fail_after, fail_at,
    move_on_after, move_on_at, sleep, sleep_forever, sleep_until,
};

const SHORT: Duration = Duration::from_millis(5);

/// The case: now + 2^40 s (about 34,800 years).
fn far() -> Instant {
    Instant::now() + Duration::from_secs(1 << 40)
}

/// The latest `Instant` this platform can represent (within a nanosecond).
fn latest_instant() -> Instant {
    let mut at = Instant::now();
    for shift in (0..64).rev() {
        if let Some(later) = at.checked_add(Duration::from_secs(1 << shift)) {
            at = later;
        }
    }
    for shift in (0..30).rev() {
        if let Some(later) = at.checked_add(Duration::from_nanos(1 << shift)) {
            at = later;
        }
    }
    at
}

/// A deadline may read back as exactly what was set, or as "none" when it lies past the
/// range the crate keeps; never as an earlier instant.
fn assert_kept_or_never(read: Option<Instant>, set: Instant) {
    if let Some(read) = read {
        assert_eq!(read, set, "the deadline read back as another instant");
    }
}

#[anyio::test]
async fn far_future_deadline_never_reads_back_earlier() -> anyio::Result<()> {
    let at = far();
    let scope = CancelScope::new().with_deadline(at);
    assert_kept_or_never(scope.deadline(), at);
    let inner = scope.clone();
    scope
        .run(async move {
            let effective = current_effective_deadline();
            assert!(
                effective == Deadline::Never || effective == Deadline::At(at),
                "{effective:?}"
            );
            assert_kept_or_never(inner.deadline(), at);
            sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(())
        })
        .await?;
    assert!(!scope.cancel_called());
    Ok(())
}

#[anyio::test]
async fn set_deadline_far_future_never_reads_back_earlier() -> anyio::Result<()> {
    let scope = CancelScope::new();
    for at in [far(), latest_instant()] {
        scope.set_deadline(at);
        assert_kept_or_never(scope.deadline(), at);
    }
    Ok(())
}

#[anyio::test]
async fn deadline_centuries_ahead_reads_back_exactly() -> anyio::Result<()> {
    let at = Instant::now() + Duration::from_secs(200 * 365 * 86_400);
    let scope = CancelScope::new().with_deadline(at);
    assert_eq!(scope.deadline(), Some(at));
    let inner = scope.clone();
    scope
        .run(async move {
            assert_eq!(current_effective_deadline(), Deadline::At(at));
            assert_eq!(inner.deadline(), Some(at));
            Ok::<_, Error>(())
        })
        .await?;
    Ok(())
}

#[anyio::test]
async fn latest_instant_deadline_arms_without_panic() -> anyio::Result<()> {
    let at = latest_instant();
    let out = move_on_after(SHORT, async move {
        let scope = CancelScope::new().with_deadline(at);
        scope.run(sleep_forever()).await
    })
    .await?;
    assert_eq!(out, None, "the outer scope ended the wait");
    Ok(())
}

#[anyio::test]
async fn sleep_until_latest_instant_is_cancellable() -> anyio::Result<()> {
    let out = move_on_after(SHORT, sleep_until(latest_instant())).await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn sleep_duration_max_is_cancellable() -> anyio::Result<()> {
    let out = move_on_after(SHORT, sleep(Duration::MAX)).await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn duration_max_timeouts_mean_no_deadline() -> anyio::Result<()> {
    let scope = CancelScope::new().with_timeout(Duration::MAX);
    assert_eq!(scope.deadline(), None);
    let out = move_on_after(Duration::MAX, async {
        assert_eq!(current_effective_deadline(), Deadline::Never);
        sleep(Duration::from_millis(1)).await?;
        Ok::<_, Error>(1)
    })
    .await?;
    assert_eq!(out, Some(1));
    let out = fail_after(Duration::MAX, async {
        assert_eq!(current_effective_deadline(), Deadline::Never);
        Ok::<_, Error>(2)
    })
    .await?;
    assert_eq!(out, 2);
    Ok(())
}

#[anyio::test]
async fn huge_timeouts_never_read_back_earlier() -> anyio::Result<()> {
    for secs in [1u64 << 40, 1 << 50, u64::MAX / 2] {
        let timeout = Duration::from_secs(secs);
        let floor = Instant::now().checked_add(timeout);
        let scope = CancelScope::new().with_timeout(timeout);
        if let (Some(read), Some(floor)) = (scope.deadline(), floor) {
            assert!(read >= floor, "{secs} s read back earlier");
        }
        let out = fail_after(timeout, async move {
            if let (Deadline::At(read), Some(floor)) = (current_effective_deadline(), floor) {
                assert!(read >= floor, "{secs} s read back earlier");
            }
            sleep(Duration::from_millis(1)).await?;
            Ok::<_, Error>(secs)
        })
        .await?;
        assert_eq!(out, secs);
    }
    Ok(())
}

#[anyio::test]
async fn deadline_before_the_crate_origin_reads_back_exactly() -> anyio::Result<()> {
    let Some(at) = Instant::now().checked_sub(Duration::from_secs(3600)) else {
        return Ok(()); // this platform's clock cannot go back an hour yet
    };
    let scope = CancelScope::new().with_deadline(at);
    assert_eq!(scope.deadline(), Some(at));
    let inner = scope.clone();
    let out = scope
        .run(async move {
            assert_eq!(inner.deadline(), Some(at));
            assert_eq!(current_effective_deadline(), Deadline::Cancelled);
            sleep_forever().await
        })
        .await?;
    assert_eq!(out, None);
    assert!(scope.cancel_called() && scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn past_deadlines_cancel_at_once() -> anyio::Result<()> {
    let started = Instant::now();
    let mut pasts = vec![started];
    if let Some(hour_ago) = started.checked_sub(Duration::from_secs(3600)) {
        pasts.push(hour_ago);
    }
    for at in pasts {
        assert_eq!(move_on_at(at, sleep_forever()).await?, None);
        let e = fail_at(at, sleep_forever()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                scope.set_deadline(at);
                sleep_forever().await
            })
            .await?;
        assert_eq!(out, None);
    }
    Ok(())
}
