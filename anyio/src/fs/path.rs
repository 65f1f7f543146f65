//! [`Path`]: an owned path whose file system operations are async (AnyIO's `Path`).

use std::cmp::Ordering;
use std::ffi::OsStr;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path as StdPath, PathBuf};

use super::dir::{Glob, ReadDir, Walk};
use super::file::{AsyncFile, OpenOptions};
use super::{Class, io_error};
use crate::error::Result;
use crate::sync::CapacityLimiter;

/// An owned path, as [`std::path::PathBuf`], whose file system operations are async
/// (AnyIO's `anyio.Path`), with an optional [`CapacityLimiter`] for their threads.
///
/// Pure path operations (`join`, `parent`, `file_name`, ...) are plain methods; everything
/// that touches the file system is an `async fn` running on a worker thread. The limiter
/// set with [`with_limiter`](Self::with_limiter) propagates to every path derived from
/// this one (`join`, `parent`, `with_*`, directory entries, walks, globs, `canonicalize`,
/// `rename`) and to the files it opens.
///
/// Each async method's docs say which [cancellation class](super#cancellation) it is in:
/// a *query* returns `Cancelled` at once when cancelled and abandons its thread; a
/// *complete* operation, once its thread has started, finishes and returns its result.
///
/// # Examples
///
/// ```
/// use anyio::fs::Path;
///
/// # anyio::run(|| async {
/// # let tmp = anyio::fs::tempfile::TemporaryDirectory::new().await?;
/// let limiter = anyio::CapacityLimiter::new(4)?;
/// let root = Path::new(tmp.path()).with_limiter(limiter.clone());
/// let data = root.join("data");
/// data.create_dir_all().await?;
/// data.join("a.txt").write("alpha").await?;
/// assert!(data.join("a.txt").is_file().await?);
/// assert!(data.join("a.txt").limiter().is_some()); // derived paths keep it
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Path {
    path: PathBuf,
    limiter: Option<CapacityLimiter>,
}

impl Path {
    /// A path from anything `std::path::PathBuf` can be made of, with the default limiter.
    pub fn new(path: impl Into<PathBuf>) -> Path {
        Path {
            path: path.into(),
            limiter: None,
        }
    }

    pub(crate) fn with_opt_limiter(path: PathBuf, limiter: Option<CapacityLimiter>) -> Path {
        Path { path, limiter }
    }

    /// This path, its operations (and those of every path derived from it) bounded by
    /// `limiter`.
    pub fn with_limiter(mut self, limiter: CapacityLimiter) -> Path {
        self.limiter = Some(limiter);
        self
    }

    /// The limiter of this path's threads, if not the default one.
    pub fn limiter(&self) -> Option<&CapacityLimiter> {
        self.limiter.as_ref()
    }

    /// The path as a `std::path::Path`.
    pub fn as_std_path(&self) -> &StdPath {
        &self.path
    }

    /// The `PathBuf`, dropping the limiter.
    pub fn into_path_buf(self) -> PathBuf {
        self.path
    }

    /// A derived path, keeping this one's limiter.
    fn derive(&self, path: PathBuf) -> Path {
        Path::with_opt_limiter(path, self.limiter.clone())
    }

    // ---- pure path operations -----------------------------------------------------------

    /// `self` with `other` adjoined (`/` in AnyIO), keeping the limiter.
    #[doc(alias = "joinpath")]
    pub fn join(&self, other: impl AsRef<StdPath>) -> Path {
        self.derive(self.path.join(other))
    }

    /// The parent directory, keeping the limiter; `None` for a root or an empty path.
    pub fn parent(&self) -> Option<Path> {
        self.path.parent().map(|p| self.derive(p.to_path_buf()))
    }

    /// The last component, unless it is `..`.
    #[doc(alias = "name")]
    pub fn file_name(&self) -> Option<&OsStr> {
        self.path.file_name()
    }

    /// The file name without its extension.
    #[doc(alias = "stem")]
    pub fn file_stem(&self) -> Option<&OsStr> {
        self.path.file_stem()
    }

