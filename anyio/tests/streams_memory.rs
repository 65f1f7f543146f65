//! Memory object streams: AnyIO's tests/streams/test_memory.py translated, plus the
//! cancellation paths, the `Stream`/`Sink` adapters and a multi-thread stress test.
//! Every test runs on both backends; order is set with `wait_all_tasks_blocked` and the
//! streams themselves, never with sleeps.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use anyio::streams::SendError;
use anyio::streams::memory::{MemoryObjectStreamStatistics, UNBOUNDED};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, Error, ErrorKind, TaskStatus, create_memory_object_stream, task_group};
use futures_lite::StreamExt;
use futures_sink::Sink;

fn shared<T>() -> Arc<Mutex<Vec<T>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn kind<T, E: Into<Error>>(r: Result<T, E>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.into().kind(),
    }
}

/// Polls `fut` once, from inside the task, and keeps it (unlike `poll_once(fut)`).
async fn poll_one<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

// ---------------------------------------------------------------------------------------
// Sending and receiving (test_memory.py).

#[anyio::test]
async fn receive_then_send() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let received = shared();
    let out = received.clone();
    task_group(|tg| async move {
        tg.start_soon(async move {
            let item = rx.receive().await?;
            out.lock().unwrap().push(item);
            let item = rx.receive().await?;
            out.lock().unwrap().push(item);
            Ok::<_, Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        tx.send("hello").await?;
        tx.send("anyio").await?;
        Ok(())
    })
    .await?;
    assert_eq!(*received.lock().unwrap(), ["hello", "anyio"]);
    Ok(())
}

#[anyio::test]
async fn try_send_hands_items_to_waiting_receivers() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let received = shared();
    let out = received.clone();
    task_group(|tg| async move {
        for _ in 0..2 {
            let (rx, out) = (rx.clone(), out.clone());
            tg.start_soon(async move {
                let item = rx.receive().await?;
                out.lock().unwrap().push(item);
                Ok::<_, Error>(())
            })?;
        }
        wait_all_tasks_blocked().await?;
        tx.try_send("hello")?;
        tx.try_send("anyio")?; // both go straight to the waiting receivers
        assert_eq!(kind(tx.try_send("no one left")), ErrorKind::WouldBlock);
        Ok(())
    })
    .await?;
    let mut got = received.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["anyio", "hello"]);
    Ok(())
}

#[anyio::test]
async fn try_receive_takes_from_a_waiting_sender() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    task_group(|tg| async move {
        tg.start_soon(async move { Ok(tx.send("hello").await?) })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(rx.try_receive()?, "hello");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn try_receive_unblocks_a_waiting_sender() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(1);
    tx.try_send("hello")?;
    let rx = anyio::fail_after(Duration::from_secs(10), async move {
        task_group(|tg| async move {
            tg.start_soon(async move { Ok(tx.send("anyio").await?) })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(rx.try_receive()?, "hello");
            Ok(rx)
        })
        .await
    })
    .await?
    .expect("the group was not cancelled");
    assert_eq!(rx.try_receive()?, "anyio");
    Ok(())
}

#[anyio::test]
async fn try_send_then_try_receive_in_order() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(2);
    tx.try_send("hello")?;
    tx.try_send("anyio")?;
    assert_eq!(rx.try_receive()?, "hello");
    assert_eq!(rx.try_receive()?, "anyio");
    Ok(())
}

#[anyio::test]
async fn iterating_ends_when_the_send_side_closes() -> anyio::Result<()> {
    let (mut tx, mut rx) = create_memory_object_stream::<&str>(0);
    let received = shared();
    let out = received.clone();
    task_group(|tg| async move {
        tg.start_soon(async move {
            while let Some(item) = rx.next().await {
                out.lock().unwrap().push(item?);
            }
            assert!(futures_core::FusedStream::is_terminated(&rx));
            assert!(rx.next().await.is_none()); // fused: stays ended
            Ok::<_, Error>(())
        })?;
        tx.send("hello").await?;
        tx.send("anyio").await?;
        tx.close();
        Ok(())
    })
    .await?;
    assert_eq!(*received.lock().unwrap(), ["hello", "anyio"]);
    Ok(())
}

#[anyio::test]
async fn closed_send_side_gives_end_of_stream_and_closed_resource() -> anyio::Result<()> {
    let (mut tx, rx) = create_memory_object_stream::<()>(0);
    tx.close();
    assert_eq!(kind(rx.try_receive()), ErrorKind::EndOfStream);
    assert_eq!(kind(rx.receive().await), ErrorKind::EndOfStream);
    assert_eq!(kind(tx.send(()).await), ErrorKind::ClosedResource);
    assert_eq!(kind(tx.try_send(())), ErrorKind::ClosedResource);
    Ok(())
}

