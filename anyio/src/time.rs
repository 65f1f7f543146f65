//! Sleeping: [`sleep`], [`sleep_until`], [`sleep_forever`] and the clock, [`current_time`].
//!
//! Every sleep is a checkpoint: it fails with `Cancelled` when the enclosing scope is
//! cancelled, whether before or during the sleep.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use crate::cancel::current_time;
use crate::cancel::deadline;
use crate::clock::PinnedTimer;
use crate::context;
use crate::detect::current_backend;
use crate::error::Result;
use crate::lowlevel::{self, Checkpoint};

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
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Mode::After(duration))
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
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Mode::At(deadline))
}

/// Sleeps for `duration` of real time, even in a run with a virtual clock (the backoff of
/// `wait_all_tasks_blocked`, which must not move or wait for virtual time).
pub(crate) fn sleep_real(duration: Duration) -> Sleep {
    match Instant::now()
        .checked_add(duration)
        .and_then(deadline::in_range)
    {
        Some(deadline) => Sleep::new(Mode::RealUntil(deadline)),
        None => Sleep::new(Mode::Forever),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`sleep`] and [`sleep_until`]: a checkpoint, then one timer, armed at
    /// the first poll that waits (a cancelled sleep arms none) and kept in place inside
    /// this future (no allocation for the timer on either backend). It touches no scope
    /// deadline: a sleep registers its one timer and nothing else.
    ///
    /// Dropping it at any point leaves nothing behind (the timer is disarmed with it).
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Sleep {
        checkpoint: Checkpoint,
        mode: Mode,
        #[pin]
        timer: Option<PinnedTimer>,
    }
}

/// What a [`Sleep`] waits for. The first two are resolved into one of the others at the
/// first poll (as an `async fn` would: the clock is read when the sleep starts).
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// For this long from the first poll.
    After(Duration),
    /// Until this instant, which may be past or out of range.
    At(Instant),
    /// Nothing: a bare checkpoint (a zero duration, a deadline in the past).
    Checkpoint,
    /// A future instant in the crate's range, on the run's clock (virtual or real).
    Until(Instant),
    /// The same on the real clock, even in a run with a virtual clock.
    RealUntil(Instant),
    /// Cancellation (a deadline past the crate's range), without a checkpoint first.
    Forever,
}

impl Mode {
    /// `After` and `At` resolved against the clock now (`sleep`'s and `sleep_until`'s rules).
    fn resolve(self) -> Mode {
        match self {
            Mode::After(d) if d.is_zero() => Mode::Checkpoint,
            // Ahead of now by construction: no second clock read.
            Mode::After(d) => deadline::deadline_after(d).map_or(Mode::Forever, Mode::Until),
            Mode::At(at) if at <= current_time() => Mode::Checkpoint,
            Mode::At(at) => deadline::in_range(at).map_or(Mode::Forever, |_| Mode::Until(at)),
            other => other,
        }
    }
}

impl Sleep {
    fn new(mode: Mode) -> Sleep {
        Sleep {
            checkpoint: Checkpoint::new(),
            mode,
            timer: None,
        }
    }
}

impl Future for Sleep {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut this = self.project();
        if let Mode::After(_) | Mode::At(_) = this.mode {
            *this.mode = this.mode.resolve();
        }
        let (at, real) = match *this.mode {
            Mode::Forever => {
                return match context::cancelled_or_block() {
                    Some(e) => Poll::Ready(Err(e)),
                    None => Poll::Pending,
                };
            }
            Mode::Checkpoint => return this.checkpoint.poll_in_place(cx),
            Mode::Until(at) => (at, false),
            Mode::RealUntil(at) => (at, true),
            Mode::After(_) | Mode::At(_) => unreachable!("resolved above"),
        };
        // The checkpoint first (passed once, then `Ready` at once on every later poll), as
        // every blocking operation's prelude does.
        std::task::ready!(this.checkpoint.poll_in_place(cx))?;
        if this.timer.is_none() {
            let made = current_backend().and_then(|b| {
                if real {
                    PinnedTimer::real(b, at)
                } else {
                    PinnedTimer::at(b, at)
                }
            });
            match made {
                Ok(t) => this.timer.set(Some(t)),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        if let Some(timer) = this.timer.as_mut().as_pin_mut() {
            if timer.poll_fire(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
        }
        match context::cancelled_or_block() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Pending,
        }
    }
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
