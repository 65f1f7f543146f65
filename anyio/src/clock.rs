//! The virtual clock ([`VirtualClock`], trio's `MockClock` for both backends): its
//! timers and its autojump driver. Documented in [`crate::testing`] ("Virtual time").

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::deadline::{in_range, instant_to_nanos, nanos_to_instant};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::task::RunContext;

/// How many runs of this process have a virtual clock right now. A `const`-initialised
/// static: std's atomic in every build (loom's has no const `new`).
static ACTIVE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The virtual clock of the run being polled here, if it has one.
///
/// The one branch the real-time path pays: a single load while no run has a virtual clock.
#[inline]
pub(crate) fn active() -> Option<VirtualClock> {
    // Relaxed: a hint only. A run installs its clock before its root task is first polled,
    // on the thread that then polls it (and spawns every other task after that), so each
    // of its tasks sees the count raised; other runs read it only to take the slow path.
    if ACTIVE_RUNS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    current_slow()
}

#[cold]
fn current_slow() -> Option<VirtualClock> {
    context::with_current_task(|t| t.and_then(|t| t.env().run.clock.clone()))
}

/// The crate clock in nanoseconds when the run being polled here has a virtual clock.
#[inline]
pub(crate) fn virtual_now_nanos() -> Option<u64> {
    // Relaxed: see `active`.
    if ACTIVE_RUNS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    now_slow()
}

#[cold]
fn now_slow() -> Option<u64> {
    context::with_current_task(|t| {
        t.and_then(|t| t.env().run.clock.as_ref().map(|c| c.inner.now_nanos()))
    })
}

/// The virtual clock of the current run (the one installed with
/// [`Runner::virtual_clock`](crate::Runner::virtual_clock) or by
/// `#[anyio::test(virtual_time)]`), if it has one.
///
/// `None` outside an anyio task (on a worker thread, in a foreign task) and in runs on the
/// real clock.
pub fn current_clock() -> Option<VirtualClock> {
    current_slow()
}

/// A clock for tests whose time moves only when told to (trio's `MockClock`), on both
/// backends. See [`crate::testing`] ("Virtual time") for what follows it.
///
/// Clones share one clock. It starts at the real [`Instant`] of its creation and never moves
/// backwards.
///
/// # Examples
///
/// An hour of sleeping, without the hour:
///
/// ```
/// use std::time::{Duration, Instant};
/// use anyio::{Backend, Runner};
/// use anyio::testing::VirtualClock;
///
/// let clock = VirtualClock::with_autojump(Duration::ZERO);
/// let real = Instant::now();
/// Runner::new(Backend::default()).virtual_clock(clock.clone()).run(|| async {
///     let start = anyio::current_time();
///     anyio::sleep(Duration::from_secs(3600)).await?;
///     assert_eq!(anyio::current_time() - start, Duration::from_secs(3600));
///     Ok::<_, anyio::Error>(())
/// })?;
/// assert!(real.elapsed() < Duration::from_secs(3600));
/// # Ok::<_, anyio::Error>(())
/// ```
///
/// Moving time by hand:
///
/// ```
/// use std::time::Duration;
/// use anyio::testing::{self, VirtualClock};
///
/// # anyio::Runner::new(anyio::Backend::default()).virtual_clock(VirtualClock::new()).run(|| async {
/// let clock = testing::current_clock().expect("a virtual run");
/// let start = anyio::current_time();
/// anyio::task_group(|tg| async move {
///     tg.start_soon(anyio::sleep(Duration::from_secs(10)))?;
///     testing::wait_all_tasks_blocked().await?;
///     clock.advance(Duration::from_secs(10))?; // the sleeper wakes; the group ends
///     anyio::Ok(())
/// })
/// .await?;
/// assert_eq!(anyio::current_time() - start, Duration::from_secs(10));
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct VirtualClock {
    inner: Arc<ClockInner>,
}

struct ClockInner {
    /// The virtual now, in the crate's nanoseconds (`cancel::deadline`).
    ///
    /// # Invariant
    /// Written only under `timers`' lock, so a timer that reads it under that lock and
    /// registers its waker there cannot miss the advance that makes it due.
    now: AtomicU64,
    timers: Mutex<Timers>,
    /// Signalled when a timer is armed, so an idle autojump driver needs no polling.
    armed: Condvar,
    autojump: Option<Duration>,
    /// Tasks inside `wait_all_tasks_blocked`: they go first (trio's rule), so the clock
    /// does not jump while one of them waits for the others to block.
    waiters: AtomicUsize,
}

