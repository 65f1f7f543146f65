//! File streams: a file read or written as a byte stream (AnyIO's `anyio.streams.file`).
//!
//! [`FileReadStream`] is a [`ByteReceiveStream`] over an [`AsyncFile`]: receiving reads
//! the file from its position, and the end of the file is [`ErrorKind::EndOfStream`].
//! [`FileWriteStream`] is a [`ByteSendStream`] that writes to one. Both keep the
//! byte-stream contract — every operation a checkpoint, a second concurrent receive (or
//! send) [`ErrorKind::BusyResource`], [`ErrorKind::ClosedResource`] after
//! [`aclose`](SharedResource::aclose), OS failures [`ErrorKind::BrokenResource`] with the
//! `io::Error` as the source — so code written for sockets can stream a file, and the
//! wrappers ([buffered](super::buffered), [text](super::text)) stack on them.
//!
//! The file's own batching applies: reads are served from its read-ahead, and writes are
//! written behind (see [`AsyncFile`]'s `# Buffering`), so a failed write is reported by
//! the next send or by `aclose`, which waits until every byte is written.
//!
//! # Typed attributes
//!
//! [`FilePath`]: the path a stream was opened from with `from_path`.
//!
//! # Examples
//!
//! ```
//! use anyio::streams::file::{FileReadStream, FileWriteStream};
//! use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource};
//! use anyio::ErrorKind;
//!
//! # anyio::run(|| async {
//! # let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
//! let path = dir.path().join("out.txt");
//! let w = FileWriteStream::from_path(&path, false).await?;
//! w.send(b"hello, file").await?;
//! w.aclose().await?;
//! let r = FileReadStream::from_path(&path).await?;
//! assert_eq!(r.receive(5).await?, b"hello");
//! r.seek(std::io::SeekFrom::Start(7)).await?;
//! assert_eq!(r.receive(100).await?, b"file");
//! assert_eq!(r.receive(100).await.unwrap_err().kind(), ErrorKind::EndOfStream);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, Gate, SharedResource,
    TypedAttribute, TypedAttributeProvider, closed, eof,
};
use crate::error::{Error, ErrorKind, Result};
use crate::fs::{AsyncFile, OpenOptions};

/// The typed attribute of the path a file stream was opened from (AnyIO's
/// `FileStreamAttribute.path`); streams made with `new` from an open file have none.
#[derive(Debug)]
pub enum FilePath {}

impl TypedAttribute for FilePath {
    type Value = PathBuf;
    const NAME: &'static str = "file_path";
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The states behind these locks are plain data, valid after a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Maps a file error for the byte-stream contract: an OS failure becomes
/// [`ErrorKind::BrokenResource`] with the `io::Error` as its source; anyio's own errors
/// (a cancellation, say) pass unchanged.
fn stream_error(action: &'static str, e: io::Error) -> Error {
    let Some(inner) = e.get_ref().and_then(|r| r.downcast_ref::<Error>()) else {
        return Error::with_source(ErrorKind::BrokenResource, action, e);
    };
    if inner.kind() != ErrorKind::Io {
        return inner.clone();
    }
    // The OS error itself as the source (an `io::Error` cannot be cloned: rebuilt from
    // its code, or its kind and message).
    let os = match inner.source_as::<io::Error>() {
        Some(os) => match os.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(os.kind(), os.to_string()),
        },
        None => e,
    };
    Error::with_source(ErrorKind::BrokenResource, action, os)
}

