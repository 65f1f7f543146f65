//! The tokio backend (the default, in asyncio's role).
//!
//! Tasks are `tokio::spawn`ed on the runtime, so they run in parallel on the multi-thread
//! runtime. Timers are `tokio::time::Sleep`s, so the runtime's time driver must be enabled
//! (it is in runtimes built by anyio and by `#[tokio::main]`): a `runtime_factory` runtime
//! without it is rejected at `run`, and on a foreign runtime without it the first timer is
//! an error ([`sleep_until`]). Nothing in anyio needs tokio's IO driver.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use super::Handle;
use crate::error::{Error, ErrorKind, Result};

/// Which tokio scheduler [`Runner`](crate::Runner) builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// The work-stealing multi-thread scheduler (tokio's default).
    #[default]
    MultiThread,
    /// Every task on the thread that called [`Runner::run`](crate::Runner::run).
    CurrentThread,
}

type RuntimeFactory = Box<dyn FnOnce() -> io::Result<::tokio::runtime::Runtime> + Send>;

/// Options of the tokio backend: the analog of asyncio's `backend_options`.
///
/// # Examples
///
/// ```
/// use anyio::{Backend, Runner, TokioOptions, Flavor};
///
/// let runner = Runner::new(Backend::Tokio)
///     .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread));
/// let answer = runner.run(|| async { Ok::<_, anyio::Error>(42) }).unwrap();
/// assert_eq!(answer, 42);
/// ```
#[derive(Default)]
pub struct TokioOptions {
    pub(crate) flavor: Flavor,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) factory: Option<RuntimeFactory>,
}

impl fmt::Debug for TokioOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioOptions")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads)
            .field("runtime_factory", &self.factory.is_some())
            .finish()
    }
}

impl TokioOptions {
    /// The defaults: a multi-thread runtime with one worker per core.
    pub fn new() -> TokioOptions {
        TokioOptions::default()
    }

    /// Chooses the scheduler.
    pub fn flavor(mut self, flavor: Flavor) -> TokioOptions {
        self.flavor = flavor;
        self
    }

    /// Sets the number of worker threads of the multi-thread scheduler (at least 1).
    pub fn worker_threads(mut self, n: usize) -> TokioOptions {
        self.worker_threads = Some(n);
        self
    }

    /// Lets the caller build the runtime (asyncio's `loop_factory`): anyio runs its root
    /// task with `block_on` on whatever runtime this returns. The time driver must be on
    /// (`enable_time()` or `enable_all()` on the runtime `Builder`): [`Runner::run`]
    /// rejects a runtime without it with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) before `main` runs.
    ///
    /// [`Runner::run`]: crate::Runner::run
    pub fn runtime_factory(
        mut self,
        factory: impl FnOnce() -> io::Result<::tokio::runtime::Runtime> + Send + 'static,
    ) -> TokioOptions {
        self.factory = Some(Box::new(factory));
        self
    }

    fn build(self) -> Result<::tokio::runtime::Runtime> {
        if let Some(factory) = self.factory {
            return factory().map_err(|e| {
                Error::with_source(
                    ErrorKind::Io,
                    "building the tokio runtime (runtime_factory)",
                    e,
                )
            });
        }
        let mut builder = match self.flavor {
            Flavor::MultiThread => ::tokio::runtime::Builder::new_multi_thread(),
            Flavor::CurrentThread => ::tokio::runtime::Builder::new_current_thread(),
        };
        if let Some(n) = self.worker_threads {
            if n == 0 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "tokio worker_threads must be at least 1",
                ));
            }
            builder.worker_threads(n);
        }
        builder
            .enable_all()
            .thread_name("anyio-tokio")
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Io, "building the tokio runtime", e))
    }
}

/// Builds the runtime and drives `root` to completion on it.
pub(crate) fn run<F: Future>(
    options: TokioOptions,
    root: impl FnOnce(Handle) -> F,
) -> Result<F::Output> {
    let from_factory = options.factory.is_some();
    let rt = options.build()?;
    if from_factory && !timers_enabled(&rt) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the tokio runtime from runtime_factory has no time driver: call enable_time() \
             (or enable_all()) on its runtime Builder",
        ));
    }
    let handle = Handle::Tokio(rt.handle().clone());
    let out = rt.block_on(root(handle));
    // Tasks that outlived the root (none, when structured concurrency was kept) are
    // dropped without waiting for blocking threads that may never return.
    rt.shutdown_background();
    Ok(out)
}

/// Whether `rt` was built with its time driver.
/// (Under `panic = "abort"` the probe would abort, so the runtime is taken as it is.)
fn timers_enabled(rt: &::tokio::runtime::Runtime) -> bool {
    #[cfg(panic = "unwind")]
    {
        let _entered = rt.enter();
        sleep_until(Instant::now()).is_ok()
    }
    #[cfg(not(panic = "unwind"))]
    {
        let _ = rt;
        true
    }
}

/// A tokio `Sleep` until `at`, or an error on a runtime without its time driver.
///
/// tokio has no query for "timers enabled": creating a `Sleep` there panics ("timers are
/// disabled"), at creation and before anything is registered, so the panic is caught and
/// becomes an error. The panic hook still prints tokio's message (which says how to fix
/// it); the hook is process-wide, so it is not touched. Under `panic = "abort"` nothing can
/// be caught and tokio's panic aborts, as it would without anyio.
pub(crate) fn sleep_until(at: Instant) -> Result<Pin<Box<::tokio::time::Sleep>>> {
    guard_timer(|| Box::pin(::tokio::time::sleep_until(at.into())))
}

/// [`sleep_until`] without the box, for a future that keeps its `Sleep` in place
/// ([`super::InlineTimer`]).
pub(crate) fn sleep_until_inline(at: Instant) -> Result<::tokio::time::Sleep> {
    guard_timer(|| ::tokio::time::sleep_until(at.into()))
}

/// Runs `create`, which makes a tokio timer, turning tokio's "timers are disabled" panic
/// into an error (see [`sleep_until`]).
fn guard_timer<T>(create: impl FnOnce() -> T) -> Result<T> {
    #[cfg(panic = "unwind")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(create))
            .map_err(|panic| timers_disabled(&*panic))
    }
    #[cfg(not(panic = "unwind"))]
    {
        Ok(create())
    }
}

#[cfg(panic = "unwind")]
fn timers_disabled(panic: &(dyn std::any::Any + Send)) -> Error {
    let said = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("");
    let msg = if said.contains("timers are disabled") {
        "arming a timer on a tokio runtime without its time driver: call enable_time() (or \
         enable_all()) on the runtime Builder"
            .to_owned()
    } else {
        format!(
            "arming a tokio timer failed ({said}): anyio needs a tokio runtime built with \
             enable_time()"
        )
    };
    Error::new(ErrorKind::InvalidState, msg)
}
