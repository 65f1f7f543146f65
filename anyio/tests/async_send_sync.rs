//! The shape of the API: which public types and futures are `Send`, `Sync`, `Unpin`, so a
//! future built from anyio operations can be spawned on any multi-thread executor.

use std::time::Duration;

use anyio::{CancelScope, Error, TaskGroup, TaskHandle, TaskStatus};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync>() {}
fn is_unpin<T: Unpin>() {}

#[test]
fn handles_and_errors_are_send_and_sync() {
    is_send_sync::<CancelScope>();
    is_send_sync::<TaskGroup>();
    is_send_sync::<TaskHandle<String>>();
    is_send_sync::<TaskStatus<u16>>();
    is_send_sync::<anyio::TaskBuilder<'static>>();
    is_send_sync::<anyio::from_thread::PortalTaskBuilder<'static>>();
    is_send_sync::<Error>();
    is_send_sync::<anyio::Backend>();
    is_send_sync::<anyio::lowlevel::RunVar<u8>>();
    // `Mutex<T>` and its guard: Send and Sync for a Send + Sync value (the guard crosses
    // `.await`s in a spawned task).
    is_send_sync::<anyio::Mutex<Vec<u8>>>();
    is_send_sync::<anyio::MutexGuard<'static, Vec<u8>>>();
    is_unpin::<TaskHandle<String>>();
    is_unpin::<CancelScope>();
}

#[test]
fn operation_futures_are_send() {
    is_send(&anyio::sleep(Duration::from_millis(1)));
    is_send(&anyio::sleep_forever());
    is_send(&anyio::lowlevel::checkpoint());
    is_send(&anyio::lowlevel::yield_now());
    is_send(&anyio::move_on_after(
        Duration::from_secs(1),
        anyio::lowlevel::checkpoint(),
    ));
    is_send(&anyio::fail_after(
        Duration::from_secs(1),
        anyio::lowlevel::checkpoint(),
    ));
    is_send(&anyio::cancellable(async { 1 }));
    is_send(&anyio::testing::wait_all_tasks_blocked());
    is_send(&anyio::task_group(|tg| async move {
        tg.start_soon(async { Ok::<_, Error>(()) })?.await?;
        let v: u8 = tg
            .start(|status: TaskStatus<u8>| async move {
                status.started(1);
                Ok::<_, Error>(())
            })
            .await?;
        tg.task()
            .name("named")
            .spawn(async { Ok::<_, Error>(()) })?
            .await?;
        let w: u8 = tg
            .task()
            .name("named-start")
            .start(|status: TaskStatus<u8>| async move {
                status.started(2);
                Ok::<_, Error>(())
            })
            .await?;
        Ok(v + w)
    }));
    is_send(&anyio::gather(vec![async { Ok::<_, Error>(1) }]));
}

/// A future made of anyio operations can itself be a task-group child (which must be Send).
#[anyio::test]
async fn composite_future_spawns_as_a_child() -> anyio::Result<()> {
    let out = anyio::task_group(|tg| async move {
        let h = tg.start_soon(async {
            let inner = anyio::task_group(|tg| async move {
                tg.start_soon(anyio::sleep(Duration::from_millis(1)))?;
                Ok(2)
            })
            .await?;
            anyio::move_on_after(Duration::from_secs(5), async move { Ok::<_, Error>(inner) }).await
        })?;
        h.await
    })
    .await?;
    assert_eq!(out, Some(Some(Some(2))));
    Ok(())
}

/// `Mutex<T>` is `Send` and `Sync` when `T` is only `Send` (a `Cell` inside), as
/// `std::sync::Mutex`; its guard is then `Send` but not `Sync`.
#[test]
fn mutex_of_a_send_only_value_is_send_and_sync() {
    is_send_sync::<anyio::Mutex<std::cell::Cell<u8>>>();
    fn is_send_only<T: Send>() {}
    is_send_only::<anyio::MutexGuard<'static, std::cell::Cell<u8>>>();
    let mutex = anyio::Mutex::new(std::cell::Cell::new(0u8));
    is_send(&async {
        let guard = mutex.lock().await?;
        anyio::lowlevel::checkpoint().await?;
        guard.set(1);
        Ok::<_, Error>(())
    });
}