#[anyio::test]
async fn closed_receive_side_gives_broken_and_closed_resource() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<()>(0);
    rx.close();
    assert_eq!(kind(rx.try_receive()), ErrorKind::ClosedResource);
    assert_eq!(kind(rx.receive().await), ErrorKind::ClosedResource);
    assert_eq!(kind(tx.send(()).await), ErrorKind::BrokenResource);
    assert_eq!(kind(tx.try_send(())), ErrorKind::BrokenResource);
    Ok(())
}

#[anyio::test]
async fn send_errors_give_the_item_back() -> anyio::Result<()> {
    let (mut tx, rx) = create_memory_object_stream::<String>(0);
    let full = tx.try_send("full".to_string()).unwrap_err();
    assert_eq!(full.kind(), ErrorKind::WouldBlock);
    assert_eq!(full.into_item(), "full");
    drop(rx);
    let broken = tx.send("broken".to_string()).await.unwrap_err();
    assert_eq!(broken.kind(), ErrorKind::BrokenResource);
    assert_eq!(broken.item(), "broken");
    tx.close();
    let (e, item) = tx
        .send("closed".to_string())
        .await
        .unwrap_err()
        .into_parts();
    assert_eq!(
        (e.kind(), item.as_str()),
        (ErrorKind::ClosedResource, "closed")
    );
    Ok(())
}

