//! Memory object streams: futures and polls that are abandoned (a `select!` or a timeout
//! that lost, a `next()` dropped after one poll) leave no trace — they reserve no item,
//! hold no place in line and count as no waiter — and a send on a rendezvous stream
//! completes only once a receiver has taken its item (issue 7). Every test runs on both
//! backends; one task polls the futures by hand, so the order of events is fixed.

mod support;

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use anyio::streams::StapledObjectStream;
use anyio::streams::memory::UNBOUNDED;
use anyio::testing::wait_all_tasks_blocked;
use anyio::{
    Backend, Error, ErrorKind, MemoryObjectReceiveStream, Result, create_memory_object_stream,
    task_group,
};
use futures_core::Stream;
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use futures_sink::Sink;

/// Polls `fut` once, from inside the task, and keeps it.
async fn poll_one<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Polls `fut` twice, asserting it stays pending: the first poll may only be the
/// cooperative budget's yield, the second surely reaches the stream.
async fn poll_twice_pending<F: Future + Unpin>(fut: &mut F) {
    for _ in 0..2 {
        assert!(poll_one(fut).await.is_pending(), "the operation completed");
    }
}

/// Polls `stream.next()` until it surely waits, then drops that future, as a lost
/// `select!` branch or an expired `timeout(d, rx.next())` does.
async fn abandon_next<S: Stream + Unpin>(stream: &mut S) {
    let mut next = stream.next();
    poll_twice_pending(&mut next).await;
}

fn kind<T, E: Into<Error>>(r: std::result::Result<T, E>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.into().kind(),
    }
}

