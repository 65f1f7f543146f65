//! The in-process byte pipe on both backends: data in order, end of stream, closing,
//! a lossless cancelled receive, bad capacity.

use anyio::streams::pipe::create_byte_pipe;
use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource};
use anyio::{CancelScope, ErrorKind, Result};

#[anyio::test]
async fn bytes_arrive_in_order_then_end_of_stream() -> Result<()> {
    let (tx, rx) = create_byte_pipe(4)?;
    anyio::task_group(|tg| async move {
        tg.start_soon(async move {
            tx.send(b"hello world").await?;
            tx.aclose().await
        })?;
        let mut got = Vec::new();
        loop {
            match rx.receive(3).await {
                Ok(chunk) => got.extend(chunk),
                Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                Err(e) => return Err(e),
            }
        }
        assert_eq!(got, b"hello world");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn cancelled_receive_loses_nothing() -> Result<()> {
    let (tx, rx) = create_byte_pipe(16)?;
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope.run(rx.receive(8)).await;
    assert!(
        matches!(r, Ok(None)),
        "a cancelled scope absorbs the receive"
    );
    tx.send(b"abc").await?;
    let scope = CancelScope::new();
    scope.cancel();
    let _ = scope.run(rx.receive(8)).await;
    assert_eq!(rx.receive(8).await?, b"abc");
    Ok(())
}

#[anyio::test]
async fn closed_receiver_breaks_the_sender() -> Result<()> {
    let (tx, rx) = create_byte_pipe(16)?;
    rx.aclose().await?;
    assert_eq!(
        rx.receive(1).await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        tx.send(b"x").await.unwrap_err().kind(),
        ErrorKind::BrokenResource
    );
    tx.aclose().await?;
    assert_eq!(
        tx.send(b"x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}

#[anyio::test]
async fn zero_capacity_and_zero_max_bytes_are_invalid() -> Result<()> {
    assert_eq!(
        create_byte_pipe(0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let (_tx, rx) = create_byte_pipe(1)?;
    assert_eq!(
        rx.receive(0).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    Ok(())
}
