//! The scope tree (`cancel/tree.rs`): a cancellation racing a task that checks and then
//! blocks is never lost, whether the node is fresh, already linked by its children, or
//! shielded and losing its shield; and a deadline moved while the task blocks is seen.

use std::sync::Arc;

use loom::thread;

use super::Flag;
use crate::cancel::tree::ScopeNode;

/// A task's checkpoint followed by its block, as `Driver::blocked` does after an operation
/// returned `Pending`: `true` if the checkpoint saw the cancellation (then it never blocks).
fn check_then_block(node: &Arc<ScopeNode>, waker: &Arc<Flag>) -> bool {
    if node.check().is_some() {
        return true;
    }
    node.block(&waker.waker());
    false
}

/// The task either saw the cancellation at its checkpoint or was woken.
fn assert_not_lost(saw: bool, waker: &Flag, what: &str) {
    assert!(saw || waker.woken(), "lost wake-up: {what}");
}

/// Issue 7, item 7: a group's node linked by its child before the host stored a waker
/// there; `cancel` lands between the host's checkpoint and its `block`.
#[test]
fn loom_cancel_between_check_and_block_of_a_node_linked_by_its_child() {
    loom::model(|| {
        let task = ScopeNode::child_of(None);
        let group = ScopeNode::child_of(Some(task.clone()));
        let child = ScopeNode::child_of(Some(group.clone()));
        // The child blocked first: it linked itself and the group (which has no waker).
        child.block(&Flag::new().waker());

        let host = Flag::new();
        let (g, h) = (group.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&g, &h));
        group.cancel(None, false);
        let saw = t.join().unwrap();
        assert_not_lost(
            saw,
            &host,
            "the host blocked in a group linked by its child",
        );
    });
}

/// The same race when the cancellation comes from an ancestor of the linked node.
#[test]
fn loom_ancestor_cancel_between_check_and_block_of_a_linked_node() {
    loom::model(|| {
        let task = ScopeNode::child_of(None);
        let group = ScopeNode::child_of(Some(task.clone()));
        let child = ScopeNode::child_of(Some(group.clone()));
        child.block(&Flag::new().waker());

        let host = Flag::new();
        let (g, h) = (group.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&g, &h));
        task.cancel(None, false);
        let saw = t.join().unwrap();
        assert_not_lost(saw, &host, "the host blocked under a cancelled ancestor");
    });
}

/// Two tasks link fresh sibling chains (sharing their ancestors) while the root is
/// cancelled: each is woken or sees the cancellation.
#[test]
fn loom_cancel_racing_two_tasks_linking_shared_ancestors() {
    loom::model(|| {
        let root = ScopeNode::child_of(None);
        let mid = ScopeNode::child_of(Some(root.clone()));
        let a = ScopeNode::child_of(Some(mid.clone()));
        let b = ScopeNode::child_of(Some(mid.clone()));

        let (wa, wb) = (Flag::new(), Flag::new());
        let ta = {
            let (a, wa) = (a.clone(), wa.clone());
            thread::spawn(move || check_then_block(&a, &wa))
        };
        let tb = {
            let (b, wb) = (b.clone(), wb.clone());
            thread::spawn(move || check_then_block(&b, &wb))
        };
        root.cancel(None, false);
        let (sa, sb) = (ta.join().unwrap(), tb.join().unwrap());
        assert_not_lost(sa, &wa, "the first of two tasks linking under the root");
        assert_not_lost(sb, &wb, "the second of two tasks linking under the root");
    });
}

/// A shielded scope under a cancelled one, already linked by a task beneath it, loses its
/// shield while the task that runs it checks and blocks: that task is now cancelled.
#[test]
fn loom_unshield_between_check_and_block_of_a_linked_node() {
    loom::model(|| {
        let outer = ScopeNode::child_of(None);
        outer.cancel(None, false);
        let shielded: Arc<ScopeNode> = Arc::new(ScopeNode::new(None, true));
        assert!(shielded.enter(Some(outer.clone())));
        let inner = ScopeNode::child_of(Some(shielded.clone()));
        inner.block(&Flag::new().waker());

        let host = Flag::new();
        let (s, h) = (shielded.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&s, &h));
        shielded.set_shield(false);
        let saw = t.join().unwrap();
        assert_not_lost(saw, &host, "the shield was lifted under a cancelled scope");
    });
}