fn remember(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

// ---------------------------------------------------------------------------------------
// Reading.

#[derive(Debug)]
struct ReadState {
    /// `None` once closed.
    file: Option<AsyncFile>,
    /// The receive waiting for the file, woken by a close (which drops the file and the
    /// waker the file held).
    waker: Option<Waker>,
}

/// A file read as a byte stream (AnyIO's `FileReadStream`). See the
/// [module docs](self).
///
/// Closing it drops the file: its descriptor is closed once a read in flight (if any)
/// returns.
pub struct FileReadStream {
    state: Mutex<ReadState>,
    path: Option<PathBuf>,
    busy: BusyFlag,
}

impl fmt::Debug for FileReadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileReadStream")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileReadStream {
    /// Streams `file` from its current position.
    pub fn new(file: AsyncFile) -> FileReadStream {
        FileReadStream {
            state: Mutex::new(ReadState {
                file: Some(file),
                waker: None,
            }),
            path: None,
            busy: BusyFlag::new(),
        }
    }

    /// Opens the file at `path` for reading (AnyIO's `FileReadStream.from_path`).
    ///
    /// # Cancellation
    ///
    /// As [`AsyncFile::open`].
    ///
    /// # Errors
    ///
    /// As [`AsyncFile::open`]: [`ErrorKind::Io`] when the OS refuses.
    pub async fn from_path(path: impl AsRef<Path>) -> Result<FileReadStream> {
        let path = path.as_ref();
        let file = AsyncFile::open(path).await?;
        let mut stream = FileReadStream::new(file);
        stream.path = Some(path.to_path_buf());
        Ok(stream)
    }

    /// Moves the read position (AnyIO's `seek`); returns the new position from the start.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. Once the seek has started on its thread, a cancelled call returns
    /// `Cancelled` and the seek still happens.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a position before the start; [`ErrorKind::Io`]
    /// from the OS; [`ErrorKind::ClosedResource`] when the stream was closed;
    /// [`ErrorKind::BusyResource`] while another task receives or seeks;
    /// [`ErrorKind::Cancelled`].
    pub async fn seek(&self, pos: SeekFrom) -> Result<u64> {
        let mut gate = Gate::new();
        let mut started = false;
        let busy = Some((&self.busy, "receiving or seeking"));
        poll_fn(|cx| gate.poll(cx, busy, |cx| self.poll_seek(cx, pos, &mut started))).await
    }

    /// The read position from the start (AnyIO's `tell`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint.
    ///
    /// # Errors
    ///
    /// As [`seek`](Self::seek).
    #[doc(alias = "stream_position")]
    pub async fn tell(&self) -> Result<u64> {
        self.seek(SeekFrom::Current(0)).await
    }

    fn poll_seek(
        &self,
        cx: &mut Context<'_>,
        pos: SeekFrom,
        started: &mut bool,
    ) -> Poll<Result<u64>> {
        let mut state = lock(&self.state);
        let Some(file) = state.file.as_mut() else {
            return Poll::Ready(Err(closed("seeking")));
        };
        let mut file = Pin::new(file);
        let r = if *started {
            file.poll_seek(cx, pos)
        } else {
            // Finish whatever an abandoned receive or seek left in flight first, so the
            // seek started below is this call's own.
            match file.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    *started = true;
                    file.poll_seek(cx, pos)
                }
                other => other.map_ok(|()| 0),
            }
        };
        match r {
            Poll::Ready(r) => Poll::Ready(r.map_err(Error::from)),
            Poll::Pending => {
                remember(&mut state.waker, cx);
                Poll::Pending
            }
        }
    }
}

impl TypedAttributeProvider for FileReadStream {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        request.provide_opt::<FilePath>(|| self.path.clone());
    }
}

impl SharedResource for FileReadStream {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let (file, waker) = {
            let mut state = lock(&self.state);
            (state.file.take(), state.waker.take())
        };
        drop(file);
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl ByteReceiveStream for FileReadStream {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let mut state = lock(&self.state);
        let Some(file) = state.file.as_mut() else {
            return Poll::Ready(Err(closed("receiving")));
        };
        match Pin::new(file).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) if !buf.is_empty() => Poll::Ready(Err(eof())),
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(stream_error("reading from a file", e))),
            Poll::Pending => {
                remember(&mut state.waker, cx);
                Poll::Pending
            }
        }
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.busy
    }
}

// ---------------------------------------------------------------------------------------
// Writing.