#[anyio::test]
async fn cancelled_waiting_receive_takes_nothing() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let rx2 = rx.clone();
    task_group(|tg| async move {
        tg.start_soon(async move { rx2.receive().await.map(drop) })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    assert_eq!(kind(tx.try_send("hello")), ErrorKind::WouldBlock); // nobody waits now
    assert_eq!(kind(rx.try_receive()), ErrorKind::WouldBlock);
    Ok(())
}

#[anyio::test]
async fn cancelled_waiting_send_returns_its_item() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<String>(0);
    let returned = shared();
    let out = returned.clone();
    task_group(|tg| async move {
        tg.start_soon(async move {
            let e = tx.send("hello".to_string()).await.unwrap_err();
            assert!(e.is_cancelled());
            out.lock().unwrap().push(e.item().clone());
            Err::<(), _>(e.into())
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        Ok(())
    })
    .await?;
    assert_eq!(kind(rx.try_receive()), ErrorKind::EndOfStream); // not delivered...
    assert_eq!(*returned.lock().unwrap(), ["hello"]); // ...but given back
    Ok(())
}

#[anyio::test]
async fn send_completed_before_the_cancel_reports_success() -> anyio::Result<()> {
    // One task polls the send by hand: completion, then cancellation, in this order.
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let scope = CancelScope::new();
    let mut send = pin!(scope.run(async { tx.send("hello").await.map_err(Error::from) }));
    while tx.statistics().tasks_waiting_send == 0 {
        assert!(poll_one(&mut send).await.is_pending());
    }
    assert_eq!(rx.try_receive()?, "hello"); // completes the send...
    scope.cancel(); // ...before the sender sees the cancellation
    assert_eq!(
        send.await?,
        Some(()),
        "the delivered send must not report Cancelled"
    );
    assert!(scope.cancel_called());
    Ok(())
}

#[anyio::test]
async fn clones_keep_their_end_open() -> anyio::Result<()> {
    let (mut tx1, mut rx1) = create_memory_object_stream::<&str>(1);
    let tx2 = tx1.clone();
    let rx2 = rx1.try_clone()?;
    tx1.close();
    rx1.close();
    tx2.try_send("hello")?;
    assert_eq!(rx2.try_receive()?, "hello");
    Ok(())
}

#[anyio::test]
async fn cloning_a_closed_handle() -> anyio::Result<()> {
    let (mut tx, mut rx) = create_memory_object_stream::<()>(1);
    tx.close();
    rx.close();
    assert_eq!(kind(tx.try_clone()), ErrorKind::ClosedResource);
    assert_eq!(kind(rx.try_clone()), ErrorKind::ClosedResource);
    // `Clone` cannot fail: a clone of a closed handle is closed, and counts for nothing.
    let tx2 = tx.clone();
    assert!(tx2.is_closed());
    assert_eq!(kind(tx2.try_send(())), ErrorKind::ClosedResource);
    assert_eq!(kind(rx.clone().try_receive()), ErrorKind::ClosedResource);
    assert_eq!(tx.statistics().open_send_streams, 0);
    Ok(())
}

#[anyio::test]
async fn closing_the_send_side_ends_a_waiting_receive() -> anyio::Result<()> {
    let (mut tx, rx) = create_memory_object_stream::<()>(1);
    let err = task_group(|tg| async move {
        tg.start_soon(async move { rx.receive().await })?;
        wait_all_tasks_blocked().await?;
        tx.close();
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EndOfStream);
    Ok(())
}

#[anyio::test]
async fn closing_the_receive_side_breaks_a_waiting_send() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<()>(0);
    let returned = shared();
    let out = returned.clone();
    let err = task_group(|tg| async move {
        tg.start_soon(async move {
            let e = tx.send(()).await.unwrap_err();
            let () = e.item();
            out.lock().unwrap().push(e.kind());
            Err::<(), _>(e.into())
        })?;
        wait_all_tasks_blocked().await?;
        rx.close();
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenResource);
    // The unit item came back with the error (AnyIO #731 was about `None` items).
    assert_eq!(*returned.lock().unwrap(), [ErrorKind::BrokenResource]);
    Ok(())
}

#[anyio::test]
async fn buffered_items_outlive_the_send_side() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(1);
    tx.send("hello").await?;
    drop(tx);
    assert_eq!(rx.receive().await?, "hello");
    assert_eq!(kind(rx.receive().await), ErrorKind::EndOfStream);
    Ok(())
}

#[anyio::test]
async fn receive_in_a_cancelled_scope_takes_nothing() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    task_group(|tg| async move {
        let tx2 = tx.clone();
        tg.start_soon(async move { Ok(tx2.send("hello").await?) })?;
        wait_all_tasks_blocked().await?;
        tg.start_soon(async move { Ok(tx.send("world").await?) })?;
        wait_all_tasks_blocked().await?;

        let scope = CancelScope::new();
        scope.cancel();
        assert_eq!(scope.run(rx.receive()).await?, None); // could complete, but cancelled

        assert_eq!(rx.receive().await?, "hello");
        assert_eq!(rx.receive().await?, "world");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn send_in_a_cancelled_scope_sends_nothing() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let received = shared();
    let out = received.clone();
    task_group(|tg| async move {
        tg.start_soon(async move {
            let item = rx.receive().await?;
            out.lock().unwrap().push(item);
            Ok::<_, Error>(())
        })?;
        wait_all_tasks_blocked().await?;
        let scope = CancelScope::new();
        scope.cancel();
        let mut returned = None;
        scope
            .run(async {
                let e = tx.send("hello").await.unwrap_err();
                returned = Some(*e.item());
                Err::<(), _>(Error::from(e))
            })
            .await?;
        assert_eq!(returned, Some("hello"));
        tx.send("world").await?;
        Ok(())
    })
    .await?;
    assert_eq!(*received.lock().unwrap(), ["world"]);
    Ok(())
}

#[anyio::test]
async fn receive_cancelled_after_the_hand_over_returns_the_item() -> anyio::Result<()> {
    // One task polls the receive by hand, so the hand-over and the cancellation happen
    // in this order on every backend, with no other thread in between.
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let scope = CancelScope::new();
    let mut receive = pin!(scope.run(rx.receive()));
    while rx.statistics().tasks_waiting_receive == 0 {
        assert!(poll_one(&mut receive).await.is_pending());
    }
    tx.try_send("hello")?; // handed to the waiting receive...
    scope.cancel(); // ...which now sees the item and the cancellation: the item wins
    assert_eq!(receive.await?, Some("hello"));
    assert!(scope.cancel_called());
    assert!(!scope.cancelled_caught());
    Ok(())
}

#[anyio::test]
async fn send_skips_a_receiver_whose_scope_is_cancelled() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(1);
    let rx2 = rx.clone();
    task_group(|tg| async move {
        let scope = tg
            .start(move |status: TaskStatus<CancelScope>| async move {
                let scope = CancelScope::new();
                status.started(scope.clone());
                assert_eq!(scope.run(rx2.receive()).await?, None);
                Ok::<_, Error>(())
            })
            .await?;
        wait_all_tasks_blocked().await?;
        scope.cancel();
        tx.try_send("item")?; // not for the cancelled receiver: into the buffer
        Ok(())
    })
    .await?;
    assert_eq!(rx.try_receive()?, "item");
    Ok(())
}

#[anyio::test]
async fn each_side_closes_after_its_operation() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    task_group(|tg| async move {
        tg.start_soon(async move {
            let mut tx = tx;
            tx.send("test").await?;
            tx.close();
            Ok::<_, Error>(())
        })?;
        tg.start_soon(async move {
            let mut rx = rx;
            assert_eq!(rx.receive().await?, "test");
            rx.close();
            Ok::<_, Error>(())
        })?;
        Ok(())
    })
    .await?;
    Ok(())
}

fn stats(
    current_buffer_used: usize,
    tasks_waiting_send: usize,
    tasks_waiting_receive: usize,
    s: MemoryObjectStreamStatistics,
) {
    assert_eq!(
        (
            s.current_buffer_used,
            s.tasks_waiting_send,
            s.tasks_waiting_receive
        ),
        (
            current_buffer_used,
            tasks_waiting_send,
            tasks_waiting_receive
        ),
        "{s:?}"
    );
}

#[anyio::test]
async fn statistics_count_buffer_handles_and_waiting_tasks() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<()>(1);
    for s in [tx.statistics(), rx.statistics()] {
        assert_eq!(s.max_buffer_size, 1);
        assert_eq!((s.open_send_streams, s.open_receive_streams), (1, 1));
        stats(0, 0, 0, s);
    }
    for from_sender in [true, false] {
        let (tx, rx) = (&tx, &rx);
        let read = move || {
            if from_sender {
                tx.statistics()
            } else {
                rx.statistics()
            }
        };
        task_group(|tg| async move {
            tx.try_send(())?;
            stats(1, 0, 0, read());
            let tx2 = tx.clone();
            tg.start_soon(async move { Ok(tx2.send(()).await?) })?;
            wait_all_tasks_blocked().await?;
            stats(1, 1, 0, read());
            rx.try_receive()?; // the waiting sender's item moves into the buffer
            stats(1, 0, 0, read());
            rx.try_receive()?;
            stats(0, 0, 0, read());

            let rx2 = rx.clone();
            tg.start_soon(async move { rx2.receive().await })?;
            wait_all_tasks_blocked().await?;
            stats(0, 0, 1, read());
            tx.try_send(())?;
            stats(0, 0, 0, read());
            Ok(())
        })
        .await?;

        task_group(|tg| async move {
            tx.try_send(())?;
            stats(1, 0, 0, read());
            for _ in 0..3 {
                let tx2 = tx.clone();
                tg.start_soon(async move { Ok(tx2.send(()).await?) })?;
            }
            wait_all_tasks_blocked().await?;
            stats(1, 3, 0, read());
            for waiting in (0..3).rev() {
                rx.try_receive()?;
                stats(1, waiting, 0, read());
            }
            rx.try_receive()?;
            Ok(())
        })
        .await?;
        stats(0, 0, 0, read());
        assert_eq!(read().open_send_streams, 1);
    }
    Ok(())
}

