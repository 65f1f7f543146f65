//! Directory iteration in batches: [`ReadDir`], [`Walk`], [`Glob`].
//!
//! # Invariants
//!
//! 1. The iterator and the entries a thread read live in `Shared`, behind a mutex, not in
//!    the thread's closure: a step abandoned on cancellation still leaves its batch there,
//!    and the next step (which locks after it) hands it out. No entry is lost.
//! 2. A step's thread reads a batch only when the previous one has been taken.

use std::collections::VecDeque;
use std::fmt;
use std::fs::FileType;
use std::future::Future;
use std::path::{Path as StdPath, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;

use super::path::Path;
use super::{Class, builder, io_error, lock};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::sync::CapacityLimiter;

/// Entries read per thread hop.
const BATCH: usize = 128;

/// A source of items read on a worker thread, a batch at a time.
trait Source: Send + 'static {
    type Item: Send + 'static;
    /// Appends up to [`BATCH`] items to `out`; returns true when there are no more.
    fn fill(&mut self, out: &mut VecDeque<Self::Item>) -> bool;
}

struct Shared<S: Source> {
    source: S,
    batch: VecDeque<S::Item>,
    ended: bool,
}

type Step = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// The stream machinery shared by the three iterators.
struct Batched<S: Source> {
    shared: Arc<Mutex<Shared<S>>>,
    ready: VecDeque<S::Item>,
    step: Option<Step>,
    ended: bool,
    limiter: Option<CapacityLimiter>,
}

impl<S: Source> Batched<S> {
    fn new(source: S, limiter: Option<CapacityLimiter>) -> Batched<S> {
        Batched {
            shared: Arc::new(Mutex::new(Shared {
                source,
                batch: VecDeque::new(),
                ended: false,
            })),
            ready: VecDeque::new(),
            step: None,
            ended: false,
            limiter,
        }
    }

    fn start_step(&mut self) {
        let shared = self.shared.clone();
        let fut = builder(&self.limiter, Class::Query).run_sync(move || {
            let mut guard = lock(&shared);
            let Shared {
                source,
                batch,
                ended,
            } = &mut *guard;
            if batch.is_empty() && !*ended {
                *ended = source.fill(batch);
            }
        });
        self.step = Some(Box::pin(fut));
    }

