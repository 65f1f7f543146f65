//! Receiving operating-system signals (AnyIO's "Receiving operating system signals").
//!
//! [`open_signal_receiver`] starts listening for the given signals and returns a
//! [`SignalReceiver`]; dropping (or [`close`](SignalReceiver::close)-ing) the receiver stops
//! listening. While it is open, the signals it names are delivered to it instead of taking
//! their default action, so a server can turn `SIGTERM` into a graceful shutdown:
//!
//! ```no_run
//! use anyio::signal::{SIGINT, SIGTERM, open_signal_receiver};
//!
//! # fn main() -> anyio::Result<()> {
//! anyio::run(|| async {
//!     anyio::task_group(|tg| async move {
//!         let scope = tg.cancel_scope();
//!         tg.start_soon(async move {
//!             let mut signals = open_signal_receiver([SIGINT, SIGTERM])?;
//!             let signum = signals.receive().await?;
//!             println!("got signal {signum}, shutting down");
//!             scope.cancel();
//!             anyio::Ok(())
//!         })?;
//!         // ... start the application's tasks in `tg` here ...
//!         anyio::sleep_forever().await
//!     })
//!     .await?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # How signals reach a receiver
//!
//! One process-wide hub, the same on both backends: the first receiver of a signal installs
//! a handler for it (through `signal-hook`, whose handler only writes to a pipe, which is
//! async-signal-safe), and a hub thread reads the pipe and hands each signal to every open
//! receiver of that number. So a receiver works on any executor and from any thread, and
//! signals are not tied to one run.
//!
//! # Leaving a receiver: the previous disposition and no lost signal
//!
//! While no receiver of a signal is open, the signal does what it did before anyio first
//! listened for it: its default action (terminate, stop, ignore) when it had the default
//! disposition, nothing when it was ignored, and a handler that was installed before anyio's
//! (a `tokio::signal` listener, say) keeps running throughout. Signals that had reached a
//! receiver but were not received yet when it closes are raised again (trio's rule), so
//! leaving a receiver loses no signal: a `SIGTERM` that arrives just as the receiver closes
//! still terminates the process. The disposition before anyio is read from
//! `/proc/self/status` on Linux; elsewhere it is taken to be the default.
//!
//! Pending signals of one number coalesce (the operating system coalesces them too): a
//! receiver holds each number at most once, in the order of first arrival.
//!
//! Signals that cannot be caught or must not be (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGILL`,
//! `SIGFPE`) are refused with [`ErrorKind::InvalidArgument`].

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use signal_hook::iterator::{Handle, Signals};

use crate::error::{Error, ErrorKind, Result};

pub use signal_hook::consts::signal::{
    SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGIO, SIGPIPE, SIGPROF, SIGQUIT,
    SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM,
    SIGWINCH, SIGXCPU, SIGXFSZ,
};

/// Starts listening for `signals` and returns the receiver they are delivered to (AnyIO's
/// `open_signal_receiver`).
///
/// The receiver listens from the moment this returns until it is dropped or closed; see the
/// [module docs](self) for what happens to the signals it names in the meantime and after.
/// Several receivers of one signal each receive it.
///
/// Needs no running event loop: the hub is process-wide.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for an empty list, a number that is not a signal, or a
/// signal that cannot be caught (`SIGKILL`, `SIGSTOP`) or must not be (`SIGSEGV`, `SIGILL`,
/// `SIGFPE`); [`ErrorKind::Io`] when the handler cannot be installed.
///
/// # Examples
///
/// ```
/// use anyio::signal::{SIGUSR1, open_signal_receiver};
///
/// # anyio::run(|| async {
/// let mut signals = open_signal_receiver([SIGUSR1])?;
/// signal_hook::low_level::raise(SIGUSR1)?;
/// assert_eq!(signals.receive().await?, SIGUSR1);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn open_signal_receiver(signals: impl IntoIterator<Item = i32>) -> Result<SignalReceiver> {
    let mut wanted: Vec<i32> = Vec::new();
    for signum in signals {
        validate(signum)?;
        if !wanted.contains(&signum) {
            wanted.push(signum);
        }
    }
    if wanted.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "open_signal_receiver needs at least one signal",
        ));
    }
    let hub = Hub::get()?;
    let shared = Arc::new(Shared {
        signals: wanted,
        inner: Mutex::new(Inner::default()),
    });
    hub.open(&shared)?;
    Ok(SignalReceiver {
        shared,
        closed: false,
    })
}

