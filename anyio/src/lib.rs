//! # anyio — AnyIO for Rust
//!
//! Write concurrent code once — task groups, level-triggered cancel scopes with deadlines
//! and shielding, and the rest of AnyIO — and run it on **tokio** (the default backend) or
//! **smol**.
//!
//! ```
//! use std::time::Duration;
//!
//! async fn main_task() -> anyio::Result<()> {
//!     anyio::task_group(|tg| async move {
//!         for i in 0..3u64 {
//!             tg.start_soon(async move {
//!                 anyio::sleep(Duration::from_millis(10 * i)).await?;
//!                 println!("child {i} done");
//!                 Ok::<_, anyio::Error>(())
//!             })?;
//!         }
//!         Ok(())
//!     })
//!     .await?;
//!     Ok(())
//! }
//!
//! anyio::run(main_task).unwrap();                                  // on tokio
//! anyio::Runner::new(anyio::Backend::Smol).run(main_task).unwrap(); // on smol
//! ```
//!
//! # The guide, chapter by chapter
//!
//! | AnyIO chapter | here |
//! |---|---|
//! | The basics | [`run`](mod@run): [`run`](fn@run), [`Runner`], [`Backend`], [`current_async_library`] |
//! | Creating and managing tasks | [`task_group`](mod@task_group): [`task_group`](fn@task_group), [`TaskGroup`], [`TaskBuilder`], [`TaskHandle`], [`TaskStatus`], [`gather`], [`amap`] |
//! | Cancellation and timeouts | [`cancel`]: [`CancelScope`], [`move_on_after`], [`fail_after`], [`cancellable`] |
//! | Time | [`time`]: [`sleep`], [`sleep_until`], [`sleep_forever`], [`current_time`] |
//! | Using synchronization primitives | [`sync`]: [`Event`], [`Lock`], [`Mutex`], [`Semaphore`], [`Condition`], [`CapacityLimiter`], [`ResourceGuard`] |
//! | Working with threads | [`to_thread`]: [`run_sync`](to_thread::run_sync); [`from_thread`]: [`BlockingPortal`](from_thread::BlockingPortal), [`start_blocking_portal`](from_thread::start_blocking_portal) |
//! | Streams | [`streams`]: [`create_memory_object_stream`], [memory object streams](streams::memory), [`StapledObjectStream`](streams::StapledObjectStream), the stream traits |
//! | Using sockets | [`net`]: [`connect_tcp`](net::connect_tcp), [`create_tcp_listener`](net::create_tcp_listener), [`TcpStream`](net::TcpStream), [`getaddrinfo`](net::getaddrinfo); byte streams in [`streams::bytes`] |
//! | Low-level | [`lowlevel`]: checkpoints, [`RunVar`](lowlevel::RunVar) |
//! | Testing | [`testing`], [`#[anyio::test]`](test) |
//! | Errors | [`Error`], [`ErrorKind`] |
//!
//! # Backends
//!
//! The cargo feature `tokio` (on by default) and `smol` choose the backends compiled in;
//! [`Runner`] chooses one per run. Outside [`run`](fn@run), the backend is detected at each call:
//! inside a tokio runtime anyio uses tokio, anywhere else smol (see
//! [`current_async_library`]). tokio-native libraries work inside `anyio::run` on tokio.
//! A tokio runtime that anyio runs on must have its time driver enabled (`enable_time` or
//! `enable_all`, as `#[tokio::main]` and anyio's own runtimes do): anyio's sleeps and
//! deadlines are tokio timers there, and tokio panics when they are used without it.
//!
//! # Cargo features
//!
//! * `tokio` (default): the tokio backend.
//! * `smol`: the smol backend (async-io, async-executor, blocking).
//! * `macros` (default): [`#[anyio::main]`](main) and [`#[anyio::test]`](test).
//! * `anyhow`: conversions from `anyhow::Error` that keep cancellation recognisable.
//! * `tls`: TLS streams on rustls ([`streams::tls`], `connect_tcp(..).tls(..)`).
//! * `tls-webpki-roots`: Mozilla's root certificates as an alternative trust store.

// One `unsafe` block is allowed: the `pre_exec` hook in `process/command.rs` (see
// docs/decisions.md, "One `unsafe`: the child's setup between fork and exec").
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

extern crate self as anyio;

// The modules in layers, bottom to top: a module imports only from its own layer and the
// layers below (`.ci/module-deps.py` checks it in CI).
//
// Foundation: errors, the loom switch for the synchronisation primitives, and the two
// concurrent cells everything above builds on (wake lists, the one-shot cell).
mod cell;
pub mod error;
mod loom;
// Backends: tokio and smol behind one contract (spawn, timers, blocking pool, readiness
// I/O, child processes); they know nothing of tasks or scopes.
mod backend;
// Core: the thread-local context, backend detection, cancel scopes, tasks and task groups,
// time, the runner.
pub mod cancel;
mod clock;
mod context;
mod detect;
pub mod lowlevel;
pub mod run;
mod task;
pub mod task_group;
pub mod time;
mod watchdog;
// Library: everything a program uses, written once on the core.
mod concurrency;
pub mod from_thread;
pub mod fs;
pub mod net;
pub mod process;
#[cfg(unix)]
pub mod signal;
pub mod streams;
pub mod sync;
pub mod to_thread;
// Tools: testing helpers, and the loom models of the core's concurrent cells.
#[cfg(all(test, loom))]
mod loom_models;
pub mod testing;

pub use cancel::{
    CancelScope, CancellableExt, Deadline, cancellable, current_effective_deadline, fail_after,
    fail_at, move_on_after, move_on_at,
};
pub use concurrency::{amap, gather};
pub use error::ok_fn::Ok;
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "smol")]
pub use run::SmolOptions;
pub use run::{Backend, Runner, available_backends, current_async_library, run};
#[cfg(feature = "tokio")]
pub use run::{Flavor, TokioOptions};
pub use streams::memory::{
    MemoryObjectReceiveStream, MemoryObjectSendStream, create_memory_object_stream,
};
pub use sync::{
    Borrower, CapacityLimiter, CapacityLimiterGuard, CapacityLimiterStatistics, Condition,
    ConditionGuard, ConditionStatistics, Event, EventStatistics, Lock, LockGuard, LockStatistics,
    ResourceGuard, ResourceGuardToken, Semaphore, SemaphorePermit, SemaphoreStatistics,
};
pub use sync::{Mutex, MutexGuard};
pub use task::{TaskInfo, get_current_task, get_running_tasks};
pub use task_group::{TaskBuilder, TaskGroup, TaskHandle, TaskState, TaskStatus, task_group};
pub use time::{current_time, sleep, sleep_forever, sleep_until};

#[cfg(feature = "macros")]
pub use anyio_macros::{main, test};

/// Expands its input only when the `tokio` backend is compiled in (used by `#[anyio::test]`).
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_tokio {
    ($($t:tt)*) => { $($t)* };
}

/// Expands its input only when the `tokio` backend is compiled in (used by `#[anyio::test]`).
#[cfg(not(feature = "tokio"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_tokio {
    ($($t:tt)*) => {};
}

/// Expands its input only when the `smol` backend is compiled in (used by `#[anyio::test]`).
#[cfg(feature = "smol")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_smol {
    ($($t:tt)*) => { $($t)* };
}

/// Expands its input only when the `smol` backend is compiled in (used by `#[anyio::test]`).
#[cfg(not(feature = "smol"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_smol {
    ($($t:tt)*) => {};
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
