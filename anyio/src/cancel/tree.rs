//! The scope tree: how cancellation travels from where it starts to every checkpoint and
//! every blocked task beneath it.
//!
//! Every [`CancelScope`](super::CancelScope), every task group and every anyio task owns one
//! [`ScopeNode`]. A node points to its parent (the scope that was current where it was
//! entered), so a checkpoint can *pull* the answer to "am I cancelled?" by walking up the
//! parent chain, and a cancelled node can *push* a wake-up down to the tasks blocked beneath
//! it through its list of children.
//!
//! # Invariants
//!
//! 1. A node is *effectively cancelled* when its own `CANCELLED` flag is set, or its deadline
//!    has passed, or it is not shielded and its parent is effectively cancelled. `CANCELLED`
//!    is never cleared.
//! 2. The pull side needs no lock and no allocation: flags and the deadline are atomics, the
//!    parent pointer is written once — at creation, or (for a `CancelScope` handle made
//!    before it runs) when the node is entered — before any checkpoint can see the node.
//! 3. A node appears in its parent's `children` list only once some task waits beneath it
//!    (lazy linking: scopes that never block cost no lock). Linking a node links its
//!    ancestors too, so every blocked task is reachable from every ancestor scope. When a
//!    node links is decided in one place, [`must_link`].
//! 4. A node's `waker` is stored *before* the node is linked, and the node re-checks
//!    cancellation *after* it stored a new waker or was newly linked. `cancel` sets the flag
//!    *before* it walks down. The walk takes each node's lock to read its waker and
//!    children; storing a waker takes the node's lock and linking takes the parent's. So
//!    either the canceller sees the waker (and the link) and wakes the node, or the node
//!    sees the flag when it re-checks and wakes itself: a cancellation is never lost. (A
//!    node can be linked by its children before its own task stored a waker there — a
//!    group's node, say — so re-checking only on a new link would not do: issue 7.)
//! 5. An exited node is `CLOSED`: it is unlinked from its parent, drops its waker and is
//!    never linked again. Only an *engaged* node (one that stored a waker or was linked)
//!    has anything to undo; the others exit without taking a lock.
//! 6. A node's `clean_at` caches a clean walk: `check` found nothing cancelled, no deadline
//!    and no shield up to an entered root while the global [`EPOCH`] read `clean_at`. Every
//!    change that can turn a clean chain cancelled — `cancel`, lowering a shield, setting a
//!    deadline — sets its flag *before* it bumps the epoch, so a reader whose Acquire load of
//!    the epoch still matches the cache could not have seen the flag anyway, and the next
//!    walk after the bump sees it. The bump also comes before the cancel walk, so the
//!    re-check of invariant 4 (after a lock the walk released) reads the new epoch. A chain
//!    ending at a node not entered yet is never cached (entering changes the chain).
//! 7. Each fact has one home: the parent in `parent` (set once; its variant says whether at
//!    creation or at entry, so "entered" is read from it too), "linked" and "closed" in
//!    `flags` (`LINKED`, `CLOSED`; `key` means something only while `LINKED` is set), the
//!    stored waker's identity in a [`WakerIdentity`].
//!
//! # Deadlock safety
//!
//! At most two node locks are held at once, and then always a child's before its parent's
//! (linking and unlinking). The cancel walk holds one lock at a time and wakes wakers with
//! no lock held.

use crate::loom::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{RawWakerVTable, Waker};
use std::time::Instant;

use slab::Slab;

use super::deadline::{instant_to_nanos, now_nanos};
use crate::context::Polled;
use crate::error::Error;
use crate::task::TaskData;

const CANCELLED: u8 = 1;
const SHIELD: u8 = 1 << 1;
const HAS_DEADLINE: u8 = 1 << 2;
const BY_DEADLINE: u8 = 1 << 3;
const CAUGHT: u8 = 1 << 4;
/// Some task stored its waker here, or the node is linked into its parent: exiting and
/// moving the deadline must take the lock. Scopes that never block skip it.
const ENGAGED: u8 = 1 << 5;
/// The scope has exited (invariant 5). Set once, never cleared.
const CLOSED: u8 = 1 << 6;
/// The node is linked: into its parent's children (at slot `NodeInner::key`), or, for a
/// root, marked so that its next block takes the fast path. Set under the node's lock.
const LINKED: u8 = 1 << 7;