fn validate(signum: i32) -> Result<()> {
    if signal_hook::consts::FORBIDDEN.contains(&signum) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "signal {signum} cannot be received (it is one of SIGKILL, SIGSTOP, SIGSEGV, SIGILL, SIGFPE)"
            ),
        ));
    }
    if signal_hook::low_level::signal_name(signum).is_none() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{signum} is not a signal number known on this system"),
        ));
    }
    Ok(())
}

/// Signals whose default action is to ignore them or to stop the process: one that reaches
/// the hub after its last receiver closed is not raised again (raising it would only repeat
/// an action already taken, or loop).
fn default_is_terminate(signum: i32) -> bool {
    ![
        SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU,
    ]
    .contains(&signum)
}

/// The open receivers of a signal, and what the signal did before anyio listened for it.
struct Entry {
    open: usize,
    /// Read by the signal handler: when set, the handler runs the default action. Set
    /// exactly when no receiver is open and the disposition before anyio was the default.
    emulate_default: Arc<AtomicBool>,
    /// The signal was ignored or caught by someone else before anyio listened for it.
    handled_before: bool,
}

#[derive(Default)]
struct HubState {
    entries: HashMap<i32, Entry>,
    receivers: Vec<Arc<Shared>>,
}

struct Hub {
    state: Mutex<HubState>,
    handle: Handle,
}

static HUB: OnceLock<std::result::Result<Hub, String>> = OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-supplied runs under these locks; a poisoned one still holds valid state.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    fn get() -> Result<&'static Hub> {
        HUB.get_or_init(|| {
            let mut signals = Signals::new(Vec::<i32>::new()).map_err(|e| e.to_string())?;
            let handle = signals.handle();
            std::thread::Builder::new()
                .name("anyio-signals".into())
                .spawn(move || {
                    for signum in signals.forever() {
                        if let Ok(hub) = Hub::get() {
                            hub.dispatch(signum);
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(Hub {
                state: Mutex::new(HubState::default()),
                handle,
            })
        })
        .as_ref()
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("the signal hub could not start: {e}"),
            )
        })
    }

    fn open(&self, shared: &Arc<Shared>) -> Result<()> {
        let mut state = lock(&self.state);
        // Install every missing handler first, so a failure leaves no count behind. A new
        // entry has no receiver yet: its handler takes the default action until one opens.
        for &signum in &shared.signals {
            if let std::collections::hash_map::Entry::Vacant(slot) = state.entries.entry(signum) {
                let handled_before = handled_before(signum);
                let emulate_default = Arc::new(AtomicBool::new(!handled_before));
                if !handled_before {
                    signal_hook::flag::register_conditional_default(
                        signum,
                        emulate_default.clone(),
                    )
                    .map_err(install_error(signum))?;
                }
                self.handle
                    .add_signal(signum)
                    .map_err(install_error(signum))?;
                slot.insert(Entry {
                    open: 0,
                    emulate_default,
                    handled_before,
                });
            }
        }
        for &signum in &shared.signals {
            let entry = state.entries.get_mut(&signum).expect("installed above");
            entry.open += 1;
            // SeqCst: the handler reads the flag in a signal context on any thread; the
            // strongest ordering keeps "a receiver is open" visible before it can matter.
            entry.emulate_default.store(false, Ordering::SeqCst);
        }
        state.receivers.push(shared.clone());
        Ok(())
    }

    /// Unregisters `shared` and returns the signals it still held, to be raised again.
    fn close(&self, shared: &Arc<Shared>) -> Vec<i32> {
        let mut state = lock(&self.state);
        let Some(at) = state.receivers.iter().position(|r| Arc::ptr_eq(r, shared)) else {
            return Vec::new();
        };
        state.receivers.swap_remove(at);
        for &signum in &shared.signals {
            if let Some(entry) = state.entries.get_mut(&signum) {
                entry.open -= 1;
                if entry.open == 0 && !entry.handled_before {
                    // SeqCst: as in `open`; from here on the handler takes the default action.
                    entry.emulate_default.store(true, Ordering::SeqCst);
                }
            }
        }
        let mut inner = lock(&shared.inner);
        inner.closed = true;
        std::mem::take(&mut inner.pending)
    }

    fn dispatch(&self, signum: i32) {
        let state = lock(&self.state);
        let mut delivered = false;
        let mut wakers = Vec::new();
        for receiver in &state.receivers {
            if receiver.signals.contains(&signum) {
                delivered = true;
                let mut inner = lock(&receiver.inner);
                if !inner.pending.contains(&signum) {
                    inner.pending.push(signum);
                }
                wakers.extend(inner.waker.take());
            }
        }
        let redeliver = !delivered
            && state
                .entries
                .get(&signum)
                .is_some_and(|e| !e.handled_before && e.open == 0);
        drop(state);
        for waker in wakers {
            waker.wake();
        }
        if redeliver && default_is_terminate(signum) {
            // A receiver was open when the signal was caught and closed before the hub got
            // here: the signal still takes its default action, now that nobody listens.
            let _ = signal_hook::low_level::raise(signum);
        }
    }
}