/// A child exits (unlinks) while its group is cancelled and the host blocks: no deadlock
/// (loom reports one), and the host is woken or sees the cancellation.
#[test]
fn loom_child_exit_racing_cancel_and_block() {
    loom::model(|| {
        let task = ScopeNode::child_of(None);
        let group = ScopeNode::child_of(Some(task.clone()));
        let child = ScopeNode::child_of(Some(group.clone()));
        child.block(&Flag::new().waker());

        let host = Flag::new();
        let (g, h) = (group.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&g, &h));
        let c = thread::spawn(move || child.close());
        group.cancel(None, false);
        let saw = t.join().unwrap();
        c.join().unwrap();
        assert_not_lost(saw, &host, "the host blocked while its child exited");
    });
}

/// A deadline moved while the task running the scope blocks: the task either reads the new
/// deadline after it blocked (as `Driver::blocked` does, to arm its timer) or is woken to
/// re-arm. (The deadline is an hour away: no model reaches it; loom has no clock.)
#[test]
fn loom_deadline_moved_while_the_task_blocks() {
    use std::time::{Duration, Instant};

    loom::model(|| {
        let task = ScopeNode::child_of(None);
        let scope = ScopeNode::child_of(Some(task.clone()));
        let at = Instant::now() + Duration::from_secs(3600);
        let at_nanos = crate::cancel::deadline::instant_to_nanos(at);

        let waker = Flag::new();
        let (s, w) = (scope.clone(), waker.clone());
        let t = thread::spawn(move || {
            let saw = check_then_block(&s, &w);
            assert!(!saw, "nothing cancels this scope");
            s.deadline_nanos()
        });
        scope.set_deadline(Some(at));
        let armed = t.join().unwrap();
        assert!(
            armed == Some(at_nanos) || waker.woken(),
            "the task armed no timer for the new deadline and was not woken"
        );
    });
}

/// Invariant 6: a node whose clean walk is cached (it checked once, unlinked) while an
/// ancestor is cancelled during its next check and block: the cache never hides the
/// cancellation — the task sees it or is woken.
#[test]
fn loom_cancel_after_a_cached_clean_walk() {
    loom::model(|| {
        let root = ScopeNode::child_of(None);
        let mid = ScopeNode::child_of(Some(root.clone()));
        let node = ScopeNode::child_of(Some(mid.clone()));
        assert!(node.check().is_none(), "nothing is cancelled yet");

        let host = Flag::new();
        let (n, h) = (node.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&n, &h));
        root.cancel(None, false);
        let saw = t.join().unwrap();
        assert_not_lost(
            saw,
            &host,
            "the task's clean walk was cached before the cancel",
        );
        assert!(node.check().is_some(), "a check after the cancel sees it");
    });
}

/// The same with the node already linked and blocked (the waker in place, so the second
/// block re-checks nothing): the cancel walk must wake it.
#[test]
fn loom_cancel_of_a_blocked_node_with_a_cached_clean_walk() {
    loom::model(|| {
        let root = ScopeNode::child_of(None);
        let node = ScopeNode::child_of(Some(root.clone()));
        let host = Flag::new();
        assert!(!check_then_block(&node, &host), "nothing is cancelled yet");

        let (n, h) = (node.clone(), host.clone());
        let t = thread::spawn(move || check_then_block(&n, &h));
        root.cancel(None, false);
        let saw = t.join().unwrap();
        assert_not_lost(saw, &host, "a blocked task with a cached walk");
    });
}

/// A deadline set on an ancestor after the walk was cached: the next check walks again and
/// sees it (an expired deadline cancels there).
#[test]
fn loom_deadline_set_after_a_cached_clean_walk() {
    use std::time::Instant;

    loom::model(|| {
        let root = ScopeNode::child_of(None);
        let node = ScopeNode::child_of(Some(root.clone()));
        assert!(node.check().is_none(), "nothing is cancelled yet");
        let r = root.clone();
        let t = thread::spawn(move || r.set_deadline(Some(Instant::now())));
        let early = node.check();
        t.join().unwrap();
        // Either order is right while the setter runs; once it returned, the check sees the
        // passed deadline.
        drop(early);
        assert!(
            node.check().is_some(),
            "the passed deadline is seen after the cache"
        );
    });
}