#[anyio::test]
async fn unbounded_stream_never_blocks_a_sender() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<u32>(UNBOUNDED);
    assert_eq!(tx.statistics().max_buffer_size, usize::MAX);
    for i in 0..10_000 {
        tx.try_send(i)?;
    }
    tx.send(10_000).await?;
    assert_eq!(rx.statistics().current_buffer_used, 10_001);
    for i in 0..=10_000 {
        assert_eq!(rx.try_receive()?, i);
    }
    Ok(())
}

#[anyio::test]
async fn huge_buffer_size_allocates_nothing_up_front() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<[u8; 4096]>(usize::MAX - 1);
    tx.try_send([7; 4096])?;
    assert_eq!(rx.try_receive()?[0], 7);
    Ok(())
}

/// An item whose `Drop` uses the stream it travels in.
struct Reentrant(Option<anyio::MemoryObjectSendStream<Reentrant>>);

impl Drop for Reentrant {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.try_send(Reentrant(None)); // locks the stream: must not deadlock
        } // and dropping `tx` closes a handle: locks it again
    }
}

#[anyio::test]
async fn items_dropped_by_the_stream_may_use_the_stream() -> anyio::Result<()> {
    // Buffered items are dropped when the last receive handle closes...
    let (tx, rx) = create_memory_object_stream::<Reentrant>(2);
    tx.try_send(Reentrant(Some(tx.clone())))?;
    tx.try_send(Reentrant(Some(tx.clone())))?;
    drop(rx);
    assert_eq!(tx.statistics().open_send_streams, 1);
    // ...and a withdrawn send drops its item when its future is dropped.
    let (tx, rx) = create_memory_object_stream::<Reentrant>(0);
    {
        let mut fut = pin!(tx.send(Reentrant(Some(tx.clone()))));
        while tx.statistics().tasks_waiting_send == 0 {
            assert!(poll_one(&mut fut).await.is_pending());
        }
    }
    assert_eq!(tx.statistics().open_send_streams, 1);
    assert_eq!(kind(rx.try_receive()), ErrorKind::WouldBlock);
    Ok(())
}

