//! The memory object stream (`streams/memory/chan.rs`), through the crate API of
//! `streams::memory` (`send`, `receive`, `try_send`, `try_receive`, `close`, drop), so that
//! the models hold across rewrites of the channel's internals: no item is lost or
//! duplicated, a send on a rendezvous stream completes only when a receiver took the item,
//! an abandoned receive reserves nothing, and closing or dropping the other side always
//! wakes a blocked task (a lost wake-up leaves a loom thread parked, which loom reports as
//! a deadlock).
//!
//! Each operation's checkpoint reads the thread-local anyio context, which is empty on
//! loom threads (no task, no scope): it only spends the cooperative budget, refilled at
//! the start of every iteration so that each iteration starts alike.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::thread;

use super::Flag;
use crate::error::ErrorKind;
use crate::streams::memory::create_memory_object_stream;

fn fresh_iteration() {
    crate::context::refill_budget();
}

/// A send on a rendezvous stream completes only once the receiver has the item, and the
/// receiver gets exactly that item.
#[test]
fn loom_rendezvous_send_completes_when_received() {
    loom::model(|| {
        fresh_iteration();
        let (tx, rx) = create_memory_object_stream::<u32>(0);
        let sender = thread::spawn(move || {
            block_on(tx.send(7)).expect("the receiver is open");
        });
        assert_eq!(block_on(rx.receive()).expect("an item"), 7);
        sender.join().unwrap();
        assert_eq!(rx.try_receive().unwrap_err().kind(), ErrorKind::EndOfStream);
    });
}

/// A receive polled once and dropped (the `select!`/timeout pattern) while another
/// receiver of the same stream blocks: the item sent goes to exactly one of them, never
/// to the abandoned future, and after the sender closes nothing else comes out.
#[test]
fn loom_abandoned_receive_reserves_nothing() {
    loom::model(|| {
        fresh_iteration();
        let (tx, rx) = create_memory_object_stream::<u32>(0);
        let rx2 = rx.try_clone().expect("an open handle clones");
        let abandoned = thread::spawn(move || {
            let flag = Flag::new();
            let waker = flag.waker();
            let mut fut = pin!(rx2.receive());
            match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(Ok(item)) => Some(item),
                Poll::Ready(Err(e)) => panic!("the stream is open: {e}"),
                Poll::Pending => None,
            }
        });
        let sender = thread::spawn(move || {
            let sent = block_on(tx.send(1));
            drop(tx);
            sent.is_ok()
        });
        let got_abandoned = abandoned.join().unwrap();
        let got_blocked = match got_abandoned {
            // The abandoned receive took it at its only poll: the blocked one must end.
            Some(_) => None,
            None => Some(block_on(rx.receive()).expect("the item goes to the live receiver")),
        };
        assert!(sender.join().unwrap(), "the send completed");
        let received = usize::from(got_abandoned.is_some()) + usize::from(got_blocked.is_some());
        assert_eq!(received, 1, "the item was lost or duplicated");
        assert_eq!(
            block_on(rx.receive()).unwrap_err().kind(),
            ErrorKind::EndOfStream,
            "nothing after the last item"
        );
    });
}

/// A receiver blocked on an empty stream is woken by the last sender's drop and sees the
/// end of the stream; a sender blocked on a full buffer is woken by the last receiver's
/// close and gets its item back.
#[test]
fn loom_close_wakes_the_other_side() {
    loom::model(|| {
        fresh_iteration();
        let (tx, rx) = create_memory_object_stream::<u32>(0);
        let receiver = thread::spawn(move || block_on(rx.receive()).map_err(|e| e.kind()));
        drop(tx);
        assert_eq!(receiver.join().unwrap(), Err(ErrorKind::EndOfStream));

        let (tx, mut rx) = create_memory_object_stream::<u32>(1);
        tx.try_send(1).expect("room for one");
        let sender = thread::spawn(move || block_on(tx.send(2)));
        rx.close();
        let err = sender.join().unwrap().expect_err("no receiver is left");
        assert_eq!(err.kind(), ErrorKind::BrokenResource);
        assert_eq!(err.into_item(), 2, "the unsent item comes back");
    });
}

/// Items sent by two senders into a buffer of one, drained by one receiver until the end:
/// every item arrives once.
#[test]
fn loom_two_senders_one_receiver_lose_nothing() {
    loom::model(|| {
        fresh_iteration();
        let (tx, rx) = create_memory_object_stream::<u32>(1);
        let senders: Vec<_> = (1..=2u32)
            .map(|i| {
                let tx = tx.try_clone().expect("an open handle clones");
                thread::spawn(move || block_on(tx.send(i)).expect("the receiver is open"))
            })
            .collect();
        drop(tx);
        let mut sum = 0;
        loop {
            match block_on(rx.receive()) {
                Ok(item) => sum += item,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::EndOfStream);
                    break;
                }
            }
        }
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(sum, 3, "an item was lost or duplicated");
    });
}

/// Issue 7, item 1: a `next()` polled once on one handle and then abandoned (the handle
/// is never polled again, as after a `select!` or a timeout) while a clone blocks in
/// `receive()`: the item sent on the rendezvous stream must reach the clone, and the send
/// completes only then.
/// (The receive registration before issue 7 failed this model: the idle handle kept its
/// place in line and the item was handed to it.)
#[test]
fn loom_abandoned_stream_next_reserves_nothing() {
    use futures_core::Stream;

    loom::model(|| {
        fresh_iteration();
        let (tx, mut idle) = create_memory_object_stream::<u32>(0);
        let live = idle.try_clone().expect("an open handle clones");
        let flag = Flag::new();
        let waker = flag.waker();
        let first = Pin::new(&mut idle).poll_next(&mut Context::from_waker(&waker));
        assert!(first.is_pending(), "nothing was sent yet");
        let sender = thread::spawn(move || block_on(tx.send(1)).is_ok());
        let got = block_on(live.receive());
        assert_eq!(got.ok(), Some(1), "the item went to the abandoned handle");
        assert!(sender.join().unwrap(), "the send completed");
        drop(idle);
    });
}
