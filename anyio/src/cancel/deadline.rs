//! Deadlines and the crate clock.
//!
//! Deadlines are [`std::time::Instant`]s. Inside the scope tree they are kept as nanoseconds
//! since a process-wide base instant, so that a node can hold its deadline in one atomic.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

pub(crate) fn now_nanos() -> u64 {
    instant_to_nanos(Instant::now())
}

/// Instants before the base clamp to 0 (already expired); instants beyond 584 years clamp
/// to `u64::MAX`.
pub(crate) fn instant_to_nanos(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base()).as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn nanos_to_instant(nanos: u64) -> Instant {
    let b = base();
    b.checked_add(Duration::from_nanos(nanos)).unwrap_or(b)
}

/// `now + timeout`, or no deadline when that does not fit in an `Instant`
/// (so `Duration::MAX` means "no deadline" and never overflows).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The current time of the event loop clock, as used by every deadline in anyio.
///
/// This is [`Instant::now`]; both backends share this clock.
pub fn current_time() -> Instant {
    Instant::now()
}

/// The deadline that applies at some point of the program, as reported by
/// [`current_effective_deadline`](super::current_effective_deadline).
///
/// AnyIO reports `+inf` for "no deadline" and `-inf` for "already cancelled"; this enum
/// names those cases.
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
            Deadline::At(at) => Some(at.saturating_duration_since(Instant::now())),
            Deadline::Cancelled => Some(Duration::ZERO),
        }
    }
}
