//! Temporary files and directories (AnyIO's "Temporary files"), on the `tempfile` crate.
//!
//! Everything that touches the file system runs on a worker thread. Creating is a
//! checkpoint, and once its thread has started a creation completes (the file exists and is
//! returned). Removal on drop is synchronous, as in the `tempfile` crate (one `unlink`, or
//! a `remove_dir_all` for a directory); [`NamedTemporaryFile::close`] and
//! [`TemporaryDirectory::cleanup`] remove on a thread and report errors.
//!
//! ```
//! use anyio::fs::tempfile::{NamedTemporaryFile, TemporaryDirectory};
//!
//! # anyio::run(|| async {
//! let dir = TemporaryDirectory::new().await?;
//! let mut named = NamedTemporaryFile::new_in(dir.path()).await?;
//! named.write_all(b"scratch").await?;
//! let path = named.path().to_path_buf();
//! named.close().await?; // deleted on close
//! assert!(!path.exists());
//! dir.cleanup().await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};
use std::path::{Path as StdPath, PathBuf};

use super::file::{AsyncFile, wrap_file};
use super::path::Path;
use super::{Class, io_error};
use crate::error::Result;
use crate::lowlevel::checkpoint_if_cancelled;
use crate::sync::CapacityLimiter;

async fn create<T, F>(what: &'static str, f: F) -> Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    super::run(&None, Class::Complete, move || {
        f().map_err(|e| io_error(what.to_owned(), e))
    })
    .await?
}

/// The system's directory for temporary files (AnyIO's `gettempdir`).
///
/// # Cancellation
///
/// A checkpoint.
///
/// # Errors
///
/// Only `Cancelled`.
pub async fn gettempdir() -> Result<Path> {
    checkpoint_if_cancelled().await?;
    Ok(Path::new(std::env::temp_dir()))
}

/// Creates a temporary file that is never deleted by anyio and returns it with its path
/// (AnyIO's `mkstemp`). `dir` defaults to [`gettempdir`].
///
/// # Cancellation
///
/// A checkpoint; once started the creation completes.
///
/// # Errors
///
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when the directory is missing or not writable.
pub async fn mkstemp(
    prefix: &str,
    suffix: &str,
    dir: Option<&StdPath>,
) -> Result<(AsyncFile, Path)> {
    let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
    let dir = dir.map_or_else(std::env::temp_dir, StdPath::to_path_buf);
    let (file, path) = create("creating a temporary file", move || {
        let named = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(&suffix)
            .tempfile_in(dir)?;
        named.keep().map_err(|e| e.error)
    })
    .await?;
    Ok((wrap_file(file), Path::new(path)))
}

/// Creates a temporary directory that is never deleted by anyio and returns its path
/// (AnyIO's `mkdtemp`). `dir` defaults to [`gettempdir`].
///
/// # Cancellation
///
/// A checkpoint; once started the creation completes.
///
/// # Errors
///
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when the directory is missing or not writable.
pub async fn mkdtemp(prefix: &str, suffix: &str, dir: Option<&StdPath>) -> Result<Path> {
    let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
    let dir = dir.map_or_else(std::env::temp_dir, StdPath::to_path_buf);
    let path = create("creating a temporary directory", move || {
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(&suffix)
            .tempdir_in(dir)?;
        Ok(tmp.keep())
    })
    .await?;
    Ok(Path::new(path))
}

/// An unnamed temporary file (AnyIO's `TemporaryFile`): it has no name in the file system
/// and the OS removes it when it is closed.
#[derive(Debug)]
pub struct TemporaryFile;

impl TemporaryFile {
    /// Creates one in the system's temporary directory.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// # anyio::run(|| async {
    /// let mut f = anyio::fs::tempfile::TemporaryFile::create().await?;
    /// f.write_all(b"spam").await?;
    /// f.seek(SeekFrom::Start(0)).await?;
    /// assert_eq!(f.read_to_end().await?, b"spam");
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn create() -> Result<AsyncFile> {
        let file = create("creating a temporary file", tempfile::tempfile).await?;
        Ok(wrap_file(file))
    }

    /// Creates one in `dir`.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created there.
    pub async fn create_in(dir: impl AsRef<StdPath>) -> Result<AsyncFile> {
        let dir = dir.as_ref().to_path_buf();
        let file = create("creating a temporary file", move || {
            tempfile::tempfile_in(dir)
        })
        .await?;
        Ok(wrap_file(file))
    }
}

/// A temporary file with a name (AnyIO's `NamedTemporaryFile`), removed when closed or
/// dropped unless [`keep`](Self::keep) is called. It derefs to its [`AsyncFile`].
#[derive(Debug)]
pub struct NamedTemporaryFile {
    file: Option<AsyncFile>,
    path: Option<tempfile::TempPath>,
}

impl NamedTemporaryFile {
    /// Creates one in the system's temporary directory.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created.
    pub async fn new() -> Result<NamedTemporaryFile> {
        NamedTemporaryFile::with_options("tmp", "", None).await
    }

