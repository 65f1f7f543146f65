//! The start slot (`task_group/start_slot.rs`, on the one-shot cell `sync/oneshot.rs`): a
//! child's error goes to exactly one place — the starter while the child has not started,
//! the group once it has — even when `started` (from a task the status was handed to) and
//! the child's end race; and a starter that saw no progress is always woken by the
//! transition that follows (issue 7, item 8).

use std::sync::Arc;

use loom::thread;

use super::Flag;
use crate::error::{Error, ErrorKind};
use crate::task_group::start_slot::{Progress, StartSlot};

/// `started(7)` on one thread, the child failing on another, the starter polling on a
/// third: the value and the error never both reach the starter, and the error is never
/// lost.
#[test]
fn loom_started_races_the_child_error() {
    loom::model(|| {
        let slot = Arc::new(StartSlot::<u32>::new());
        let flag = Flag::new();

        let starter = {
            let slot = slot.clone();
            let waker = flag.waker();
            thread::spawn(move || slot.poll(&waker))
        };
        let status = {
            let slot = slot.clone();
            thread::spawn(move || slot.started(7))
        };
        let child = {
            let slot = slot.clone();
            thread::spawn(move || slot.child_finished(Some(Error::new(ErrorKind::Other, "boom"))))
        };
        let seen = starter.join().unwrap();
        let started = status.join().unwrap();
        let to_group = child.join().unwrap();

        // Settled now: both transitions happened.
        assert_eq!(slot.poll(&flag.waker()), Progress::Settled);
        match slot.take() {
            Ok(v) => {
                assert_eq!(v, 7);
                assert!(started, "the value reached the starter, so `started` won");
                let e = to_group.expect("a started child's error belongs to the group");
                assert_eq!(e.message(), "boom");
            }
            Err(Some(e)) => {
                assert_eq!(e.message(), "boom");
                assert!(!started, "the child ended first: `started` was refused");
                assert!(to_group.is_none(), "the error went to the starter only");
            }
            Err(None) => panic!("the outcome was lost"),
        }
        if seen != Progress::Settled {
            assert!(flag.woken(), "the starter registered and was never woken");
        }
    });
}

/// The status dropped without `started` while the child ends: the starter learns of the
/// drop or of the end, and is woken for whichever came after its poll.
#[test]
fn loom_status_dropped_races_the_child_end() {
    loom::model(|| {
        let slot = Arc::new(StartSlot::<u32>::new());
        let flag = Flag::new();
        let starter = {
            let slot = slot.clone();
            let waker = flag.waker();
            thread::spawn(move || slot.poll(&waker))
        };
        let status = {
            let slot = slot.clone();
            thread::spawn(move || slot.status_dropped())
        };
        let child = {
            let slot = slot.clone();
            thread::spawn(move || slot.child_finished(None))
        };
        let seen = starter.join().unwrap();
        status.join().unwrap();
        assert!(child.join().unwrap().is_none());
        assert_eq!(slot.poll(&flag.waker()), Progress::Settled);
        assert!(matches!(slot.take(), Err(None)));
        if seen != Progress::Settled {
            assert!(flag.woken(), "the starter registered and was never woken");
        }
    });
}