/// The epoch of invariant 6: bumped by every change that can make a clean chain cancelled.
/// A `u64` bumped once per such change does not wrap in practice (2^64 cancellations).
/// Starts at 1, so a node's `clean_at` of 0 matches nothing.
#[cfg(not(loom))]
static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
#[cfg(loom)]
loom::lazy_static! {
    static ref EPOCH: AtomicU64 = AtomicU64::new(1);
}

/// Invalidates every cached clean walk (invariant 6); called after the flag is set.
fn bump_epoch() {
    // Release: a reader that sees the new epoch sees the flag set before it.
    EPOCH.fetch_add(1, Ordering::Release);
}

/// A node's parent: one field, whose variant says how (and so whether) it was set.
enum Parent {
    /// Set at creation: the node is entered from the start.
    Fixed(Option<Arc<ScopeNode>>),
    /// Set once, when the node is entered (unset: not entered yet). A `OnceLock` only
    /// where it is needed: setting one costs more than the rest of creating a node.
    Late(OnceLock<Option<Arc<ScopeNode>>>),
}

/// One node of the scope tree. See the module docs for the invariants.
///
/// `X` is what else lives in the node's allocation: no task (`[TaskData; 0]`) for a cancel
/// scope or a task group, the task's own state (`[TaskData; 1]`, see `task::TaskCore`) for a
/// task, so that a task costs one heap block for both (as tokio's task cell keeps its
/// header and its future in one). The tree itself sees every node as `ScopeNode` (the
/// default `X`, a slice: the same allocation, unsized). A slice rather than a `dyn` tail:
/// its alignment is known statically, so reaching a field costs no vtable read (measured:
/// a `dyn` tail made every checkpoint's walk up the tree read each node's vtable).
pub(crate) struct ScopeNode<X: ?Sized = [TaskData]> {
    /// # Invariant
    /// Set once, when the node is entered — at creation for task groups, tasks and the
    /// scopes of `move_on_after` and friends; at the first poll for a `CancelScope` handle —
    /// and before the node is published to checkpoints. Unset means "not entered yet".
    parent: Parent,
    flags: AtomicU8,
    /// Nanoseconds on the crate clock; meaningful only while `HAS_DEADLINE` is set.
    deadline: AtomicU64,
    /// The epoch of the last clean walk from here (invariant 6); 0 for none.
    clean_at: AtomicU64,
    /// The identity of `inner.waker`: a task that blocks again with the same waker under a
    /// linked node has nothing to do (the common case, since a task's waker never changes).
    waker_id: WakerIdentity,
    inner: Mutex<NodeInner>,
    /// What else shares the node's allocation (see the type's docs). Last: it may be unsized.
    ext: X,
}

#[derive(Default)]
struct NodeInner {
    /// The linked children; boxed on the first link (most nodes, every task's that
    /// enters no scope, never have one: 8 bytes instead of 40).
    children: Option<Box<Slab<Weak<ScopeNode>>>>,
    /// Our slot in the parent's `children`; meaningful only while `LINKED` is set and the
    /// node has a parent.
    key: usize,
    waker: Option<Waker>,
    /// Why the node was cancelled. Boxed: a thin pointer keeps every node 8 bytes
    /// smaller, and only a cancellation pays the box.
    reason: Option<Box<Arc<str>>>,
}

/// The identity of a waker kept behind a lock (the two pointers `Waker::will_wake`
/// compares), readable without that lock: the one place the crate caches "is this the
/// waker I stored?" (the scope tree's nodes and the task wrapper use it).
///
/// # Invariant
/// Written only by the holder of the lock that guards the waker, right after storing it;
/// a reader that sees a match may skip the lock, since the stored waker then wakes its task.
pub(crate) struct WakerIdentity {
    data: AtomicUsize,
    vtable: AtomicUsize,
}

impl WakerIdentity {
    /// No waker stored.
    pub(crate) fn new() -> WakerIdentity {
        WakerIdentity {
            data: AtomicUsize::new(0),
            vtable: AtomicUsize::new(0),
        }
    }

    fn of(waker: &Waker) -> (usize, usize) {
        (
            waker.data() as usize,
            waker.vtable() as *const RawWakerVTable as usize,
        )
    }

