//! [`AsyncFile`]: a `std::fs::File` driven from async code, one thread hop per batch.
//!
//! # Invariants
//!
//! 1. At most one operation is in flight (`AsyncFile::op`); every other operation waits
//!    for it first, so the file's operations happen in the order they were made, even
//!    when the future that started one was dropped.
//! 2. The async side touches `Inner` (behind its mutex) only when no operation is in
//!    flight, or while a prefetch is: a prefetch holds the lock only to take and to give
//!    back `Inner::next`, never across its `read(2)`, so the async side's locks never
//!    wait for a thread's I/O.
//! 3. Written-behind data is always in `AsyncFile::staging` or `Inner::wbuf` until a
//!    thread has written it: an operation that never started (cancelled while waiting for
//!    a limiter token) leaves it there, and dropping the file hands it to a thread.
//! 4. `Inner::rbuf[rpos..rend]`, then `Inner::next[..next_len]`, is data read from the
//!    OS but not yet returned: the OS position is that many bytes ahead of the file's
//!    logical position. While a prefetch is in flight `next` is the thread's (empty here,
//!    `next_len == 0`) and no operation but a buffered read runs.
//! 5. A prefetch is never owed to anyone: its error is dropped (the next read, which
//!    reads for itself, meets and reports it), and every other operation waits for it.

use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path as StdPath;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use futures_core::Stream;

use super::{Class, builder, io_error, lock};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::sync::CapacityLimiter;

/// The first read-ahead size, doubled after each read that fills it.
const READ_AHEAD_START: usize = 64 * 1024;
/// The largest read-ahead (one thread hop).
const READ_AHEAD_MAX: usize = 1024 * 1024;
/// How much written-behind data is gathered while a write is in flight.
const WRITE_BEHIND_MAX: usize = 1024 * 1024;

/// Opens the file at `path` with `options` (AnyIO's `open_file`).
///
/// The same as [`options.open(path)`](OpenOptions::open).
///
/// # Cancellation
///
/// A checkpoint; once its thread has started the open completes (it may create or
/// truncate the file) and the file is returned.
///
/// # Errors
///
/// [`ErrorKind::Io`] when the OS refuses (missing file, permissions, a directory opened
/// for writing); [`ErrorKind::InvalidArgument`] for a NUL byte in the path or an invalid
/// combination of options.
///
/// # Examples
///
/// ```
/// use anyio::fs::{OpenOptions, open_file};
///
/// # anyio::run(|| async {
/// # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
/// let path = dir.path().join("log.txt");
/// let mut f = open_file(&path, OpenOptions::new().append(true).create(true)).await?;
/// f.write_all(b"one line\n").await?;
/// f.close().await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn open_file(path: impl AsRef<StdPath>, options: &OpenOptions) -> Result<AsyncFile> {
    options.open(path).await
}

/// Wraps an open `std::fs::File` (AnyIO's `wrap_file`), using the default thread limiter.
///
/// Not a checkpoint (nothing blocks). [`AsyncFile::with_limiter`] sets a limiter.
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let std_file = tempfile::tempfile()?;
/// let mut f = anyio::fs::wrap_file(std_file);
/// f.write_all(b"data").await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn wrap_file(file: std::fs::File) -> AsyncFile {
    AsyncFile::from_std(file, None)
}

/// Options for opening a file, as [`std::fs::OpenOptions`], plus the limiter of the file's
/// threads.
///
/// # Examples
///
/// ```
/// use anyio::fs::OpenOptions;
///
/// # anyio::run(|| async {
/// # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
/// let limiter = anyio::CapacityLimiter::new(2)?;
/// let mut f = OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .limiter(limiter)
///     .open(dir.path().join("new.bin"))
///     .await?;
/// f.write_all(&[1, 2, 3]).await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    limiter: Option<CapacityLimiter>,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// No access and no creation: set at least `read`, `write` or `append`.
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            limiter: None,
        }
    }

    /// Read access.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.std.read(read);
        self
    }

    /// Write access.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.std.write(write);
        self
    }

    /// Append mode: every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.std.append(append);
        self
    }

    /// Truncates an existing file to length 0 (needs write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.std.truncate(truncate);
        self
    }

    /// Creates the file when it does not exist (needs write or append access).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.std.create(create);
        self
    }

    /// Creates the file, failing when it exists (Python's mode `"x"`).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.std.create_new(create_new);
        self
    }

    /// The permission bits of a newly created file (before the umask).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.std, mode);
        self
    }

    /// Extra `open(2)` flags (`O_NOFOLLOW`, `O_DIRECT`, ...).
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.std, flags);
        self
    }

    /// Runs the file's operations under `limiter` instead of the default thread limiter.
    pub fn limiter(&mut self, limiter: CapacityLimiter) -> &mut OpenOptions {
        self.limiter = Some(limiter);
        self
    }

    pub(crate) fn limiter_ref(&self) -> Option<&CapacityLimiter> {
        self.limiter.as_ref()
    }

    pub(crate) fn set_limiter(&mut self, limiter: Option<CapacityLimiter>) -> &mut OpenOptions {
        self.limiter = limiter;
        self
    }

    /// Opens the file at `path` with these options.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once its thread has started the open completes and the file is
    /// returned (an open may create or truncate).
    ///
    /// # Errors
    ///
    /// As [`open_file`].
    pub async fn open(&self, path: impl AsRef<StdPath>) -> Result<AsyncFile> {
        let path = path.as_ref().to_path_buf();
        let options = self.std.clone();
        let opened = super::run(&self.limiter, Class::Complete, move || {
            options
                .open(&path)
                .map_err(|e| io_error(format!("opening '{}'", path.display()), e))
        })
        .await??;
        Ok(AsyncFile::from_std(opened, self.limiter.clone()))
    }
}

