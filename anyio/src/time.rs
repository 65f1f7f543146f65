//! Sleeping: [`sleep`], [`sleep_until`], [`sleep_forever`] and the clock, [`current_time`].
//!
//! Every sleep is a checkpoint: it fails with `Cancelled` when the enclosing scope is
//! cancelled, whether before or during the sleep.

use std::task::Poll;
use std::time::{Duration, Instant};

pub use crate::cancel::current_time;
use crate::cancel::deadline;
use crate::clock::Timer;
use crate::detect::current_backend;
use crate::error::Result;
use crate::lowlevel;

/// Waits for `duration`.
///
/// `Duration::ZERO` is a bare [checkpoint](crate::lowlevel::checkpoint); a duration past
/// the range of `Instant` (or the range the crate keeps deadlines in, about 400 years)
/// sleeps forever.
///
/// # Cancellation
///
/// Returns `Cancelled` as soon as the enclosing scope is cancelled; nothing to undo.
///
/// # Errors
///
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled);
/// [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop) on a thread with no backend;
/// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) on a tokio runtime built
/// without `enable_time()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # anyio::run(|| async {
/// let start = anyio::current_time();
/// anyio::sleep(Duration::from_millis(5)).await?;
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn sleep(duration: Duration) -> Result<()> {
    if duration.is_zero() {
        return lowlevel::checkpoint().await;
    }
    match deadline::deadline_after(duration) {
        // Ahead of now by construction: no second clock read.
        Some(deadline) => sleep_in_range(deadline, Timer::at).await,
        None => sleep_forever().await,
    }
}

/// Waits until `deadline`. A deadline in the past is a bare checkpoint; one past the
/// range the crate keeps deadlines in (about 400 years ahead) sleeps forever.
///
/// # Cancellation
///
/// As [`sleep`].
///
/// # Errors
///
/// As [`sleep`].
pub async fn sleep_until(deadline: Instant) -> Result<()> {
    if deadline <= current_time() {
        return lowlevel::checkpoint().await;
    }
    if deadline::in_range(deadline).is_none() {
        return sleep_forever().await;
    }
    sleep_in_range(deadline, Timer::at).await
}

/// Sleeps for `duration` of real time, even in a run with a virtual clock (the backoff of
/// `wait_all_tasks_blocked`, which must not move or wait for virtual time).
pub(crate) async fn sleep_real(duration: Duration) -> Result<()> {
    match Instant::now()
        .checked_add(duration)
        .and_then(deadline::in_range)
    {
        Some(deadline) => sleep_in_range(deadline, Timer::real).await,
        None => sleep_forever().await,
    }
}

/// Sleeps until `deadline`, a future instant in the crate's range. The timer is created at
/// the first poll of the wait, after its cancellation check: a cancelled sleep arms none.
async fn sleep_in_range(
    deadline: Instant,
    arm: impl Fn(crate::run::Backend, Instant) -> Result<Timer>,
) -> Result<()> {
    // Generic over `arm` (a fn item), so the real path inlines `Timer::at` as before.
    let mut timer: Option<Timer> = None;
    lowlevel::wait(|cx| {
        let timer = match &mut timer {
            Some(timer) => timer,
            None => match current_backend().and_then(|b| arm(b, deadline)) {
                Ok(t) => timer.insert(t),
                Err(e) => return Poll::Ready(Err(e)),
            },
        };
        timer.poll_fire(cx).map(Ok)
    })
    .await?
}

/// Waits until cancelled; always returns `Err` with the cancellation.
///
/// # Cancellation
///
/// This is how it ends.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # anyio::run(|| async {
/// let out = anyio::move_on_after(Duration::from_millis(5), anyio::sleep_forever()).await?;
/// assert_eq!(out, None);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn sleep_forever() -> Result<()> {
    Err(lowlevel::wait_cancelled().await)
}
