//! Concurrency helpers built on task groups: [`gather`] and [`amap`] (AnyIO 4.16).
//!
//! Each runs its futures as children of a task group and returns their results in the
//! order they were given. If one fails, the others are cancelled and the error is returned
//! (several as one error of kind [`ErrorKind::Multiple`](crate::ErrorKind::Multiple)).

use std::future::Future;

use crate::error::{Error, ErrorKind, Result};
use crate::task_group::task_group;

/// Runs every future of `futs` concurrently, each as a task of a new task group; returns
/// their results in the order given.
///
/// # Cancellation
///
/// A cancellation of the caller cancels every future; `Cancelled` is returned once all
/// have finished.
///
/// # Errors
///
/// The error of a failed future (the others are then cancelled), several combined into
/// one of kind [`ErrorKind::Multiple`](crate::ErrorKind::Multiple).
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let squares = anyio::gather((1..=4u64).map(|n| async move { Ok::<_, anyio::Error>(n * n) })).await?;
/// assert_eq!(squares, vec![1, 4, 9, 16]);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn gather<I, Fut, T>(futs: I) -> Result<Vec<T>>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let handles = task_group(|tg| async move {
        futs.into_iter()
            .map(|f| tg.start_soon(f))
            .collect::<Result<Vec<_>>>()
    })
    .await?
    // Nothing outside can cancel this group's own scope, so it never absorbs a cancellation.
    .ok_or_else(|| Error::new(ErrorKind::InvalidState, "gather's task group was cancelled"))?;
    // The group succeeded, so every child returned a value.
    handles.iter().map(|h| h.take_result()).collect()
}

/// Runs `f(arg)` concurrently for every `arg` of `args`, each as a task of a new task
/// group; returns the results in the order of `args`.
///
/// # Cancellation
///
/// As [`gather`].
///
/// # Errors
///
/// As [`gather`].
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let lens = anyio::amap(|s: &'static str| async move { Ok::<_, anyio::Error>(s.len()) }, ["a", "bcd"]).await?;
/// assert_eq!(lens, vec![1, 3]);
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub async fn amap<F, A, Fut, T>(f: F, args: impl IntoIterator<Item = A>) -> Result<Vec<T>>
where
    F: FnMut(A) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    gather(args.into_iter().map(f)).await
}
