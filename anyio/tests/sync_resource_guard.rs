//! `ResourceGuard`: concurrent use of a resource is reported as `BusyResource`.

use std::sync::Arc;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{ErrorKind, Event, ResourceGuard};

mod support;

use support::kind;

#[anyio::test]
async fn second_enter_is_busy_until_the_token_is_dropped() -> anyio::Result<()> {
    let guard = ResourceGuard::new("reading from");
    let token = guard.enter()?;
    assert!(guard.is_busy());
    let err = guard.enter().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BusyResource);
    assert_eq!(
        err.to_string(),
        "another task is already reading from this resource"
    );
    drop(token);
    assert!(!guard.is_busy());
    drop(guard.enter()?);
    Ok(())
}

#[anyio::test]
async fn default_action_is_using() -> anyio::Result<()> {
    let guard = ResourceGuard::default();
    assert_eq!(guard.action(), "using");
    let _token = guard.enter()?;
    assert_eq!(
        guard.enter().unwrap_err().to_string(),
        "another task is already using this resource"
    );
    Ok(())
}

#[anyio::test]
async fn concurrent_use_by_another_task_is_detected() -> anyio::Result<()> {
    let guard = Arc::new(ResourceGuard::new("writing to"));
    let release = Event::new();
    let (g, r) = (guard.clone(), release.clone());
    anyio::task_group(|tg| async move {
        let g1 = g.clone();
        tg.start_soon(async move {
            let _token = g1.enter()?;
            r.wait().await
        })?;
        wait_all_tasks_blocked().await?;
        let g2 = g.clone();
        let other = tg.start_soon(async move { Ok::<_, anyio::Error>(kind(g2.enter())) })?;
        assert_eq!(other.await?, ErrorKind::BusyResource);
        release.set();
        Ok(())
    })
    .await?;
    assert!(!guard.is_busy());
    Ok(())
}

#[test]
fn guards_and_tokens_are_send_and_sync() {
    let guard = ResourceGuard::new("using");
    support::assert_send_sync(&guard);
    support::assert_send_sync(&guard.enter().unwrap());
}