#[derive(Default)]
struct Timers {
    /// Armed timers by (deadline, id): iteration order is the order of deadlines, and of
    /// arming among equal deadlines.
    table: BTreeMap<(u64, u64), Waker>,
    next_id: u64,
}

impl fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualClock")
            .field("now", &self.now())
            .field("armed_timers", &self.inner.lock().table.len())
            .field("autojump", &self.inner.autojump)
            .finish()
    }
}

impl Default for VirtualClock {
    fn default() -> VirtualClock {
        VirtualClock::new()
    }
}

impl VirtualClock {
    /// A clock moved only by [`advance`](Self::advance).
    pub fn new() -> VirtualClock {
        VirtualClock::build(None)
    }

    /// A clock that also jumps to the next deadline by itself once every task of the run
    /// has been blocked for `threshold` of real time (`Duration::ZERO`: as soon as they
    /// all are). See [`crate::testing`] ("Virtual time").
    #[doc(alias = "autojump_threshold")]
    pub fn with_autojump(threshold: Duration) -> VirtualClock {
        VirtualClock::build(Some(threshold))
    }

    fn build(autojump: Option<Duration>) -> VirtualClock {
        VirtualClock {
            inner: Arc::new(ClockInner {
                now: AtomicU64::new(instant_to_nanos(Instant::now())),
                timers: Mutex::new(Timers::default()),
                armed: Condvar::new(),
                autojump,
                waiters: AtomicUsize::new(0),
            }),
        }
    }

    /// The autojump threshold, if the clock jumps by itself.
    pub fn autojump(&self) -> Option<Duration> {
        self.inner.autojump
    }

    /// The virtual now (what [`current_time`](crate::current_time) returns inside the run).
    pub fn now(&self) -> Instant {
        nanos_to_instant(self.inner.now_nanos())
    }

    /// The earliest deadline armed on this clock, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline().map(nanos_to_instant)
    }

    /// Moves virtual time forward by `by` and wakes every timer due by then, in the order
    /// of their deadlines. The woken tasks run afterwards, in the executor's order: to see
    /// wake-ups one deadline at a time, advance to each deadline in turn (or use autojump).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the new time would lie past the range the crate
    /// keeps deadlines in (about 400 years after the process started); the clock is left
    /// unchanged.
    pub fn advance(&self, by: Duration) -> Result<()> {
        let mut timers = self.inner.lock();
        let now = self.inner.now_nanos();
        let to = nanos_to_instant(now)
            .checked_add(by)
            .and_then(in_range)
            .map(instant_to_nanos)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("advancing the virtual clock by {by:?} leaves the clock's range"),
                )
            })?;
        let due = self.inner.set_now(&mut timers, to);
        drop(timers);
        wake_in_order(due);
        Ok(())
    }

    /// A timer of this clock that fires at `at`.
    pub(crate) fn timer(&self, at: Instant) -> VirtualTimer {
        VirtualTimer {
            clock: self.inner.clone(),
            deadline: instant_to_nanos(at),
            key: None,
        }
    }

    /// Starts the autojump driver of `run`, if this clock jumps by itself; the returned
    /// guard stops it and uninstalls the clock.
    pub(crate) fn install(&self, run: &Arc<RunContext>) -> Installed {
        // Relaxed: see `active`; the run's tasks are polled after this, on this thread or
        // on threads the executor starts (which synchronise with it).
        ACTIVE_RUNS.fetch_add(1, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let driver = self.inner.autojump.map(|threshold| {
            let clock = self.inner.clone();
            let run = Arc::downgrade(run);
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("anyio-autojump".into())
                .spawn(move || autojump(&clock, &run, &stop, threshold))
        });
        Installed {
            clock: self.inner.clone(),
            stop,
            driver: driver.and_then(std::result::Result::ok),
        }
    }
}

/// Counts a task in `wait_all_tasks_blocked` on the current run's clock, if it has one,
/// for as long as the guard lives.
pub(crate) fn waiting() -> Option<Waiting> {
    let clock = active()?;
    // Relaxed: a count the driver reads again right before it jumps; the jump itself is
    // ordered by the timer lock.
    clock.inner.waiters.fetch_add(1, Ordering::Relaxed);
    Some(Waiting(clock.inner))
}

/// See [`waiting`].
pub(crate) struct Waiting(Arc<ClockInner>);

