//! Errors: one [`Error`] type with an [`ErrorKind`], as `std::io::Error` has.
//!
//! Every fallible operation in anyio returns [`Result<T>`](Result). The kind says what
//! happened ([`ErrorKind::Cancelled`], [`ErrorKind::EndOfStream`], …); the message says what
//! was being done; the source, when there is one, is kept.
//!
//! # Cancellation travels as an error
//!
//! A cancelled checkpoint returns an error of kind [`ErrorKind::Cancelled`]. Propagate it
//! with `?`: the cancel scope that caused it recognises it and absorbs it (see
//! [`crate::cancel`]). It survives conversion into [`std::io::Error`] and, with the `anyhow`
//! feature, into `anyhow::Error`: a scope looks inside both. Cancellation errors cannot be
//! constructed by hand; only a cancelled checkpoint makes one.
//!
//! [`Error`] is cheap to clone (it is reference counted), so one failure can be reported both
//! to a task group and to whoever awaits the failed task's [`TaskHandle`](crate::TaskHandle).

use std::any::Any;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// The result type of anyio operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A module of its own, so that `Ok` does not shadow the prelude's `Ok` in this file.
pub(crate) mod ok_fn {
    /// `Ok(value)` as an [`anyio::Result`](crate::Result): the `Ok` of a block whose error type
    /// nothing else pins down (as `anyhow::Ok`).
    ///
    /// An async block that ends in a bare `Ok(v)` leaves its error type to inference, which
    /// fails when nothing else fixes it (a block stored before it is spawned, a `gather`
    /// member); `anyio::Ok(v)` fixes it to [`anyio::Error`](crate::Error), where
    /// `Ok::<_, anyio::Error>(v)` would say it at length.
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let child = async { anyio::Ok(6 * 7) };
    /// anyio::task_group(|tg| async move {
    ///     assert_eq!(tg.start_soon(child)?.await?, 42);
    ///     anyio::Ok(())
    /// })
    /// .await?;
    /// # anyio::Ok(())
    /// # }).unwrap();
    /// ```
    #[allow(non_snake_case)]
    pub fn Ok<T>(value: T) -> super::Result<T> {
        std::result::Result::Ok(value)
    }
}

/// What kind of failure an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The enclosing cancel scope was cancelled. Propagate it with `?`; the scope absorbs it.
    #[doc(alias = "CancelledError")]
    Cancelled,
    /// A deadline set with [`fail_after`](crate::fail_after) or [`fail_at`](crate::fail_at)
    /// expired.
    #[doc(alias = "TimeoutError")]
    TimedOut,
    /// The awaited task was cancelled before it finished.
    TaskCancelled,
    /// The awaited task failed; [`Error::source`](std::error::Error::source) is its error.
    TaskFailed,
    /// Several tasks of a task group failed; [`Error::errors`] lists every failure.
    #[doc(alias = "ExceptionGroup")]
    Multiple,
    /// The other end of a stream was closed and every buffered item has been received.
    EndOfStream,
    /// The resource was closed by this side and cannot be used any more.
    #[doc(alias = "ClosedResourceError")]
    ClosedResource,
    /// The resource is unusable because the other side is gone or it failed.
    #[doc(alias = "BrokenResourceError")]
    BrokenResource,
    /// Another task is already using the resource in a way that excludes concurrent use.
    #[doc(alias = "BusyResourceError")]
    BusyResource,
    /// The operation would have to wait, and it was asked not to.
    WouldBlock,
    /// The stream ended before the requested number of bytes arrived.
    IncompleteRead,
    /// The delimiter was not found within the allowed number of bytes.
    DelimiterNotFound,
    /// A typed attribute was requested that the stream does not provide.
    #[doc(alias = "TypedAttributeLookupError")]
    TypedAttributeLookup,
    /// No async context (an anyio run, a tokio runtime, or any executor) could be detected.
    #[doc(alias = "NoEventLoopError")]
    NoEventLoop,
    /// The requested backend is unknown, or its cargo feature is not enabled.
    BackendUnavailable,
    /// An argument was out of range or malformed.
    #[doc(alias = "ValueError")]
    InvalidArgument,
    /// The operation is not valid in the object's current state (a task group that has
    /// already exited, a cancel scope entered twice, a task that never signalled start).
    #[doc(alias = "RuntimeError")]
    InvalidState,
    /// An operating-system I/O error; the source is the [`std::io::Error`].
    Io,
    /// A TLS handshake or record failed (a certificate that does not verify, a peer that
    /// speaks something else); the source is the `rustls::Error`.
    #[doc(alias = "SSLError")]
    Tls,
    /// A child process run by [`run_process`](crate::process::run_process) exited with a
    /// non-zero status; the source is a
    /// [`CalledProcessError`](crate::process::CalledProcessError) with the status and output.
    #[doc(alias = "CalledProcessError")]
    ProcessFailed,
    /// Any other failure, usually carrying a foreign error as its source.
    Other,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::TaskCancelled => "the task was cancelled",
            ErrorKind::TaskFailed => "the task failed",
            ErrorKind::Multiple => "several errors",
            ErrorKind::EndOfStream => "end of stream",
            ErrorKind::ClosedResource => "the resource is closed",
            ErrorKind::BrokenResource => "the resource is broken",
            ErrorKind::BusyResource => "the resource is busy",
            ErrorKind::WouldBlock => "the operation would block",
            ErrorKind::IncompleteRead => "incomplete read",
            ErrorKind::DelimiterNotFound => "delimiter not found",
            ErrorKind::TypedAttributeLookup => "typed attribute not found",
            ErrorKind::NoEventLoop => "no async context",
            ErrorKind::BackendUnavailable => "backend unavailable",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::InvalidState => "invalid state",
            ErrorKind::Io => "I/O error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::ProcessFailed => "the child process failed",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type of anyio: a kind, a message, and an optional source.
