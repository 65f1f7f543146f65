use std::time::Duration;

#[anyio::test]
async fn sleep_and_detect() -> anyio::Result<()> {
    anyio::sleep(Duration::from_millis(1)).await?;
    let lib = anyio::current_async_library()?;
    assert!(lib == "tokio" || lib == "smol");
    Ok(())
}

#[anyio::test]
async fn move_on_after_expires() -> anyio::Result<()> {
    let out = anyio::move_on_after(Duration::from_millis(10), anyio::sleep_forever()).await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test]
async fn group_children() -> anyio::Result<()> {
    let out = anyio::task_group(|tg| async move {
        let a = tg.start_soon(async {
            anyio::sleep(Duration::from_millis(5)).await?;
            Ok::<_, anyio::Error>(1)
        })?;
        let b = tg.start_soon(async { Ok::<_, anyio::Error>(2) })?;
        Ok(a.await? + b.await?)
    })
    .await?;
    assert_eq!(out, Some(3));
    Ok(())
}