/// Receives until the end of the stream.
async fn drain<T>(rx: &MemoryObjectReceiveStream<T>) -> Result<Vec<T>> {
    let mut items = Vec::new();
    loop {
        match rx.receive().await {
            Ok(item) => items.push(item),
            Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(items),
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// An abandoned `next()`.

#[anyio::test]
async fn abandoned_next_does_not_catch_items_meant_for_a_waiting_clone() -> Result<()> {
    for buffer in [0, 1] {
        let (tx, mut rx) = create_memory_object_stream::<&str>(buffer);
        let rx2 = rx.clone();
        abandon_next(&mut rx).await;
        task_group(|tg| async move {
            let got = tg.start_soon(async move { rx2.receive().await })?;
            wait_all_tasks_blocked().await?;
            tx.try_send("for the clone")?;
            drop(tx);
            assert_eq!(got.await?, "for the clone", "buffer {buffer}");
            Ok(())
        })
        .await?;
    }
    Ok(())
}

#[anyio::test]
async fn abandoned_next_never_yields_an_item_after_the_end_of_stream() -> Result<()> {
    for buffer in [0, 1] {
        let (tx, mut rx) = create_memory_object_stream::<&str>(buffer);
        let rx2 = rx.clone();
        abandon_next(&mut rx).await;
        let rx = task_group(|tg| async move {
            let got = tg.start_soon(async move { drain(&rx2).await })?;
            wait_all_tasks_blocked().await?;
            tx.try_send("the only item")?;
            drop(tx); // the clone sees the item, then the end of the stream
            assert_eq!(got.await?, ["the only item"], "buffer {buffer}");
            Ok(rx)
        })
        .await?
        .expect("not cancelled");
        let mut rx = rx;
        assert!(rx.next().await.is_none(), "an item after EndOfStream");
    }
    Ok(())
}

#[anyio::test]
async fn abandoned_next_does_not_complete_a_rendezvous_send() -> Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<&str>(0);
    abandon_next(&mut rx).await;
    assert_eq!(kind(tx.try_send("nobody receives")), ErrorKind::WouldBlock);
    let mut send = pin!(tx.send("taken later"));
    poll_twice_pending(&mut send).await; // nobody receives: the send waits
    assert_eq!(tx.statistics().tasks_waiting_send, 1);
    assert_eq!(tx.statistics().current_buffer_used, 0);
    assert_eq!(rx.next().await.transpose()?, Some("taken later"));
    assert!(matches!(poll_one(&mut send).await, Poll::Ready(Ok(()))));
    Ok(())
}

#[anyio::test]
async fn abandoned_next_is_not_counted_as_a_waiting_receiver() -> Result<()> {
    for buffer in [0, 1, UNBOUNDED] {
        let (_tx, mut rx) = create_memory_object_stream::<u8>(buffer);
        abandon_next(&mut rx).await;
        assert_eq!(rx.statistics().tasks_waiting_receive, 0, "buffer {buffer}");
    }
    Ok(())
}

#[anyio::test]
async fn dropping_a_handle_after_an_abandoned_next_destroys_no_delivered_item() -> Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<String>(0);
    abandon_next(&mut rx).await;
    task_group(|tg| async move {
        let sender = tg.start_soon(async move {
            match tx.send("precious".to_string()).await {
                Ok(()) => Ok::<_, Error>(None),
                Err(e) => Ok(Some((e.kind(), e.into_item()))),
            }
        })?;
        wait_all_tasks_blocked().await?; // the sender waits: nobody has taken the item
        drop(rx);
        let back = sender.await?;
        assert_eq!(
            back,
            Some((ErrorKind::BrokenResource, "precious".to_string())),
            "the send reported success for an item nobody received"
        );
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn a_stream_that_polls_again_still_receives() -> Result<()> {
    // Abandoning a `next()` costs the handle nothing: its next poll receives as usual.
    let (tx, mut rx) = create_memory_object_stream::<u32>(0);
    abandon_next(&mut rx).await;
    task_group(|tg| async move {
        let got = tg.start_soon(async move {
            let items: Vec<u32> = (&mut rx).take(3).try_collect().await?;
            Ok::<_, Error>(items)
        })?;
        for i in 0..3 {
            tx.send(i).await?;
        }
        assert_eq!(got.await?, [0, 1, 2]);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn abandoned_next_on_a_stapled_stream_leaves_no_trace() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut both = StapledObjectStream::new(tx, rx);
    abandon_next(&mut both).await;
    assert_eq!(both.receive_stream().statistics().tasks_waiting_receive, 0);
    assert_eq!(
        kind(both.try_send("nobody receives")),
        ErrorKind::WouldBlock
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Abandoned and dropped futures on a rendezvous stream.

#[anyio::test]
async fn abandoned_send_future_leaves_no_trace() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut receive = Box::pin(rx.receive());
    poll_twice_pending(&mut receive).await;
    {
        let mut send = pin!(tx.send("abandoned"));
        // A rendezvous: the send waits until the receive takes the item in its own poll.
        poll_twice_pending(&mut send).await;
    } // dropped before the receive ran
    assert_eq!(tx.statistics().tasks_waiting_send, 0);
    assert!(poll_one(&mut receive).await.is_pending()); // woken, found nothing, waits on
    assert_eq!(rx.statistics().tasks_waiting_receive, 1);
    tx.try_send("kept")?;
    assert_eq!(receive.await?, "kept");
    Ok(())
}

#[anyio::test]
async fn rendezvous_send_completes_only_when_the_receive_returns_the_item() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut receive = Box::pin(rx.receive());
    poll_twice_pending(&mut receive).await;
    let mut send = pin!(tx.send("item"));
    poll_twice_pending(&mut send).await;
    drop(receive); // the receive never returned the item
    assert!(poll_one(&mut send).await.is_pending(), "not delivered yet");
    let s = tx.statistics();
    assert_eq!((s.tasks_waiting_send, s.current_buffer_used), (1, 0));
    assert_eq!(rx.try_receive()?, "item"); // now it is taken...
    assert!(matches!(poll_one(&mut send).await, Poll::Ready(Ok(())))); // ...and sent
    Ok(())
}

#[anyio::test]
async fn rendezvous_send_to_a_waiting_task_completes() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<u32>(0);
    task_group(|tg| async move {
        let got = tg.start_soon(async move { drain(&rx).await })?;
        wait_all_tasks_blocked().await?;
        for i in 0..100 {
            tx.send(i).await?;
        }
        drop(tx);
        assert_eq!(got.await?, (0..100).collect::<Vec<_>>());
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn dropped_notified_receive_passes_the_wake_up_on() -> Result<()> {
    // Two receives wait; a send wakes the first, which is dropped without taking the item:
    // the second must be woken in its place, or the send would wait forever.
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let rx2 = rx.clone();
    task_group(|tg| async move {
        let mut first = Box::pin(rx.receive());
        poll_twice_pending(&mut first).await;
        let second = tg.start_soon(async move { rx2.receive().await })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(tx.statistics().tasks_waiting_receive, 2);
        let sender = tg.start_soon(async move { Ok(tx.send("item").await?) })?;
        wait_all_tasks_blocked().await?;
        drop(first);
        assert_eq!(second.await?, "item");
        sender.await?;
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn cancelled_notified_receive_passes_the_wake_up_on() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let rx2 = rx.clone();
    anyio::fail_after(std::time::Duration::from_secs(30), async move {
        task_group(|tg| async move {
            let scope = anyio::CancelScope::new();
            let mut first = Box::pin(scope.run(rx.receive()));
            poll_twice_pending(&mut first).await;
            let second = tg.start_soon(async move { rx2.receive().await })?;
            wait_all_tasks_blocked().await?;
            let sender = tg.start_soon(async move { Ok(tx.send("item").await?) })?;
            wait_all_tasks_blocked().await?; // the sender waits; `first` was notified
            scope.cancel();
            assert!(matches!(poll_one(&mut first).await, Poll::Ready(Ok(None))));
            assert_eq!(second.await?, "item");
            sender.await?;
            Ok(())
        })
        .await
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn cancelled_waiting_next_takes_nothing() -> Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<&str>(1);
    let rx2 = rx.clone();
    task_group(|tg| async move {
        let scope = tg
            .start(
                move |status: anyio::TaskStatus<anyio::CancelScope>| async move {
                    let scope = anyio::CancelScope::new();
                    status.started(scope.clone());
                    let got = scope.run(async { rx.next().await.transpose() }).await?;
                    assert_eq!(got, None, "cancelled, it took nothing");
                    Ok::<_, Error>(())
                },
            )
            .await?;
        wait_all_tasks_blocked().await?;
        scope.cancel();
        wait_all_tasks_blocked().await?;
        tx.try_send("item")?;
        assert_eq!(rx2.try_receive()?, "item");
        Ok(())
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The Sink adapter.

#[anyio::test]
async fn sink_flush_on_a_rendezvous_waits_until_the_item_is_taken() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut receive = Box::pin(rx.receive());
    poll_twice_pending(&mut receive).await;
    let mut sink = tx.into_sink();
    poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await?;
    Pin::new(&mut sink).start_send("item")?;
    {
        let mut flush = poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx));
        poll_twice_pending(&mut flush).await;
    } // the flush is abandoned; the item stays in the sink, queued
    drop(receive); // the receive never returned the item
    assert_eq!(rx.statistics().current_buffer_used, 0);
    assert_eq!(rx.try_receive()?, "item");
    poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx)).await?; // now it is sent
    Ok(())
}

#[anyio::test]
async fn sink_dropped_after_an_abandoned_flush_withdraws_its_item() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut sink = tx.clone().into_sink();
    Pin::new(&mut sink).start_send("withdrawn")?;
    {
        let mut flush = poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx));
        poll_twice_pending(&mut flush).await;
    }
    assert_eq!(tx.statistics().tasks_waiting_send, 1); // the sink's item waits to be sent
    drop(sink);
    assert_eq!(tx.statistics().tasks_waiting_send, 0);
    assert_eq!(kind(rx.try_receive()), ErrorKind::WouldBlock);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Limits of the counters (overflow audit).

#[anyio::test]
async fn usize_max_buffer_is_unbounded() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<u32>(usize::MAX);
    assert_eq!(tx.statistics().max_buffer_size, UNBOUNDED);
    let mut sink = tx.clone().into_sink();
    for i in 0..1000 {
        tx.try_send(i)?;
        tx.send(i).await?;
        poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await?;
        Pin::new(&mut sink).start_send(i)?;
        poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx)).await?;
    }
    let s = rx.statistics();
    assert_eq!((s.current_buffer_used, s.tasks_waiting_send), (3000, 0));
    for i in 0..1000 {
        for _ in 0..3 {
            assert_eq!(rx.try_receive()?, i);
        }
    }
    Ok(())
}

#[anyio::test]
async fn handle_counts_follow_many_clones() -> Result<()> {
    let (tx, rx) = create_memory_object_stream::<u8>(1);
    let senders: Vec<_> = (0..1000).map(|_| tx.clone()).collect();
    let receivers: Vec<_> = (0..1000).map(|_| rx.clone()).collect();
    let s = tx.statistics();
    assert_eq!((s.open_send_streams, s.open_receive_streams), (1001, 1001));
    drop(senders);
    drop(receivers);
    let s = tx.statistics();
    assert_eq!((s.open_send_streams, s.open_receive_streams), (1, 1));
    // Closing twice, and closed clones, count nothing more.
    let mut closed = tx.clone();
    closed.close();
    closed.close();
    let closed_clone = closed.clone();
    drop((closed, closed_clone));
    assert_eq!(tx.statistics().open_send_streams, 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Stress: many threads, with sends and receives abandoned at random.

const PRODUCERS: u64 = 3;
const PER_PRODUCER: u64 = 2000;
const CONSUMERS: u64 = 3;

/// Sends this producer's items; a third of the sends are polled once and dropped. Returns
/// the items whose send reported success.
async fn produce(tx: anyio::MemoryObjectSendStream<u64>, p: u64, seed: u64) -> Result<Vec<u64>> {
    let mut rng = support::Rng::new(seed);
    let mut sent = Vec::new();
    for id in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
        if rng.below(3) == 0 {
            let fut = pin!(tx.send(id));
            match poll_once(fut).await {
                Some(done) => done?,
                None => {
                    anyio::lowlevel::checkpoint().await?; // dropped: sent or withdrawn
                    continue;
                }
            }
        } else {
            tx.send(id).await?;
        }
        sent.push(id);
    }
    Ok(sent)
}

/// Receives until the end of the stream by every means, abandoning some polls.
async fn consume(mut rx: MemoryObjectReceiveStream<u64>, seed: u64) -> Result<Vec<u64>> {
    let mut rng = support::Rng::new(seed);
    let mut got = Vec::new();
    loop {
        let next = match rng.below(4) {
            0 => poll_once(rx.next()).await.map(Option::transpose),
            1 => poll_once(rx.receive()).await.map(|r| r.map(Some)),
            2 => Some(rx.next().await.transpose()),
            _ => Some(rx.receive().await.map(Some)),
        };
        match next {
            None => anyio::lowlevel::checkpoint().await?, // abandoned
            Some(Ok(Some(item))) => got.push(item),
            Some(Ok(None)) => return Ok(got),
            Some(Err(e)) if e.kind() == ErrorKind::EndOfStream => return Ok(got),
            Some(Err(e)) => return Err(e),
        }
    }
}

async fn abandon_stress(buffer: usize) -> Result<String> {
    let (tx, rx) = create_memory_object_stream::<u64>(buffer);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let received = Arc::new(Mutex::new(Vec::new()));
    let (sent_out, received_out) = (sent.clone(), received.clone());
    task_group(|tg| async move {
        for p in 0..PRODUCERS {
            let (tx, sent) = (tx.clone(), sent_out.clone());
            tg.start_soon(async move {
                let mine = produce(tx, p, 1 + p + 10 * buffer as u64).await?;
                sent.lock().unwrap().extend(mine);
                Ok::<_, Error>(())
            })?;
        }
        for c in 0..CONSUMERS {
            let (rx, received) = (rx.clone(), received_out.clone());
            tg.start_soon(async move {
                let mine = consume(rx, 100 + c + 10 * buffer as u64).await?;
                received.lock().unwrap().extend(mine);
                Ok::<_, Error>(())
            })?;
        }
        drop((tx, rx)); // only the tasks hold the ends now
        Ok(())
    })
    .await?;
    let mut received = received.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    let total = received.len();
    received.sort_unstable();
    received.dedup();
    assert_eq!(received.len(), total, "an item was received twice");
    assert!(received.iter().all(|&id| id < PRODUCERS * PER_PRODUCER));
    for id in &sent {
        assert!(
            received.binary_search(id).is_ok(),
            "item {id} was sent but lost"
        );
    }
    Ok(format!("{} sent, {} received", sent.len(), total))
}

#[test]
fn stress_abandoned_operations_rendezvous_tokio() {
    support::stress(Backend::Tokio, "abandon stress (rendezvous)", || {
        abandon_stress(0)
    });
}

#[test]
fn stress_abandoned_operations_buffered_tokio() {
    support::stress(Backend::Tokio, "abandon stress (buffer 4)", || {
        abandon_stress(4)
    });
}

#[test]
fn stress_abandoned_operations_rendezvous_smol() {
    support::stress(Backend::Smol, "abandon stress (rendezvous)", || {
        abandon_stress(0)
    });
}

#[test]
fn stress_abandoned_operations_buffered_smol() {
    support::stress(Backend::Smol, "abandon stress (buffer 4)", || {
        abandon_stress(4)
    });
}