///
/// Cloning is cheap: clones share one allocation.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    errors: Vec<Error>,
    /// For [`ErrorKind::Multiple`]: the name of the task each of `errors` came from, when
    /// it was named (empty otherwise).
    names: Vec<Option<Arc<str>>>,
}

impl Error {
    fn build(
        kind: ErrorKind,
        message: Cow<'static, str>,
        source: Option<Box<dyn StdError + Send + Sync + 'static>>,
        errors: Vec<Error>,
    ) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message,
                source,
                errors,
                names: Vec::new(),
            }),
        }
    }

    /// Creates an error of `kind` whose message says what was being done.
    ///
    /// Cancellation errors are made only by cancelled checkpoints: asking for
    /// [`ErrorKind::Cancelled`] here gives an error of kind [`ErrorKind::Other`] instead, so a
    /// hand-made error can never be mistaken for a real cancellation.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        let kind = public_kind(kind);
        Error::build(kind, message.into(), None, Vec::new())
    }

    /// Creates an error of `kind` that keeps `source` as its cause.
    ///
    /// As with [`Error::new`], [`ErrorKind::Cancelled`] becomes [`ErrorKind::Other`].
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Error {
        Error::build(
            public_kind(kind),
            message.into(),
            Some(source.into()),
            Vec::new(),
        )
    }

    /// Wraps any foreign error as [`ErrorKind::Other`], keeping it as the source.
    ///
    /// An anyio error inside (directly, or inside a `std::io::Error`) is unwrapped instead,
    /// so cancellation keeps its kind.
    pub fn other(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Error {
        let boxed = error.into();
        match boxed.downcast::<Error>() {
            Ok(e) => *e,
            Err(boxed) => match boxed.downcast::<io::Error>() {
                Ok(io) => Error::from(*io),
                Err(boxed) => {
                    Error::build(ErrorKind::Other, Cow::Borrowed(""), Some(boxed), Vec::new())
                }
            },
        }
    }

    pub(crate) fn cancelled(reason: Option<&str>) -> Error {
        let message = match reason {
            Some(r) => Cow::Owned(r.to_owned()),
            None => Cow::Borrowed("the enclosing cancel scope was cancelled"),
        };
        Error::build(ErrorKind::Cancelled, message, None, Vec::new())
    }

    pub(crate) fn timed_out(reason: Option<&str>) -> Error {
        let message = match reason {
            Some(r) => Cow::Owned(r.to_owned()),
            None => Cow::Borrowed("the deadline expired"),
        };
        Error::build(ErrorKind::TimedOut, message, None, Vec::new())
    }

    pub(crate) fn task_failed(name: &str, cause: Error) -> Error {
        Error::build(
            ErrorKind::TaskFailed,
            Cow::Owned(format!("task '{name}' failed")),
            Some(Box::new(cause)),
            Vec::new(),
        )
    }

    pub(crate) fn task_cancelled(name: &str) -> Error {
        Error::build(
            ErrorKind::TaskCancelled,
            Cow::Owned(format!("task '{name}' was cancelled")),
            None,
            Vec::new(),
        )
    }

    /// Combines several errors into one: none for `Ok`, the error itself when there is one,
    /// and an error of kind [`ErrorKind::Multiple`] listing all of them otherwise.
    #[cfg(test)]
    pub(crate) fn combine(errors: Vec<Error>) -> Option<Error> {
        Error::combine_named(errors.into_iter().map(|e| (None, e)).collect())
    }

    /// As `Error::combine`, each error with the name of the task it came from (`None`
    /// for unnamed ones): [`Display`](fmt::Display) of a [`ErrorKind::Multiple`] shows the
    /// names.
    pub(crate) fn combine_named(mut errors: Vec<(Option<Arc<str>>, Error)>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop().map(|(_, e)| e),
            n => {
                let (names, errors) = errors.into_iter().unzip();
                let mut e = Error::build(
                    ErrorKind::Multiple,
                    Cow::Owned(format!("{n} tasks failed")),
                    None,
                    errors,
                );
                Arc::get_mut(&mut e.inner)
                    .expect("a new error is not shared")
                    .names = names;
                Some(e)
            }
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True when this error is a cancellation (kind [`ErrorKind::Cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.inner.kind == ErrorKind::Cancelled
    }

    /// The message saying what was being done, without the source.
    pub fn message(&self) -> &str {
        if self.inner.message.is_empty() {
            self.inner.kind.as_str()
        } else {
            &self.inner.message
        }
    }

    /// Every error a task group collected, for an error of kind [`ErrorKind::Multiple`];
    /// empty for every other kind.
    #[doc(alias = "exceptions")]
    pub fn errors(&self) -> &[Error] {
        &self.inner.errors
    }

    /// The source as a concrete type, when it is one.
    pub fn source_as<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.source.as_deref()?.downcast_ref::<E>()
    }
}

fn public_kind(kind: ErrorKind) -> ErrorKind {
    if kind == ErrorKind::Cancelled {
        ErrorKind::Other
    } else {
        kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.message());
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        if !self.inner.errors.is_empty() {
            d.field("errors", &self.inner.errors);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.kind, &self.inner.source) {
            (ErrorKind::Cancelled, _) => write!(f, "cancelled: {}", self.message())?,
            (_, Some(source)) if self.inner.message.is_empty() => write!(f, "{source}")?,
            (_, Some(source)) => write!(f, "{}: {source}", self.message())?,
            (_, None) => f.write_str(self.message())?,
        }
        for (i, e) in self.inner.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            match self.inner.names.get(i) {
                Some(Some(name)) => write!(f, "task '{name}': {e}")?,
                _ => write!(f, "{e}")?,
            }
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.inner.source {
            Some(s) => Some(&**s as &(dyn StdError + 'static)),
            None => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An `io::Error` that carries an anyio error is unwrapped, so a cancellation that
    /// travelled through an `io::Error` is a cancellation again.
    fn from(e: io::Error) -> Error {
        if let Some(inner) = e.get_ref().and_then(|r| r.downcast_ref::<Error>()) {
            return inner.clone();
        }
        let kind = match e.kind() {
            io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            _ => ErrorKind::Io,
        };
        Error::build(kind, Cow::Borrowed(""), Some(Box::new(e)), Vec::new())
    }
}

impl From<Error> for io::Error {
    /// The anyio error is kept inside, so converting back recovers it (with its kind).
    fn from(e: Error) -> io::Error {
        let kind = match e.kind() {
            ErrorKind::Io => match e.source_as::<io::Error>() {
                Some(src) => src.kind(),
                None => io::ErrorKind::Other,
            },
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::WouldBlock => io::ErrorKind::WouldBlock,
            ErrorKind::EndOfStream | ErrorKind::IncompleteRead => io::ErrorKind::UnexpectedEof,
            ErrorKind::BrokenResource => io::ErrorKind::BrokenPipe,
            ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(feature = "anyhow")]
impl From<anyhow::Error> for Error {
    /// Unwraps an anyio error found in the chain (so cancellation stays cancellation);
    /// otherwise keeps the `anyhow::Error` as the source of an [`ErrorKind::Other`].
    fn from(e: anyhow::Error) -> Error {
        if let Some(inner) = find_in_chain(e.chain()) {
            return inner.clone();
        }
        Error::other(e)
    }
}

fn find_in_chain<'a>(
    mut chain: impl Iterator<Item = &'a (dyn StdError + 'static)>,
) -> Option<&'a Error> {
    chain.find_map(|e| {
        e.downcast_ref::<Error>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|r| r.downcast_ref::<Error>())
        })
    })
}

/// Finds the anyio [`Error`] inside an error value of any of the types that can carry one:
/// [`Error`] itself, [`std::io::Error`], a boxed `dyn Error`, and `anyhow::Error` with the
/// `anyhow` feature.
pub(crate) fn as_anyio_error<E: 'static>(e: &E) -> Option<&Error> {
    let any = e as &dyn Any;
    if let Some(e) = any.downcast_ref::<Error>() {
        return Some(e);
    }
    if let Some(io) = any.downcast_ref::<io::Error>() {
        return io.get_ref().and_then(|r| r.downcast_ref::<Error>());
    }
    if let Some(b) = any.downcast_ref::<Box<dyn StdError + Send + Sync>>() {
        let first: &(dyn StdError + 'static) = &**b;
        return find_in_chain(std::iter::successors(Some(first), |e| (*e).source()));
    }
    #[cfg(feature = "anyhow")]
    if let Some(a) = any.downcast_ref::<anyhow::Error>() {
        return find_in_chain(a.chain());
    }
    None
}

/// True when `error` is, or carries, an anyio cancellation.
///
/// Recognises [`Error`], [`std::io::Error`], `Box<dyn Error + Send + Sync>` and, with the
/// `anyhow` feature, `anyhow::Error`. This is the test a cancel scope applies to decide
/// whether to absorb the error its future returned.
pub fn is_cancellation<E: 'static>(error: &E) -> bool {
    as_anyio_error(error).is_some_and(Error::is_cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_survives_io_round_trip() {
        let e = Error::cancelled(Some("stop"));
        let io: io::Error = e.into();
        assert!(is_cancellation(&io));
        let back = Error::from(io);
        assert_eq!(back.kind(), ErrorKind::Cancelled);
    }

    #[test]
    fn new_cannot_forge_cancellation() {
        let e = Error::new(ErrorKind::Cancelled, "fake");
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(!is_cancellation(&e));
    }

    #[test]
    fn display_names_kind_and_source() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let e = Error::with_source(ErrorKind::Io, "opening config", io);
        assert_eq!(e.to_string(), "opening config: no such file");
        let many = Error::combine(vec![
            Error::new(ErrorKind::Other, "a"),
            Error::new(ErrorKind::Other, "b"),
        ])
        .unwrap();
        assert_eq!(many.kind(), ErrorKind::Multiple);
        assert_eq!(many.errors().len(), 2);
        assert_eq!(many.to_string(), "2 tasks failed: a; b");
        let named = Error::combine_named(vec![
            (Some(Arc::from("fetch")), Error::new(ErrorKind::Other, "a")),
            (None, Error::new(ErrorKind::Other, "b")),
        ])
        .unwrap();
        assert_eq!(named.to_string(), "2 tasks failed: task 'fetch': a; b");
    }
}
