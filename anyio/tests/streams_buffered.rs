//! Buffered byte streams: AnyIO's tests/streams/test_buffered.py translated (over the
//! in-process byte pipe), plus what upstream never tests — a deadline, a scope cancel and an
//! abandoned future in the middle of a read keep every byte, busy and closed streams, bad
//! arguments, counters at their limits. Every test runs on both backends.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyio::streams::buffered::{BufferedByteReceiveStream, BufferedByteStream};
use anyio::streams::pipe::{PipeReceiveStream, PipeSendStream, create_byte_pipe};
use anyio::streams::stapled::StapledByteStream;
use anyio::streams::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, SharedResource,
    TypedAttribute, TypedAttributeProvider,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, Event, Result, move_on_after, task_group};

fn pipe(capacity: usize) -> (PipeSendStream, BufferedByteReceiveStream<PipeReceiveStream>) {
    let (tx, rx) = create_byte_pipe(capacity).expect("a pipe");
    (tx, BufferedByteReceiveStream::new(rx))
}

/// Polls `fut` once from inside the task.
async fn poll_one<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

// ---------------------------------------------------------------------------------------
// AnyIO's tests.

#[anyio::test]
async fn receive_exactly_joins_chunks() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"abcd").await?;
    tx.send(b"efgh").await?;
    assert_eq!(rx.receive_exactly(8).await?, b"abcdefgh");
    Ok(())
}

#[anyio::test]
async fn receive_exactly_waits_for_a_slow_sender() -> Result<()> {
    let (tx, rx) = pipe(2); // smaller than the read: several chunks, with waits
    task_group(|tg| async move {
        tg.start_soon(async move {
            tx.send(b"0123456789").await?;
            tx.aclose().await
        })?;
        assert_eq!(rx.receive_exactly(10).await?, b"0123456789");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn receive_exactly_incomplete_keeps_the_bytes() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"abcd").await?;
    tx.aclose().await?;
    let err = rx.receive_exactly(8).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompleteRead);
    assert_eq!(rx.buffer(), b"abcd");
    assert_eq!(rx.receive_exactly(4).await?, b"abcd");
    assert_eq!(
        rx.receive(1).await.unwrap_err().kind(),
        ErrorKind::EndOfStream
    );
    Ok(())
}

#[anyio::test]
async fn receive_until_splits_on_the_delimiter() -> Result<()> {
    let (tx, rx) = pipe(64);
    // The delimiter "\r\n" is split across two chunks, as in AnyIO's test.
    for part in [&b"nonsense\r"[..], b"\nmore", b" nonsense\r\nlast"] {
        tx.send(part).await?;
    }
    tx.aclose().await?;
    assert_eq!(rx.receive_until(b"\r\n", 100).await?, b"nonsense");
    assert_eq!(rx.receive_until(b"\r\n", 100).await?, b"more nonsense");
    assert_eq!(rx.buffer(), b"last");
    Ok(())
}

#[anyio::test]
async fn receive_until_delimiter_not_found_keeps_the_bytes() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"abcdefgh").await?;
    let err = rx.receive_until(b"\n", 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DelimiterNotFound);
    assert_eq!(rx.buffer(), b"abcdefgh");
    tx.send(b"\n").await?;
    assert_eq!(rx.receive_until(b"\n", 100).await?, b"abcdefgh");
    Ok(())
}

#[anyio::test]
async fn receive_until_counts_the_delimiter_in_max_bytes() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"abc\r\nabc\r\n").await?;
    // "abc\r\n" is 5 bytes: it fits in 5, not in 4.
    assert_eq!(rx.receive_until(b"\r\n", 5).await?, b"abc");
    let err = rx.receive_until(b"\r\n", 4).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DelimiterNotFound);
    assert_eq!(rx.receive_until(b"\r\n", 5).await?, b"abc");
    Ok(())
}

