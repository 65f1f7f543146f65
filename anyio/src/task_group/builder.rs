//! [`TaskBuilder`]: a child task with options (a name), as tokio's `task::Builder`.

use std::future::Future;
use std::sync::Arc;

use super::{NoStart, TaskGroup, TaskHandle, TaskStatus};
use crate::error::Result;

/// Starts a child of a [`TaskGroup`] with options, from [`TaskGroup::task`]: today its
/// name, shown by [`TaskHandle::name`], [`get_current_task`](crate::get_current_task),
/// [`get_running_tasks`](crate::get_running_tasks), in cancel reasons and in debug reports.
///
/// Without a name the child is named `task-<id>`, as with [`TaskGroup::start_soon`].
///
/// # Examples
///
/// ```
/// use anyio::TaskStatus;
///
/// # anyio::run(|| async {
/// anyio::task_group(|tg| async move {
///     let worker = tg.task().name("worker").spawn(async {
///         Ok(anyio::get_current_task().map(|t| t.name))
///     })?;
///     assert_eq!(worker.name(), "worker");
///     assert_eq!(worker.await?.as_deref(), Some("worker"));
///
///     let port = tg
///         .task()
///         .name("server")
///         .start(|status: TaskStatus<u16>| async move {
///             status.started(8080);
///             Ok(())
///         })
///         .await?;
///     assert_eq!(port, 8080);
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "a TaskBuilder starts nothing until spawn() or start() is called"]
pub struct TaskBuilder<'a> {
    group: &'a TaskGroup,
    name: Option<Arc<str>>,
}

impl<'a> TaskBuilder<'a> {
    pub(super) fn new(group: &'a TaskGroup) -> TaskBuilder<'a> {
        TaskBuilder { group, name: None }
    }

    /// Names the task (AnyIO's `name=` argument of `start_soon` and `start`). Any string
    /// is accepted, the empty one too; naming twice keeps the last name.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> TaskBuilder<'a> {
        self.name = Some(name.into());
        self
    }

    /// Starts `fut` as a child task, as [`TaskGroup::start_soon`] does, with the options
    /// set on this builder.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the group has
    /// exited.
    #[doc(alias = "start_soon")]
    #[track_caller]
    pub fn spawn<Fut, T>(self, fut: Fut) -> Result<TaskHandle<T>>
    where
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let group = self.group;
        let core = group.new_core(self.name, group.inner.host);
        group.spawn(core, fut, NoStart)
    }

    /// Starts a child and waits until it calls [`TaskStatus::started`], as
    /// [`TaskGroup::start`] does, with the options set on this builder.
    ///
    /// # Cancellation
    ///
    /// As [`TaskGroup::start`]: a cancelled caller cancels and awaits the child, unless it
    /// started meanwhile.
    ///
    /// # Errors
    ///
    /// As [`TaskGroup::start`].
    pub async fn start<F, Fut, V, T>(self, f: F) -> Result<V>
    where
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        V: Send + 'static,
        T: Send + 'static,
    {
        self.group.start_inner(self.name, f).await
    }
}