fn install_error(signum: i32) -> impl FnOnce(std::io::Error) -> Error {
    move |e| {
        Error::with_source(
            ErrorKind::Io,
            format!("cannot install a handler for signal {signum}"),
            e,
        )
    }
}

/// Whether `signum` was ignored or caught before anyio listened for it (Linux: the `SigIgn`
/// and `SigCgt` masks of `/proc/self/status`).
fn handled_before(signum: i32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let bit = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| (1..=64).contains(&signum) && mask & (1 << (signum - 1)) != 0)
    };
    bit("SigIgn:") || bit("SigCgt:")
}

#[derive(Default)]
struct Inner {
    pending: Vec<i32>,
    waker: Option<Waker>,
    closed: bool,
}

struct Shared {
    signals: Vec<i32>,
    inner: Mutex<Inner>,
}

/// Signals delivered to this process, as they arrive (AnyIO's signal receiver).
///
/// Made by [`open_signal_receiver`]. A [`Stream`] of signal numbers that never ends by
/// itself, and [`receive`](Self::receive), a checkpoint, for one at a time. Dropping it stops
/// listening and raises again the signals it held (see the [module docs](self)).
pub struct SignalReceiver {
    shared: Arc<Shared>,
    closed: bool,
}

impl fmt::Debug for SignalReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalReceiver")
            .field("signals", &self.shared.signals)
            .field("pending", &lock(&self.shared.inner).pending.len())
            .field("closed", &self.closed)
            .finish()
    }
}

impl SignalReceiver {
    /// The signals this receiver listens for.
    pub fn signals(&self) -> &[i32] {
        &self.shared.signals
    }

    /// How many signals have arrived and not been received yet.
    pub fn pending(&self) -> usize {
        lock(&self.shared.inner).pending.len()
    }

    /// Waits for the next signal and returns its number.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A cancelled receive takes no signal: one that arrives meanwhile stays
    /// for the next call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`]; [`ErrorKind::ClosedResource`] after
    /// [`close`](Self::close).
    pub async fn receive(&mut self) -> Result<i32> {
        match crate::lowlevel::wait(|cx| self.poll_take(cx)).await? {
            Some(signum) => Ok(signum),
            None => Err(closed()),
        }
    }

    /// Takes a signal that has already arrived, without waiting.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when none is pending; [`ErrorKind::ClosedResource`] after
    /// [`close`](Self::close).
    pub fn try_receive(&mut self) -> Result<i32> {
        let mut inner = lock(&self.shared.inner);
        if inner.closed {
            return Err(closed());
        }
        if inner.pending.is_empty() {
            return Err(Error::new(ErrorKind::WouldBlock, "no signal is pending"));
        }
        Ok(inner.pending.remove(0))
    }

    /// Stops listening. The signals this receiver held and had not handed out are raised
    /// again, now that it no longer listens; closing twice does nothing.
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let Ok(hub) = Hub::get() else { return };
        for signum in hub.close(&self.shared) {
            let _ = signal_hook::low_level::raise(signum);
        }
    }

    /// `Ready(Some)` with a signal taken, `Ready(None)` when closed, or `Pending` with the
    /// waker stored. Takes a signal only when it returns it, so an abandoned wait takes none.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<i32>> {
        let mut inner = lock(&self.shared.inner);
        if inner.closed {
            return Poll::Ready(None);
        }
        if inner.pending.is_empty() {
            inner.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Some(inner.pending.remove(0)))
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::ClosedResource, "the signal receiver was closed")
}

impl Stream for SignalReceiver {
    type Item = i32;

    /// The next signal; the stream ends (`None`) only after [`close`](SignalReceiver::close).
    /// Not a checkpoint (a plain `Stream` cannot report cancellation): use
    /// [`receive`](SignalReceiver::receive) in anyio code.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<i32>> {
        self.poll_take(cx)
    }
}

impl Drop for SignalReceiver {
    fn drop(&mut self) {
        self.close();
    }
}
