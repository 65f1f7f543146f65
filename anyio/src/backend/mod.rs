//! The internal backend contract: the only part of anyio that names tokio or smol.
//!
//! Everything above this module is written once. What a backend must provide is small:
//!
//! * **detection** ([`detect`]): which backend serves a call made here;
//! * **run** ([`tokio::run`], [`smol::run`]): drive a root future to completion;
//! * **spawn** ([`Handle::spawn`]): start a detached task that runs in parallel where the
//!   runtime allows it;
//! * **timers** ([`Timer`]): one resettable timer, armed only where a wait really blocks;
//! * **yield** ([`yield_now`]): a fair schedule point.
//!
//! Dispatch is static: every backend value is an enum over the enabled backends, chosen
//! once when the value is created (tokio's `scheduler::Handle` pattern), so no call goes
//! through a vtable and no timer is boxed behind a trait object.

pub(crate) mod io;
mod kind;
pub(crate) mod process;
#[cfg(feature = "smol")]
pub(crate) mod smol;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::Result;
pub use kind::{Backend, available_backends};

/// The per-backend options a [`crate::Runner`] carries: only the chosen backend's are used.
#[derive(Debug, Default)]
pub(crate) struct Options {
    #[cfg(feature = "tokio")]
    pub(crate) tokio: tokio::TokioOptions,
    #[cfg(feature = "smol")]
    pub(crate) smol: smol::SmolOptions,
}

impl Options {
    /// Options for an event loop that runs on the calling thread alone (a portal's): tokio
    /// current-thread (its default is multi-thread); smol already runs on one thread.
    pub(crate) fn own_thread() -> Options {
        Options {
            #[cfg(feature = "tokio")]
            tokio: tokio::TokioOptions::new().flavor(tokio::Flavor::CurrentThread),
            ..Options::default()
        }
    }
}

/// Runs an event loop of `backend` with `options` on this thread: `root` builds the root
/// future from the loop's spawn handle, and the loop ends when that future does.
pub(crate) fn run<F: Future>(
    backend: Backend,
    options: Options,
    root: impl FnOnce(Handle) -> F,
) -> Result<F::Output> {
    match backend {
        #[cfg(feature = "tokio")]
        Backend::Tokio => tokio::run(options.tokio, root),
        #[cfg(feature = "smol")]
        Backend::Smol => smol::run(options.smol, root),
    }
}

/// The backend a call made outside any anyio task is served by, with the executor handle
/// for tasks spawned from there: tokio inside a tokio runtime context (`#[tokio::main]`,
/// `Runtime::block_on`, a `tokio::spawn`ed task); otherwise smol, whose reactor serves any
/// thread and any executor, when its feature is on; `None` without either.
pub(crate) fn ambient_handle() -> Option<Handle> {
    #[cfg(feature = "tokio")]
    if let Ok(h) = ::tokio::runtime::Handle::try_current() {
        return Some(Handle::Tokio(h));
    }
    #[cfg(feature = "smol")]
    return Some(Handle::Smol(smol::global_executor()));
    #[cfg(not(feature = "smol"))]
    None
}

/// The backend of [`ambient_handle`], without cloning a handle.
pub(crate) fn ambient_backend() -> Option<Backend> {
    if in_tokio_context() {
        #[cfg(feature = "tokio")]
        return Some(Backend::Tokio);
    }
    #[cfg(feature = "smol")]
    return Some(Backend::Smol);
    #[cfg(not(feature = "smol"))]
    None
}

/// Whether a tokio runtime context (a handle, at least) is current on this thread.
pub(crate) fn in_tokio_context() -> bool {
    #[cfg(feature = "tokio")]
    return ::tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    false
}

/// A handle to the executor that runs a task's children.
#[derive(Clone, Debug)]
pub(crate) enum Handle {
    #[cfg(feature = "tokio")]
    Tokio(::tokio::runtime::Handle),
    #[cfg(feature = "smol")]
    Smol(smol::Executor),
}

impl Handle {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "tokio")]
            Handle::Tokio(_) => Backend::Tokio,
            #[cfg(feature = "smol")]
            Handle::Smol(_) => Backend::Smol,
        }
    }

    /// Spawns `fut` as a task of its own, detached: the task reports its own end (task
    /// groups count their children and abort them through a flag, not through handles).
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            #[cfg(feature = "tokio")]
            Handle::Tokio(h) => drop(h.spawn(fut)),
            #[cfg(feature = "smol")]
            Handle::Smol(ex) => ex.spawn(fut).detach(),
        }
    }
}

/// One resettable timer of the backend that is current where it is created.
#[derive(Debug)]
pub(crate) enum Timer {
    #[cfg(feature = "tokio")]
    Tokio(std::pin::Pin<Box<::tokio::time::Sleep>>),
    #[cfg(feature = "smol")]
    Smol(::async_io::Timer),
}

impl Timer {
    /// A timer of `backend`'s clock that fires at `at` (`crate::clock::Timer` chooses
    /// between it and a run's virtual clock).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) on a tokio runtime built
    /// without its time driver.
    pub(crate) fn at(backend: Backend, at: Instant) -> Result<Timer> {
        match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => tokio::sleep_until(at).map(Timer::Tokio),
            #[cfg(feature = "smol")]
            Backend::Smol => Ok(Timer::Smol(::async_io::Timer::at(at))),
        }
    }

    pub(crate) fn reset(&mut self, at: Instant) {
        match self {
            #[cfg(feature = "tokio")]
            Timer::Tokio(sleep) => sleep.as_mut().reset(at.into()),
            #[cfg(feature = "smol")]
            Timer::Smol(timer) => timer.set_at(at),
        }
    }

    pub(crate) fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            #[cfg(feature = "tokio")]
            Timer::Tokio(sleep) => sleep.as_mut().poll(cx),
            #[cfg(feature = "smol")]
            Timer::Smol(timer) => std::pin::Pin::new(timer).poll(cx).map(drop),
        }
    }
}