    /// The extension, without its dot.
    #[doc(alias = "suffix")]
    pub fn extension(&self) -> Option<&OsStr> {
        self.path.extension()
    }

    /// This path with another file name, keeping the limiter.
    pub fn with_file_name(&self, name: impl AsRef<OsStr>) -> Path {
        self.derive(self.path.with_file_name(name))
    }

    /// This path with another extension, keeping the limiter.
    #[doc(alias = "with_suffix")]
    pub fn with_extension(&self, extension: impl AsRef<OsStr>) -> Path {
        self.derive(self.path.with_extension(extension))
    }

    /// Whether the path is absolute.
    pub fn is_absolute(&self) -> bool {
        self.path.is_absolute()
    }

    /// Whether the path is relative.
    pub fn is_relative(&self) -> bool {
        self.path.is_relative()
    }

    /// An object that displays the path (lossily for non-UTF-8 paths).
    pub fn display(&self) -> std::path::Display<'_> {
        self.path.display()
    }

    // ---- running on a thread ------------------------------------------------------------

    async fn on_thread<T, F>(&self, class: Class, what: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(&StdPath) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path.clone();
        super::run(&self.limiter, class, move || {
            f(&path).map_err(|e| io_error(format!("{what} '{}'", path.display()), e))
        })
        .await?
    }

    async fn on_thread_to<T, F>(&self, other: &StdPath, what: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(&StdPath, &StdPath) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (from, to) = (self.path.clone(), other.to_path_buf());
        super::run(&self.limiter, Class::Complete, move || {
            f(&from, &to).map_err(|e| {
                io_error(
                    format!("{what} '{}' to '{}'", from.display(), to.display()),
                    e,
                )
            })
        })
        .await?
    }

    // ---- queries (abandoned on cancellation) --------------------------------------------

    /// The current working directory (AnyIO's `Path.cwd`).
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the directory is gone.
    pub async fn cwd() -> Result<Path> {
        let cwd = super::run(&None, Class::Query, || {
            std::env::current_dir()
                .map_err(|e| io_error("reading the current directory".to_owned(), e))
        })
        .await??;
        Ok(Path::new(cwd))
    }

    /// Whether something exists at this path (following symlinks). An error (a
    /// permission problem) counts as "no", as in `std::path::Path::exists`; see
    /// [`try_exists`](Self::try_exists).
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// Only `Cancelled` or [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop).
    pub async fn exists(&self) -> Result<bool> {
        self.on_thread(Class::Query, "checking", |p| Ok(p.exists()))
            .await
    }

    /// Whether something exists at this path, an error when that cannot be told.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the OS cannot tell (permissions).
    pub async fn try_exists(&self) -> Result<bool> {
        self.on_thread(Class::Query, "checking", |p| p.try_exists())
            .await
    }

    /// The metadata, following symlinks (AnyIO's `stat`).
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when nothing is there or it cannot be read;
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a NUL byte in
    /// the path.
    #[doc(alias = "stat")]
    pub async fn metadata(&self) -> Result<std::fs::Metadata> {
        self.on_thread(Class::Query, "reading the metadata of", |p| {
            std::fs::metadata(p)
        })
        .await
    }

    /// The metadata of the path itself, not following a symlink (AnyIO's `lstat`).
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// As [`metadata`](Self::metadata).
    #[doc(alias = "lstat")]
    pub async fn symlink_metadata(&self) -> Result<std::fs::Metadata> {
        self.on_thread(Class::Query, "reading the metadata of", |p| {
            std::fs::symlink_metadata(p)
        })
        .await
    }

    /// Whether this is a regular file (following symlinks); `false` on any error.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// Only `Cancelled` or [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop).
    pub async fn is_file(&self) -> Result<bool> {
        self.on_thread(Class::Query, "checking", |p| Ok(p.is_file()))
            .await
    }

    /// Whether this is a directory (following symlinks); `false` on any error.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// Only `Cancelled` or [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop).
    pub async fn is_dir(&self) -> Result<bool> {
        self.on_thread(Class::Query, "checking", |p| Ok(p.is_dir()))
            .await
    }

    /// Whether this is a symbolic link; `false` on any error.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// Only `Cancelled` or [`ErrorKind::NoEventLoop`](crate::ErrorKind::NoEventLoop).
    pub async fn is_symlink(&self) -> Result<bool> {
        self.on_thread(Class::Query, "checking", |p| Ok(p.is_symlink()))
            .await
    }

    /// The absolute path with every symlink resolved (AnyIO's `resolve(strict=True)`),
    /// keeping the limiter.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the path does not exist.
    #[doc(alias = "resolve")]
    pub async fn canonicalize(&self) -> Result<Path> {
        let p = self
            .on_thread(Class::Query, "resolving", |p| std::fs::canonicalize(p))
            .await?;
        Ok(self.derive(p))
    }

    /// This path made absolute against the current directory, without resolving symlinks
    /// (`std::path::absolute`), keeping the limiter.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for an empty path;
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the current directory is gone.
    pub async fn absolute(&self) -> Result<Path> {
        let p = self
            .on_thread(Class::Query, "making absolute", |p| std::path::absolute(p))
            .await?;
        Ok(self.derive(p))
    }

    /// Where the symbolic link at this path points (AnyIO's `readlink`), keeping the
    /// limiter.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this is not a symlink.
    #[doc(alias = "readlink")]
    pub async fn read_link(&self) -> Result<Path> {
        let p = self
            .on_thread(Class::Query, "reading the link", |p| std::fs::read_link(p))
            .await?;
        Ok(self.derive(p))
    }

    /// The entries of this directory as a [`Stream`](futures_core::Stream), read in
    /// batches (AnyIO's `iterdir`). Opening the directory reads the first batch in the
    /// same thread hop.
    ///
    /// # Cancellation
    ///
    /// A query: a checkpoint, and abandoned at once when cancelled (the directory is not
    /// opened then). Each step of the stream is a query too; see [`ReadDir`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this is not a readable directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    ///
    /// # anyio::run(|| async {
    /// # let tmp = anyio::fs::tempfile::TemporaryDirectory::new().await?;
    /// let dir = anyio::fs::Path::new(tmp.path());
    /// dir.join("x").touch().await?;
    /// let mut entries = dir.read_dir().await?;
    /// while let Some(entry) = entries.next().await {
    ///     let entry = entry?;
    ///     assert_eq!(entry.file_name(), "x");
    /// }
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "iterdir")]
    pub async fn read_dir(&self) -> Result<ReadDir> {
        ReadDir::open(self.path.clone(), self.limiter.clone()).await
    }

    /// Every entry under this directory, depth first, parents before their contents (not
    /// the directory itself; symlinks are not followed), read in batches. An entry that
    /// cannot be read (a subdirectory without permission) is an `Err` item, and the walk
    /// goes on.
    ///
    /// Unlike AnyIO's `walk` (`os.walk`'s `(dir, dirs, files)` triples), it yields
    /// [`DirEntry`](super::DirEntry)s with their [`depth`](super::DirEntry::depth), as the
    /// `walkdir` crate does.
    ///
    /// # Cancellation
    ///
    /// Not a checkpoint itself (nothing runs until polled); each step is a query: see
    /// [`Walk`].
    pub fn walk(&self) -> Walk {
        Walk::new(self.path.clone(), self.limiter.clone())
    }

    /// The paths under this directory matching `pattern` (`*`, `?`, `[...]`, and `**` for
    /// any number of directories, as the `glob` crate), keeping the limiter. AnyIO's
    /// `glob`; `rglob(p)` is `glob("**/p")`.
    ///
    /// # Cancellation
    ///
    /// Not a checkpoint itself; each step is a query: see [`Glob`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a malformed
    /// pattern.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    ///
    /// # anyio::run(|| async {
    /// # let tmp = anyio::fs::tempfile::TemporaryDirectory::new().await?;
    /// let dir = anyio::fs::Path::new(tmp.path());
    /// dir.join("a.rs").touch().await?;
    /// dir.join("b.txt").touch().await?;
    /// let found: Vec<_> = dir.glob("*.rs")?.try_collect().await?;
    /// assert_eq!(found, [dir.join("a.rs")]);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "rglob")]
    pub fn glob(&self, pattern: &str) -> Result<Glob> {
        Glob::new(&self.path, pattern, self.limiter.clone())
    }

    // ---- reads, writes and mutations (completed once started) ---------------------------

    /// The whole file (AnyIO's `read_bytes`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes and returns the data.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be read (missing, a
    /// directory).
    #[doc(alias = "read_bytes")]
    pub async fn read(&self) -> Result<Vec<u8>> {
        self.on_thread(Class::Complete, "reading", |p| std::fs::read(p))
            .await
    }

    /// The whole file as UTF-8 text (AnyIO's `read_text`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); [`ErrorKind::Io`](crate::ErrorKind::Io) with an
    /// `InvalidData` source for text that is not UTF-8.
    #[doc(alias = "read_text")]
    pub async fn read_to_string(&self) -> Result<String> {
        self.on_thread(Class::Complete, "reading", |p| std::fs::read_to_string(p))
            .await
    }

    /// Writes `contents` as the whole file, creating or truncating it (AnyIO's
    /// `write_bytes` and `write_text`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope the file is not touched. Once started the write
    /// completes and its result is returned.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be written.
    #[doc(alias = "write_bytes", alias = "write_text")]
    pub async fn write(&self, contents: impl AsRef<[u8]>) -> Result<()> {
        let contents = contents.as_ref().to_vec();
        self.on_thread(Class::Complete, "writing", move |p| {
            std::fs::write(p, contents)
        })
        .await
    }

    /// Creates this directory; its parent must exist (AnyIO's `mkdir`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it exists or the parent is missing.
    #[doc(alias = "mkdir")]
    pub async fn create_dir(&self) -> Result<()> {
        self.on_thread(Class::Complete, "creating the directory", |p| {
            std::fs::create_dir(p)
        })
        .await
    }

    /// Creates this directory and its missing parents (`mkdir(parents=True,
    /// exist_ok=True)`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when a component exists as a file.
    pub async fn create_dir_all(&self) -> Result<()> {
        self.on_thread(Class::Complete, "creating the directories", |p| {
            std::fs::create_dir_all(p)
        })
        .await
    }

    /// Removes this file or symlink (AnyIO's `unlink`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it is missing or a directory.
    #[doc(alias = "unlink")]
    pub async fn remove_file(&self) -> Result<()> {
        self.on_thread(Class::Complete, "removing", |p| std::fs::remove_file(p))
            .await
    }

    /// Removes this empty directory (AnyIO's `rmdir`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it is missing or not empty.
    #[doc(alias = "rmdir")]
    pub async fn remove_dir(&self) -> Result<()> {
        self.on_thread(Class::Complete, "removing the directory", |p| {
            std::fs::remove_dir(p)
        })
        .await
    }

    /// Removes this directory and everything in it.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes (the whole tree goes).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it is missing or part of it cannot be
    /// removed.
    pub async fn remove_dir_all(&self) -> Result<()> {
        self.on_thread(Class::Complete, "removing the tree", |p| {
            std::fs::remove_dir_all(p)
        })
        .await
    }

    /// Renames this to `to`, replacing a file there (AnyIO's `rename` and `replace`);
    /// returns the new path, keeping the limiter.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. Once started it completes and reports its outcome: a rename reported
    /// as failed did not happen.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this is missing, or `to` is on another
    /// file system or a non-empty directory.
    #[doc(alias = "replace")]
    pub async fn rename(&self, to: impl AsRef<StdPath>) -> Result<Path> {
        let to = to.as_ref();
        self.on_thread_to(to, "renaming", |from, to| std::fs::rename(from, to))
            .await?;
        Ok(self.derive(to.to_path_buf()))
    }

    /// Copies this file's contents and permissions to `to`; returns the bytes copied.
    ///
    /// # Cancellation
    ///
    /// A checkpoint: in a cancelled scope `to` is not touched. Once started the copy
    /// completes: `Ok` means `to` is a complete copy.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this is missing or not a file, or `to`
    /// cannot be written.
    pub async fn copy(&self, to: impl AsRef<StdPath>) -> Result<u64> {
        self.on_thread_to(to.as_ref(), "copying", |from, to| std::fs::copy(from, to))
            .await
    }

    /// Makes this path a hard link to `target` (AnyIO's `hardlink_to`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this exists or `target` is missing.
    #[doc(alias = "hardlink_to", alias = "hard_link")]
    pub async fn hard_link_to(&self, target: impl AsRef<StdPath>) -> Result<()> {
        self.on_thread_to(target.as_ref(), "linking", |link, target| {
            std::fs::hard_link(target, link)
        })
        .await
    }

    /// Makes this path a symbolic link to `target` (AnyIO's `symlink_to`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when this exists.
    #[cfg(unix)]
    #[doc(alias = "symlink")]
    pub async fn symlink_to(&self, target: impl AsRef<StdPath>) -> Result<()> {
        self.on_thread_to(target.as_ref(), "symlinking", |link, target| {
            std::os::unix::fs::symlink(target, link)
        })
        .await
    }

    /// Sets the permissions (AnyIO's `chmod`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it is missing or not ours.
    #[doc(alias = "chmod")]
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> Result<()> {
        self.on_thread(Class::Complete, "setting the permissions of", move |p| {
            std::fs::set_permissions(p, perm)
        })
        .await
    }

    /// Creates an empty file here if there is none, otherwise sets its modification time
    /// to now (AnyIO's `touch`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started it completes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when it cannot be created (missing parent,
    /// a directory here).
    pub async fn touch(&self) -> Result<()> {
        self.on_thread(Class::Complete, "touching", |p| {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?;
            f.set_modified(std::time::SystemTime::now())
        })
        .await
    }

    /// Opens this file read-only; the file keeps this path's limiter.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the open completes.
    ///
    /// # Errors
    ///
    /// As [`open_file`](super::open_file).
    pub async fn open(&self) -> Result<AsyncFile> {
        self.open_with(OpenOptions::new().read(true)).await
    }

    /// Opens this file with `options`; the file keeps this path's limiter unless `options`
    /// has one of its own.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; once started the open completes.
    ///
    /// # Errors
    ///
    /// As [`open_file`](super::open_file).
    pub async fn open_with(&self, options: &OpenOptions) -> Result<AsyncFile> {
        let mut options = options.clone();
        if options.limiter_ref().is_none() {
            options.set_limiter(self.limiter.clone());
        }
        options.open(&self.path).await
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.path, f)
    }
}

/// Paths compare by their path alone, not by their limiter.
impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.path == other.path
    }
}

impl Eq for Path {}

impl PartialOrd for Path {
    fn partial_cmp(&self, other: &Path) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Path {
    fn cmp(&self, other: &Path) -> Ordering {
        self.path.cmp(&other.path)
    }
}

impl Hash for Path {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.path.hash(state);
    }
}

impl AsRef<StdPath> for Path {
    fn as_ref(&self) -> &StdPath {
        &self.path
    }
}

impl AsRef<OsStr> for Path {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}

impl From<PathBuf> for Path {
    fn from(path: PathBuf) -> Path {
        Path::new(path)
    }
}

impl From<&StdPath> for Path {
    fn from(path: &StdPath) -> Path {
        Path::new(path)
    }
}

impl From<&str> for Path {
    fn from(path: &str) -> Path {
        Path::new(path)
    }
}

impl From<String> for Path {
    fn from(path: String) -> Path {
        Path::new(path)
    }
}

impl From<Path> for PathBuf {
    fn from(path: Path) -> PathBuf {
        path.path
    }
}