/// The file state the worker threads work on.
struct Inner {
    /// Shared with a prefetch's thread, which reads without holding the lock.
    file: Arc<std::fs::File>,
    /// Read-ahead storage; `rbuf[rpos..rend]` is read but not yet returned.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    /// The next read-ahead size.
    ahead: usize,
    /// A prefetched batch, `next[..next_len]`, that follows `rbuf[rpos..rend]`.
    next: Vec<u8>,
    next_len: usize,
    /// The last read-ahead filled its buffer (a sequential read of a regular file): the
    /// next batch is worth prefetching.
    streaming: bool,
    /// Whether the file is a regular file (a pipe or a terminal is never prefetched: a
    /// read there can wait for ever); learnt on the first read-ahead.
    regular: Option<bool>,
    /// Written-behind data handed to a thread and not yet written.
    wbuf: Vec<u8>,
}

impl Inner {
    fn buffered(&self) -> usize {
        self.rend - self.rpos + self.next_len
    }

    fn clear_read_buffer(&mut self) {
        self.rpos = 0;
        self.rend = 0;
        self.next_len = 0;
        self.streaming = false;
        self.ahead = READ_AHEAD_START;
    }

    /// Appends the prefetched batch to `rbuf` (compacted first), so the thread-side
    /// readers see one buffer.
    fn absorb_next(&mut self) {
        if self.next_len == 0 {
            return;
        }
        if self.rpos == self.rend {
            // The common case: swap instead of copying.
            std::mem::swap(&mut self.rbuf, &mut self.next);
            self.rpos = 0;
            self.rend = self.next_len;
        } else {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
            let (end, n) = (self.rend, self.next_len);
            if self.rbuf.len() < end + n {
                self.rbuf.resize(end + n, 0);
            }
            self.rbuf[end..end + n].copy_from_slice(&self.next[..n]);
            self.rend += n;
        }
        self.next_len = 0;
    }

