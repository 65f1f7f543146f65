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

pub(crate) mod detect;
pub(crate) mod io;
pub(crate) mod process;
#[cfg(feature = "smol")]
pub(crate) mod smol;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::Result;
use crate::run::Backend;

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
    /// An entry of the run's virtual clock (`crate::testing::clock`): the one timer that
    /// is not the backend's. Boxed, so the variant adds nothing to the size of the enum
    /// (and of every sleep future) on the real path.
    Virtual(Box<crate::testing::clock::VirtualTimer>),
}

impl Timer {
    /// A timer that fires at `at`, on `backend` (the one detected here).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) on a tokio runtime built
    /// without its time driver.
    pub(crate) fn at(backend: Backend, at: Instant) -> Result<Timer> {
        // The one branch of the real-time path: no run of the process has a virtual clock.
        if let Some(clock) = crate::testing::clock::active() {
            return Ok(Timer::Virtual(Box::new(clock.timer(at))));
        }
        Timer::real(backend, at)
    }

    /// A timer of the backend's real clock, even in a run with a virtual clock.
    pub(crate) fn real(backend: Backend, at: Instant) -> Result<Timer> {
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
            Timer::Virtual(timer) => timer.reset(at),
        }
    }

    pub(crate) fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            #[cfg(feature = "tokio")]
            Timer::Tokio(sleep) => sleep.as_mut().poll(cx),
            #[cfg(feature = "smol")]
            Timer::Smol(timer) => std::pin::Pin::new(timer).poll(cx).map(drop),
            Timer::Virtual(timer) => timer.poll_fire(cx),
        }
    }
}

/// A fair schedule point. tokio's `yield_now` defers the wake-up until the scheduler has
/// polled other ready tasks (and falls back to waking at once outside a tokio scheduler, so
/// it is correct on any executor); without tokio, futures-lite's yield is used. The task is
/// marked as having yielded, so it counts as runnable while its wake-up is deferred.
pub(crate) async fn yield_now() {
    #[cfg(feature = "tokio")]
    let mut inner = std::pin::pin!(::tokio::task::yield_now());
    #[cfg(not(feature = "tokio"))]
    let mut inner = std::pin::pin!(futures_lite::future::yield_now());
    std::future::poll_fn(|cx| {
        let p = inner.as_mut().poll(cx);
        if p.is_pending() {
            crate::context::mark_yielded();
        }
        p
    })
    .await
}

impl Handle {
    /// Runs `job` on the backend's pool of blocking threads (idle threads are reused):
    /// tokio's blocking pool, or the `blocking` crate's pool on smol. If the pool cannot
    /// run it (a tokio runtime that has shut down), `job` is dropped without running.
    pub(crate) fn spawn_blocking(&self, job: impl FnOnce() + Send + 'static) {
        match self {
            #[cfg(feature = "tokio")]
            Handle::Tokio(h) => tokio::spawn_blocking(h, job),
            #[cfg(feature = "smol")]
            Handle::Smol(_) => smol::spawn_blocking(job),
        }
    }
}