#[anyio::test]
async fn closed_handles_refuse_every_operation() -> anyio::Result<()> {
    let (mut tx, mut rx) = create_memory_object_stream::<()>(1);
    tx.close();
    rx.close();
    tx.close(); // closing twice does nothing
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(kind(tx.try_send(())), ErrorKind::ClosedResource);
    assert_eq!(kind(rx.try_receive()), ErrorKind::ClosedResource);
    assert_eq!(
        kind(rx.next().await.expect("an error, not the end")),
        ErrorKind::ClosedResource
    );
    let stats = tx.statistics();
    assert_eq!(
        (stats.open_send_streams, stats.open_receive_streams),
        (0, 0)
    );
    Ok(())
}

#[anyio::test]
async fn dropping_handles_closes_them() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<u32>(2);
    let tx2 = tx.clone();
    tx.try_send(1)?;
    drop(tx);
    assert_eq!(rx.statistics().open_send_streams, 1);
    drop(tx2);
    assert_eq!(rx.try_receive()?, 1);
    assert_eq!(kind(rx.try_receive()), ErrorKind::EndOfStream);

    let (tx, rx) = create_memory_object_stream::<u32>(2);
    tx.try_send(1)?; // dropped with the last receive handle
    drop(rx);
    assert_eq!(tx.statistics().current_buffer_used, 0);
    assert_eq!(kind(tx.try_send(2)), ErrorKind::BrokenResource);
    Ok(())
}

#[anyio::test]
async fn dropped_receive_future_puts_its_item_back() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(1);
    {
        let mut fut = pin!(rx.receive());
        while rx.statistics().tasks_waiting_receive == 0 {
            assert!(poll_one(&mut fut).await.is_pending());
        }
        tx.try_send("hello")?; // handed to the receive future...
        assert_eq!(rx.statistics().current_buffer_used, 0);
    } // ...which is dropped before it is polled again (as `select!` would)
    assert_eq!(rx.try_receive()?, "hello");
    Ok(())
}

#[anyio::test]
async fn dropped_receive_future_passes_its_item_to_the_next_receiver() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let rx2 = rx.clone();
    task_group(|tg| async move {
        let mut fut = Box::pin(rx.receive());
        while rx.statistics().tasks_waiting_receive == 0 {
            assert!(poll_one(&mut fut).await.is_pending());
        }
        let next = tg.start_soon(async move { rx2.receive().await })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(rx.statistics().tasks_waiting_receive, 2);
        tx.try_send("hello")?; // to the first in line: the future
        drop(fut);
        assert_eq!(next.await?, "hello");
        Ok(())
    })
    .await?;
    Ok(())
}

/// Polls `rx.next()` until it surely waits (the first poll may only be the budget's
/// yield), then drops that future, as a lost `select!` branch does.
async fn abandon_next<T>(rx: &mut anyio::MemoryObjectReceiveStream<T>) {
    let mut next = rx.next();
    for _ in 0..2 {
        assert!(poll_one(&mut next).await.is_pending());
    }
}

#[anyio::test]
async fn abandoned_next_leaves_the_item_in_the_buffer() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<&str>(1);
    abandon_next(&mut rx).await; // the Stream poll left only a waker behind
    assert_eq!(rx_waiting(&tx), 0);
    tx.try_send("first")?; // into the buffer, not into the abandoned poll
    assert_eq!(tx.statistics().current_buffer_used, 1);
    assert_eq!(rx.try_receive()?, "first");
    assert_eq!(
        kind(
            tx.try_send("fills the buffer")
                .and_then(|()| tx.try_send("full"))
        ),
        ErrorKind::WouldBlock
    );
    Ok(())
}

#[anyio::test]
async fn abandoned_next_does_not_take_items_from_receive() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<&str>(0);
    abandon_next(&mut rx).await;
    task_group(|tg| async move {
        let sender = tx.clone();
        tg.start_soon(async move {
            wait_all_tasks_blocked().await?;
            sender.try_send("to the receive")?; // only `receive` waits now
            Ok::<_, Error>(())
        })?;
        assert_eq!(rx.receive().await?, "to the receive");
        assert_eq!(kind(tx.try_send("to the stream")), ErrorKind::WouldBlock);
        tg.start_soon(async move {
            tx.send("to the stream").await?; // completes when the stream takes it
            Ok::<_, Error>(())
        })?;
        assert_eq!(rx.next().await.transpose()?, Some("to the stream"));
        Ok(())
    })
    .await?;
    Ok(())
}

fn rx_waiting<T>(tx: &anyio::MemoryObjectSendStream<T>) -> usize {
    tx.statistics().tasks_waiting_receive
}

