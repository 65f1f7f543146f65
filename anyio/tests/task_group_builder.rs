//! The task builder (`tg.task().name(..).spawn(..)` / `.start(..)`): the name reaches every
//! place a task's name shows, and the builder behaves as `start_soon` and `start` otherwise.

use std::sync::Arc;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{
    CancelScope, Error, ErrorKind, Event, TaskStatus, get_current_task, get_running_tasks,
    sleep_forever, task_group,
};

fn running_names() -> Vec<String> {
    get_running_tasks().into_iter().map(|t| t.name).collect()
}

#[anyio::test]
async fn spawned_task_has_its_name_in_handle_current_task_and_running_tasks() -> anyio::Result<()> {
    let me = get_current_task().unwrap();
    task_group(|tg| async move {
        let release = Event::new();
        let r = release.clone();
        let h = tg.task().name("worker").spawn(async move {
            r.wait().await?;
            Ok::<_, Error>(get_current_task().unwrap())
        })?;
        assert_eq!(h.name(), "worker");
        wait_all_tasks_blocked().await?;
        assert!(
            running_names().contains(&"worker".to_owned()),
            "{:?}",
            running_names()
        );
        release.set();
        let info = h.await?;
        assert_eq!(info.name, "worker");
        assert_eq!(info.parent_id, Some(me.id));
        assert!(!running_names().contains(&"worker".to_owned()));
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn started_task_has_its_name_before_and_after_started() -> anyio::Result<()> {
    let me = get_current_task().unwrap();
    task_group(|tg| async move {
        let (before, after) = tg
            .task()
            .name("server")
            .start(|status: TaskStatus<(String, Option<u64>)>| async move {
                let info = get_current_task().unwrap();
                // Until it has started, the child's parent is the task starting it.
                status.started((info.name, info.parent_id));
                sleep_forever().await
            })
            .await?;
        assert_eq!(before, "server");
        assert_eq!(after, Some(me.id));
        wait_all_tasks_blocked().await?;
        let listed: Vec<_> = get_running_tasks()
            .into_iter()
            .filter(|t| t.name == "server")
            .collect();
        assert_eq!(listed.len(), 1, "{:?}", running_names());
        assert_eq!(listed[0].parent_id, Some(me.id));
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn builder_without_a_name_names_the_task_by_its_id() -> anyio::Result<()> {
    task_group(|tg| async move {
        let h = tg
            .task()
            .spawn(async { Ok::<_, Error>(get_current_task().unwrap()) })?;
        let info = h.await?;
        assert_eq!(info.name, format!("task-{}", info.id));
        let name: String = tg
            .task()
            .start(|status: TaskStatus<String>| async move {
                let info = get_current_task().unwrap();
                assert_eq!(info.name, format!("task-{}", info.id));
                status.started(info.name);
                Ok::<_, Error>(())
            })
            .await?;
        assert!(name.starts_with("task-"), "{name}");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn naming_twice_keeps_the_last_name_and_any_string_is_a_name() -> anyio::Result<()> {
    task_group(|tg| async move {
        let h = tg
            .task()
            .name("first")
            .name(String::from("second"))
            .spawn(async { Ok::<_, Error>(()) })?;
        assert_eq!(h.name(), "second");
        let shared: Arc<str> = Arc::from("");
        let h = tg.task().name(shared).spawn(async { Ok::<_, Error>(()) })?;
        assert_eq!(h.name(), "");
        let h = tg
            .task()
            .name("名前 with spaces")
            .spawn(async { Ok::<_, Error>(()) })?;
        assert_eq!(h.name(), "名前 with spaces");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn failing_named_child_is_reported_by_name() -> anyio::Result<()> {
    let err = task_group(|tg| async move {
        tg.task()
            .name("alpha")
            .spawn(async { Err::<(), _>(Error::new(ErrorKind::Other, "a broke")) })?;
        tg.task()
            .name("beta")
            .spawn(async { Err::<(), _>(Error::new(ErrorKind::Other, "b broke")) })?;
        anyio::Ok(())
    })
    .await
    .unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("alpha") && shown.contains("beta"), "{shown}");
    Ok(())
}

#[anyio::test]
async fn builder_on_an_exited_group_is_an_invalid_state_error() -> anyio::Result<()> {
    let tg = task_group(|tg| async move { anyio::Ok(tg) })
        .await?
        .unwrap();
    let err = tg
        .task()
        .name("late")
        .spawn(async { Ok::<_, Error>(()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    let err = tg
        .task()
        .name("late")
        .start(|status: TaskStatus<()>| async move {
            status.started(());
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    Ok(())
}

#[anyio::test]
async fn named_start_returns_the_childs_error_before_started() -> anyio::Result<()> {
    task_group(|tg| async move {
        let err = tg
            .task()
            .name("early-fail")
            .start(|status: TaskStatus<()>| async move {
                let _status = status; // held, never started
                Err::<(), _>(Error::new(ErrorKind::InvalidArgument, "refused"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn cancelled_named_start_cancels_the_child_and_returns_cancelled() -> anyio::Result<()> {
    task_group(|tg| async move {
        let scope = CancelScope::new();
        let remote = scope.clone();
        let child_entered = Event::new();
        let entered = child_entered.clone();
        // Cancels the starter's scope once the child runs and has not called `started`.
        tg.start_soon(async move {
            entered.wait().await?;
            remote.cancel();
            Ok::<_, Error>(())
        })?;
        let entered = child_entered.clone();
        let out = scope
            .clone()
            .run(
                tg.task()
                    .name("never-started")
                    .start(|status: TaskStatus<()>| async move {
                        let _status = status; // held, never started
                        entered.set();
                        sleep_forever().await
                    }),
            )
            .await?;
        assert_eq!(out, None, "the scope absorbs its own cancellation");
        assert!(scope.cancelled_caught());
        assert!(child_entered.is_set());
        // The child was cancelled and awaited before `start` returned.
        assert!(!running_names().contains(&"never-started".to_owned()));
        Ok(())
    })
    .await?;
    Ok(())
}