    /// Reads the next batch into `next` on a worker thread, without holding the lock
    /// across the read (invariant 2). Its result is nobody's (invariant 5).
    fn prefetch(shared: &Mutex<Inner>) -> io::Result<usize> {
        let (file, mut buf, want) = {
            let mut inner = lock(shared);
            if inner.next_len != 0 || !inner.streaming {
                return Ok(0);
            }
            (
                inner.file.clone(),
                std::mem::take(&mut inner.next),
                inner.ahead,
            )
        };
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let read = loop {
            match (&*file).read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        drop(file);
        let mut inner = lock(shared);
        inner.next = buf;
        match read {
            Ok(n) => {
                inner.next_len = n;
                if n == want {
                    inner.ahead = (inner.ahead * 2).min(READ_AHEAD_MAX);
                } else {
                    inner.streaming = false;
                }
                Ok(n)
            }
            Err(e) => {
                inner.streaming = false;
                Err(e)
            }
        }
    }

    /// Moves the OS position back over the unread buffered bytes and forgets them, so
    /// the OS position is the logical one again (before a write).
    fn rewind_read_buffer(&mut self) -> io::Result<()> {
        let unread = self.buffered();
        if unread > 0 {
            let back = i64::try_from(unread).map_err(|_| invalid("read buffer too large"))?;
            (&*self.file).seek(SeekFrom::Current(-back))?;
        }
        self.clear_read_buffer();
        Ok(())
    }

    /// Writes all of `wbuf`. On an OS failure the unwritten rest is dropped: the error
    /// reports it.
    fn write_out(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let result = self.rewind_read_buffer().and_then(|()| {
            let mut done = 0;
            while done < self.wbuf.len() {
                match (&*self.file).write(&self.wbuf[done..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        self.wbuf.clear();
        result
    }

    /// One `read(2)` into the read-ahead buffer, of at least `min` bytes (capped at the
    /// largest read-ahead). Returns how many bytes came (0 at end of file).
    fn fill(&mut self, min: usize) -> io::Result<usize> {
        if self.next_len > 0 {
            // A prefetch already read this batch: it is the read's data.
            let n = self.next_len;
            self.absorb_next();
            return Ok(n);
        }
        if self.regular.is_none() {
            self.regular = Some(self.file.metadata().is_ok_and(|m| m.is_file()));
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        } else if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        let want = self.ahead.max(min.min(READ_AHEAD_MAX));
        if self.rbuf.len() < self.rend + want {
            self.rbuf.resize(self.rend + want, 0);
        }
        let n = loop {
            match (&*self.file).read(&mut self.rbuf[self.rend..self.rend + want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        self.rend += n;
        self.streaming = n == want && self.regular == Some(true);
        if n == want {
            self.ahead = (self.ahead * 2).min(READ_AHEAD_MAX);
        }
        Ok(n)
    }

    /// Reads until the buffer holds a newline or the file ends. Returns true at the end.
    fn fill_line(&mut self) -> io::Result<bool> {
        self.absorb_next();
        loop {
            let scanned = self.buffered();
            if self.rbuf[self.rpos..self.rend].contains(&b'\n') {
                return Ok(false);
            }
            if self.fill(0)? == 0 {
                return Ok(true);
            }
            // `fill` moved the unread bytes to the front: only the new ones need a look.
            if self.rbuf[scanned..self.rend].contains(&b'\n') {
                return Ok(false);
            }
        }
    }

    /// Takes the unread buffered bytes.
    fn take_buffered(&mut self) -> Vec<u8> {
        self.absorb_next();
        let out = self.rbuf[self.rpos..self.rend].to_vec();
        self.clear_read_buffer();
        out
    }

    /// The logical position: the OS position less the unread buffered bytes.
    fn position(&mut self) -> io::Result<u64> {
        self.write_out()?;
        let os = (&*self.file).stream_position()?;
        Ok(os - self.buffered() as u64)
    }

    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.write_out()?;
        let pos = match pos {
            SeekFrom::Current(0) => return self.position(),
            SeekFrom::Current(n) => {
                let unread = i64::try_from(self.buffered()).map_err(|_| overflow())?;
                SeekFrom::Current(n.checked_sub(unread).ok_or_else(overflow)?)
            }
            SeekFrom::Start(n) if i64::try_from(n).is_err() => return Err(overflow()),
            other => other,
        };
        let out = (&*self.file).seek(pos)?;
        self.clear_read_buffer();
        Ok(out)
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn overflow() -> io::Error {
    invalid("invalid seek to a negative or overflowing position")
}

/// What an operation in flight is, for whoever finishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    /// Written-behind data: its error is owed to the next operation.
    WriteBehind,
    /// A read-ahead for `poll_read`; the data stays in the buffer for any reader.
    Fill,
    /// The next read-ahead, started after a read while the buffer still serves reads
    /// (invariant 5).
    Prefetch,
    /// A read-ahead up to a newline, for `read_line` and `lines`.
    FillLine,
    /// A seek started through `AsyncSeek`.
    Seek,
    /// An operation an async method awaits; its result is dropped if that method's
    /// future was dropped.
    Call,
}

type Output = io::Result<Box<dyn Any + Send>>;

struct Op {
    fut: Pin<Box<dyn Future<Output = Result<Output>> + Send>>,
    kind: OpKind,
    what: &'static str,
}

struct Finished {
    kind: OpKind,
    out: Result<Box<dyn Any + Send>>,
}

/// An open file for async code (AnyIO's `AsyncFile`): every operation runs on a worker
/// thread, batched as the [module docs](super#fewer-thread-hops-than-calls) describe.
///
/// It implements `futures_io::{AsyncRead, AsyncWrite, AsyncSeek}` and, with the `tokio`
/// feature, `tokio::io::{AsyncRead, AsyncWrite, AsyncSeek}`, so codecs, `copy` helpers and
/// `BufReader`s of both ecosystems work on it.
///
/// # Buffering
///
/// Reads are read ahead (the file's OS position runs ahead of [`stream_position`](Self::stream_position)
/// (Self::stream_position), which is the logical one). Writes through the `AsyncWrite`
/// traits are written behind: call `flush` (or [`flush`](Self::flush) /
/// [`close`](Self::close)) to learn their outcome. A file dropped with written-behind data
/// hands it to a thread that writes it (and can report no error); the inherent
/// [`write_all`](Self::write_all) waits until its data is written.
///
/// # Examples
///
/// ```
/// use std::io::SeekFrom;
/// use anyio::fs::AsyncFile;
///
/// # anyio::run(|| async {
/// # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
/// let path = dir.path().join("data.bin");
/// let mut f: AsyncFile = anyio::fs::OpenOptions::new()
///     .read(true)
///     .write(true)
///     .create(true)
///     .open(&path)
///     .await?;
/// f.write_all(b"hello world").await?;
/// f.seek(SeekFrom::Start(6)).await?;
/// let mut word = [0; 5];
/// assert_eq!(f.read(&mut word).await?, 5);
/// assert_eq!(&word, b"world");
/// assert_eq!(f.stream_position().await?, 11);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncFile {
    inner: Arc<Mutex<Inner>>,
    op: Option<Op>,
    /// Written-behind data gathered while a write is in flight.
    staging: Vec<u8>,
    /// True from handing data to `Inner::wbuf` until a thread confirms it written.
    wbuf_pending: bool,
    /// A seek asked for with tokio's `start_seek`, not yet started.
    pending_seek: Option<SeekFrom>,
    limiter: Option<CapacityLimiter>,
}

impl fmt::Debug for AsyncFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFile")
            .field("in_flight", &self.op.as_ref().map(|op| op.kind))
            .field("staged", &self.staging.len())
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl AsyncFile {
    fn from_std(file: std::fs::File, limiter: Option<CapacityLimiter>) -> AsyncFile {
        AsyncFile {
            inner: Arc::new(Mutex::new(Inner {
                file: Arc::new(file),
                rbuf: Vec::new(),
                rpos: 0,
                rend: 0,
                ahead: READ_AHEAD_START,
                next: Vec::new(),
                next_len: 0,
                streaming: false,
                regular: None,
                wbuf: Vec::new(),
            })),
            op: None,
            staging: Vec::new(),
            wbuf_pending: false,
            pending_seek: None,
            limiter,
        }
    }

    /// Opens `path` read-only (as `std::fs::File::open`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started, the open completes and the file is returned.
    ///
    /// # Errors
    ///
    /// As [`open_file`].
    pub async fn open(path: impl AsRef<StdPath>) -> Result<AsyncFile> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, created or truncated (as `std::fs::File::create`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started, the open completes (it may truncate the file).
    ///
    /// # Errors
    ///
    /// As [`open_file`].
    pub async fn create(path: impl AsRef<StdPath>) -> Result<AsyncFile> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Runs this file's operations under `limiter` instead of the default thread limiter.
    pub fn with_limiter(mut self, limiter: CapacityLimiter) -> AsyncFile {
        self.limiter = Some(limiter);
        self
    }

    /// The limiter of this file's threads, if not the default one.
    pub fn limiter(&self) -> Option<&CapacityLimiter> {
        self.limiter.as_ref()
    }

    // ---- the operation slot -------------------------------------------------------------

    fn start<T, F>(&mut self, kind: OpKind, what: &'static str, f: F)
    where
        F: FnOnce(&mut Inner) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        debug_assert!(self.op.is_none(), "one operation in flight at a time");
        let inner = self.inner.clone();
        let fut = builder(&self.limiter, Class::Complete).run_sync(move || {
            let mut guard = lock(&inner);
            f(&mut guard).map(|v| Box::new(v) as Box<dyn Any + Send>)
        });
        self.op = Some(Op {
            fut: Box::pin(fut),
            kind,
            what,
        });
    }

    /// Polls the operation in flight to its end; `None` when there is none.
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Option<Finished>> {
        let Some(op) = self.op.as_mut() else {
            return Poll::Ready(None);
        };
        let out = ready!(op.fut.as_mut().poll(cx));
        let (kind, what) = (op.kind, op.what);
        self.op = None;
        let out = match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(io_error(what.to_owned(), e)),
            // Never started (cancelled or no event loop): for a write, its data is still
            // in `wbuf`, so `wbuf_pending` stays set and a later operation writes it.
            Err(e) => return Poll::Ready(Some(Finished { kind, out: Err(e) })),
        };
        if kind == OpKind::WriteBehind {
            // It ran: written, or failed and its rest dropped (the error tells).
            self.wbuf_pending = false;
        }
        Poll::Ready(Some(Finished { kind, out }))
    }

    /// Waits until no operation is in flight and every written-behind byte is written.
    /// Returns the error owed by a written-behind write.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            if let Some(done) = ready!(self.poll_op(cx)) {
                if let (OpKind::WriteBehind, Err(e)) = (done.kind, done.out) {
                    return Poll::Ready(Err(e));
                }
                continue;
            }
            if self.staging.is_empty() && !self.wbuf_pending {
                return Poll::Ready(Ok(()));
            }
            self.start_write_behind();
        }
    }

    fn writes_pending(&self) -> bool {
        !self.staging.is_empty() || self.wbuf_pending
    }

    fn start_write_behind(&mut self) {
        {
            let mut inner = lock(&self.inner);
            if inner.wbuf.is_empty() {
                std::mem::swap(&mut inner.wbuf, &mut self.staging);
            } else {
                inner.wbuf.extend_from_slice(&self.staging);
                self.staging.clear();
            }
        }
        self.wbuf_pending = true;
        self.start(OpKind::WriteBehind, "writing to a file", Inner::write_out);
    }

    /// Runs `f` on a thread after every earlier operation, and returns its result.
    async fn call<T, F>(&mut self, what: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(&mut Inner) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        // `run_sync` is the checkpoint: in a cancelled scope it never starts `f`.
        self.start(OpKind::Call, what, f);
        let done = poll_fn(|cx| self.poll_op(cx)).await;
        let value = match done {
            Some(done) => done.out?,
            None => return Err(lost_op()),
        };
        value.downcast::<T>().map(|v| *v).map_err(|_| lost_op())
    }

    // ---- reading ------------------------------------------------------------------------

    /// Copies buffered bytes into `dst`; returns how many.
    fn copy_out(&mut self, dst: &mut [u8]) -> usize {
        let mut inner = lock(&self.inner);
        if inner.rpos == inner.rend {
            // A swap: `next` is ours unless a prefetch is in flight, and then it is empty.
            inner.absorb_next();
        }
        // From `rbuf` only: a prefetched batch follows it and is swapped in when it drains.
        let n = (inner.rend - inner.rpos).min(dst.len());
        let start = inner.rpos;
        dst[..n].copy_from_slice(&inner.rbuf[start..start + n]);
        inner.rpos += n;
        n
    }

    /// Starts reading the next batch on a thread when reads are sequential over a regular
    /// file and no batch is waiting, so the read overlaps whatever the task does next
    /// (typically writing the chunk elsewhere).
    fn maybe_prefetch(&mut self, cx: &mut Context<'_>) {
        if self.op.is_some() || self.writes_pending() {
            return;
        }
        {
            let inner = lock(&self.inner);
            if !inner.streaming || inner.next_len != 0 {
                return;
            }
        }
        let inner = self.inner.clone();
        let fut = builder(&self.limiter, Class::Complete)
            .run_sync(move || Inner::prefetch(&inner).map(|n| Box::new(n) as Box<dyn Any + Send>));
        self.op = Some(Op {
            fut: Box::pin(fut),
            kind: OpKind::Prefetch,
            what: "reading ahead in a file",
        });
        // Start it now (borrow a token, hand it to a thread); nobody awaits its result.
        let _ = ready_now(self.poll_op(cx));
    }

    fn poll_read_buffered(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<Result<usize>> {
        loop {
            match self.op.as_ref().map(|op| op.kind) {
                Some(OpKind::Fill) => {
                    if let Some(done) = ready!(self.poll_op(cx)) {
                        done.out?;
                        let n = self.copy_out(dst);
                        self.maybe_prefetch(cx);
                        return Poll::Ready(Ok(n));
                    }
                }
                Some(OpKind::Prefetch) => {
                    if let Some(e) = context::check_cancelled() {
                        return Poll::Ready(Err(e));
                    }
                    // The buffer serves while the next batch is read.
                    let n = self.copy_out(dst);
                    if n > 0 || dst.is_empty() {
                        return Poll::Ready(Ok(n));
                    }
                    // Drained: wait for the batch (its error is nobody's: invariant 5).
                    ready!(self.poll_op(cx));
                }
                Some(_) => ready!(self.poll_idle(cx))?,
                None if self.writes_pending() => ready!(self.poll_idle(cx))?,
                None => {
                    if let Some(e) = context::check_cancelled() {
                        return Poll::Ready(Err(e));
                    }
                    let n = self.copy_out(dst);
                    if n > 0 || dst.is_empty() {
                        self.maybe_prefetch(cx);
                        return Poll::Ready(Ok(n));
                    }
                    let min = dst.len();
                    self.start(OpKind::Fill, "reading from a file", move |inner| {
                        inner.fill(min)
                    });
                }
            }
        }
    }

    /// Takes a line (with its newline) from the buffer: `Some(None)` at the end of the
    /// file, `None` when the buffer holds no whole line yet.
    fn take_line(&mut self, at_eof: bool) -> Option<Option<Vec<u8>>> {
        let mut inner = lock(&self.inner);
        let (start, end) = (inner.rpos, inner.rend);
        let line_end = match inner.rbuf[start..end].iter().position(|&b| b == b'\n') {
            Some(i) => start + i + 1,
            None if at_eof && start == end => return Some(None),
            None if at_eof => end,
            None => return None,
        };
        let line = inner.rbuf[start..line_end].to_vec();
        inner.rpos = line_end;
        Some(Some(line))
    }

    fn poll_line_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Vec<u8>>>> {
        loop {
            match self.op.as_ref().map(|op| op.kind) {
                Some(OpKind::FillLine) => {
                    if let Some(done) = ready!(self.poll_op(cx)) {
                        let at_eof = done.out?.downcast::<bool>().map(|b| *b).unwrap_or(true);
                        if let Some(line) = self.take_line(at_eof) {
                            return Poll::Ready(Ok(line));
                        }
                    }
                }
                Some(_) => ready!(self.poll_idle(cx))?,
                None if self.writes_pending() => ready!(self.poll_idle(cx))?,
                None => {
                    if let Some(e) = context::check_cancelled() {
                        return Poll::Ready(Err(e));
                    }
                    if let Some(line) = self.take_line(false) {
                        return Poll::Ready(Ok(line));
                    }
                    self.start(OpKind::FillLine, "reading a line from a file", |inner| {
                        inner.fill_line()
                    });
                }
            }
        }
    }

    /// Reads up to `buf.len()` bytes; `Ok(0)` at the end of the file (or for an empty
    /// `buf`). Served from the read-ahead buffer when it holds data.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. Once its thread has started, the read completes and returns its
    /// data even if the scope is cancelled meanwhile. Dropping the future leaves the data
    /// read in the buffer for the next read.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS (reading a directory, a file opened write-only), or
    /// the error of an earlier written-behind write.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        poll_fn(|cx| self.poll_read_buffered(cx, buf)).await
    }

    /// Reads everything up to the end of the file, in one thread hop.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes and returns the data.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub async fn read_to_end(&mut self) -> Result<Vec<u8>> {
        self.call("reading a file to its end", |inner| {
            let mut out = inner.take_buffered();
            (&*inner.file).read_to_end(&mut out)?;
            Ok(out)
        })
        .await
    }

    /// Reads everything up to the end of the file as UTF-8 text.
    ///
    /// # Cancellation
    ///
    /// As [`read_to_end`](Self::read_to_end).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); [`ErrorKind::Io`] with an `InvalidData` source when the
    /// text is not UTF-8 (the bytes are consumed).
    pub async fn read_to_string(&mut self) -> Result<String> {
        let bytes = self.read_to_end().await?;
        String::from_utf8(bytes).map_err(|e| {
            io_error(
                "reading a file as text".to_owned(),
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })
    }

    /// Reads one line, with its `\n`, and appends it to `buf`; returns its length in bytes
    /// (0 at the end of the file). Lines are cut from the read-ahead buffer: one thread hop
    /// serves many lines.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once its thread has started, it completes. The bytes read stay in the
    /// buffer when the future is dropped.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); [`ErrorKind::Io`] with an `InvalidData` source when the
    /// line is not UTF-8 (the line is consumed, `buf` is left as it was).
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
    /// let path = anyio::fs::Path::new(dir.path().join("t.txt"));
    /// path.write("a\nb").await?;
    /// let mut f = path.open().await?;
    /// let mut line = String::new();
    /// assert_eq!(f.read_line(&mut line).await?, 2);
    /// assert_eq!(f.read_line(&mut line).await?, 1);
    /// assert_eq!(f.read_line(&mut line).await?, 0);
    /// assert_eq!(line, "a\nb");
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "readline")]
    pub async fn read_line(&mut self, buf: &mut String) -> Result<usize> {
        match poll_fn(|cx| self.poll_line_bytes(cx)).await? {
            None => Ok(0),
            Some(bytes) => {
                let text = utf8_line(bytes)?;
                buf.push_str(&text);
                Ok(text.len())
            }
        }
    }

    /// The lines of the file as a [`Stream`] of `Result<String>`, without their `\n` (or
    /// `\r\n`), as `std::io::BufRead::lines`.
    ///
    /// # Cancellation
    ///
    /// Each step is a checkpoint (an item `Err(Cancelled)`, after which the stream goes on);
    /// a step whose thread started completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    ///
    /// # anyio::run(|| async {
    /// # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
    /// let path = anyio::fs::Path::new(dir.path().join("t.txt"));
    /// path.write("one\r\ntwo\n").await?;
    /// let mut f = path.open().await?;
    /// let lines: Vec<String> = f.lines().try_collect().await?;
    /// assert_eq!(lines, ["one", "two"]);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lines(&mut self) -> Lines<'_> {
        Lines { file: self }
    }

    // ---- writing ------------------------------------------------------------------------

    fn poll_write_behind(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        while let Some(kind) = self.op.as_ref().map(|op| op.kind) {
            match self.poll_op(cx) {
                Poll::Pending
                    if kind == OpKind::WriteBehind && self.staging.len() < WRITE_BEHIND_MAX =>
                {
                    if let Some(e) = context::check_cancelled() {
                        return Poll::Ready(Err(e));
                    }
                    // Gathered into the next hop while this one runs.
                    let n = buf.len().min(WRITE_BEHIND_MAX - self.staging.len());
                    self.staging.extend_from_slice(&buf[..n]);
                    return Poll::Ready(Ok(n));
                }
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(done)) => {
                    if let (OpKind::WriteBehind, Err(e)) = (done.kind, done.out) {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(None) => break,
            }
        }
        if let Some(e) = context::check_cancelled() {
            return Poll::Ready(Err(e));
        }
        let n = buf.len().min(WRITE_BEHIND_MAX);
        self.staging.extend_from_slice(&buf[..n]);
        self.start_write_behind();
        // Start it now (borrow a token, hand it to a thread); its result is seen later.
        if let Some(done) = ready_now(self.poll_op(cx)) {
            if let Err(e) = done.out {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(n))
    }

    /// Writes all of `data` and returns once a thread has written it (to the OS, not to
    /// the disk: see [`sync_all`](Self::sync_all)).
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope nothing is written. Once its thread has started
    /// the write completes and its result is returned.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS (a file opened read-only, a full disk), or the error
    /// of an earlier written-behind write.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<()> {
        if let Some(e) = context::check_cancelled() {
            return Err(e);
        }
        poll_fn(|cx| self.poll_idle(cx)).await?;
        // Empty after `poll_idle`: only its allocation is reused.
        let mut owned = std::mem::take(&mut self.staging);
        owned.extend_from_slice(data);
        let spare = self
            .call("writing to a file", move |inner| {
                inner.write_out()?;
                inner.wbuf = owned;
                inner.write_out()?;
                Ok(std::mem::take(&mut inner.wbuf))
            })
            .await?;
        if self.staging.capacity() == 0 {
            self.staging = spare;
        }
        Ok(())
    }

    /// Writes all of `data` (as [`write_all`](Self::write_all)) and returns its length:
    /// AnyIO's `write`, which writes everything.
    ///
    /// # Cancellation
    ///
    /// As [`write_all`](Self::write_all).
    ///
    /// # Errors
    ///
    /// As [`write_all`](Self::write_all).
    pub async fn write(&mut self, data: &[u8]) -> Result<usize> {
        self.write_all(data).await?;
        Ok(data.len())
    }

    /// Waits until every written-behind byte is written, and reports a failure of theirs.
    /// (`std::fs::File` keeps no buffer of its own, so nothing else is to flush; see
    /// [`sync_all`](Self::sync_all) for the disk.)
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope it returns `Cancelled` at once, keeping the data
    /// for a later flush; a write already started completes.
    ///
    /// # Errors
    ///
    /// The error of a written-behind write.
    pub async fn flush(&mut self) -> Result<()> {
        if let Some(e) = context::check_cancelled() {
            return Err(e);
        }
        poll_fn(|cx| self.poll_idle(cx)).await
    }

    // ---- positions and the rest ---------------------------------------------------------

    /// Moves the position (AnyIO's `seek`); returns the new position from the start.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a position before the start or past `i64::MAX`;
    /// [`ErrorKind::Io`] from the OS (a pipe cannot seek).
    pub async fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.call("seeking in a file", move |inner| inner.seek(pos))
            .await
    }

    /// The current position from the start (AnyIO's `tell`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS.
    #[doc(alias = "tell")]
    pub async fn stream_position(&mut self) -> Result<u64> {
        self.call("reading a file's position", Inner::position)
            .await
    }

    /// Truncates or extends the file to `size` bytes; the position does not move.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS (a file not open for writing).
    pub async fn set_len(&mut self, size: u64) -> Result<()> {
        self.call("setting a file's length", move |inner| {
            inner.write_out()?;
            inner.rewind_read_buffer()?;
            inner.file.set_len(size)
        })
        .await
    }

    /// AnyIO's `truncate`: sets the length to `size`, or to the current position when
    /// `None`; returns the new length.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// As [`set_len`](Self::set_len).
    pub async fn truncate(&mut self, size: Option<u64>) -> Result<u64> {
        self.call("truncating a file", move |inner| {
            inner.write_out()?;
            inner.rewind_read_buffer()?;
            let size = match size {
                Some(size) => size,
                None => inner.file.stream_position()?,
            };
            inner.file.set_len(size)?;
            Ok(size)
        })
        .await
    }

    /// Writes the file's data and metadata to the disk (`fsync`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS.
    pub async fn sync_all(&mut self) -> Result<()> {
        self.call("syncing a file", |inner| {
            inner.write_out()?;
            inner.file.sync_all()
        })
        .await
    }

    /// Writes the file's data to the disk (`fdatasync`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS.
    pub async fn sync_data(&mut self) -> Result<()> {
        self.call("syncing a file's data", |inner| {
            inner.write_out()?;
            inner.file.sync_data()
        })
        .await
    }

    /// The file's metadata (`fstat`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes (it waits for earlier writes, so the size
    /// is up to date).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS.
    pub async fn metadata(&mut self) -> Result<std::fs::Metadata> {
        self.call("reading a file's metadata", |inner| {
            inner.write_out()?;
            inner.file.metadata()
        })
        .await
    }

    /// Changes the file's permissions.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS.
    pub async fn set_permissions(&mut self, perm: std::fs::Permissions) -> Result<()> {
        self.call("setting a file's permissions", move |inner| {
            inner.file.set_permissions(perm)
        })
        .await
    }

    /// Writes what is written behind and closes the file (AnyIO's `aclose`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint. In a cancelled scope the file is closed all the same (dropped, its
    /// written-behind data handed to a thread) and `Cancelled` returned.
    ///
    /// # Errors
    ///
    /// The error of a written-behind write.
    #[doc(alias = "aclose")]
    pub async fn close(mut self) -> Result<()> {
        if let Some(e) = context::check_cancelled() {
            return Err(e);
        }
        poll_fn(|cx| self.poll_idle(cx)).await?;
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        drop(self);
        // The last reference: `close(2)` runs on a thread too.
        super::run(&limiter, Class::Complete, move || drop(inner)).await
    }

    /// Waits for every operation and returns the `std::fs::File`, positioned at the
    /// logical position (the read-ahead given back).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// The error of a written-behind write; [`ErrorKind::Io`] from the OS.
    pub async fn into_std(mut self) -> Result<std::fs::File> {
        self.call("returning a file", |inner| {
            inner.write_out()?;
            inner.rewind_read_buffer()
        })
        .await?;
        let inner = self.inner.clone();
        drop(self);
        match Arc::try_unwrap(inner) {
            Ok(mutex) => {
                let file = mutex.into_inner().unwrap_or_else(|p| p.into_inner()).file;
                // A prefetch's thread drops its handle before it reports (and `call`
                // waited for it), so this one is the last.
                Arc::try_unwrap(file).map_err(|_| lost_op())
            }
            Err(_) => Err(lost_op()),
        }
    }

    /// The position `AsyncSeek` started or completed (shared by both traits' impls).
    fn poll_seek_to(&mut self, cx: &mut Context<'_>, pos: Option<SeekFrom>) -> Poll<Result<u64>> {
        loop {
            match self.op.as_ref().map(|op| op.kind) {
                Some(OpKind::Seek) => {
                    if let Some(done) = ready!(self.poll_op(cx)) {
                        let v = done.out?;
                        return Poll::Ready(v.downcast::<u64>().map(|v| *v).map_err(|_| lost_op()));
                    }
                }
                Some(_) => ready!(self.poll_idle(cx))?,
                None if self.writes_pending() => ready!(self.poll_idle(cx))?,
                None => {
                    let pos = pos
                        .or(self.pending_seek.take())
                        .unwrap_or(SeekFrom::Current(0));
                    self.start(OpKind::Seek, "seeking in a file", move |inner| {
                        inner.seek(pos)
                    });
                }
            }
        }
    }
}

impl Drop for AsyncFile {
    fn drop(&mut self) {
        if !self.writes_pending() {
            return;
        }
        // A write in flight that never started drops its closure, not its data (it is in
        // `wbuf`); a running one holds the lock and this thread writes after it (invariant 3).
        let inner = self.inner.clone();
        let staged = std::mem::take(&mut self.staging);
        let write = move || {
            let mut inner = lock(&inner);
            inner.wbuf.extend_from_slice(&staged);
            let _ = inner.write_out();
        };
        let write = std::sync::Arc::new(Mutex::new(Some(write)));
        let spawned = {
            let write = write.clone();
            std::thread::Builder::new()
                .name("anyio-fs-drop".into())
                .spawn(move || {
                    if let Some(f) = lock(&write).take() {
                        f();
                    }
                })
        };
        if spawned.is_err() {
            // No thread to be had: write here rather than lose the data.
            if let Some(f) = lock(&write).take() {
                f();
            }
        }
    }
}

/// `poll` once, with its waker registered: what is ready now.
fn ready_now<T>(p: Poll<Option<T>>) -> Option<T> {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => None,
    }
}

fn lost_op() -> Error {
    Error::new(
        ErrorKind::InvalidState,
        "a file operation's result went missing (this is a bug in anyio)",
    )
}

fn utf8_line(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        io_error(
            "reading a line of text".to_owned(),
            io::Error::new(io::ErrorKind::InvalidData, e),
        )
    })
}