    fn take_batch(&mut self) {
        let mut shared = lock(&self.shared);
        std::mem::swap(&mut self.ready, &mut shared.batch);
        // `ready` was empty (it is handed out before a step starts).
        self.ended = shared.ended;
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<S::Item>>> {
        loop {
            if self.step.is_none() {
                if let Some(e) = context::check_cancelled() {
                    return Poll::Ready(Some(Err(e)));
                }
                if let Some(item) = self.ready.pop_front() {
                    return Poll::Ready(Some(Ok(item)));
                }
                if self.ended {
                    return Poll::Ready(None);
                }
                self.start_step();
            }
            let step = self.step.as_mut().expect("started above");
            let out = match step.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(out) => out,
            };
            self.step = None;
            match out {
                Ok(()) => self.take_batch(),
                // Abandoned: the thread leaves its batch in `shared` (invariant 1).
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

/// An entry of a directory, from [`ReadDir`] or [`Walk`].
#[derive(Clone)]
pub struct DirEntry {
    path: PathBuf,
    file_type: std::result::Result<FileType, Error>,
    depth: usize,
    limiter: Option<CapacityLimiter>,
}

impl DirEntry {
    fn from_std(entry: &std::fs::DirEntry, depth: usize) -> DirEntry {
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| io_error(format!("reading the type of '{}'", path.display()), e));
        DirEntry {
            path,
            file_type,
            depth,
            limiter: None,
        }
    }

    /// The entry's full path, keeping the limiter of the directory's path.
    pub fn path(&self) -> Path {
        Path::with_opt_limiter(self.path.clone(), self.limiter.clone())
    }

    /// The entry's file name.
    pub fn file_name(&self) -> &std::ffi::OsStr {
        self.path.file_name().unwrap_or_default()
    }

    /// The entry's type (not following symlinks), read with the entry in its batch.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the OS could not tell it.
    pub fn file_type(&self) -> Result<FileType> {
        self.file_type.clone()
    }

    /// How deep under the directory walked it is: 1 for its own entries (and for every
    /// entry of [`ReadDir`]).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The entry's metadata, not following symlinks.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when it is gone.
    pub async fn metadata(&self) -> Result<std::fs::Metadata> {
        self.path().symlink_metadata().await
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirEntry")
            .field("path", &self.path)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

struct DirSource {
    dir: PathBuf,
    iter: std::fs::ReadDir,
    limiter: Option<CapacityLimiter>,
}

impl Source for DirSource {
    type Item = Result<DirEntry>;

    fn fill(&mut self, out: &mut VecDeque<Result<DirEntry>>) -> bool {
        for _ in 0..BATCH {
            match self.iter.next() {
                None => return true,
                Some(Ok(entry)) => {
                    let mut entry = DirEntry::from_std(&entry, 1);
                    entry.limiter = self.limiter.clone();
                    out.push_back(Ok(entry));
                }
                Some(Err(e)) => out.push_back(Err(io_error(
                    format!("reading the directory '{}'", self.dir.display()),
                    e,
                ))),
            }
        }
        false
    }
}

/// The entries of a directory, from [`Path::read_dir`]: a [`Stream`] of
/// `Result<DirEntry>`, read in batches of 128 per thread hop.
///
/// # Cancellation
///
/// Each step is a checkpoint and a query: when cancelled it yields `Err(Cancelled)` at
/// once, abandoning its thread, whose entries the next step returns (none is lost). The
/// stream goes on after such an item.
#[must_use = "streams do nothing unless polled"]
pub struct ReadDir {
    inner: Batched<DirSource>,
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

impl ReadDir {
    pub(crate) async fn open(dir: PathBuf, limiter: Option<CapacityLimiter>) -> Result<ReadDir> {
        let for_thread = limiter.clone();
        let (source, first, ended) = super::run(&limiter, Class::Query, move || {
            let iter = std::fs::read_dir(&dir)
                .map_err(|e| io_error(format!("opening the directory '{}'", dir.display()), e))?;
            let mut source = DirSource {
                dir,
                iter,
                limiter: for_thread,
            };
            let mut first = VecDeque::new();
            let ended = source.fill(&mut first);
            Ok::<_, Error>((source, first, ended))
        })
        .await??;
        let mut inner = Batched::new(source, limiter);
        inner.ready = first;
        inner.ended = ended;
        lock(&inner.shared).ended = ended;
        Ok(ReadDir { inner })
    }
}

impl<T: Send + 'static, S: Source<Item = Result<T>>> Batched<S> {
    /// The next item of a source whose items are results: the step's error or the item's.
    fn poll_flat(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.poll_item(cx).map(|o| o.map(|r| r.and_then(|x| x)))
    }
}

impl Stream for ReadDir {
    type Item = Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<DirEntry>>> {
        self.get_mut().inner.poll_flat(cx)
    }
}

struct WalkSource {
    root: Option<PathBuf>,
    stack: Vec<std::fs::ReadDir>,
    limiter: Option<CapacityLimiter>,
}

impl Source for WalkSource {
    type Item = Result<DirEntry>;

    fn fill(&mut self, out: &mut VecDeque<Result<DirEntry>>) -> bool {
        if let Some(root) = self.root.take() {
            match std::fs::read_dir(&root) {
                Ok(iter) => self.stack.push(iter),
                Err(e) => {
                    out.push_back(Err(io_error(
                        format!("opening the directory '{}'", root.display()),
                        e,
                    )));
                    return true;
                }
            }
        }
        while out.len() < BATCH {
            let depth = self.stack.len();
            let Some(top) = self.stack.last_mut() else {
                return true;
            };
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Err(e)) => out.push_back(Err(io_error("walking a directory".to_owned(), e))),
                Some(Ok(entry)) => {
                    let mut entry = DirEntry::from_std(&entry, depth);
                    entry.limiter = self.limiter.clone();
                    let is_dir = entry.file_type.as_ref().is_ok_and(|t| t.is_dir());
                    let child = is_dir.then(|| std::fs::read_dir(&entry.path));
                    let path = entry.path.clone();
                    out.push_back(Ok(entry));
                    match child {
                        Some(Ok(iter)) => self.stack.push(iter),
                        Some(Err(e)) => out.push_back(Err(io_error(
                            format!("opening the directory '{}'", path.display()),
                            e,
                        ))),
                        None => {}
                    }
                }
            }
        }
        false
    }
}

/// A walk of a directory tree, from [`Path::walk`]: a [`Stream`] of `Result<DirEntry>`,
/// depth first, read in batches of 128 entries per thread hop.
///
/// # Cancellation
///
/// As [`ReadDir`]: each step is a query, abandoned at once when cancelled, and none of
/// the entries its thread read is lost.
#[must_use = "streams do nothing unless polled"]
pub struct Walk {
    inner: Batched<WalkSource>,
}

impl fmt::Debug for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walk").finish_non_exhaustive()
    }
}

impl Walk {
    pub(crate) fn new(root: PathBuf, limiter: Option<CapacityLimiter>) -> Walk {
        let source = WalkSource {
            root: Some(root),
            stack: Vec::new(),
            limiter: limiter.clone(),
        };
        Walk {
            inner: Batched::new(source, limiter),
        }
    }
}

impl Stream for Walk {
    type Item = Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<DirEntry>>> {
        self.get_mut().inner.poll_flat(cx)
    }
}

struct GlobSource {
    pattern: String,
    paths: Option<glob::Paths>,
    limiter: Option<CapacityLimiter>,
}

impl Source for GlobSource {
    type Item = Result<Path>;