impl Drop for Waiting {
    fn drop(&mut self) {
        // Relaxed: see `waiting`.
        self.0.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A run's installation of its clock (see [`VirtualClock::install`]).
pub(crate) struct Installed {
    clock: Arc<ClockInner>,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<()>>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        // Relaxed: see `active`.
        ACTIVE_RUNS.fetch_sub(1, Ordering::Relaxed);
        // SeqCst: the driver reads the flag after waiting on the condvar; its lock orders
        // the store before the driver's next load.
        self.stop.store(true, Ordering::SeqCst);
        {
            let _timers = self.clock.lock();
            self.clock.armed.notify_all();
        }
        if let Some(driver) = self.driver.take() {
            let _ = driver.join();
        }
    }
}

impl ClockInner {
    fn lock(&self) -> MutexGuard<'_, Timers> {
        // A panic while the lock is held leaves the table consistent (every update is one
        // map operation), so a poisoned lock is used as it is.
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_nanos(&self) -> u64 {
        // Acquire: pairs with `set_now`'s Release, so a task that reads the new time also
        // sees what was done before the advance.
        self.now.load(Ordering::Acquire)
    }

    fn next_deadline(&self) -> Option<u64> {
        self.lock().table.keys().next().map(|&(at, _)| at)
    }

    /// Sets the time (never backwards) and takes out the timers due, in deadline order.
    fn set_now(&self, timers: &mut Timers, to: u64) -> Vec<Waker> {
        if to > self.now_nanos() {
            // Release: see `now_nanos`; written under the lock (the field's invariant).
            self.now.store(to, Ordering::Release);
        }
        let later = timers.table.split_off(&(to.saturating_add(1), 0));
        std::mem::replace(&mut timers.table, later)
            .into_values()
            .collect()
    }
}

fn wake_in_order(due: Vec<Waker>) {
    for w in due {
        w.wake();
    }
}

/// One timer of a virtual clock: the backend-neutral twin of the backends' timers.
pub(crate) struct VirtualTimer {
    clock: Arc<ClockInner>,
    deadline: u64,
    /// Its entry in the clock's table while armed.
    key: Option<(u64, u64)>,
}

impl fmt::Debug for VirtualTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualTimer")
            .field("deadline", &nanos_to_instant(self.deadline))
            .field("armed", &self.key.is_some())
            .finish()
    }
}

impl VirtualTimer {
    pub(crate) fn reset(&mut self, at: Instant) {
        let deadline = instant_to_nanos(at);
        if deadline == self.deadline {
            return;
        }
        self.disarm();
        self.deadline = deadline;
    }

    pub(crate) fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut timers = self.clock.lock();
        // Read under the lock (the invariant of `ClockInner::now`).
        if self.clock.now_nanos() >= self.deadline {
            if let Some(key) = self.key.take() {
                timers.table.remove(&key);
            }
            return Poll::Ready(());
        }
        match self.key.and_then(|key| timers.table.get_mut(&key)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => {
                let key = (self.deadline, timers.next_id);
                timers.next_id += 1;
                timers.table.insert(key, cx.waker().clone());
                self.key = Some(key);
                self.clock.armed.notify_all();
            }
        }
        Poll::Pending
    }

    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            self.clock.lock().table.remove(&key);
        }
    }
}

