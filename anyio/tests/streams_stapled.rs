//! Stapled object streams: AnyIO's tests/streams/test_stapled.py (the object-stream part)
//! translated, plus memory streams joined through the traits. Every test runs on both
//! backends.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;

use anyio::streams::{
    AsyncResource, ObjectReceiveStream, ObjectSendStream, ObjectStream, SendError,
    StapledObjectStream, UnreliableObjectReceiveStream, UnreliableObjectSendStream,
};
use anyio::{Error, ErrorKind, Result, create_memory_object_stream};
use futures_lite::StreamExt;
use futures_sink::Sink;

/// Replays a list of items, then reports the end of the stream.
struct DummyReceive<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> DummyReceive<T> {
    fn new(items: impl IntoIterator<Item = T>) -> Self {
        DummyReceive {
            items: items.into_iter().collect(),
            closed: false,
        }
    }
}

impl<T: Send> AsyncResource for DummyReceive<T> {
    async fn aclose(&mut self) -> Result<()> {
        self.closed = true;
        Ok(())
    }
}

impl<T: Send> UnreliableObjectReceiveStream<T> for DummyReceive<T> {
    async fn receive(&mut self) -> Result<T> {
        if self.closed {
            return Err(Error::new(ErrorKind::ClosedResource, "closed"));
        }
        self.items
            .pop_front()
            .ok_or_else(|| Error::new(ErrorKind::EndOfStream, "no more items"))
    }
}

impl<T: Send> ObjectReceiveStream<T> for DummyReceive<T> {}

/// Collects what is sent; can be told to fail when closed.
struct DummySend<T> {
    sent: Vec<T>,
    closed: bool,
    fail_close: bool,
}

impl<T> DummySend<T> {
    fn new() -> Self {
        DummySend {
            sent: Vec::new(),
            closed: false,
            fail_close: false,
        }
    }
}

impl<T: Send> AsyncResource for DummySend<T> {
    async fn aclose(&mut self) -> Result<()> {
        self.closed = true;
        if self.fail_close {
            return Err(Error::new(
                ErrorKind::BrokenResource,
                "flushing on close failed",
            ));
        }
        Ok(())
    }
}

impl<T: Send> UnreliableObjectSendStream<T> for DummySend<T> {
    async fn send(&mut self, item: T) -> Result<(), SendError<T>> {
        if self.closed {
            return Err(SendError::new(
                Error::new(ErrorKind::ClosedResource, "closed"),
                item,
            ));
        }
        self.sent.push(item);
        Ok(())
    }
}

impl<T: Send> ObjectSendStream<T> for DummySend<T> {}

fn stapled() -> StapledObjectStream<DummySend<&'static str>, DummyReceive<&'static str>> {
    StapledObjectStream::new(DummySend::new(), DummyReceive::new(["hello", "world"]))
}

#[anyio::test]
async fn receives_from_one_part_and_sends_to_the_other() -> Result<()> {
    let mut s = stapled();
    assert_eq!(s.receive().await?, "hello");
    assert_eq!(s.receive().await?, "world");
    assert_eq!(
        s.receive().await.unwrap_err().kind(),
        ErrorKind::EndOfStream
    );

    s.send("how are you ").await?;
    s.send("today?").await?;
    assert_eq!(s.send_stream().sent, ["how are you ", "today?"]);
    let (send, receive) = s.into_parts();
    assert_eq!(send.sent.len(), 2);
    assert!(receive.items.is_empty());
    Ok(())
}

#[anyio::test]
async fn send_eof_closes_only_the_send_part() -> Result<()> {
    let mut s = stapled();
    s.send_eof().await?;
    s.send_eof().await?; // idempotent
    let err = s.send("world").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedResource);
    assert_eq!(err.into_item(), "world"); // given back
    assert_eq!(s.receive().await?, "hello");
    assert_eq!(s.receive().await?, "world");
    Ok(())
}