    fn fill(&mut self, out: &mut VecDeque<Result<Path>>) -> bool {
        if self.paths.is_none() {
            match glob::glob(&self.pattern) {
                Ok(paths) => self.paths = Some(paths),
                Err(e) => {
                    out.push_back(Err(bad_pattern(&self.pattern, e)));
                    return true;
                }
            }
        }
        let Some(paths) = self.paths.as_mut() else {
            return true;
        };
        for _ in 0..BATCH {
            match paths.next() {
                None => return true,
                Some(Ok(p)) => out.push_back(Ok(Path::with_opt_limiter(p, self.limiter.clone()))),
                Some(Err(e)) => {
                    let path = e.path().display().to_string();
                    out.push_back(Err(io_error(format!("globbing in '{path}'"), e.into())));
                }
            }
        }
        false
    }
}

fn bad_pattern(pattern: &str, e: glob::PatternError) -> Error {
    Error::with_source(
        ErrorKind::InvalidArgument,
        format!("invalid glob pattern '{pattern}'"),
        e,
    )
}

/// The paths matching a pattern, from [`Path::glob`]: a [`Stream`] of `Result<Path>`, in
/// batches of 128 per thread hop.
///
/// # Cancellation
///
/// As [`ReadDir`].
#[must_use = "streams do nothing unless polled"]
pub struct Glob {
    inner: Batched<GlobSource>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Glob").finish_non_exhaustive()
    }
}

impl Glob {
    pub(crate) fn new(
        dir: &StdPath,
        pattern: &str,
        limiter: Option<CapacityLimiter>,
    ) -> Result<Glob> {
        let dir = dir.to_str().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot glob under the non-UTF-8 path '{}'", dir.display()),
            )
        })?;
        let full = format!("{}/{pattern}", glob::Pattern::escape(dir));
        glob::Pattern::new(&full).map_err(|e| bad_pattern(pattern, e))?;
        let source = GlobSource {
            pattern: full,
            paths: None,
            limiter: limiter.clone(),
        };
        Ok(Glob {
            inner: Batched::new(source, limiter),
        })
    }
}

impl Stream for Glob {
    type Item = Result<Path>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Path>>> {
        self.get_mut().inner.poll_flat(cx)
    }
}
