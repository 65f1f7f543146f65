//! Files, paths and temporary files (AnyIO's "Asynchronous file I/O support" and
//! "Temporary files").
//!
//! # The model
//!
//! Operating systems offer no readiness notification for regular files, so every file
//! system call here runs on a worker thread through [`to_thread`](crate::to_thread), under
//! a [`CapacityLimiter`]: the default thread limiter, or one you give to a [`Path`], an
//! [`OpenOptions`] or an [`AsyncFile`]. A limiter given to a path reaches everything
//! derived from it — joined paths, parents, directory entries, walks, globs and the files
//! it opens — as in AnyIO 4.14.
//!
//! ```
//! use anyio::fs::{AsyncFile, Path};
//!
//! # anyio::run(|| async {
//! let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
//! let path = Path::new(dir.path()).join("hello.txt");
//! path.write("hello\nworld\n").await?;
//!
//! let mut file = AsyncFile::open(&path).await?;
//! let mut line = String::new();
//! file.read_line(&mut line).await?;
//! assert_eq!(line, "hello\n");
//! assert_eq!(path.read_to_string().await?, "hello\nworld\n");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Fewer thread hops than calls
//!
//! A thread hop costs far more than copying a few kilobytes, so the hops are batched where
//! the semantics allow it:
//!
//! * an [`AsyncFile`] reads ahead into a buffer of its own (64 KiB, doubling on sequential
//!   reads up to 1 MiB): small reads, [`read_line`](AsyncFile::read_line) and
//!   [`lines`](AsyncFile::lines) are served from it without a hop;
//! * writes through the `AsyncWrite` traits are written behind: the data is copied, a
//!   thread writes it while the task goes on, and the writes made meanwhile are gathered
//!   (up to 1 MiB) into the next hop. Errors show at the next operation or at `flush`, as
//!   with `tokio::fs::File`. The inherent [`write_all`](AsyncFile::write_all) instead
//!   returns once the data is written;
//! * directory iteration ([`ReadDir`], [`Walk`], [`Glob`]) reads entries in batches of
//!   128 per hop, and opening a directory reads its first batch in the same hop.
//!
//! # Cancellation
//!
//! Three rules, AnyIO's (see [checkpoints](crate::cancel)):
//!
//! 1. **Nothing starts in a cancelled scope.** Every operation is a checkpoint: in a
//!    cancelled scope it returns `Cancelled` and touches nothing.
//! 2. **Read-only queries abandon their thread.** [`Path::metadata`], [`Path::exists`],
//!    the `is_*` tests, [`Path::canonicalize`], [`Path::read_link`] and the steps of
//!    directory iteration return `Cancelled` as soon as the scope is cancelled; the thread
//!    finishes unobserved. A directory step abandoned so keeps the entries its thread read:
//!    the next step of the same stream returns them, so none is lost.
//! 3. **Reads, writes and mutations complete.** Once its thread has started, an
//!    operation that reads or changes something runs to its end and returns its result,
//!    even when the scope is cancelled meanwhile; the cancellation arrives at the next
//!    checkpoint. A rename reported as failed did not happen, and one that happened is
//!    reported as done.
//!
//! Dropping an operation's future (from `select!`) never stops its thread either. An
//! [`AsyncFile`] keeps the operation in flight and waits for it before the next one, so
//! the file's operations stay in order.
//!
//! # Errors
//!
//! An operating-system failure is an error of kind [`ErrorKind::Io`] whose source is the
//! [`std::io::Error`], and whose message names the operation and the path. Malformed input
//! — a NUL byte in a path, a seek to a negative or overflowing offset, a bad glob pattern —
//! is [`ErrorKind::InvalidArgument`] (the `io::Error`, where there is one, kept as source).
//!
//! [`ErrorKind::Io`]: crate::ErrorKind::Io
//! [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument

use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{Error, ErrorKind, Result};
use crate::sync::CapacityLimiter;
use crate::to_thread::Builder;

mod dir;
mod file;
mod path;
pub mod tempfile;

pub use dir::{DirEntry, Glob, ReadDir, Walk};
pub use file::{AsyncFile, Lines, OpenOptions, open_file, wrap_file};
pub use path::Path;

/// How an operation behaves when its scope is cancelled after its thread started (see the
/// [module docs](self#cancellation)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A read-only query: the caller abandons the thread and returns `Cancelled`.
    Query,
    /// A read, write or mutation: the caller waits and returns the result.
    Complete,
}

/// Runs `f` on a worker thread under `limiter` (the default one when `None`).
pub(crate) async fn run<T, F>(limiter: &Option<CapacityLimiter>, class: Class, f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    builder(limiter, class).run_sync(f).await
}

/// The `to_thread` options of an operation of `class` under `limiter`.
pub(crate) fn builder(limiter: &Option<CapacityLimiter>, class: Class) -> Builder {
    let builder = Builder::new().abandon_on_cancel(class == Class::Query);
    match limiter {
        Some(limiter) => builder.limiter(limiter.clone()),
        None => builder,
    }
}

/// The anyio error for `e`, raised while doing `what`: [`ErrorKind::InvalidArgument`] for
/// malformed input (a NUL in a path, a negative seek), [`ErrorKind::Io`] otherwise.
pub(crate) fn io_error(what: String, e: io::Error) -> Error {
    let kind = match e.kind() {
        io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
        _ => ErrorKind::Io,
    };
    Error::with_source(kind, what, e)
}

/// Locks `m`, ignoring poisoning: the state behind it is plain data, valid after a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
