//! Running an event loop: [`run`], [`Runner`], [`Backend`] and the backend options
//! (AnyIO's "The basics").
//!
//! # The model
//!
//! An anyio program runs its top-level async function as the *root task* of an event loop.
//! [`run`] starts the default backend (tokio), runs `main` as the root task and returns its
//! result once it finishes; every task the program started in task groups has finished by
//! then, since task groups wait for their children.
//!
//! ```
//! async fn main_task() -> anyio::Result<()> {
//!     println!("Hello, world!");
//!     Ok(())
//! }
//!
//! anyio::run(main_task).unwrap();
//! ```
//!
//! `main` may return `Result<T, E>` for any `E` that an [`Error`] converts into
//! (`anyio::Error`, `std::io::Error`, `anyhow::Error`, `Box<dyn Error + Send + Sync>`): a
//! runtime that cannot be built is reported through `main`'s own error type.
//!
//! # Choosing a backend and its options
//!
//! [`Runner`] chooses the backend — by value, or parsed from a name (`"smol".parse()`), so
//! it can come from a configuration file or the command line — and its options, typed per
//! backend (AnyIO's `backend_options`):
//!
//! * tokio ([`TokioOptions`]): the scheduler flavor (multi-thread, the default, or
//!   current-thread), the number of worker threads, or a `runtime_factory` that builds the
//!   tokio `Runtime` itself (asyncio's `loop_factory`);
//! * smol ([`SmolOptions`]): the number of threads that run the executor (one by default,
//!   the calling thread: trio's single-threaded model).
//!
//! ```
//! use anyio::{Backend, Runner, SmolOptions};
//!
//! let backend: Backend = "smol".parse()?;
//! let lib = Runner::new(backend)
//!     .smol_options(SmolOptions::new().threads(2))
//!     .run(|| async { anyio::current_async_library() })?;
//! assert_eq!(lib, "smol");
//! # Ok::<_, anyio::Error>(())
//! ```
//!
//! # Debug mode
//!
//! [`Runner::debug`] (asyncio's debug mode) reports every poll of an anyio task that holds
//! its thread for 100 ms or more — blocking code that should have gone to
//! [`to_thread`](crate::to_thread) — on stderr, with the task's name;
//! [`Runner::slow_poll_threshold`] sets the threshold.
//!
//! # Without `run`
//!
//! anyio also works without [`run`]: inside `#[tokio::main]` or `Runtime::block_on` it runs
//! on tokio, and inside `smol::block_on` or any other executor it runs on smol (see
//! [`current_async_library`] for how the backend is detected). Calling [`run`] from inside
//! an event loop is an error rather than a nested loop; from a worker thread of
//! [`to_thread`](crate::to_thread) it starts a new event loop, as on any other thread.

use std::future::Future;
use std::time::Duration;

#[cfg(feature = "smol")]
pub use crate::backend::smol::SmolOptions;
#[cfg(feature = "tokio")]
pub use crate::backend::tokio::{Flavor, TokioOptions};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::task::{RunContext, TaskCore, TaskFuture};

pub use crate::backend::{Backend, available_backends};

/// Runs `main` as the root task of a new event loop on the default backend (tokio when
/// enabled) and returns its result.
///
/// # Errors
///
/// Whatever `main` returns; and, converted into `main`'s error type,
/// [`ErrorKind::InvalidState`] when called from inside an async context (a running event
/// loop cannot be nested) or [`ErrorKind::Io`] when the runtime cannot be built.
///
/// A worker thread of [`to_thread`](crate::to_thread) is not an async context: a new run
/// there works, on either backend whatever the backend of the run that started the thread.
///
/// # Examples
///
/// ```
/// let n = anyio::run(|| async {
///     anyio::sleep(std::time::Duration::from_millis(1)).await?;
///     Ok::<_, anyio::Error>(7)
/// })
/// .unwrap();
/// assert_eq!(n, 7);
/// ```
pub fn run<F, Fut, T, E>(main: F) -> std::result::Result<T, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error>,
{
    Runner::default().run(main)
}

/// Runs an event loop with a chosen backend and options (AnyIO's `run(..., backend=...,
/// backend_options=...)`).
///
/// # Examples
///
/// ```
/// use anyio::{Backend, Runner};
///
/// for backend in anyio::available_backends() {
///     let lib = Runner::new(*backend).run(|| async { anyio::current_async_library() }).unwrap();
///     assert_eq!(lib, backend.name());
/// }
/// let backend: Backend = "tokio".parse().unwrap();
/// assert_eq!(backend, Backend::Tokio);
/// ```
#[derive(Debug, Default)]
pub struct Runner {
    backend: Backend,
    slow_poll: Option<Duration>,
    cancel_watchdog: Option<Duration>,
    clock: Option<crate::clock::VirtualClock>,
    options: crate::backend::Options,
}

/// asyncio's `slow_callback_duration`: the default threshold of [`Runner::debug`].
const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(100);

impl Runner {
    /// A runner for `backend` with default options.
    pub fn new(backend: Backend) -> Runner {
        Runner {
            backend,
            ..Runner::default()
        }
    }

    /// This runner with every backend's options replaced by `options`.
    pub(crate) fn backend_options(mut self, options: crate::backend::Options) -> Runner {
        self.options = options;
        self
    }

    /// The backend this runner uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Options for the tokio backend (ignored when running on smol).
    #[cfg(feature = "tokio")]
    pub fn tokio_options(mut self, options: TokioOptions) -> Runner {
        self.options.tokio = options;
        self
    }