    /// Whether `waker` is the waker last stored.
    pub(crate) fn is(&self, waker: &Waker) -> bool {
        let (data, vtable) = WakerIdentity::of(waker);
        // Acquire (both): pair with the Release stores of `set` (an earlier poll, maybe on
        // another thread), so what was published before them is visible here.
        self.data.load(Ordering::Acquire) == data && self.vtable.load(Ordering::Acquire) == vtable
    }

    /// Records that `waker` is now the one stored (call under the waker's lock).
    pub(crate) fn set(&self, waker: &Waker) {
        let (data, vtable) = WakerIdentity::of(waker);
        // Release (both): a reader that matches sees what was written before (the waker,
        // and for a node the flags set before it).
        self.data.store(data, Ordering::Release);
        self.vtable.store(vtable, Ordering::Release);
    }
}

/// The one rule for when a future's node links itself into the tree (invariant 3): after a
/// pending poll that waits for a wake-up — an anyio operation blocked, or (seen only by a
/// task's wrapper, which alone learns of its task's yields) the poll ended pending without
/// a yield, i.e. in a foreign future, which must still be reachable when its group is
/// aborted. A poll that only yielded is polled again soon and links nothing; a scope
/// around a foreign future cannot tell it from a yield and links nothing either (foreign
/// futures do not see cancel scopes; the task's own node is linked).
pub(crate) fn must_link(polled: &Polled, sees_yields: bool) -> bool {
    polled.blocked || (sees_yields && !polled.yielded)
}