#[anyio::test]
async fn dropped_send_future_withdraws_its_item() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    {
        let mut fut = pin!(tx.send("dropped"));
        while tx.statistics().tasks_waiting_send == 0 {
            assert!(poll_one(&mut fut).await.is_pending());
        }
    }
    assert_eq!(tx.statistics().tasks_waiting_send, 0);
    assert_eq!(kind(rx.try_receive()), ErrorKind::WouldBlock);
    Ok(())
}

#[anyio::test]
async fn debug_output_shows_the_state() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<u8>(3);
    tx.try_send(1)?;
    let text = format!("{tx:?} {rx:?}");
    assert!(text.contains("MemoryObjectSendStream"), "{text}");
    assert!(text.contains("current_buffer_used: 1"), "{text}");
    assert!(text.contains("max_buffer_size: 3"), "{text}");
    let err = tx
        .try_send(2)
        .and_then(|_| tx.try_send(3))
        .and_then(|_| tx.try_send(4));
    let text = format!("{:?}", err.unwrap_err());
    assert!(text.contains("WouldBlock"), "{text}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Errors.

#[anyio::test]
async fn send_error_converts_and_keeps_cancellation_recognisable() -> anyio::Result<()> {
    let (tx, _rx) = create_memory_object_stream::<String>(0);
    let scope = CancelScope::new();
    scope.cancel();
    let mut caught = None;
    scope
        .run(async {
            let e = tx.send("x".to_string()).await.unwrap_err();
            caught = Some(e);
            Ok::<_, Error>(())
        })
        .await?;
    let e = caught.expect("the send failed");
    assert!(e.is_cancelled());
    assert_eq!(e.to_string(), e.error().to_string());
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert!(anyio::error::is_cancellation(&boxed));
    let (tx, rx) = create_memory_object_stream::<String>(0);
    drop(rx);
    let io: std::io::Error = tx.try_send("y".to_string()).unwrap_err().into();
    assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Stream and Sink.

#[anyio::test]
async fn stream_poll_in_a_cancelled_scope_yields_cancelled_and_loses_nothing() -> anyio::Result<()>
{
    let (tx, mut rx) = create_memory_object_stream::<u32>(1);
    tx.try_send(1)?;
    let scope = CancelScope::new();
    scope.cancel();
    let mut seen = None;
    scope
        .run(async {
            seen = Some(rx.next().await);
            Ok::<_, Error>(())
        })
        .await?;
    let err = seen.flatten().expect("an item, not the end").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(rx.next().await.transpose()?, Some(1));
    Ok(())
}

#[anyio::test]
async fn stream_waits_and_is_woken() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<u32>(0);
    task_group(|tg| async move {
        let got = tg.start_soon(async move {
            let items: Vec<u32> = (&mut rx).take(3).try_collect().await?;
            Ok::<_, Error>(items)
        })?;
        for i in 0..3 {
            wait_all_tasks_blocked().await?;
            // The stream is waiting, but a Stream poll is never a taking waiter (it could
            // not be withdrawn): `try_send` finds nobody, a `send` waits until it is taken.
            assert_eq!(kind(tx.try_send(i)), ErrorKind::WouldBlock);
            tx.send(i).await?;
        }
        assert_eq!(got.await?, [0, 1, 2]);
        Ok(())
    })
    .await?;
    Ok(())
}

async fn sink_send<T>(
    sink: &mut (impl Sink<T, Error = Error> + Unpin),
    item: T,
) -> anyio::Result<()> {
    poll_fn(|cx| Pin::new(&mut *sink).poll_ready(cx)).await?;
    Pin::new(&mut *sink).start_send(item)?;
    poll_fn(|cx| Pin::new(&mut *sink).poll_flush(cx)).await
}

#[anyio::test]
async fn sink_sends_flushes_and_closes() -> anyio::Result<()> {
    let (tx, mut rx) = create_memory_object_stream::<u32>(0);
    task_group(|tg| async move {
        let got = tg.start_soon(async move {
            let mut items = Vec::new();
            while let Some(item) = rx.next().await {
                items.push(item?);
            }
            Ok::<_, Error>(items)
        })?;
        let mut sink = tx.into_sink();
        for i in 0..5 {
            sink_send(&mut sink, i).await?; // rendezvous: each flush waits for the receiver
        }
        assert_eq!(sink.get_ref().statistics().tasks_waiting_send, 0);
        poll_fn(|cx| Pin::new(&mut sink).poll_close(cx)).await?;
        assert!(sink.get_ref().is_closed());
        assert_eq!(got.await?, [0, 1, 2, 3, 4]);
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn sink_keeps_its_item_when_cancelled() -> anyio::Result<()> {
    let (tx, rx) = create_memory_object_stream::<&str>(0);
    let mut sink = tx.into_sink();
    poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await?;
    Pin::new(&mut sink).start_send("kept")?;
    let flushed = anyio::move_on_after(
        Duration::from_millis(20),
        poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx)),
    )
    .await?;
    assert_eq!(flushed, None); // nobody received: cancelled by the deadline
    assert_eq!(sink.get_ref().statistics().tasks_waiting_send, 0); // withdrawn...
    task_group(|tg| async move {
        let got = tg.start_soon(async move { rx.receive().await })?;
        poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx)).await?; // ...and sent again
        assert_eq!(got.await?, "kept");
        Ok(())
    })
    .await?;
    Ok(())
}