#[anyio::test]
async fn aclose_closes_both_parts() -> Result<()> {
    let mut s = stapled();
    s.aclose().await?;
    assert_eq!(
        s.receive().await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        s.send("").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}

#[anyio::test]
async fn aclose_closes_the_receive_part_even_when_the_send_part_fails() -> Result<()> {
    let mut s = stapled();
    s.send_stream_mut().fail_close = true;
    assert_eq!(
        s.aclose().await.unwrap_err().kind(),
        ErrorKind::BrokenResource
    );
    assert!(s.receive_stream().closed);
    assert!(s.receive_stream_mut().closed);
    Ok(())
}

#[anyio::test]
async fn try_send_goes_to_a_memory_send_part() -> Result<()> {
    // AnyIO's send_nowait is there only when the send part has it; in Rust that is decided
    // at compile time: `try_send` exists when the send part is a memory object stream.
    let (tx, rx) = create_memory_object_stream::<&str>(1);
    let s = StapledObjectStream::new(tx, DummyReceive::<&str>::new([]));
    s.try_send("hello")?;
    assert_eq!(
        s.try_send("full").unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(rx.try_receive()?, "hello");
    Ok(())
}

/// Generic code that needs a two-way object stream.
async fn echo_once<S: ObjectStream<String>>(conn: &mut S) -> Result<()> {
    let request = conn.receive().await?;
    conn.send(format!("echo: {request}")).await?;
    conn.send_eof().await
}

#[anyio::test]
async fn crossed_memory_streams_make_a_connection() -> Result<()> {
    let (client_tx, server_rx) = create_memory_object_stream::<String>(0);
    let (server_tx, client_rx) = create_memory_object_stream::<String>(0);
    let mut server = StapledObjectStream::new(server_tx, server_rx);
    let mut client = StapledObjectStream::new(client_tx, client_rx);
    anyio::task_group(|tg| async move {
        tg.start_soon(async move { echo_once(&mut server).await })?;
        client.send("hi".to_string()).await?;
        assert_eq!(client.receive().await?, "echo: hi");
        let end = client.receive().await.unwrap_err(); // the server sent EOF
        assert_eq!(end.kind(), ErrorKind::EndOfStream);
        client.aclose().await?;
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn stapled_stream_is_a_stream_and_a_sink_when_its_parts_are() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<u32>(4);
    let (loop_tx, loop_rx) = create_memory_object_stream::<u32>(4);
    for i in 0..3 {
        tx.try_send(i)?;
    }
    drop(tx);
    let mut s = StapledObjectStream::new(loop_tx.into_sink(), rx);
    while let Some(item) = s.next().await {
        let item = item?;
        poll_fn(|cx| Pin::new(&mut s).poll_ready(cx)).await?;
        Pin::new(&mut s).start_send(item * 10)?;
    }
    poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await?;
    let echoed: Vec<u32> = loop_rx.try_collect().await?;
    assert_eq!(echoed, [0, 10, 20]);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Stapled byte streams (AnyIO's TestStapledByteStream), over byte pipes.

mod bytes {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use anyio::streams::pipe::{PipeReceiveStream, PipeSendStream, create_byte_pipe};
    use anyio::streams::{
        AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, SharedResource,
        StapledByteStream, TypedAttribute, TypedAttributeProvider,
    };
    use anyio::testing::wait_all_tasks_blocked;
    use anyio::{Error, ErrorKind, Result};

    type Pair = StapledByteStream<PipeSendStream, PipeReceiveStream>;

    /// Two crossed pipes: what one end sends, the other receives.
    fn connection() -> (Pair, Pair) {
        let (a_tx, b_rx) = create_byte_pipe(64).expect("a pipe");
        let (b_tx, a_rx) = create_byte_pipe(64).expect("a pipe");
        (
            StapledByteStream::new(a_tx, a_rx),
            StapledByteStream::new(b_tx, b_rx),
        )
    }

    #[anyio::test]
    async fn sends_through_one_half_and_receives_from_the_other() -> Result<()> {
        let (a, b) = connection();
        a.send(b"hello, ").await?;
        a.send(b"world").await?;
        let mut got = Vec::new();
        while got.len() < 12 {
            got.extend(b.receive(64).await?);
        }
        assert_eq!(got, b"hello, world");
        Ok(())
    }

    #[anyio::test]
    async fn send_eof_closes_the_send_half_only() -> Result<()> {
        let (a, b) = connection();
        a.send(b"last").await?;
        a.send_eof().await?;
        a.send_eof().await?; // again: nothing happens
        assert_eq!(
            a.send(b"x").await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        assert_eq!(b.receive(64).await?, b"last");
        assert_eq!(
            b.receive(64).await.unwrap_err().kind(),
            ErrorKind::EndOfStream
        );
        b.send(b"reply").await?; // the other direction is open
        assert_eq!(a.receive(64).await?, b"reply");
        Ok(())
    }

    #[anyio::test]
    async fn aclose_closes_both_halves() -> Result<()> {
        let (a, b) = connection();
        a.aclose().await?;
        assert_eq!(
            a.send(b"x").await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        assert_eq!(
            a.receive(1).await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        assert_eq!(
            b.receive(1).await.unwrap_err().kind(),
            ErrorKind::EndOfStream
        );
        assert_eq!(
            b.send(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenResource
        );
        a.aclose().await?; // closing again does nothing
        Ok(())
    }

    #[anyio::test]
    async fn aclose_wakes_a_receive_blocked_in_another_task() -> Result<()> {
        let (a, _b) = connection();
        let a = Arc::new(a);
        anyio::task_group(|tg| {
            let a = a.clone();
            async move {
                let r = a.clone();
                let blocked =
                    tg.start_soon(
                        async move { anyio::Ok(r.receive(8).await.err().map(|e| e.kind())) },
                    )?;
                wait_all_tasks_blocked().await?;
                a.aclose().await?;
                assert_eq!(blocked.await?, Some(ErrorKind::ClosedResource));
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    #[anyio::test]
    async fn busy_flags_are_the_halves_own() -> Result<()> {
        let (a, _b) = connection();
        let a = Arc::new(a);
        anyio::task_group(|tg| {
            let a = a.clone();
            async move {
                let r = a.clone();
                let first =
                    tg.start_soon(
                        async move { anyio::Ok(r.receive(8).await.err().map(|e| e.kind())) },
                    )?;
                wait_all_tasks_blocked().await?;
                assert_eq!(
                    a.receive(8).await.unwrap_err().kind(),
                    ErrorKind::BusyResource
                );
                a.send(b"sending is another direction").await?;
                a.aclose().await?;
                assert_eq!(first.await?, Some(ErrorKind::ClosedResource));
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    enum Side {}
    impl TypedAttribute for Side {
        type Value = &'static str;
        const NAME: &'static str = "side";
    }
    enum SendOnly {}
    impl TypedAttribute for SendOnly {
        type Value = u8;
        const NAME: &'static str = "send_only";
    }

    /// A pipe half that provides `Side` (and `SendOnly` when `extra`), and can fail its
    /// close.
    struct Labelled<S> {
        inner: S,
        side: &'static str,
        extra: bool,
        fail_close: AtomicBool,
    }

    impl<S> Labelled<S> {
        fn new(inner: S, side: &'static str, extra: bool) -> Self {
            Labelled {
                inner,
                side,
                extra,
                fail_close: AtomicBool::new(false),
            }
        }
    }

    impl<S: TypedAttributeProvider> TypedAttributeProvider for Labelled<S> {
        fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
            request.provide::<Side>(|| self.side);
            if self.extra {
                request.provide::<SendOnly>(|| 7);
            }
            self.inner.provide_attributes(request);
        }
    }
    impl<S: SharedResource> SharedResource for Labelled<S> {
        fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
            let r = std::task::ready!(self.inner.poll_close(cx));
            // Relaxed: a test switch read by the same task that set it.
            if self.fail_close.load(Ordering::Relaxed) {
                return Poll::Ready(Err(Error::new(ErrorKind::BrokenResource, "close failed")));
            }
            Poll::Ready(r)
        }
    }
    impl<S: ByteSendStream> ByteSendStream for Labelled<S> {
        fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
            self.inner.poll_send(cx, buf)
        }
        fn send_busy(&self) -> &BusyFlag {
            self.inner.send_busy()
        }
    }
    impl<S: ByteReceiveStream> ByteReceiveStream for Labelled<S> {
        fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
            self.inner.poll_receive(cx, buf)
        }
        fn receive_busy(&self) -> &BusyFlag {
            self.inner.receive_busy()
        }
    }

    #[anyio::test]
    async fn attributes_merge_with_the_receive_half_winning() -> Result<()> {
        let (tx, rx) = create_byte_pipe(8)?;
        let s = StapledByteStream::new(
            Labelled::new(tx, "send", true),
            Labelled::new(rx, "receive", false),
        );
        assert_eq!(s.extra::<Side>()?, "receive", "AnyIO's merge: receive wins");
        assert_eq!(s.extra::<SendOnly>()?, 7, "the send half's own attribute");
        Ok(())
    }

    #[anyio::test]
    async fn aclose_closes_the_receive_half_even_when_the_send_half_fails() -> Result<()> {
        let (tx, rx) = create_byte_pipe(8)?;
        let s = StapledByteStream::new(
            Labelled::new(tx, "send", false),
            Labelled::new(rx, "receive", false),
        );
        // Relaxed: read back by this task only.
        s.send_stream().fail_close.store(true, Ordering::Relaxed);
        assert_eq!(
            s.aclose().await.unwrap_err().kind(),
            ErrorKind::BrokenResource
        );
        assert_eq!(
            s.receive(1).await.unwrap_err().kind(),
            ErrorKind::ClosedResource
        );
        Ok(())
    }

    #[anyio::test]
    async fn a_boxed_stapled_stream_is_a_byte_stream() -> Result<()> {
        let (a, b) = connection();
        let a: Box<dyn ByteStream> = Box::new(a);
        a.send(b"dyn").await?;
        a.send_eof().await?;
        assert_eq!(b.receive(8).await?, b"dyn");
        let (tx, rx) = b.into_parts();
        drop((tx, rx));
        assert_eq!(
            a.receive(8).await.unwrap_err().kind(),
            ErrorKind::EndOfStream
        );
        Ok(())
    }
}
