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