#[anyio::test]
async fn sink_misuse_is_an_error_not_a_panic() -> anyio::Result<()> {
    let (tx, _rx) = create_memory_object_stream::<u32>(0);
    let mut sink = tx.into_sink();
    Pin::new(&mut sink).start_send(1)?;
    let twice = Pin::new(&mut sink).start_send(2).unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::InvalidState);
    drop(sink); // drops the item it still holds

    let (tx, _rx) = create_memory_object_stream::<u32>(1);
    let mut sink = tx.into_sink();
    poll_fn(|cx| Pin::new(&mut sink).poll_close(cx)).await?;
    assert_eq!(
        Pin::new(&mut sink).start_send(1).unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The object stream traits.

async fn relay<S, R>(from: &mut R, to: &mut S) -> anyio::Result<usize>
where
    S: anyio::streams::ObjectSendStream<u32>,
    R: anyio::streams::ObjectReceiveStream<u32>,
{
    let mut n = 0;
    loop {
        match from.receive().await {
            Ok(item) => to.send(item).await?,
            Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(n),
            Err(e) => return Err(e),
        }
        n += 1;
    }
}

#[anyio::test]
async fn memory_streams_work_through_the_traits() -> anyio::Result<()> {
    use anyio::streams::AsyncResource;
    let (tx_a, mut rx_a) = create_memory_object_stream::<u32>(8);
    let (mut tx_b, rx_b) = create_memory_object_stream::<u32>(8);
    for i in 0..5 {
        tx_a.try_send(i)?;
    }
    drop(tx_a);
    assert_eq!(relay(&mut rx_a, &mut tx_b).await?, 5);
    tx_b.aclose().await?;
    rx_a.aclose().await?;
    let got: Vec<u32> = rx_b.try_collect().await?;
    assert_eq!(got, [0, 1, 2, 3, 4]);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Many producers and consumers on several threads.

#[anyio::test]
async fn producers_and_consumers_on_several_threads_deliver_each_item_once() -> anyio::Result<()> {
    const PER_PRODUCER: u64 = 2_000;
    let (tx, rx) = create_memory_object_stream::<u64>(4);
    let received = shared();
    let sink = received.clone();
    task_group(|tg| async move {
        for p in 0..4u64 {
            let tx = tx.clone();
            tg.start_soon(async move {
                for i in 0..PER_PRODUCER {
                    tx.send(p * PER_PRODUCER + i).await?;
                }
                Ok::<_, Error>(())
            })?;
        }
        for _ in 0..4 {
            let (rx, sink) = (rx.clone(), sink.clone());
            tg.start_soon(async move {
                let mut mine = Vec::new();
                loop {
                    match rx.receive().await {
                        Ok(item) => mine.push(item),
                        Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                        Err(e) => return Err(e),
                    }
                }
                sink.lock().unwrap().extend(mine);
                Ok(())
            })?;
        }
        drop((tx, rx));
        Ok(())
    })
    .await?;
    let mut got = received.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..4 * PER_PRODUCER).collect::<Vec<_>>());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Stress: cancellation at random moments, on several threads.

/// A small deterministic PRNG (xorshift64*): the schedule varies, the draws do not.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.next() % max)
    }
}

#[derive(Default)]
struct Tally {
    received: Vec<u64>,
    consumer_cancels: u64,
    producer_cancels: u64,
}