/// The lines of an [`AsyncFile`], from [`AsyncFile::lines`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Lines<'a> {
    file: &'a mut AsyncFile,
}

impl Stream for Lines<'_> {
    type Item = Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<String>>> {
        let bytes = match ready!(self.get_mut().file.poll_line_bytes(cx)) {
            Err(e) => return Poll::Ready(Some(Err(e))),
            Ok(None) => return Poll::Ready(None),
            Ok(Some(bytes)) => bytes,
        };
        let mut bytes = bytes;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Poll::Ready(Some(utf8_line(bytes)))
    }
}

impl futures_io::AsyncRead for AsyncFile {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_read_buffered(cx, buf)
            .map_err(io::Error::from)
    }
}

impl futures_io::AsyncWrite for AsyncFile {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_behind(cx, buf)
            .map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx).map_err(io::Error::from)
    }
}

impl futures_io::AsyncSeek for AsyncFile {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        self.get_mut()
            .poll_seek_to(cx, Some(pos))
            .map_err(io::Error::from)
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for AsyncFile {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let n = ready!(self.get_mut().poll_read_buffered(cx, dst))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for AsyncFile {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_behind(cx, buf)
            .map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx).map_err(io::Error::from)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx).map_err(io::Error::from)
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncSeek for AsyncFile {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        if this.pending_seek.is_some() || this.op.as_ref().is_some_and(|op| op.kind == OpKind::Seek)
        {
            return Err(io::Error::other(
                "another seek is in progress: call poll_complete first",
            ));
        }
        this.pending_seek = Some(position);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        self.get_mut()
            .poll_seek_to(cx, None)
            .map_err(io::Error::from)
    }
}