enum WriteState {
    Open(AsyncFile),
    /// Writing out what is written behind, then closing; polled by every closer.
    Closing(Pin<Box<dyn Future<Output = Result<()>> + Send>>),
    Closed,
}

/// The wakers of every task closing the stream: the closing future is polled with this
/// one waker, so a closer that is cancelled (and never polls again) leaves no other
/// closer unwoken.
#[derive(Default)]
struct Closers(Mutex<Vec<Waker>>);

impl Wake for Closers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = std::mem::take(&mut *lock(&self.0));
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// A file written as a byte stream (AnyIO's `FileWriteStream`). See the
/// [module docs](self).
///
/// [`aclose`](SharedResource::aclose) waits until every byte sent is written, and reports
/// a write that failed; it runs shielded, so even a cancelled close writes everything.
pub struct FileWriteStream {
    state: Mutex<WriteState>,
    /// The send waiting for the file, woken by a close.
    waker: Mutex<Option<Waker>>,
    closers: Arc<Closers>,
    path: Option<PathBuf>,
    busy: BusyFlag,
}

impl fmt::Debug for FileWriteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWriteStream")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileWriteStream {
    /// Streams into `file` at its current position.
    pub fn new(file: AsyncFile) -> FileWriteStream {
        FileWriteStream {
            state: Mutex::new(WriteState::Open(file)),
            waker: Mutex::new(None),
            closers: Arc::default(),
            path: None,
            busy: BusyFlag::new(),
        }
    }

    /// Opens the file at `path` for writing, creating it if need be (AnyIO's
    /// `FileWriteStream.from_path`): appending to it when `append` is true, else
    /// truncating it.
    ///
    /// # Cancellation
    ///
    /// As [`OpenOptions::open`].
    ///
    /// # Errors
    ///
    /// As [`OpenOptions::open`]: [`ErrorKind::Io`] when the OS refuses.
    pub async fn from_path(path: impl AsRef<Path>, append: bool) -> Result<FileWriteStream> {
        let path = path.as_ref();
        let mut options = OpenOptions::new();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(path).await?;
        let mut stream = FileWriteStream::new(file);
        stream.path = Some(path.to_path_buf());
        Ok(stream)
    }
}

impl TypedAttributeProvider for FileWriteStream {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        request.provide_opt::<FilePath>(|| self.path.clone());
    }
}

impl SharedResource for FileWriteStream {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut state = lock(&self.state);
        loop {
            match std::mem::replace(&mut *state, WriteState::Closed) {
                WriteState::Open(mut file) => {
                    let flush = async move {
                        let r = poll_fn(|cx| Pin::new(&mut file).poll_close(cx)).await;
                        r.map_err(|e| stream_error("writing to a file", e))
                        // `file` drops here: its descriptor is closed.
                    };
                    let shielded = async move {
                        crate::CancelScope::shielded()
                            .run(flush)
                            .await
                            .map(|_: Option<()>| ())
                    };
                    *state = WriteState::Closing(Box::pin(shielded));
                    if let Some(w) = lock(&self.waker).take() {
                        w.wake();
                    }
                }
                WriteState::Closing(mut fut) => {
                    {
                        let mut closers = lock(&self.closers.0);
                        if !closers.iter().any(|w| w.will_wake(cx.waker())) {
                            closers.push(cx.waker().clone());
                        }
                    }
                    let waker = Waker::from(self.closers.clone());
                    match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                        Poll::Ready(r) => return Poll::Ready(r),
                        Poll::Pending => {
                            *state = WriteState::Closing(fut);
                            return Poll::Pending;
                        }
                    }
                }
                WriteState::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl ByteSendStream for FileWriteStream {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let mut state = lock(&self.state);
        let WriteState::Open(file) = &mut *state else {
            return Poll::Ready(Err(closed("sending")));
        };
        match Pin::new(file).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(stream_error("writing to a file", e))),
            Poll::Pending => {
                remember(&mut lock(&self.waker), cx);
                Poll::Pending
            }
        }
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.busy
    }
}