    /// Options for the smol backend (ignored when running on tokio).
    #[cfg(feature = "smol")]
    pub fn smol_options(mut self, options: SmolOptions) -> Runner {
        self.options.smol = options;
        self
    }

    /// Debug mode (asyncio's `debug=True`): when one poll of an anyio task blocks its
    /// thread for 100 ms or more, a report naming the task is written to stderr; and so is
    /// a task still pending in a foreign future 5 s after its scope was cancelled (see
    /// [`cancel_watchdog`](Self::cancel_watchdog)).
    pub fn debug(mut self, on: bool) -> Runner {
        self.slow_poll = on.then_some(DEFAULT_SLOW_POLL);
        self.cancel_watchdog = on.then_some(crate::watchdog::DEFAULT_THRESHOLD);
        self
    }

    /// The cancellation watchdog of debug mode, with a threshold of its own (5 s in
    /// [`debug`](Self::debug) mode and under [`#[anyio::test]`](crate::test)).
    ///
    /// A task whose scope is cancelled, but which stays pending this long outside any
    /// anyio operation — parked in a foreign future (tokio or smol I/O, a library's future)
    /// that never sees the cancellation, so that its task group waits for it forever — is
    /// reported once on stderr, by name and with the place where it was spawned, with the
    /// advice to wrap that await with [`cancellable`](crate::cancellable). A task waiting in
    /// an anyio operation (a sleep, a lock, an event, a thread...) is never reported: it
    /// sees the cancellation, or is shielded from it.
    pub fn cancel_watchdog(mut self, threshold: Duration) -> Runner {
        self.cancel_watchdog = Some(threshold);
        self
    }

    /// Runs on `clock`'s virtual time (trio's `clock=MockClock()`): `sleep`, `sleep_until`,
    /// every scope deadline and [`current_time`](crate::current_time) inside the run follow
    /// it. See [`VirtualClock`](crate::clock::VirtualClock) for what stays in real time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use anyio::{Backend, Runner};
    /// use anyio::testing::VirtualClock;
    ///
    /// let out = Runner::new(Backend::default())
    ///     .virtual_clock(VirtualClock::with_autojump(Duration::ZERO))
    ///     .run(|| anyio::fail_after(Duration::from_secs(3600), anyio::sleep_forever()));
    /// assert_eq!(out.unwrap_err().kind(), anyio::ErrorKind::TimedOut);
    /// ```
    pub fn virtual_clock(mut self, clock: crate::clock::VirtualClock) -> Runner {
        self.clock = Some(clock);
        self
    }

    /// Debug mode with a threshold of its own (asyncio's `slow_callback_duration`).
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Runner {
        self.slow_poll = Some(threshold);
        self
    }

    /// Runs `main` as the root task of a new event loop and returns its result.
    ///
    /// # Errors
    ///
    /// As [`run`].
    pub fn run<F, Fut, T, E>(self, main: F) -> std::result::Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        if in_async_context() {
            return Err(E::from(Error::new(
                ErrorKind::InvalidState,
                "anyio::run cannot be called from inside an async context: await the future \
                 directly instead",
            )));
        }
        let backend = self.backend;
        let slow_poll = self.slow_poll;
        let run = RunContext::new(backend, slow_poll, self.cancel_watchdog, self.clock.clone());
        // Installed before the root task is first polled; uninstalled (its autojump driver
        // stopped) when the run ends, whichever way.
        let installed = self.clock.as_ref().map(|c| c.install(&run));
        let root_run = run.clone();
        let root = move |handle| {
            let core = TaskCore::new_task(Some("main".into()), None, root_run, handle, None);
            // `main` is called at the root task's first poll, inside the run (AnyIO calls it
            // inside the loop too): what it computes eagerly — `fail_after`'s deadline, say —
            // then reads the run's clock, virtual or real.
            TaskFuture::new(core, async move { main().await })
        };
        let out = crate::backend::run(backend, self.options, root);
        run.mark_finished();
        drop(installed);
        out.map_err(E::from)?
    }
}

/// Whether an event loop drives this thread, so that a new one cannot start here: an anyio
/// task is being polled, or a tokio runtime context is current — except on an anyio worker
/// thread. tokio's blocking-pool threads carry their runtime's handle (`Handle::enter`)
/// without entering the runtime, so `Runtime::block_on` is allowed there (it panics only
/// inside an entered runtime: a worker or a `block_on`), and a worker thread is not an
/// async context on any backend (trio and asyncio allow a new run there too).
fn in_async_context() -> bool {
    if context::current_task().is_some() {
        return true;
    }
    !context::is_worker_thread() && crate::backend::in_tokio_context()
}

/// The name of the backend that serves anyio calls made here: `"tokio"` or `"smol"`
/// (sniffio's `current_async_library`).
///
/// What is detected, in order: the backend of the anyio task being polled (the root task
/// of [`run`] and every task-group child publish it); an anyio worker thread, which has no
/// event loop (an error); a tokio runtime context (`#[tokio::main]`, `block_on`, a tokio
/// task, but not anyio's own worker threads) → `"tokio"`; anything else → `"smol"`, whose
/// reactor serves any thread and executor, when the `smol` feature is on.
///
/// # Errors
///
/// [`ErrorKind::NoEventLoop`] on an anyio worker thread, and outside tokio when the `smol`
/// feature is off.
pub fn current_async_library() -> Result<&'static str> {
    crate::detect::current_backend().map(Backend::name)
}
