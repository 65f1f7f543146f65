//! [`CancellableExt`]: the method form of [`cancellable`].

use std::future::Future;

use super::{Cancellable, cancellable};

/// Adds [`.cancellable()`](CancellableExt::cancellable) to every future, the method form of
/// [`anyio::cancellable`](cancellable): `listener.accept().cancellable().await?`.
///
/// Named `CancellableExt` rather than `FutureExt` so that it can be imported beside
/// `futures::FutureExt` / `futures_lite::FutureExt` without a clash.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use anyio::CancellableExt;
///
/// # anyio::run(|| async {
/// // A foreign future that never reaches an anyio checkpoint...
/// let foreign = std::future::pending::<()>();
/// let out = anyio::move_on_after(Duration::from_millis(10), foreign.cancellable()).await?;
/// assert_eq!(out, None); // ...is dropped when the scope is cancelled
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub trait CancellableExt: Future + Sized {
    /// Lets this foreign future take part in cancel scopes: when the enclosing scope is
    /// cancelled, it is dropped and the await returns `Cancelled` (see [`cancellable`]).
    ///
    /// # Cancellation
    ///
    /// Drop-based: the future is dropped at the cancellation, wherever it was suspended,
    /// so use it only around futures that are themselves cancel safe (tokio's `accept`,
    /// `read`, a channel's `recv`...).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) when the scope is cancelled.
    fn cancellable(self) -> Cancellable<Self> {
        cancellable(self)
    }
}

impl<F: Future> CancellableExt for F {}