    /// Creates one in `dir`.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created there.
    pub async fn new_in(dir: impl AsRef<StdPath>) -> Result<NamedTemporaryFile> {
        NamedTemporaryFile::with_options("tmp", "", Some(dir.as_ref())).await
    }

    /// Creates one named `{prefix}{random}{suffix}` in `dir` (default: [`gettempdir`]).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created.
    pub async fn with_options(
        prefix: &str,
        suffix: &str,
        dir: Option<&StdPath>,
    ) -> Result<NamedTemporaryFile> {
        let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
        let dir = dir.map_or_else(std::env::temp_dir, StdPath::to_path_buf);
        let named = create("creating a named temporary file", move || {
            tempfile::Builder::new()
                .prefix(&prefix)
                .suffix(&suffix)
                .tempfile_in(dir)
        })
        .await?;
        let (file, path) = named.into_parts();
        Ok(NamedTemporaryFile {
            file: Some(wrap_file(file)),
            path: Some(path),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &StdPath {
        self.path.as_deref().unwrap_or(StdPath::new(""))
    }

    /// Keeps the file: returns it and its path, which anyio will not remove
    /// (`delete=False`).
    pub fn keep(mut self) -> Result<(AsyncFile, PathBuf)> {
        let file = self.file.take().expect("present until consumed");
        let path = self.path.take().expect("present until consumed");
        let path = path
            .keep()
            .map_err(|e| io_error("keeping a temporary file".to_owned(), e.error))?;
        Ok((file, path))
    }

    /// Writes what the file has written behind, closes it and removes it on a thread.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once the removal has started it completes. Cancelled before, the
    /// file is removed when this value drops (at once: it is consumed).
    ///
    /// # Errors
    ///
    /// The file's written-behind error; [`ErrorKind::Io`](crate::ErrorKind::Io) when it
    /// cannot be removed.
    pub async fn close(mut self) -> Result<()> {
        let file = self.file.take().expect("present until consumed");
        file.close().await?;
        let path = self.path.take().expect("present until consumed");
        create("removing a temporary file", move || path.close()).await
    }
}

impl Deref for NamedTemporaryFile {
    type Target = AsyncFile;

    fn deref(&self) -> &AsyncFile {
        self.file.as_ref().expect("present until consumed")
    }
}

impl DerefMut for NamedTemporaryFile {
    fn deref_mut(&mut self) -> &mut AsyncFile {
        self.file.as_mut().expect("present until consumed")
    }
}

/// A temporary directory (AnyIO's `TemporaryDirectory`), removed with its contents when
/// dropped or [`cleanup`](Self::cleanup)ed.
#[derive(Debug)]
pub struct TemporaryDirectory {
    dir: Option<tempfile::TempDir>,
}

impl TemporaryDirectory {
    /// Creates one in the system's temporary directory.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created.
    pub async fn new() -> Result<TemporaryDirectory> {
        TemporaryDirectory::with_options("tmp", "", None).await
    }

    /// Creates one named `{prefix}{random}{suffix}` in `dir` (default: [`gettempdir`]).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the creation completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created.
    pub async fn with_options(
        prefix: &str,
        suffix: &str,
        dir: Option<&StdPath>,
    ) -> Result<TemporaryDirectory> {
        let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
        let parent = dir.map_or_else(std::env::temp_dir, StdPath::to_path_buf);
        let dir = create("creating a temporary directory", move || {
            tempfile::Builder::new()
                .prefix(&prefix)
                .suffix(&suffix)
                .tempdir_in(parent)
        })
        .await?;
        Ok(TemporaryDirectory { dir: Some(dir) })
    }

    /// The directory's path.
    pub fn path(&self) -> &StdPath {
        self.dir.as_ref().map_or(StdPath::new(""), |d| d.path())
    }

    /// Removes the directory and its contents on a thread, reporting errors.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the removal completes. Cancelled before, the directory
    /// is removed when this value drops (at once: it is consumed).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when part of it cannot be removed.
    pub async fn cleanup(mut self) -> Result<()> {
        let dir = self.dir.take().expect("present until consumed");
        create("removing a temporary directory", move || dir.close()).await
    }
}

/// Where a [`SpooledTemporaryFile`]'s data lives.
#[derive(Debug)]
enum Spool {
    Memory(Cursor<Vec<u8>>),
    File(AsyncFile),
}

/// A temporary file kept in memory until it grows past `max_size` bytes, then rolled over
/// to an unnamed temporary file on disk, in a thread (AnyIO's `SpooledTemporaryFile`).
///
/// In memory, every operation is a checkpoint and runs without a thread hop.
///
/// # Examples
///
/// ```
/// use std::io::SeekFrom;
/// use anyio::fs::tempfile::SpooledTemporaryFile;
///
/// # anyio::run(|| async {
/// let mut f = SpooledTemporaryFile::new(8);
/// f.write_all(b"small").await?;
/// assert!(!f.is_rolled_over());
/// f.write_all(b" and more").await?; // 14 bytes > 8: now on disk
/// assert!(f.is_rolled_over());
/// f.seek(SeekFrom::Start(0)).await?;
/// assert_eq!(f.read_to_end().await?, b"small and more");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct SpooledTemporaryFile {
    spool: Spool,
    max_size: usize,
    limiter: Option<CapacityLimiter>,
}

impl SpooledTemporaryFile {
    /// An empty spooled file that rolls over once it holds more than `max_size` bytes.
    pub fn new(max_size: usize) -> SpooledTemporaryFile {
        SpooledTemporaryFile {
            spool: Spool::Memory(Cursor::new(Vec::new())),
            max_size,
            limiter: None,
        }
    }

    /// Runs the file's threads (rollover, and all operations after it) under `limiter`.
    pub fn with_limiter(mut self, limiter: CapacityLimiter) -> SpooledTemporaryFile {
        self.limiter = Some(limiter);
        self
    }

    /// Whether the data is on disk now.
    pub fn is_rolled_over(&self) -> bool {
        matches!(self.spool, Spool::File(_))
    }

    /// Moves the data to an unnamed temporary file on disk now, keeping the position.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. Once started it completes; the data stays in memory until it is on
    /// disk, so a rollover that did not happen loses nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the file cannot be created or written.
    pub async fn rollover(&mut self) -> Result<()> {
        let Spool::Memory(cursor) = &mut self.spool else {
            return Ok(());
        };
        checkpoint_if_cancelled().await?;
        // A copy goes to the thread: the data stays here until it is on disk, so a
        // rollover cancelled before its thread started loses nothing.
        let data = cursor.clone();
        let result = super::run(&self.limiter, Class::Complete, move || {
            let mut file = tempfile::tempfile()?;
            file.write_all(data.get_ref())?;
            file.seek(SeekFrom::Start(data.position()))?;
            Ok::<_, io::Error>(file)
        })
        .await?;
        match result {
            Ok(file) => {
                let mut file = wrap_file(file);
                if let Some(l) = &self.limiter {
                    file = file.with_limiter(l.clone());
                }
                self.spool = Spool::File(file);
                Ok(())
            }
            Err(e) => Err(io_error(
                "rolling a spooled file over to disk".to_owned(),
                e,
            )),
        }
    }

    /// Writes all of `data`, then rolls over if the file grew past `max_size`.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once written, the write is kept, even if the rollover after it was
    /// cancelled (it is retried by the next write).
    ///
    /// # Errors
    ///
    /// As [`AsyncFile::write_all`] and [`rollover`](Self::rollover).
    pub async fn write_all(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.spool {
            Spool::File(f) => f.write_all(data).await,
            Spool::Memory(cursor) => {
                checkpoint_if_cancelled().await?;
                cursor
                    .write_all(data)
                    .map_err(|e| io_error("writing".to_owned(), e))?;
                if cursor.get_ref().len() > self.max_size {
                    self.rollover().await?;
                }
                Ok(())
            }
        }
    }

    /// Reads up to `buf.len()` bytes; `Ok(0)` at the end.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; see [`AsyncFile::read`].
    ///
    /// # Errors
    ///
    /// As [`AsyncFile::read`].
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        match &mut self.spool {
            Spool::File(f) => f.read(buf).await,
            Spool::Memory(cursor) => {
                checkpoint_if_cancelled().await?;
                Ok(cursor.read(buf).unwrap_or(0))
            }
        }
    }

    /// Reads from the position to the end.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; see [`AsyncFile::read_to_end`].
    ///
    /// # Errors
    ///
    /// As [`AsyncFile::read_to_end`].
    pub async fn read_to_end(&mut self) -> Result<Vec<u8>> {
        match &mut self.spool {
            Spool::File(f) => f.read_to_end().await,
            Spool::Memory(cursor) => {
                checkpoint_if_cancelled().await?;
                let mut out = Vec::new();
                let _ = cursor.read_to_end(&mut out);
                Ok(out)
            }
        }
    }

    /// Moves the position; returns the new one.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; see [`AsyncFile::seek`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a position
    /// before the start.
    pub async fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        match &mut self.spool {
            Spool::File(f) => f.seek(pos).await,
            Spool::Memory(cursor) => {
                checkpoint_if_cancelled().await?;
                cursor
                    .seek(pos)
                    .map_err(|e| io_error("seeking".to_owned(), e))
            }
        }
    }

    /// The position (AnyIO's `tell`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint.
    ///
    /// # Errors
    ///
    /// As [`AsyncFile::stream_position`].
    #[doc(alias = "tell")]
    pub async fn stream_position(&mut self) -> Result<u64> {
        match &mut self.spool {
            Spool::File(f) => f.stream_position().await,
            Spool::Memory(cursor) => {
                checkpoint_if_cancelled().await?;
                Ok(cursor.position())
            }
        }
    }
}
