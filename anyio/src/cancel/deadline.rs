//! Deadlines and the crate clock.
//!
//! Deadlines are [`std::time::Instant`]s. Inside the scope tree they are kept as nanoseconds
//! since the crate's time *origin*, so that a node can hold its deadline in one atomic.
//!
//! # Range
//!
//! The origin lies before the process started: 2^62 ns (about 146 years) before the first
//! use of the clock, or as far back as this platform's `Instant` allows. A `u64` of
//! nanoseconds then spans from the origin to about 438 years after the process started, and
//! every deadline inside that range reads back exactly as it was set (an `Instant` taken
//! before the run, `Instant::now() - 1h`, now + 200 years).
//!
//! A deadline later than the range could never expire while this process runs, so it is
//! kept as *no deadline* (trio's `inf`, [`Deadline::Never`]), never as an earlier instant.
//! A deadline earlier than the origin is in the past whatever its exact value: it is kept
//! as the origin and cancels at once, as any past deadline does.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The crate clock: its origin and the first instant past its range.
struct Clock {
    origin: Instant,
    /// `origin + u64::MAX ns`, or `None` when that is past the range of `Instant` (then
    /// every representable instant fits).
    end: Option<Instant>,
}

/// How far before the first use of the clock the origin lies, at most (log2 of nanos).
const ORIGIN_BACK_LOG2: u32 = 62;

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let now = Instant::now();
        // Some platforms cannot represent instants before boot: take the largest step back
        // that fits.
        let origin = (0..=ORIGIN_BACK_LOG2)
            .rev()
            .find_map(|log2| now.checked_sub(Duration::from_nanos(1 << log2)))
            .unwrap_or(now);
        let end = origin.checked_add(Duration::from_nanos(u64::MAX));
        Clock { origin, end }
    })
}

/// The crate clock in nanoseconds: the virtual clock's time in a run that has one.
pub(crate) fn now_nanos() -> u64 {
    match crate::clock::virtual_now_nanos() {
        Some(now) => now,
        None => instant_to_nanos(Instant::now()),
    }
}

/// Exact for every instant in the range (see the module docs). Instants before the origin
/// clamp to 0 (already expired); instants past the range (which [`in_range`] turns into no
/// deadline before they get here) saturate to `u64::MAX`.
pub(crate) fn instant_to_nanos(at: Instant) -> u64 {
    let since = at.saturating_duration_since(clock().origin);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// The inverse of [`instant_to_nanos`].
pub(crate) fn nanos_to_instant(nanos: u64) -> Instant {
    let c = clock();
    // Cannot fail: every `u64` fits when `end` exists, and otherwise `nanos` came from an
    // instant that exists.
    c.origin
        .checked_add(Duration::from_nanos(nanos))
        .unwrap_or(c.origin)
}

/// `Some(at)` when the crate can keep `at` exactly or as the origin, `None` (no deadline)
/// when it lies past the range: such a deadline cannot expire while this process runs.
pub(crate) fn in_range(at: Instant) -> Option<Instant> {
    match clock().end {
        Some(end) if at >= end => None,
        _ => Some(at),
    }
}

/// `now + timeout`, or no deadline when that does not fit in an `Instant` or in the crate's
/// range (so `Duration::MAX` means "no deadline" and never overflows).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    current_time().checked_add(timeout).and_then(in_range)
}

/// The current time of the event loop clock, as used by every deadline in anyio.
///
/// This is [`Instant::now`], which both backends share — except inside a run with a
/// [`VirtualClock`](crate::clock::VirtualClock), where it is the virtual clock's time
/// (outside an anyio task, on a worker thread say, it stays the real clock).
pub fn current_time() -> Instant {
    match crate::clock::virtual_now_nanos() {
        Some(now) => nanos_to_instant(now),
        None => Instant::now(),
    }
}

/// The deadline that applies at some point of the program, as reported by
/// [`current_effective_deadline`](super::current_effective_deadline).
///
/// AnyIO reports `+inf` for "no deadline" and `-inf` for "already cancelled"; this enum
/// names those cases.
///
/// A deadline reads back exactly as it was set, from an `Instant` taken long before the
/// run to one about 400 years ahead; a deadline set later than that could never expire
/// while the process runs and reads as [`Deadline::Never`], never as an earlier instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deadline {
    /// No enclosing scope has a deadline (AnyIO's `math.inf`).
    Never,
    /// The nearest deadline of the enclosing scopes.
    At(Instant),
    /// An enclosing scope is already cancelled: every checkpoint here fails at once
    /// (AnyIO's `-math.inf`).
    Cancelled,
}

impl Deadline {
    /// The instant, when there is one.
    pub fn instant(self) -> Option<Instant> {
        match self {
            Deadline::At(at) => Some(at),
            _ => None,
        }
    }

    /// The time left until the deadline: `None` for [`Deadline::Never`], zero once passed or
    /// cancelled.
    pub fn remaining(self) -> Option<Duration> {
        match self {
            Deadline::Never => None,
            Deadline::At(at) => Some(at.saturating_duration_since(current_time())),
            Deadline::Cancelled => Some(Duration::ZERO),
        }
    }
}
