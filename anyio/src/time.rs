//! Sleeping: [`sleep`], [`sleep_until`], [`sleep_forever`] and the clock, [`current_time`].
//!
//! Every sleep is a checkpoint: it fails with `Cancelled` when the enclosing scope is
//! cancelled, whether before or during the sleep.

use std::time::{Duration, Instant};

use crate::backend::Timer;
use crate::backend::detect::current_backend;
pub use crate::cancel::current_time;
use crate::cancel::deadline;
use crate::context;
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
        Some(deadline) => sleep_until(deadline).await,
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
    if deadline <= Instant::now() {
        return lowlevel::checkpoint().await;
    }
    if deadline::in_range(deadline).is_none() {
        return sleep_forever().await;
    }
    if let Some(e) = context::check_cancelled() {
        return Err(e);
    }
    let mut timer = Timer::at(current_backend()?, deadline)?;
    lowlevel::wait(|cx| timer.poll_fire(cx)).await
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