/// The tokio timer an [`InlineTimer`] keeps in place (uninhabited without tokio).
#[cfg(feature = "tokio")]
type TokioSleep = ::tokio::time::Sleep;
#[cfg(not(feature = "tokio"))]
type TokioSleep = Never;
/// The smol timer an [`InlineTimer`] keeps (uninhabited without smol).
#[cfg(feature = "smol")]
type SmolTimer = ::async_io::Timer;
#[cfg(not(feature = "smol"))]
type SmolTimer = Never;

/// No value: the timer of a backend that is not compiled in.
#[allow(dead_code)]
#[derive(Debug)]
pub(crate) enum Never {}

pin_project_lite::pin_project! {
    /// A one-shot timer of the backend kept in place, inside the pinned future that waits
    /// for it (a sleep): where [`Timer`] boxes tokio's `Sleep` so that a scope can move and
    /// reset it, this costs no allocation (tokio's own `sleep` keeps it inline too).
    #[project = InlineProj]
    #[derive(Debug)]
    pub(crate) enum InlineTimer {
        Tokio { #[pin] sleep: TokioSleep },
        Smol { timer: SmolTimer },
    }
}

impl InlineTimer {
    /// A timer of `backend`'s clock that fires at `at`.
    ///
    /// # Errors
    ///
    /// As [`Timer::at`].
    pub(crate) fn at(backend: Backend, at: Instant) -> Result<InlineTimer> {
        match backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => {
                tokio::sleep_until_inline(at).map(|sleep| InlineTimer::Tokio { sleep })
            }
            #[cfg(feature = "smol")]
            Backend::Smol => Ok(InlineTimer::Smol {
                timer: ::async_io::Timer::at(at),
            }),
        }
    }

    pub(crate) fn poll_fire(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            #[cfg(feature = "tokio")]
            InlineProj::Tokio { sleep } => sleep.poll(cx),
            #[cfg(feature = "smol")]
            InlineProj::Smol { timer } => std::pin::Pin::new(timer).poll(cx).map(drop),
            #[allow(unreachable_patterns)]
            _ => unreachable!("a timer of a backend that is not compiled in"),
        }
    }
}

/// A fair schedule point. tokio's `yield_now` defers the wake-up until the scheduler has
/// polled other ready tasks (and falls back to waking at once outside a tokio scheduler, so
/// it is correct on any executor); without tokio, futures-lite's yield is used.
/// [`crate::context::yield_now`] wraps it to mark the task as runnable meanwhile.
pub(crate) fn yield_now() -> impl Future<Output = ()> + Send {
    #[cfg(feature = "tokio")]
    return ::tokio::task::yield_now();
    #[cfg(not(feature = "tokio"))]
    return futures_lite::future::yield_now();
}

impl Handle {
    /// Runs `job` on the backend's pool of blocking threads (idle threads are reused):
    /// tokio's blocking pool, or the `blocking` crate's pool on smol. The returned job
    /// yields `job`'s value; if the pool cannot run it (a tokio runtime that has shut
    /// down), `job` is dropped without running and the join yields `None`.
    pub(crate) fn spawn_blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> BlockingJob<T> {
        match self {
            #[cfg(feature = "tokio")]
            Handle::Tokio(h) => BlockingJob::Tokio(h.spawn_blocking(job)),
            #[cfg(feature = "smol")]
            Handle::Smol(_) => BlockingJob::Smol(Some(::blocking::unblock(job))),
        }
    }
}

/// A job on the backend's blocking pool, awaited through the pool's own join handle: the
/// waiter is woken when the job has fully ended, after the thread is done with it. (A
/// result sent from inside the job woke the waiter while the thread was still finishing;
/// the waiter's next job then found no idle thread and woke another one: 1.8-2.2x the
/// time of `unblock` on smol, decisions "to_thread joins the pool's own handle".)
///
/// Dropping it never stops the job: a queued job still runs, a running one finishes, and
/// its value is dropped (tokio's handle detaches on drop; smol's is detached here).
pub(crate) enum BlockingJob<T> {
    #[cfg(feature = "tokio")]
    Tokio(::tokio::task::JoinHandle<T>),
    #[cfg(feature = "smol")]
    Smol(Option<::blocking::Task<T>>),
}

impl<T> BlockingJob<T> {
    /// `Ready(Some(value))` once the job has run; `Ready(None)` when the pool dropped it
    /// unrun (or it panicked: callers catch panics inside the job).
    pub(crate) fn poll_join(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self {
            #[cfg(feature = "tokio")]
            BlockingJob::Tokio(join) => std::pin::Pin::new(join).poll(cx).map(Result::ok),
            #[cfg(feature = "smol")]
            BlockingJob::Smol(task) => match task.as_mut() {
                Some(t) => std::pin::Pin::new(t).poll(cx).map(Some),
                None => Poll::Ready(None),
            },
        }
    }
}

impl<T> Drop for BlockingJob<T> {
    fn drop(&mut self) {
        #[cfg(feature = "smol")]
        if let BlockingJob::Smol(task) = self
            && let Some(t) = task.take()
        {
            // Dropping an async-task `Task` would cancel a job that has not started.
            t.detach();
        }
    }
}
