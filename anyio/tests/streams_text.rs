//! Text streams: AnyIO's tests/streams/test_text.py translated (UTF-8 only), plus characters
//! split across chunks, strict and replace handling of invalid bytes, lossless cancellation,
//! busy and closed streams. Every test runs on both backends.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use anyio::streams::pipe::{PipeReceiveStream, create_byte_pipe};
use anyio::streams::stapled::StapledByteStream;
use anyio::streams::text::{TextReceiveStream, TextSendStream, TextStream, Utf8Errors};
use anyio::streams::{
    ByteReceiveStream, ByteSendStream, ObjectReceiveStream, SharedResource,
    UnreliableObjectSendStream,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{Error, ErrorKind, Result, move_on_after, task_group};

/// Receives text until the end of the stream, checking no receive is empty.
async fn receive_all<S: ByteReceiveStream>(rx: &TextReceiveStream<S>) -> Result<String> {
    let mut out = String::new();
    loop {
        match rx.receive().await {
            Ok(s) => {
                assert!(!s.is_empty(), "a receive returned an empty string");
                out.push_str(&s);
            }
            Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

fn assert_invalid_utf8(e: &Error) {
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    let src = e.source_as::<io::Error>().expect("an io::Error source");
    assert_eq!(src.kind(), io::ErrorKind::InvalidData);
}

#[anyio::test]
async fn receive_decodes_utf8() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::new(rx);
    tx.send("åäö".as_bytes()).await?;
    assert_eq!(rx.receive().await?, "åäö");
    Ok(())
}

#[anyio::test]
async fn send_encodes_utf8() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let tx = TextSendStream::new(tx);
    tx.send("åäö").await?;
    assert_eq!(rx.receive(64).await?, "åäö".as_bytes());
    Ok(())
}

#[anyio::test]
async fn a_character_split_across_chunks_decodes_once_whole() -> Result<()> {
    let text = "a€b😀c ä";
    let (tx, rx) = create_byte_pipe(1)?; // one byte at a time: every character is split
    let rx = TextReceiveStream::new(rx);
    task_group(|tg| async move {
        tg.start_soon(async move {
            tx.send(text.as_bytes()).await?;
            tx.aclose().await
        })?;
        assert_eq!(receive_all(&rx).await?, text);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn strict_mode_returns_the_valid_text_then_the_error() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::new(rx);
    tx.send(b"ok \xff\xfe then more").await?;
    tx.aclose().await?;
    assert_eq!(rx.receive().await?, "ok ");
    assert_invalid_utf8(&rx.receive().await.unwrap_err());
    // Each invalid byte is its own error, then the stream goes on after them.
    assert_invalid_utf8(&rx.receive().await.unwrap_err());
    assert_eq!(receive_all(&rx).await?, " then more");
    Ok(())
}

#[anyio::test]
async fn strict_mode_fails_a_stream_that_ends_inside_a_character() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::new(rx);
    tx.send(b"caf\xc3").await?;
    tx.aclose().await?;
    assert_eq!(rx.receive().await?, "caf");
    assert_invalid_utf8(&rx.receive().await.unwrap_err());
    assert_eq!(
        rx.receive().await.unwrap_err().kind(),
        ErrorKind::EndOfStream
    );
    Ok(())
}

#[anyio::test]
async fn replace_mode_puts_u_fffd_for_each_invalid_sequence() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::with_errors(rx, Utf8Errors::Replace);
    tx.send(b"a\xffb\xe2\x82").await?; // 0xff, then a truncated '€' at the end
    tx.aclose().await?;
    assert_eq!(receive_all(&rx).await?, "a\u{fffd}b\u{fffd}");
    Ok(())
}

#[anyio::test]
async fn deadline_while_a_character_is_incomplete_loses_nothing() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::new(rx);
    tx.send(&"€".as_bytes()[..2]).await?;
    let r = move_on_after(Duration::from_millis(50), rx.receive()).await?;
    assert_eq!(r, None, "half a character is no text yet");
    tx.send(&"€".as_bytes()[2..]).await?;
    assert_eq!(rx.receive().await?, "€");
    Ok(())
}

#[anyio::test]
async fn abandoned_receive_loses_nothing() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = TextReceiveStream::new(rx);
    tx.send(&"ö".as_bytes()[..1]).await?;
    {
        let mut fut = rx.receive();
        for _ in 0..2 {
            let p = poll_fn(|cx| Poll::Ready(Pin::new(&mut fut).poll(cx))).await;
            assert!(p.is_pending());
        }
    }
    tx.send(&"ö".as_bytes()[1..]).await?;
    assert_eq!(rx.receive().await?, "ö");
    Ok(())
}

#[anyio::test]
async fn second_receiver_is_busy() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let rx = Arc::new(TextReceiveStream::new(rx));
    task_group(|tg| {
        let rx = rx.clone();
        async move {
            let r = rx.clone();
            let first = tg.start_soon(async move { r.receive().await })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(
                rx.receive().await.unwrap_err().kind(),
                ErrorKind::BusyResource
            );
            tx.send(b"first").await?;
            assert_eq!(first.await?, "first");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn closed_streams_are_closed_resources() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let (tx, rx) = (TextSendStream::new(tx), TextReceiveStream::new(rx));
    SharedResource::aclose(&rx).await?;
    assert_eq!(
        rx.receive().await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        tx.send("x").await.unwrap_err().kind(),
        ErrorKind::BrokenResource
    );
    SharedResource::aclose(&tx).await?;
    assert_eq!(
        tx.send("x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}

#[anyio::test]
async fn object_stream_send_gives_the_string_back_on_failure() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let mut tx = TextSendStream::new(tx);
    UnreliableObjectSendStream::send(&mut tx, "kept".to_string()).await?;
    assert_eq!(rx.receive(64).await?, b"kept");
    drop(rx);
    let err = UnreliableObjectSendStream::send(&mut tx, "back".to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenResource);
    assert_eq!(err.into_item(), "back");
    Ok(())
}

/// Generic code over object streams of strings accepts a text stream.
async fn first_line<S: ObjectReceiveStream<String>>(s: &mut S) -> Result<String> {
    s.receive().await
}

#[anyio::test]
async fn text_receive_stream_is_an_object_stream_of_strings() -> Result<()> {
    let (tx, rx) = create_byte_pipe(64)?;
    let mut rx: TextReceiveStream<PipeReceiveStream> = TextReceiveStream::new(rx);
    tx.send(b"generic").await?;
    assert_eq!(first_line(&mut rx).await?, "generic");
    Ok(())
}

#[anyio::test]
async fn text_stream_in_both_directions_with_send_eof() -> Result<()> {
    let (a_tx, b_rx) = create_byte_pipe(64)?;
    let (b_tx, a_rx) = create_byte_pipe(64)?;
    let a = TextStream::new(StapledByteStream::new(a_tx, a_rx));
    let b = TextStream::new(StapledByteStream::new(b_tx, b_rx));
    a.send("hej → ").await?;
    a.send_eof().await?;
    assert_eq!(b.receive().await?, "hej → ");
    assert_eq!(
        b.receive().await.unwrap_err().kind(),
        ErrorKind::EndOfStream
    );
    b.send("svar").await?;
    assert_eq!(a.receive().await?, "svar");
    assert_eq!(
        a.send("x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}
