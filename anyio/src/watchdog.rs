//! The cancellation watchdog of debug mode: reports a task that stays pending in a foreign
//! future long after its cancel scope was cancelled.
//!
//! A foreign future (tokio or smol I/O, a library's future) never looks at cancel scopes,
//! so a task parked in one does not see a cancellation, and its task group waits for it —
//! silently. In debug mode ([`Runner::debug`](crate::Runner::debug),
//! [`Runner::cancel_watchdog`](crate::Runner::cancel_watchdog), and under
//! `#[anyio::test]`), every task carries a [`TaskWatch`]:
//!
//! * at the end of each poll, the task's wrapper records whether the poll went `Pending`
//!   inside an anyio operation (one that marked the task blocked, or yielded, or waits
//!   for a thread), or somewhere else — and then, in which scope: the innermost scope
//!   whose inner future went `Pending` outside anyio, else the task's own scope;
//! * one process-wide thread scans the watched runs a few times per threshold; a task
//!   whose last poll went `Pending` outside anyio in a scope that is effectively cancelled
//!   (a shield hides outer cancellation here as everywhere) is timed from the first scan
//!   that sees it so, and reported once, on stderr (the sink of the slow-poll report),
//!   when that lasts the threshold.
//!
//! Nothing of this runs outside debug mode: a task's wrapper tests one `Option` before and
//! one after each poll, the tests it already made for the slow-poll report.

use std::io::Write;
use std::panic::Location;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::cancel::tree::ScopeNode;
use crate::context::Polled;
use crate::loom::Mutex;
use crate::task::RunContext;

/// The default threshold of the watchdog in debug mode and under `#[anyio::test]`.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_secs(5);

/// What the watchdog knows of one task.
#[derive(Debug)]
pub(crate) struct TaskWatch {
    /// Where the task was spawned (`start_soon`), when known.
    spawned_at: Option<&'static Location<'static>>,
    state: Mutex<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    /// The scope the task's last poll went `Pending` in, outside any anyio operation.
    suspect: Option<Arc<ScopeNode>>,
    /// When a scan first saw `suspect` cancelled.
    since: Option<Instant>,
    reported: bool,
}

impl TaskWatch {
    pub(crate) fn new(spawned_at: Option<&'static Location<'static>>) -> TaskWatch {
        TaskWatch {
            spawned_at,
            state: Mutex::new(WatchState::default()),
        }
    }

    /// Records how a poll of the task ended. `inner` is the innermost scope that went
    /// `Pending` outside anyio during the poll (from the context), `own` the task's scope.
    pub(crate) fn after_poll(
        &self,
        pending: bool,
        polled: Polled,
        quiet: bool,
        inner: Option<Arc<ScopeNode>>,
        own: &Arc<ScopeNode>,
    ) {
        let mut state = self.state.lock();
        if !pending || polled.blocked || polled.yielded || quiet {
            state.suspect = None;
            state.since = None;
            return;
        }
        let scope = inner.unwrap_or_else(|| own.clone());
        if !state
            .suspect
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &scope))
        {
            state.suspect = Some(scope);
            state.since = None;
        }
    }

    /// One scan of the task: the report to write, if it is due now.
    fn scan(&self, now: Instant, threshold: Duration, name: &str, id: u64) -> Option<String> {
        let mut state = self.state.lock();
        if state.reported {
            return None;
        }
        let cancelled = state
            .suspect
            .as_ref()
            .is_some_and(|s| s.effectively_cancelled());
        if !cancelled {
            state.since = None;
            return None;
        }
        let since = *state.since.get_or_insert(now);
        let waited = now.saturating_duration_since(since);
        if waited < threshold {
            return None;
        }
        state.reported = true;
        Some(report(name, id, self.spawned_at, threshold))
    }
}

fn report(
    name: &str,
    id: u64,
    spawned_at: Option<&'static Location<'static>>,
    threshold: Duration,
) -> String {
    let place = match spawned_at {
        Some(loc) => format!(
            ", spawned at {}:{}:{}",
            loc.file(),
            loc.line(),
            loc.column()
        ),
        None => String::new(),
    };
    format!(
        "anyio: task '{name}' (id {id}{place}) is still pending {:.1} s after its cancel scope \
         was cancelled, outside any anyio operation: it awaits a foreign future that does not \
         see cancel scopes (tokio or smol I/O, a library's future). Wrap that await with \
         anyio::cancellable(fut), or fut.cancellable() (anyio::CancellableExt), so that the \
         cancellation reaches it\n",
        threshold.as_secs_f64()
    )
}

/// The runs the watchdog thread scans (weak: a finished run drops out). Created, and the
/// thread started, by the first run that asks for the watchdog.
static WATCHED: OnceLock<Mutex<Vec<Weak<RunContext>>>> = OnceLock::new();

fn watched() -> &'static Mutex<Vec<Weak<RunContext>>> {
    WATCHED.get_or_init(|| {
        // If the thread cannot start, debug mode goes without the watchdog.
        let _ = std::thread::Builder::new()
            .name("anyio-cancel-watchdog".into())
            .spawn(scan_forever);
        Mutex::new(Vec::new())
    })
}

/// Puts `run` under the watchdog, starting its thread the first time.
pub(crate) fn watch(run: &Arc<RunContext>) {
    watched().lock().push(Arc::downgrade(run));
}

/// How often the watchdog scans: a quarter of the smallest threshold, within bounds.
fn period(runs: &[Arc<RunContext>]) -> Duration {
    runs.iter()
        .filter_map(|r| r.cancel_watchdog)
        .min()
        .map_or(Duration::from_millis(250), |t| t / 4)
        .clamp(Duration::from_millis(10), Duration::from_millis(250))
}

fn scan_forever() {
    loop {
        let runs: Vec<Arc<RunContext>> = {
            let mut watched = watched().lock();
            watched.retain(|w| w.upgrade().is_some_and(|r| !r.is_finished()));
            watched.iter().filter_map(Weak::upgrade).collect()
        };
        let now = Instant::now();
        for run in &runs {
            scan_run(run, now);
        }
        let pause = period(&runs);
        drop(runs);
        std::thread::sleep(pause);
    }
}

/// Scans every task of `run`; writes the reports due, all in one write.
fn scan_run(run: &RunContext, now: Instant) {
    let Some(threshold) = run.cancel_watchdog else {
        return;
    };
    let mut out = String::new();
    for task in run.tasks() {
        if let Some(watch) = task.watch() {
            if let Some(line) = watch.scan(now, threshold, &task.display_name(), task.id) {
                out.push_str(&line);
            }
        }
    }
    if !out.is_empty() {
        // Straight to the process's stderr, in one write: not through `eprint!`, which a
        // test harness captures per test (and this thread would inherit the capture of
        // whichever test started it).
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }
}