impl Drop for VirtualTimer {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// How often the driver looks at the run's tasks while a timer is armed and they are not
/// all blocked (real time).
const SCAN: Duration = Duration::from_micros(50);

/// The autojump driver: one thread per run with an autojumping clock.
fn autojump(
    clock: &ClockInner,
    run: &std::sync::Weak<RunContext>,
    stop: &AtomicBool,
    threshold: Duration,
) {
    // SeqCst: see `Installed::drop`.
    while !stop.load(Ordering::SeqCst) {
        let Some(run) = run.upgrade() else { return };
        let Some(next) = wait_armed(clock, stop) else {
            continue;
        };
        if !quiet(clock, &run) {
            std::thread::sleep(SCAN);
            continue;
        }
        if !blocked_for(clock, &run, threshold, stop) {
            continue;
        }
        // The earliest deadline may have changed while we looked: jump to the earliest
        // one armed now, and only when nothing became runnable.
        let mut timers = clock.lock();
        let now_next = timers.table.keys().next().map(|&(at, _)| at);
        if now_next != Some(next) || !quiet(clock, &run) {
            continue;
        }
        let due = clock.set_now(&mut timers, next);
        drop(timers);
        wake_in_order(due);
    }
}

/// Waits (without polling) until a timer is armed or the run stops; the earliest deadline.
fn wait_armed(clock: &ClockInner, stop: &AtomicBool) -> Option<u64> {
    let mut timers = clock.lock();
    loop {
        // SeqCst: see `Installed::drop`.
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(&(at, _)) = timers.table.keys().next() {
            return Some(at);
        }
        timers = clock
            .armed
            .wait_timeout(timers, Duration::from_millis(100))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Every task of `run` is blocked (neither woken, nor being polled, nor yielded) and none
/// waits in `wait_all_tasks_blocked`.
fn quiet(clock: &ClockInner, run: &RunContext) -> bool {
    // Relaxed: see `waiting`.
    clock.waiters.load(Ordering::Relaxed) == 0 && run.tasks().iter().all(|t| t.is_blocked())
}

/// Whether the tasks stay blocked for `threshold` of real time (looked at a few times).
fn blocked_for(
    clock: &ClockInner,
    run: &RunContext,
    threshold: Duration,
    stop: &AtomicBool,
) -> bool {
    if threshold.is_zero() {
        // One more look after a moment: a wake-up in flight on another thread shows.
        std::thread::yield_now();
        return quiet(clock, run);
    }
    let start = Instant::now();
    let step = (threshold / 8).max(SCAN);
    while start.elapsed() < threshold {
        // SeqCst: see `Installed::drop`.
        if stop.load(Ordering::SeqCst) || !quiet(clock, run) {
            return false;
        }
        std::thread::sleep(step.min(threshold.saturating_sub(start.elapsed())));
    }
    quiet(clock, run)
}

/// The timer every anyio sleep and scope deadline arms: the backend's, or an entry of the
/// run's virtual clock when one is installed.
#[derive(Debug)]
pub(crate) enum Timer {
    Real(crate::backend::Timer),
    /// Boxed, so the variant adds nothing to the size of the enum (and of every sleep
    /// future) on the real path.
    Virtual(Box<VirtualTimer>),
}

impl Timer {
    /// A timer that fires at `at`: virtual in a run with a virtual clock, else on
    /// `backend` (the one detected here).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] on a tokio runtime built without its time driver.
    pub(crate) fn at(backend: crate::backend::Backend, at: Instant) -> Result<Timer> {
        // The one branch of the real-time path: no run of the process has a virtual clock.
        if let Some(clock) = active() {
            return Ok(Timer::Virtual(Box::new(clock.timer(at))));
        }
        Timer::real(backend, at)
    }

    /// A timer of the backend's real clock, even in a run with a virtual clock.
    pub(crate) fn real(backend: crate::backend::Backend, at: Instant) -> Result<Timer> {
        crate::backend::Timer::at(backend, at).map(Timer::Real)
    }

    pub(crate) fn reset(&mut self, at: Instant) {
        match self {
            Timer::Real(timer) => timer.reset(at),
            Timer::Virtual(timer) => timer.reset(at),
        }
    }

    pub(crate) fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Timer::Real(timer) => timer.poll_fire(cx),
            Timer::Virtual(timer) => timer.poll_fire(cx),
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Timer`] for a future that keeps its timer in place (a sleep): the backend's timer
    /// inline (no allocation on the real path), or the virtual clock's entry.
    #[project = PinnedProj]
    #[derive(Debug)]
    pub(crate) enum PinnedTimer {
        Real { #[pin] timer: crate::backend::InlineTimer },
        Virtual { timer: Box<VirtualTimer> },
    }
}

impl PinnedTimer {
    /// As [`Timer::at`]: virtual in a run with a virtual clock, else on `backend`.
    ///
    /// # Errors
    ///
    /// As [`Timer::at`].
    pub(crate) fn at(backend: crate::backend::Backend, at: Instant) -> Result<PinnedTimer> {
        if let Some(clock) = active() {
            return Ok(PinnedTimer::Virtual {
                timer: Box::new(clock.timer(at)),
            });
        }
        PinnedTimer::real(backend, at)
    }

    /// As [`Timer::real`]: the backend's real clock, even in a run with a virtual clock.
    pub(crate) fn real(backend: crate::backend::Backend, at: Instant) -> Result<PinnedTimer> {
        crate::backend::InlineTimer::at(backend, at).map(|timer| PinnedTimer::Real { timer })
    }

    pub(crate) fn poll_fire(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            PinnedProj::Real { timer } => timer.poll_fire(cx),
            PinnedProj::Virtual { timer } => timer.poll_fire(cx),
        }
    }
}
