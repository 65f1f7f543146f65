//! Synchronization primitives (AnyIO's "Using synchronization primitives").
//!
//! Tasks use these objects to coordinate with each other: to signal that something
//! happened ([`Event`]), to take turns with a shared resource ([`Lock`], [`Mutex`],
//! [`Condition`]), to bound how many do something at once ([`Semaphore`],
//! [`CapacityLimiter`]) and to catch two of them using a single-user resource at once
//! ([`ResourceGuard`]). To pass *values*
//! between tasks, use memory object streams instead.
//!
//! # The model
//!
//! * **Written once, for every backend.** The primitives use no backend type: the same
//!   [`Lock`] works under tokio and smol, inside [`anyio::run`](fn@crate::run) or a plain
//!   `#[tokio::main]`, and can be created before any event loop runs.
//! * **Shared by cloning.** Each primitive is a handle (an `Arc` inside): clone it into the
//!   tasks that share it. Clones are the same primitive.
//! * **Thread-safe.** Tasks on several threads (tokio's multi-thread runtime, smol with
//!   several executor threads) may use one primitive at once.
//! * **Fair.** Waiters are served first come, first served. A lock, permit or token given
//!   back while tasks wait is *handed* to the first of them, so a task that just released
//!   it cannot take it again ahead of the queue.
//! * **Guards release.** [`Lock::lock`], [`Semaphore::acquire`] and
//!   [`CapacityLimiter::acquire`] return a guard that gives the resource back when it is
//!   dropped — also when the task unwinds from an error or a cancellation. AnyIO's manual
//!   `acquire()` / `release()` pairs exist too: `forget` the guard, then call `release`.
//! * **Errors, not panics.** Misuse — a task taking a lock it already holds, releasing a
//!   lock or token it does not hold, a semaphore released past its maximum, a limiter with
//!   zero tokens — returns an error of kind [`InvalidState`](crate::ErrorKind::InvalidState)
//!   or [`InvalidArgument`](crate::ErrorKind::InvalidArgument), as AnyIO raises
//!   `RuntimeError` or `ValueError`.
//!
//! # Cancellation
//!
//! Every waiting operation here is a [checkpoint](crate::cancel#checkpoints):
//!
//! * In a cancelled scope it returns `Cancelled` at once, even when it could complete
//!   (the lock is free, the event is set) — the `fast_acquire` option skips only the
//!   schedule point of an uncontended acquisition, not this check.
//! * A task cancelled while it waits leaves the queue and returns `Cancelled`. Whatever
//!   was handed to it *before* its scope was cancelled is returned as usual (the task sees
//!   the cancellation at its next checkpoint, and its guard gives the resource back as it
//!   unwinds); a release that comes *after* the cancellation skips it and goes to the next
//!   waiter. Either way nothing is lost and nothing stays locked.
//! * Dropping a waiting future (from `select!`, or because its task is aborted) withdraws
//!   it too; a lock, permit, token or notification already handed to it passes on to the
//!   next waiter.
//!
//! Each async method's `# Cancellation` section says what a cancelled call leaves behind.
//!
//! # Events
//!
//! An [`Event`] is a flag that starts unset; [`Event::wait`] blocks until another task
//! [sets](Event::set) it, and then every waiter wakes up. An event cannot be cleared: make a
//! new one for the next occasion.
//!
//! ```
//! use anyio::Event;
//!
//! # anyio::run(|| async {
//! let event = Event::new();
//! anyio::task_group(|tg| {
//!     let event = event.clone();
//!     async move {
//!         let notifier = event.clone();
//!         tg.start_soon(async move {
//!             notifier.set();
//!             Ok::<_, anyio::Error>(())
//!         })?;
//!         event.wait().await?;
//!         println!("received notification!");
//!         Ok(())
//!     }
//! })
//! .await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Semaphores
//!
//! A [`Semaphore`] bounds how many tasks use something at once: each task takes a permit,
//! and waits while none is left.
//!
//! ```
//! use std::time::Duration;
//! use anyio::Semaphore;
//!
//! # anyio::run(|| async {
//! let semaphore = Semaphore::new(2);
//! anyio::task_group(|tg| async move {
//!     for num in 0..10 {
//!         let semaphore = semaphore.clone();
//!         tg.start_soon(async move {
//!             let _permit = semaphore.acquire().await?;
//!             println!("task {num} is running");
//!             anyio::sleep(Duration::from_millis(1)).await
//!         })?;
//!     }
//!     Ok(())
//! })
//! .await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! A semaphore may have a maximum ([`Semaphore::with_max_value`]); releasing past it is an
//! error, which catches a release too many.
//!
//! # Locks
//!
//! A [`Lock`] lets one task at a time run a section of async code — write a multi-part
//! message to a stream, run a protocol exchange. Like AnyIO's, it guards no data: data that
//! stays locked across `.await`s belongs in a [`Mutex<T>`](Mutex) (the same lock, holding
//! the data, see [its module docs](mutex)), and data only touched between two `.await`s
//! in a `std::sync::Mutex`.
//!
//! ```
//! use anyio::Lock;
//!
//! # anyio::run(|| async {
//! let lock = Lock::new();
//! anyio::task_group(|tg| async move {
//!     for num in 0..4 {
//!         let lock = lock.clone();
//!         tg.start_soon(async move {
//!             let _guard = lock.lock().await?;
//!             println!("task {num} has the lock");
//!             anyio::lowlevel::checkpoint().await // still exclusive across checkpoints
//!         })?;
//!     }
//!     Ok(())
//! })
//! .await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! `Lock::new().with_fast_acquire(true)` (AnyIO 4.5's `fast_acquire=True`) makes an
//! uncontended acquisition skip its schedule point, for hot paths where every nanosecond
//! counts.
//!
//! # Conditions
//!
//! A [`Condition`] pairs a lock with a queue of tasks waiting for "something changed". A
//! task holding the lock [waits](ConditionGuard::wait), which releases the lock until
//! another task, holding the lock in turn, [notifies](ConditionGuard::notify) it.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use anyio::Condition;
//!
//! # anyio::run(|| async {
//! let condition = Condition::new();
//! let ready = Arc::new(AtomicBool::new(false));
//! anyio::task_group(|tg| async move {
//!     for num in 0..3 {
//!         let (condition, ready) = (condition.clone(), ready.clone());
//!         tg.start_soon(async move {
//!             let mut guard = condition.lock().await?;
//!             guard.wait_for(|| ready.load(Ordering::SeqCst)).await?;
//!             println!("woke up task {num}");
//!             Ok::<_, anyio::Error>(())
//!         })?;
//!     }
//!     anyio::testing::wait_all_tasks_blocked().await?;
//!     let guard = condition.lock().await?;
//!     ready.store(true, Ordering::SeqCst);
//!     guard.notify_all();
//!     Ok(())
//! })
//! .await?;
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Capacity limiters
//!
//! A [`CapacityLimiter`] is a semaphore that knows who holds its tokens: each
//! [`Borrower`] (by default, the calling task) holds at most one, and only the holder gives
//! it back. Its size can change while it is in use. Worker threads run under one.
//!
//! A crawler that fetches at most three pages at once, however many links it finds:
//!
//! ```
//! use std::collections::HashSet;
//! use std::sync::{Arc, Mutex};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use anyio::{CapacityLimiter, TaskGroup};
//!
//! /// A stand-in for an HTTP client: page `n` links to pages `2n + 1` and `2n + 2`.
//! async fn fetch(page: u32) -> anyio::Result<Vec<u32>> {
//!     anyio::sleep(Duration::from_millis(2)).await?;
//!     Ok(vec![2 * page + 1, 2 * page + 2].into_iter().filter(|&p| p < 30).collect())
//! }
//!
//! #[derive(Clone)]
//! struct Crawler {
//!     limiter: CapacityLimiter,
//!     seen: Arc<Mutex<HashSet<u32>>>,
//!     in_flight: Arc<AtomicUsize>,
//!     max_in_flight: Arc<AtomicUsize>,
//! }
//!
//! impl Crawler {
//!     fn visit(&self, tg: &TaskGroup, page: u32) -> anyio::Result<()> {
//!         if !self.seen.lock().unwrap().insert(page) {
//!             return Ok(()); // crawled already
//!         }
//!         let (crawler, group) = (self.clone(), tg.clone());
//!         tg.start_soon(async move {
//!             let links = {
//!                 let _token = crawler.limiter.acquire().await?;
//!                 let now = crawler.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
//!                 crawler.max_in_flight.fetch_max(now, Ordering::SeqCst);
//!                 let links = fetch(page).await;
//!                 crawler.in_flight.fetch_sub(1, Ordering::SeqCst);
//!                 links?
//!             }; // the token goes back before the links are followed
//!             for link in links {
//!                 crawler.visit(&group, link)?;
//!             }
//!             Ok::<_, anyio::Error>(())
//!         })?;
//!         Ok(())
//!     }
//! }
//!
//! # anyio::run(|| async {
//! let crawler = Crawler {
//!     limiter: CapacityLimiter::new(3)?,
//!     seen: Arc::default(),
//!     in_flight: Arc::default(),
//!     max_in_flight: Arc::default(),
//! };
//! let c = crawler.clone();
//! anyio::task_group(|tg| async move { c.visit(&tg, 0) }).await?;
//! assert_eq!(crawler.seen.lock().unwrap().len(), 30); // every page, once
//! assert!(crawler.max_in_flight.load(Ordering::SeqCst) <= 3);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Resource guards
//!
//! Some resources — the receive side of a stream, say — must not be used by two tasks at
//! once, and doing so is a bug rather than a turn to wait for. A [`ResourceGuard`] turns
//! that bug into an error of kind [`BusyResource`](crate::ErrorKind::BusyResource):
//!
//! ```
//! use anyio::ResourceGuard;
//!
//! struct Connection {
//!     receive_guard: ResourceGuard,
//! }
//!
//! impl Connection {
//!     async fn receive(&self) -> anyio::Result<Vec<u8>> {
//!         let _busy = self.receive_guard.enter()?; // a second task errs here
//!         anyio::lowlevel::checkpoint().await?; // ... read from the socket ...
//!         Ok(b"hello".to_vec())
//!     }
//! }
//!
//! # anyio::run(|| async {
//! let connection = Connection { receive_guard: ResourceGuard::new("reading from") };
//! assert_eq!(connection.receive().await?, b"hello");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```
//!
//! # AnyIO names
//!
//! | AnyIO | here |
//! |---|---|
//! | `async with lock:` / `await lock.acquire()` | [`Lock::lock`] → [`LockGuard`] |
//! | `lock.acquire_nowait()` | [`Lock::try_lock`] |
//! | `lock.release()` | drop the guard, or [`LockGuard::forget`] + [`Lock::release`] |
//! | a `Lock` plus the data it protects | [`Mutex::lock`] → [`MutexGuard`] (no poisoning) |
//! | `semaphore.acquire()` / `acquire_nowait()` / `release()` | [`Semaphore::acquire`] / [`Semaphore::try_acquire`] / [`Semaphore::release`] |
//! | `async with condition:` / `condition.wait()` / `notify(n)` | [`Condition::lock`] → [`ConditionGuard::wait`] / [`ConditionGuard::notify`] |
//! | `limiter.acquire_on_behalf_of_nowait(b)` | [`CapacityLimiter::try_acquire_on_behalf_of`] |
//! | `limiter.total_tokens = n` | [`CapacityLimiter::set_total_tokens`] |
//! | `with guard:` (`ResourceGuard`) | [`ResourceGuard::enter`] → [`ResourceGuardToken`] |
//! | `*.statistics()` | `statistics()`, e.g. [`LockStatistics`] |
//!
//! Two deliberate differences: a capacity limiter needs at least one token (AnyIO 4.12
//! accepts 0, a paused limiter; here a zero is rejected so that a misconfigured limiter
//! fails loudly instead of blocking every caller), and its size is a `usize` (`usize::MAX`
//! stands for AnyIO's `math.inf`).

mod capacity_limiter;
mod condition;
mod event;
mod lock;
pub mod mutex;
mod resource_guard;
mod semaphore;
pub(crate) mod waiters;

pub use capacity_limiter::{
    Borrower, CapacityLimiter, CapacityLimiterGuard, CapacityLimiterStatistics,
};
pub use condition::{Condition, ConditionGuard, ConditionStatistics};
pub use event::{Event, EventStatistics};
pub use lock::{Lock, LockGuard, LockStatistics};
pub use mutex::{Mutex, MutexGuard};
pub use resource_guard::{ResourceGuard, ResourceGuardToken};
pub use semaphore::{Semaphore, SemaphorePermit, SemaphoreStatistics};