#[anyio::test]
async fn receive_until_incomplete_at_the_end_of_the_stream() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"no newline").await?;
    tx.aclose().await?;
    let err = rx.receive_until(b"\n", 100).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompleteRead);
    assert_eq!(rx.buffer(), b"no newline");
    Ok(())
}

#[anyio::test]
async fn feed_data_comes_before_the_stream() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"stream").await?;
    rx.feed_data(b"fed ")?;
    assert_eq!(rx.buffer(), b"fed ");
    assert_eq!(rx.receive_exactly(10).await?, b"fed stream");
    Ok(())
}

#[anyio::test]
async fn feed_data_wakes_a_waiting_receive() -> Result<()> {
    let (_tx, rx) = pipe(64);
    let rx = Arc::new(rx);
    task_group(|tg| {
        let rx = rx.clone();
        async move {
            let r = rx.clone();
            let got = tg.start_soon(async move { r.receive_exactly(3).await })?;
            wait_all_tasks_blocked().await?;
            rx.feed_data(b"xyz")?;
            assert_eq!(got.await?, b"xyz");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn receive_serves_the_buffer_first() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"one\ntwo three").await?;
    assert_eq!(rx.receive_until(b"\n", 10).await?, b"one");
    assert_eq!(rx.receive(4).await?, b"two "); // from the buffer, at most max_bytes
    assert_eq!(rx.receive(100).await?, b"three");
    tx.send(b"later").await?;
    assert_eq!(rx.receive(100).await?, b"later"); // from the stream
    Ok(())
}

fn is_send<T: Send>(_: &T) {}

#[anyio::test]
async fn futures_are_send() -> Result<()> {
    let (_tx, rx) = pipe(8);
    is_send(&rx.receive_exactly(1));
    is_send(&rx.receive_until(b"\n", 8));
    is_send(&rx.receive(1));
    let (_tx, rx) = create_byte_pipe(8)?;
    let text = anyio::streams::TextReceiveStream::new(rx);
    is_send(&text.receive());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Bad input and limits.

#[anyio::test]
async fn bad_arguments_are_invalid() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"a\n").await?;
    let kind = |r: Result<Vec<u8>>| r.unwrap_err().kind();
    assert_eq!(
        kind(rx.receive_until(b"\n", 0).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(rx.receive_until(b"", 10).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(kind(rx.receive(0).await), ErrorKind::InvalidArgument);
    // As AnyIO: zero bytes exactly is an empty read, and takes nothing.
    assert_eq!(rx.receive_exactly(0).await?, b"");
    assert_eq!(rx.receive_until(b"\n", 10).await?, b"a");
    Ok(())
}

#[anyio::test]
async fn huge_sizes_are_no_allocation_requests() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"line\nrest").await?;
    tx.aclose().await?;
    assert_eq!(rx.receive_until(b"\n", usize::MAX).await?, b"line");
    let err = rx.receive_exactly(usize::MAX).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompleteRead);
    assert_eq!(rx.buffer(), b"rest");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Cancellation keeps every byte.

#[anyio::test]
async fn deadline_mid_receive_exactly_keeps_what_it_read() -> Result<()> {
    let (tx, rx) = pipe(64);
    let rest = Event::new();
    task_group(|tg| {
        let rest = rest.clone();
        async move {
            let wait = rest.clone();
            tg.start_soon(async move {
                tx.send(b"abc").await?;
                wait.wait().await?;
                tx.send(b"defgh").await
            })?;
            // Only "abc" can come before the deadline: the rest waits for the event.
            let r = move_on_after(Duration::from_millis(50), rx.receive_exactly(8)).await?;
            assert_eq!(r, None, "the deadline cut the read");
            assert_eq!(rx.buffer(), b"abc", "what was read stays buffered");
            rest.set();
            assert_eq!(rx.receive_exactly(8).await?, b"abcdefgh");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn deadline_mid_receive_until_keeps_what_it_read() -> Result<()> {
    let (tx, rx) = pipe(64);
    let rest = Event::new();
    task_group(|tg| {
        let rest = rest.clone();
        async move {
            let wait = rest.clone();
            tg.start_soon(async move {
                tx.send(b"GET / HT").await?;
                wait.wait().await?;
                tx.send(b"TP/1.1\r\n").await
            })?;
            let r = move_on_after(Duration::from_millis(50), rx.receive_until(b"\r\n", 64)).await?;
            assert_eq!(r, None);
            rest.set();
            assert_eq!(rx.receive_until(b"\r\n", 64).await?, b"GET / HTTP/1.1");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn scope_cancel_mid_read_keeps_what_it_read() -> Result<()> {
    let (tx, rx) = pipe(64);
    let rx = Arc::new(rx);
    let scope = CancelScope::new();
    task_group(|tg| {
        let (rx, scope) = (rx.clone(), scope.clone());
        async move {
            let (r, s) = (rx.clone(), scope.clone());
            let reader = tg.start_soon(async move { s.run(r.receive_exactly(6)).await })?;
            tx.send(b"12").await?;
            wait_all_tasks_blocked().await?; // the reader took "12" and waits for more
            scope.cancel();
            assert_eq!(reader.await?, None);
            tx.send(b"3456").await?;
            assert_eq!(rx.receive_exactly(6).await?, b"123456");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn abandoned_receive_exactly_keeps_what_it_read() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"xy").await?;
    {
        let mut fut = rx.receive_exactly(4);
        // The first poll may be the budget's yield; two polls surely reach the stream.
        for _ in 0..2 {
            assert!(poll_one(&mut fut).await.is_pending());
        }
    } // dropped, as a lost select! branch is
    assert_eq!(rx.buffer(), b"xy");
    tx.send(b"zw").await?;
    assert_eq!(rx.receive_exactly(4).await?, b"xyzw");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Busy, closed.

#[anyio::test]
async fn second_receiver_is_busy_and_the_first_unaffected() -> Result<()> {
    let (tx, rx) = pipe(64);
    let rx = Arc::new(rx);
    task_group(|tg| {
        let rx = rx.clone();
        async move {
            let r = rx.clone();
            let first = tg.start_soon(async move { r.receive_until(b"\n", 64).await })?;
            wait_all_tasks_blocked().await?;
            let err = rx.receive_exactly(1).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BusyResource);
            assert_eq!(
                rx.receive(1).await.unwrap_err().kind(),
                ErrorKind::BusyResource
            );
            tx.send(b"ok\n").await?;
            assert_eq!(first.await?, b"ok");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn closed_stream_refuses_everything() -> Result<()> {
    let (tx, rx) = pipe(64);
    tx.send(b"buffered\n").await?;
    rx.feed_data(b"fed")?;
    rx.aclose().await?;
    assert_eq!(rx.buffered_len(), 0, "closing drops the buffer");
    let kind = |r: Result<Vec<u8>>| r.unwrap_err().kind();
    assert_eq!(kind(rx.receive_exactly(1).await), ErrorKind::ClosedResource);
    assert_eq!(
        kind(rx.receive_until(b"\n", 9).await),
        ErrorKind::ClosedResource
    );
    assert_eq!(kind(rx.receive(1).await), ErrorKind::ClosedResource);
    assert_eq!(
        rx.feed_data(b"x").unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    // The wrapped stream was closed too: the sender's peer is gone.
    assert_eq!(
        tx.send(b"x").await.unwrap_err().kind(),
        ErrorKind::BrokenResource
    );
    Ok(())
}

#[anyio::test]
async fn close_wakes_a_receive_blocked_in_another_task() -> Result<()> {
    let (tx, rx) = pipe(64);
    let rx = Arc::new(rx);
    task_group(|tg| {
        let rx = rx.clone();
        async move {
            let r = rx.clone();
            // The child reports the error's kind (a failing child would cancel the group).
            let blocked = tg.start_soon(async move {
                anyio::Ok(r.receive_exactly(10).await.err().map(|e| e.kind()))
            })?;
            tx.send(b"part").await?;
            wait_all_tasks_blocked().await?;
            rx.aclose().await?;
            assert_eq!(blocked.await?, Some(ErrorKind::ClosedResource));
            Ok(())
        }
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Any byte stream: attributes, `Box<dyn _>`, both directions.

enum Tag {}
impl TypedAttribute for Tag {
    type Value = &'static str;
    const NAME: &'static str = "tag";
}

/// A byte receive stream providing `Tag`, forwarding everything else.
struct Tagged(PipeReceiveStream);

impl TypedAttributeProvider for Tagged {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        request.provide::<Tag>(|| "inner");
        self.0.provide_attributes(request);
    }
}
impl SharedResource for Tagged {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.0.poll_close(cx)
    }
}
impl ByteReceiveStream for Tagged {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        self.0.poll_receive(cx, buf)
    }
    fn receive_busy(&self) -> &BusyFlag {
        self.0.receive_busy()
    }
}

#[anyio::test]
async fn typed_attributes_pass_through() -> Result<()> {
    let (_tx, rx) = create_byte_pipe(8)?;
    let rx = BufferedByteReceiveStream::new(Tagged(rx));
    assert_eq!(rx.extra::<Tag>()?, "inner");
    enum Missing {}
    impl TypedAttribute for Missing {
        type Value = ();
        const NAME: &'static str = "missing";
    }
    assert_eq!(
        rx.extra::<Missing>().unwrap_err().kind(),
        ErrorKind::TypedAttributeLookup
    );
    Ok(())
}

#[anyio::test]
async fn works_over_a_boxed_dyn_stream() -> Result<()> {
    let (tx, rx) = create_byte_pipe(8)?;
    let boxed: Box<dyn ByteReceiveStream> = Box::new(rx);
    let rx = BufferedByteReceiveStream::new(boxed);
    tx.send(b"dyn\n").await?;
    assert_eq!(rx.receive_until(b"\n", 8).await?, b"dyn");
    // And the wrapper is a byte stream itself, boxed again.
    let outer: Box<dyn ByteReceiveStream> = Box::new(rx);
    tx.send(b"!").await?;
    assert_eq!(outer.receive(8).await?, b"!");
    Ok(())
}

#[anyio::test]
async fn buffered_byte_stream_sends_and_shuts_its_direction() -> Result<()> {
    let (a_tx, b_rx) = create_byte_pipe(64)?;
    let (b_tx, a_rx) = create_byte_pipe(64)?;
    let a = BufferedByteStream::new(StapledByteStream::new(a_tx, a_rx));
    let b = BufferedByteStream::new(StapledByteStream::new(b_tx, b_rx));
    a.send(b"hello\n").await?;
    a.send_eof().await?;
    assert_eq!(b.receive_until(b"\n", 16).await?, b"hello");
    assert_eq!(
        b.receive_exactly(1).await.unwrap_err().kind(),
        ErrorKind::IncompleteRead
    );
    b.send(b"back").await?;
    assert_eq!(a.receive_exactly(4).await?, b"back");
    assert_eq!(
        a.send(b"x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    a.aclose().await?;
    assert_eq!(
        a.receive(1).await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Over memory object streams of byte chunks (AnyIO's tests use these).

mod over_memory {
    use std::sync::Arc;
    use std::time::Duration;

    use anyio::streams::buffered::BufferedByteReceiveStream;
    use anyio::streams::memory_bytes::{MemoryByteReceiveStream, MemoryByteSendStream};
    use anyio::streams::text::TextReceiveStream;
    use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource};
    use anyio::testing::wait_all_tasks_blocked;
    use anyio::{ErrorKind, Result, create_memory_object_stream, move_on_after, task_group};

    #[anyio::test]
    async fn receive_exactly_over_memory_chunks_as_upstream() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(2);
        let rx = BufferedByteReceiveStream::new(MemoryByteReceiveStream::new(rx));
        tx.send(b"abcd".to_vec()).await?;
        tx.send(b"efgh".to_vec()).await?;
        assert_eq!(rx.receive_exactly(8).await?, b"abcdefgh");
        Ok(())
    }

    #[anyio::test]
    async fn big_chunks_split_and_empty_chunks_are_skipped() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(4);
        let rx = MemoryByteReceiveStream::new(rx);
        tx.send(Vec::new()).await?;
        tx.send(b"0123456789".to_vec()).await?;
        tx.send(Vec::new()).await?;
        drop(tx);
        assert_eq!(rx.receive(4).await?, b"0123");
        assert_eq!(rx.receive(4).await?, b"4567");
        assert_eq!(rx.receive(4).await?, b"89");
        assert_eq!(
            rx.receive(4).await.unwrap_err().kind(),
            ErrorKind::EndOfStream
        );
        Ok(())
    }

    #[anyio::test]
    async fn text_over_memory_chunks_splitting_a_character() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(4);
        let tx = MemoryByteSendStream::new(tx);
        let rx = TextReceiveStream::new(MemoryByteReceiveStream::new(rx));
        let euro = "€".as_bytes();
        tx.send(&euro[..1]).await?;
        tx.send(&euro[1..]).await?;
        tx.aclose().await?;
        assert_eq!(rx.receive().await?, "€");
        assert_eq!(
            rx.receive().await.unwrap_err().kind(),
            ErrorKind::EndOfStream
        );
        Ok(())
    }

    #[anyio::test]
    async fn deadline_mid_read_keeps_the_bytes() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(4);
        let rx = BufferedByteReceiveStream::new(MemoryByteReceiveStream::new(rx));
        tx.send(b"par".to_vec()).await?;
        let r = move_on_after(Duration::from_millis(50), rx.receive_exactly(6)).await?;
        assert_eq!(r, None);
        tx.send(b"tial".to_vec()).await?;
        assert_eq!(rx.receive_exactly(6).await?, b"partia");
        assert_eq!(rx.receive(8).await?, b"l"); // read only what was lacking
        Ok(())
    }

    #[anyio::test]
    async fn rendezvous_send_returns_once_queued_and_close_waits_for_the_take() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(0);
        let tx = Arc::new(MemoryByteSendStream::new(tx));
        let rx = MemoryByteReceiveStream::new(rx);
        task_group(|tg| {
            let tx = tx.clone();
            async move {
                let t = tx.clone();
                let sender = tg.start_soon(async move {
                    t.send(b"hand over").await?;
                    t.aclose().await // waits until the receiver took the chunk
                })?;
                wait_all_tasks_blocked().await?;
                assert_eq!(rx.receive(64).await?, b"hand over");
                sender.await?;
                assert_eq!(
                    rx.receive(64).await.unwrap_err().kind(),
                    ErrorKind::EndOfStream
                );
                Ok(())
            }
        })
        .await?;
        assert_eq!(
            tx.send(b"x").await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        Ok(())
    }

    #[anyio::test]
    async fn closing_the_receiver_breaks_the_sender_and_wakes_a_receive() -> Result<()> {
        let (tx, rx) = create_memory_object_stream::<Vec<u8>>(1);
        let tx = MemoryByteSendStream::new(tx);
        let rx = Arc::new(MemoryByteReceiveStream::new(rx));
        task_group(|tg| {
            let rx = rx.clone();
            async move {
                let r = rx.clone();
                let blocked =
                    tg.start_soon(
                        async move { anyio::Ok(r.receive(8).await.err().map(|e| e.kind())) },
                    )?;
                wait_all_tasks_blocked().await?;
                rx.aclose().await?;
                assert_eq!(blocked.await?, Some(ErrorKind::ClosedResource));
                Ok(())
            }
        })
        .await?;
        assert_eq!(
            tx.send(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenResource
        );
        Ok(())
    }
}