/// 4 producers and 4 consumers move `items` through a stream of `buffer`; consumers (and
/// producers) run in `move_on_after` scopes with random short deadlines, so they are
/// cancelled at random moments, and then go on. Every item must arrive exactly once.
async fn stress(items: u64, buffer: usize) -> anyio::Result<()> {
    let started = Instant::now();
    let (tx, rx) = create_memory_object_stream::<u64>(buffer);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let per_producer = items / 4;
    let out = tally.clone();
    task_group(|tg| async move {
        for p in 0..4u64 {
            let (tx, out) = (tx.clone(), out.clone());
            tg.start_soon(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (p + 1));
                let mut next = p * per_producer;
                let end = next + per_producer;
                let mut retry: Option<u64> = None;
                let mut cancels = 0;
                while next < end || retry.is_some() {
                    let scope = CancelScope::new().with_timeout(rng.micros(400));
                    scope
                        .run(async {
                            loop {
                                let item = match retry.take() {
                                    Some(item) => item,
                                    None if next < end => {
                                        next += 1;
                                        next - 1
                                    }
                                    None => return Ok::<_, Error>(()),
                                };
                                if let Err(e) = tx.send(item).await {
                                    let (e, item) = e.into_parts();
                                    retry = Some(item); // cancelled: it came back, resend
                                    return Err(e);
                                }
                            }
                        })
                        .await?;
                    cancels += u64::from(scope.cancelled_caught());
                }
                out.lock().unwrap().producer_cancels += cancels;
                Ok::<_, Error>(())
            })?;
        }
        for c in 0..4u64 {
            let (rx, out) = (rx.clone(), out.clone());
            tg.start_soon(async move {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (c + 11));
                let mut mine = Vec::with_capacity((items / 3) as usize);
                let mut cancels = 0;
                let mut ended = false;
                while !ended {
                    let scope = CancelScope::new().with_timeout(rng.micros(300));
                    scope
                        .run(async {
                            loop {
                                match rx.receive().await {
                                    Ok(item) => mine.push(item),
                                    Err(e) if e.kind() == ErrorKind::EndOfStream => {
                                        ended = true;
                                        return Ok(());
                                    }
                                    Err(e) => return Err(e),
                                }
                            }
                        })
                        .await?;
                    cancels += u64::from(scope.cancelled_caught());
                }
                let mut t = out.lock().unwrap();
                t.received.extend(mine);
                t.consumer_cancels += cancels;
                Ok::<_, Error>(())
            })?;
        }
        drop((tx, rx));
        Ok(())
    })
    .await?;
    let mut t = tally.lock().unwrap();
    let n = t.received.len();
    t.received.sort_unstable();
    let mut seen = vec![0u8; items as usize];
    for &item in &t.received {
        seen[item as usize] += 1;
    }
    let lost = seen.iter().filter(|&&c| c == 0).count();
    let duplicated = seen.iter().filter(|&&c| c > 1).count();
    println!(
        "stress on {}: {items} items through buffer {buffer} in {:?}; {} consumer and {} \
         producer cancellations; {n} received, {lost} lost, {duplicated} duplicated",
        anyio::current_async_library()?,
        started.elapsed(),
        t.consumer_cancels,
        t.producer_cancels,
    );
    assert_eq!((lost, duplicated, n), (0, 0, items as usize));
    assert!(
        t.consumer_cancels > 0,
        "the deadlines never cancelled a consumer"
    );
    Ok(())
}

/// Items per stress run: the 1,000,000 (about 3 s per run in a debug build).
const STRESS_ITEMS: u64 = 1_000_000;

fn run_stress(runner: anyio::Runner, buffer: usize) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = runner.run(|| stress(STRESS_ITEMS, buffer));
        let _ = done_tx.send(out);
    });
    match done_rx.recv_timeout(Duration::from_secs(55)) {
        Ok(out) => out.expect("the stress run failed"),
        Err(_) => panic!("the stress run hung (no result after 55 s)"),
    }
}

fn tokio_multi_thread() -> anyio::Runner {
    anyio::Runner::new(anyio::Backend::Tokio)
        .tokio_options(anyio::TokioOptions::new().worker_threads(2))
}

fn smol_two_threads() -> anyio::Runner {
    anyio::Runner::new(anyio::Backend::Smol).smol_options(anyio::SmolOptions::new().threads(2))
}

#[test]
fn stress_rendezvous_with_random_cancellations_on_tokio_multi_thread() {
    run_stress(tokio_multi_thread(), 0);
}

#[test]
fn stress_buffer_16_with_random_cancellations_on_tokio_multi_thread() {
    run_stress(tokio_multi_thread(), 16);
}

#[test]
fn stress_rendezvous_with_random_cancellations_on_smol_two_threads() {
    run_stress(smol_two_threads(), 0);
}

#[test]
fn stress_buffer_16_with_random_cancellations_on_smol_two_threads() {
    run_stress(smol_two_threads(), 16);
}

// `SendError` is a plain value: it can be stored and moved across tasks.
#[allow(dead_code)]
fn send_error_is_send_sync(e: SendError<String>) -> impl Send + Sync {
    e
}