impl std::fmt::Debug for ScopeNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeNode")
            // Relaxed: a diagnostic snapshot; nothing is read through it.
            .field("flags", &self.flags.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A node that carries no task (a cancel scope's, a task group's).
pub(crate) type PlainNode = ScopeNode<[TaskData; 0]>;

impl PlainNode {
    /// A node that is not entered yet; [`ScopeNode::enter`] gives it a parent.
    pub(crate) fn new(deadline: Option<Instant>, shield: bool) -> PlainNode {
        PlainNode::with_ext(Parent::Late(OnceLock::new()), deadline, shield, [])
    }

    /// A node entered at once under `parent` (task groups).
    pub(crate) fn child_of(parent: Option<Arc<ScopeNode>>) -> Arc<ScopeNode> {
        ScopeNode::entered(parent, None)
    }

    /// A node entered at once under `parent`, with a deadline.
    pub(crate) fn entered(
        parent: Option<Arc<ScopeNode>>,
        deadline: Option<Instant>,
    ) -> Arc<ScopeNode> {
        Arc::new(PlainNode::with_ext(
            Parent::Fixed(parent),
            deadline,
            false,
            [],
        ))
    }
}

impl<X> ScopeNode<X> {
    /// A node entered at once under `parent` that carries `ext` in its allocation (a task's
    /// node and state).
    pub(crate) fn entered_with(parent: Option<Arc<ScopeNode>>, ext: X) -> ScopeNode<X> {
        ScopeNode::with_ext(Parent::Fixed(parent), None, false, ext)
    }

    fn with_ext(parent: Parent, deadline: Option<Instant>, shield: bool, ext: X) -> ScopeNode<X> {
        let mut flags = if shield { SHIELD } else { 0 };
        if deadline.is_some() {
            flags |= HAS_DEADLINE;
        }
        ScopeNode {
            parent,
            flags: AtomicU8::new(flags),
            deadline: AtomicU64::new(deadline.map_or(0, instant_to_nanos)),
            clean_at: AtomicU64::new(0),
            waker_id: WakerIdentity::new(),
            inner: Mutex::new(NodeInner::default()),
            ext,
        }
    }

    /// What the node carries besides itself.
    pub(crate) fn ext(&self) -> &X {
        &self.ext
    }
}

impl ScopeNode {
    fn lock(&self) -> MutexGuard<'_, NodeInner> {
        // A panic while holding a node lock cannot leave NodeInner inconsistent (every
        // critical section is a few field writes), so a poisoned lock is still usable.
        self.inner.lock()
    }

    /// Sets the parent. Returns false if the node was entered before.
    pub(crate) fn enter(&self, parent: Option<Arc<ScopeNode>>) -> bool {
        match &self.parent {
            Parent::Fixed(_) => false,
            Parent::Late(cell) => cell.set(parent).is_ok(),
        }
    }

    pub(crate) fn is_entered(&self) -> bool {
        match &self.parent {
            Parent::Fixed(_) => true,
            Parent::Late(cell) => cell.get().is_some(),
        }
    }

    fn parent(&self) -> Option<&Arc<ScopeNode>> {
        match &self.parent {
            Parent::Fixed(parent) => parent.as_ref(),
            Parent::Late(cell) => cell.get().and_then(Option::as_ref),
        }
    }

    pub(crate) fn cancel_called(&self) -> bool {
        // Acquire: pairs with the Release half of `cancel`'s fetch_or (see `flags` below).
        self.flags.load(Ordering::Acquire) & CANCELLED != 0
    }

    pub(crate) fn cancelled_caught(&self) -> bool {
        // Acquire: pairs with `set_caught`, so a handle that sees CAUGHT sees the scope's
        // end that came before it.
        self.flags.load(Ordering::Acquire) & CAUGHT != 0
    }

    pub(crate) fn set_caught(&self) {
        // AcqRel: an RMW on the flag byte others update too; its Release half publishes
        // the scope's end to `cancelled_caught`.
        self.flags.fetch_or(CAUGHT, Ordering::AcqRel);
    }

    pub(crate) fn shield(&self) -> bool {
        // Acquire: pairs with `set_shield`'s RMWs.
        self.flags.load(Ordering::Acquire) & SHIELD != 0
    }

    /// Turns the shield on or off. Turning it off under a cancelled ancestor wakes the tasks
    /// beneath, since they are now cancelled.
    pub(crate) fn set_shield(self: &Arc<Self>, shield: bool) {
        // AcqRel (both): RMWs on the shared flag byte. Lowering the shield is ordered
        // before the walk below by the node locks the walk takes; a task that stores its
        // waker after the walk passed reads the lowered shield when it re-checks
        // (invariant 4).
        if shield {
            self.flags.fetch_or(SHIELD, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!SHIELD, Ordering::AcqRel);
            bump_epoch();
            if self.effectively_cancelled() {
                wake_subtree(self.clone());
            }
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        // Acquire (both loads): pair with `set_deadline`'s Release store and RMW, so the
        // deadline read is the one stored before HAS_DEADLINE was set (or a later one).
        if self.flags.load(Ordering::Acquire) & HAS_DEADLINE != 0 {
            Some(super::deadline::nanos_to_instant(
                self.deadline.load(Ordering::Acquire),
            ))
        } else {
            None
        }
    }

    pub(crate) fn deadline_nanos(&self) -> Option<u64> {
        // Acquire (both loads): as in `deadline`.
        if self.flags.load(Ordering::Acquire) & HAS_DEADLINE != 0 {
            Some(self.deadline.load(Ordering::Acquire))
        } else {
            None
        }
    }

    /// `set_deadline` and `set_shield` for a node nothing else can see yet (`&mut`: a
    /// scope handle being built, not shared, not entered): no chain runs through it, so
    /// there is no cached walk to invalidate (invariant 6) and no task to wake.
    pub(crate) fn preset(&mut self, deadline: Option<Option<Instant>>, shield: Option<bool>) {
        // Relaxed: `&mut` proves no other thread reads these; publishing the node later
        // (an `Arc` clone handed over, or the entry) orders them.
        if let Some(deadline) = deadline {
            match deadline {
                Some(at) => {
                    self.deadline.store(instant_to_nanos(at), Ordering::Relaxed);
                    self.flags.fetch_or(HAS_DEADLINE, Ordering::Relaxed);
                }
                None => {
                    self.flags.fetch_and(!HAS_DEADLINE, Ordering::Relaxed);
                }
            }
        }
        match shield {
            Some(true) => self.flags.fetch_or(SHIELD, Ordering::Relaxed),
            Some(false) => self.flags.fetch_and(!SHIELD, Ordering::Relaxed),
            None => 0,
        };
    }

    /// Moves the deadline; `None` removes it. Wakes the task running the scope so that it
    /// re-arms its timer for the new deadline.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        // Release (store) and AcqRel (RMWs): a reader that sees HAS_DEADLINE sees the value
        // stored before it. The RMWs and `block`'s fetch_or(ENGAGED) are ordered on the
        // one flag byte, so either the load of ENGAGED below sees the blocked task (and
        // wakes it to re-arm its timer), or that task's Acquire RMW comes later and it
        // reads the new deadline itself after blocking.
        match deadline {
            Some(at) => {
                self.deadline.store(instant_to_nanos(at), Ordering::Release);
                self.flags.fetch_or(HAS_DEADLINE, Ordering::AcqRel);
                bump_epoch();
            }
            None => {
                // AcqRel: as above.
                self.flags.fetch_and(!HAS_DEADLINE, Ordering::AcqRel);
            }
        }
        // Acquire: see above.
        if self.flags.load(Ordering::Acquire) & ENGAGED == 0 {
            return;
        }
        let waker = self.lock().waker.clone();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Cancels this node: sets the flag, then wakes every task blocked beneath it.
    /// A second call changes nothing (the first reason is kept).
    pub(crate) fn cancel(self: &Arc<Self>, reason: Option<Arc<str>>, by_deadline: bool) {
        {
            let mut inner = self.lock();
            if self.cancel_called() {
                return;
            }
            inner.reason = reason.map(Box::new);
            let extra = if by_deadline { BY_DEADLINE } else { 0 };
            // AcqRel: Release publishes the flag (and the reason) to the lock-free pull
            // side; the push side's ordering comes from the node locks (invariant 4).
            self.flags.fetch_or(CANCELLED | extra, Ordering::AcqRel);
            bump_epoch();
        }
        wake_subtree(self.clone());
    }

    /// The pull side: walks up from this node and answers whether a checkpoint here is
    /// cancelled. Reads the clock only when some node on the way has a deadline, and marks a
    /// node whose deadline has passed as cancelled.
    #[inline]
    pub(crate) fn check(self: &Arc<Self>) -> Option<Error> {
        // The common case — nothing changed since the last clean walk from here — costs two
        // loads (invariant 6). Acquire: pairs with `bump_epoch`'s Release, so every flag set
        // before the epoch read is visible to the walk in `walk_up`.
        let epoch = EPOCH.load(Ordering::Acquire);
        // Relaxed: the cache holds an epoch, never data; what it vouches for was made
        // visible by the Acquire above.
        if self.clean_at.load(Ordering::Relaxed) == epoch {
            return None;
        }
        self.walk_up(epoch)
    }

    /// `check` without a valid cache: walks up, and caches a clean result as of `epoch`.
    fn walk_up(self: &Arc<Self>, epoch: u64) -> Option<Error> {
        // One load, one test and one pointer read per level.
        let mut node = self;
        loop {
            // Acquire: pairs with the Release half of every RMW on `flags` (cancel,
            // shield, deadline), so what they published is visible past the flag.
            let flags = node.flags.load(Ordering::Acquire);
            if flags & (CANCELLED | HAS_DEADLINE | SHIELD) != 0 {
                return check_from(node);
            }
            match node.parent() {
                Some(p) => node = p,
                None => break,
            }
        }
        if node.is_entered() {
            // Relaxed: see above.
            self.clean_at.store(epoch, Ordering::Relaxed);
        }
        None
    }

    pub(crate) fn effectively_cancelled(self: &Arc<Self>) -> bool {
        self.check().is_some()
    }

    /// Whether a cancellation of an ancestor is visible through this node (trio's
    /// `parent_cancellation_is_visible_to_us`): decides whether this scope may absorb a
    /// `Cancelled` error or must let it travel outward.
    pub(crate) fn parent_cancellation_visible(&self) -> bool {
        if self.shield() {
            return false;
        }
        self.parent().is_some_and(|p| p.effectively_cancelled())
    }

    /// The nearest deadline that applies here: the earliest deadline among this node and its
    /// ancestors up to and including the first shielded one.
    pub(crate) fn effective_deadline(self: &Arc<Self>) -> Option<u64> {
        let mut best: Option<u64> = None;
        let mut node = self;
        loop {
            if let Some(d) = node.deadline_nanos() {
                best = Some(best.map_or(d, |b| b.min(d)));
            }
            if node.shield() {
                return best;
            }
            match node.parent() {
                Some(p) => node = p,
                None => return best,
            }
        }
    }

    /// The push side: a task is about to block beneath this node. Stores its waker, links
    /// the node (and its ancestors) into the tree, then re-checks (invariant 4).
    ///
    /// It re-checks only when this call changed something a cancel walk may have missed:
    /// a newly stored waker (the walk may have passed this node before it was there) or a
    /// new link (the walk may have passed the parent before it). Blocking again with the
    /// waker already in place re-checks nothing, so a future blocked in a shielded scope
    /// under a cancelled one is not woken again and again. (A future whose waker changes at
    /// every poll would be woken once per change while its node is cancelled and it stays
    /// blocked; executors and the usual combinators keep a task's waker.)
    pub(crate) fn block(self: &Arc<Self>, waker: &Waker) {
        // Acquire: pairs with the Release RMW of `link` that set LINKED, so the link (and
        // the identity stored before it) is seen complete.
        if self.flags.load(Ordering::Acquire) & LINKED != 0 && self.waker_id.is(waker) {
            return;
        }
        let (stored, newly_linked) = {
            let mut inner = self.lock();
            // Acquire: CLOSED is set by `close` before it takes this lock, or seen here.
            let flags = self.flags.load(Ordering::Acquire);
            if flags & CLOSED != 0 {
                // Exited (a late poll of a dropped wrapper): keep no waker (invariant 5).
                return;
            }
            let stored = match &inner.waker {
                Some(w) if w.will_wake(waker) => false,
                _ => {
                    inner.waker = Some(waker.clone());
                    self.waker_id.set(waker);
                    true
                }
            };
            // AcqRel: ENGAGED tells `close`/`set_deadline` to take the lock; published
            // before the lock is released, so they see it with the waker.
            self.flags.fetch_or(ENGAGED, Ordering::AcqRel);
            let newly_linked = flags & LINKED == 0 && self.link_self(&mut inner);
            (stored, newly_linked)
        };
        if newly_linked {
            // The rest of the chain, one node at a time (each takes its own lock).
            if let Some(parent) = self.parent() {
                parent.link();
            }
            // Newly linked: a walk may have passed the parent before the link, so this
            // node and everything linked beneath it may have been missed.
            if self.effectively_cancelled() {
                wake_subtree(self.clone());
            }
        } else if stored && self.effectively_cancelled() {
            // Linked before (by a child, or by an earlier block): the walk reaches this
            // node's children, but may have read this node's waker slot before the store.
            waker.wake_by_ref();
        }
    }

    /// Links this node into its parent, under this node's lock (`inner`); returns whether
    /// it was newly linked into a parent (a root is only marked).
    fn link_self(self: &Arc<Self>, inner: &mut NodeInner) -> bool {
        // Acquire: see `block`; the flags are re-read under the lock.
        let flags = self.flags.load(Ordering::Acquire);
        if flags & (LINKED | CLOSED) != 0 {
            return false;
        }
        let Some(parent) = self.parent() else {
            // A root has nothing to link to: mark it so the next block takes the fast path.
            // AcqRel: an RMW on the shared flag byte; Release publishes LINKED to the fast
            // path.
            self.flags.fetch_or(ENGAGED | LINKED, Ordering::AcqRel);
            return false;
        };
        let mut p = parent.lock();
        // Acquire: the parent's CLOSED, set before its `close` takes this lock.
        if parent.flags.load(Ordering::Acquire) & CLOSED != 0 {
            return false;
        }
        inner.key = p
            .children
            .get_or_insert_with(Box::default)
            .insert(Arc::downgrade(self));
        // AcqRel: as for a root above; the link itself is ordered by the locks.
        self.flags.fetch_or(ENGAGED | LINKED, Ordering::AcqRel);
        true
    }

    /// Links this node and its ancestors, up to the first one linked already.
    fn link(self: &Arc<Self>) {
        let mut node = self.clone();
        loop {
            // Acquire: LINKED is never cleared, so a node seen linked needs no lock (the
            // common case: a child links under a group linked by its siblings before).
            if node.flags.load(Ordering::Acquire) & LINKED != 0 {
                return;
            }
            let linked = {
                let mut inner = node.lock();
                node.link_self(&mut inner)
            };
            match node.parent() {
                Some(parent) if linked => node = parent.clone(),
                _ => return,
            }
        }
    }

    /// The scope has exited: unlink it and never link it again (invariant 5). A node that
    /// was never engaged (no task blocked under it) has nothing to undo and takes no lock.
    /// A second call does nothing.
    pub(crate) fn close(&self) {
        // AcqRel: ordered with `block`'s fetch_or(ENGAGED) on the same byte: either this
        // sees ENGAGED and takes the lock, or `block`, coming later, sees CLOSED.
        let before = self.flags.fetch_or(CLOSED, Ordering::AcqRel);
        if before & CLOSED != 0 || before & ENGAGED == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.waker = None;
        // Acquire: LINKED is set under the lock we hold, so this reads its latest value.
        if self.flags.load(Ordering::Acquire) & LINKED != 0 {
            if let Some(parent) = self.parent() {
                let mut p = parent.lock();
                if let Some(children) = p.children.as_mut() {
                    children.try_remove(inner.key);
                }
            }
        }
    }
}

/// The rest of [`ScopeNode::check`], from the first node that has a flag of interest.
#[cold]
fn check_from(start: &Arc<ScopeNode>) -> Option<Error> {
    let mut now: Option<u64> = None;
    let mut node = start;
    loop {
        // Acquire (this and the deadline load): as in `check` and `deadline`.
        let flags = node.flags.load(Ordering::Acquire);
        if flags & CANCELLED != 0 {
            return Some(Error::cancelled(
                node.lock().reason.as_deref().map(|r| &**r),
            ));
        }
        if flags & HAS_DEADLINE != 0 {
            let t = *now.get_or_insert_with(now_nanos);
            // Acquire: as in `deadline`.
            if t >= node.deadline.load(Ordering::Acquire) {
                node.cancel(Some(Arc::from("the deadline expired")), true);
                return Some(Error::cancelled(Some("the deadline expired")));
            }
        }
        if flags & SHIELD != 0 {
            return None;
        }
        match node.parent() {
            Some(p) => node = p,
            None => return None,
        }
    }
}

/// What `testing::dump_task_tree` reads of one node.
pub(crate) struct NodeView {
    /// The data pointer of the waker stored here (for a task's own waker, its `TaskCore`).
    pub(crate) waker_data: Option<usize>,
    /// The linked children: the scopes and tasks some task waits beneath.
    pub(crate) children: Vec<Arc<ScopeNode>>,
}

impl ScopeNode {
    /// A snapshot for the task-tree dump (takes this node's lock only).
    pub(crate) fn view(&self) -> NodeView {
        let inner = self.lock();
        NodeView {
            waker_data: inner.waker.as_ref().map(|w| w.data() as usize),
            children: inner
                .children
                .iter()
                .flat_map(|c| c.iter())
                .filter_map(|(_, c)| c.upgrade())
                .collect(),
        }
    }

    /// The top of the tree this node is in.
    pub(crate) fn root(self: &Arc<Self>) -> Arc<ScopeNode> {
        let mut node = self;
        while let Some(p) = node.parent() {
            node = p;
        }
        node.clone()
    }
}

impl ScopeNode {
    /// Wakes every task blocked at or beneath this node, shielded or not (used when a task
    /// group is dropped: its children must run once more to drop their futures).
    pub(crate) fn wake_all(self: &Arc<Self>) {
        walk_and_wake(self.clone(), true);
    }
}

/// Wakes every task blocked at or beneath `root`, not descending into shielded nodes (they
/// hide outer cancellation).
fn wake_subtree(root: Arc<ScopeNode>) {
    walk_and_wake(root, false);
}

fn walk_and_wake(root: Arc<ScopeNode>, through_shields: bool) {
    let mut stack = vec![root];
    let mut wakers = Vec::new();
    while let Some(node) = stack.pop() {
        let inner = node.lock();
        if let Some(w) = &inner.waker {
            wakers.push(w.clone());
        }
        for (_, child) in inner.children.iter().flat_map(|c| c.iter()) {
            if let Some(child) = child.upgrade() {
                if through_shields || !child.shield() {
                    stack.push(child);
                }
            }
        }
        drop(inner);
        for w in wakers.drain(..) {
            w.wake();
        }
    }
}
