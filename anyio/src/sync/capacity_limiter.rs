//! [`CapacityLimiter`]: a pool of tokens, at most one per borrower.

// Only a `const`-initialised static uses an atomic here: std's in both builds (loom's has no
// const `new`).
use crate::loom::{Mutex, MutexGuard};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::waiters::{Handoff, Wait, WaitQueue, WakeList};
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel;

/// Who holds a token of a [`CapacityLimiter`]: a task, or any other entity that asked for
/// one with [`Borrower::new`] (a thread, a connection, a job).
///
/// A borrower holds at most one token of a given limiter at a time.
///
/// # Examples
///
/// ```
/// use anyio::{Borrower, CapacityLimiter};
///
/// let limiter = CapacityLimiter::new(2)?;
/// let job = Borrower::new();
/// let token = limiter.try_acquire_on_behalf_of(job)?;
/// assert_eq!(limiter.statistics().borrowers, vec![job]);
/// drop(token);
/// assert_eq!(limiter.borrowed_tokens(), 0);
/// # Ok::<_, anyio::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Borrower(Identity);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Identity {
    Task(u64),
    Other(u64),
}

static NEXT_BORROWER: AtomicU64 = AtomicU64::new(1);

impl Borrower {
    /// A new borrower, different from every other one (and from every task).
    #[allow(clippy::new_without_default)] // a fresh identity is not a default value
    pub fn new() -> Borrower {
        // Relaxed: only uniqueness matters, and a read-modify-write is unique under any
        // ordering. Wrapping after 2^64 borrowers cannot happen in practice.
        Borrower(Identity::Other(
            NEXT_BORROWER.fetch_add(1, Ordering::Relaxed),
        ))
    }

    /// The anyio task that calls this (AnyIO's default borrower, `current_task()`).
    ///
    /// Outside any anyio task (code running directly on a runtime, not under
    /// [`anyio::run`](fn@crate::run) or a task group) there is no task to name: a new
    /// borrower is returned, as [`Borrower::new`] does.
    pub fn current_task() -> Borrower {
        match context::current_task_id() {
            Some(id) => Borrower(Identity::Task(id)),
            None => Borrower::new(),
        }
    }

    /// The id of the task this borrower is (as in [`TaskInfo`](crate::TaskInfo)), or
    /// `None` for a borrower made by [`Borrower::new`].
    pub fn task_id(&self) -> Option<u64> {
        match self.0 {
            Identity::Task(id) => Some(id),
            Identity::Other(_) => None,
        }
    }
}

impl fmt::Debug for Borrower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Identity::Task(id) => write!(f, "Borrower(task {id})"),
            Identity::Other(id) => write!(f, "Borrower({id})"),
        }
    }
}

/// Statistics of a [`CapacityLimiter`], as [`CapacityLimiter::statistics`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapacityLimiterStatistics {
    /// Tokens held now.
    pub borrowed_tokens: usize,
    /// Tokens in the pool, borrowed or not.
    pub total_tokens: usize,
    /// Who holds them, in no particular order.
    pub borrowers: Vec<Borrower>,
    /// Tasks waiting in [`acquire`](CapacityLimiter::acquire) or
    /// [`acquire_on_behalf_of`](CapacityLimiter::acquire_on_behalf_of).
    pub tasks_waiting: usize,
}

/// A pool of tokens that limits how many tasks (or threads, or any other borrowers) do
/// something at once — AnyIO's `CapacityLimiter`.
///
/// Unlike a [`Semaphore`](crate::Semaphore), a limiter knows who holds its tokens: each
/// token is borrowed by a [`Borrower`] (by default the calling task), a borrower holds at
/// most one token, and only the holder can give it back. The number of tokens can change
/// while the limiter is in use ([`set_total_tokens`](Self::set_total_tokens)). Waiters are
/// served in FIFO order. Worker threads (`to_thread`) run under one.
///
/// `CapacityLimiter` is a handle: clones share the same pool.
///
/// # Examples
///
/// At most two downloads at once:
///
/// ```
/// use std::time::Duration;
/// use anyio::CapacityLimiter;
///
/// # anyio::run(|| async {
/// let limiter = CapacityLimiter::new(2)?;
/// anyio::task_group(|tg| async move {
///     for _ in 0..5 {
///         let limiter = limiter.clone();
///         tg.start_soon(async move {
///             let _token = limiter.acquire().await?;
///             assert!(limiter.borrowed_tokens() <= 2);
///             anyio::sleep(Duration::from_millis(1)).await // "download"
///         })?;
///     }
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct CapacityLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
}

struct State {
    total: usize,
    /// Every holder, with the number of its loan (so that a guard releases only the loan it
    /// was given, not a later one of the same borrower).
    /// # Invariant
    /// `borrowed` = `borrowers.len()` + the anonymous loans out.
    borrowed: usize,
    borrowers: HashMap<Borrower, u64, Cheap>,
    /// Every borrower with a queued (or just skipped) waiter.
    waiting: HashSet<Borrower, Cheap>,
    next_loan: u64,
    waiters: WaitQueue<Loan>,
}

#[derive(Clone, Copy, Debug)]
struct Loan {
    borrower: Borrower,
    id: u64,
    /// A loan of the crate's own (`to_thread`) that no borrower map records: it can only
    /// be given back by its guard, so nothing needs to look it up.
    anonymous: bool,
}

/// The hasher of the borrower maps. A borrower is two small integers that no outsider
/// chooses freely (task ids and `Borrower::new`'s counter), so SipHash's defence against
/// chosen keys buys nothing here, and it was 18% of a busy `to_thread`'s time.
type Cheap = BuildHasherDefault<BorrowerHasher>;

/// A multiply-rotate hasher (FxHash's scheme) for [`Cheap`].
#[derive(Default)]
struct BorrowerHasher(u64);

impl Hasher for BorrowerHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

impl State {
    fn next_loan_id(&mut self) -> u64 {
        // Wrapping: an id is compared only with the current loan of the same borrower,
        // which cannot be 2^64 loans old.
        self.next_loan = self.next_loan.wrapping_add(1);
        self.next_loan
    }

    fn lend(&mut self, borrower: Borrower) -> Loan {
        let id = self.next_loan_id();
        let loan = Loan {
            borrower,
            id,
            anonymous: false,
        };
        self.borrowers.insert(borrower, loan.id);
        self.borrowed += 1;
        loan
    }

    /// Hands free tokens to waiters, first come first served.
    fn grant(&mut self, wake: &mut WakeList) {
        while self.borrowed < self.total {
            let id = self.next_loan.wrapping_add(1); // as in `next_loan_id`
            let Some(loan) = self.waiters.grant_next(wake) else {
                return;
            };
            self.next_loan = id;
            loan.id = id; // the waiter's `Wait` returns this loan
            let loan = *loan;
            self.borrowed += 1;
            if !loan.anonymous {
                self.borrowers.insert(loan.borrower, loan.id);
                self.waiting.remove(&loan.borrower);
            }
        }
    }

    /// Returns `loan`'s token (when it is still out) and hands it on.
    fn give_back(&mut self, loan: Loan, wake: &mut WakeList) -> bool {
        if !loan.anonymous {
            if self.borrowers.get(&loan.borrower) != Some(&loan.id) {
                return false;
            }
            self.borrowers.remove(&loan.borrower);
        }
        self.borrowed -= 1;
        self.grant(wake);
        true
    }

    /// The checks every acquisition starts with.
    fn check_borrower(&self, borrower: Borrower) -> Result<()> {
        if self.borrowers.contains_key(&borrower) {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this borrower is already holding one of this capacity limiter's tokens",
            ));
        }
        if self.waiting.contains(&borrower) {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this borrower is already waiting for one of this capacity limiter's tokens",
            ));
        }
        Ok(())
    }

    fn has_free_token(&self) -> bool {
        self.waiters.is_empty() && self.borrowed < self.total
    }
}

impl Handoff for Inner {
    type State = State;
    type Data = Loan;

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn queue(state: &mut State) -> &mut WaitQueue<Loan> {
        &mut state.waiters
    }

    fn try_take(state: &mut State, data: &mut Loan) -> bool {
        if state.borrowed >= state.total {
            return false;
        }
        if data.anonymous {
            data.id = state.next_loan_id();
            state.borrowed += 1;
        } else {
            *data = state.lend(data.borrower);
            state.waiting.remove(&data.borrower);
        }
        true
    }

    fn pass_on(state: &mut State, data: Loan, wake: &mut WakeList) {
        state.give_back(data, wake);
    }

    fn withdrawn(state: &mut State, data: &Loan) {
        if !data.anonymous {
            state.waiting.remove(&data.borrower);
        }
    }
}

fn zero_tokens() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "a capacity limiter needs at least one token",
    )
}

impl CapacityLimiter {
    /// A limiter with `total_tokens` tokens. `usize::MAX` means no limit in practice.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `total_tokens` is 0.
    pub fn new(total_tokens: usize) -> Result<CapacityLimiter> {
        if total_tokens == 0 {
            return Err(zero_tokens());
        }
        Ok(CapacityLimiter {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    total: total_tokens,
                    borrowed: 0,
                    borrowers: HashMap::default(),
                    waiting: HashSet::default(),
                    next_loan: 0,
                    waiters: WaitQueue::new(),
                }),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }

    /// The number of tokens in the pool, borrowed or not.
    pub fn total_tokens(&self) -> usize {
        self.state().total
    }

    /// Changes the number of tokens. Raising it hands the new tokens to waiting tasks at
    /// once; lowering it takes no token back (borrowers keep theirs, and no new token is
    /// lent until fewer than `total_tokens` are out).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `total_tokens` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::CapacityLimiter;
    ///
    /// let limiter = CapacityLimiter::new(1)?;
    /// limiter.set_total_tokens(3)?;
    /// assert_eq!(limiter.available_tokens(), 3);
    /// assert!(limiter.set_total_tokens(0).is_err());
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn set_total_tokens(&self, total_tokens: usize) -> Result<()> {
        if total_tokens == 0 {
            return Err(zero_tokens());
        }
        let mut wake = WakeList::new();
        {
            let mut state = self.state();
            state.total = total_tokens;
            state.grant(&mut wake);
        }
        wake.wake_all();
        Ok(())
    }

    /// The number of tokens held now.
    pub fn borrowed_tokens(&self) -> usize {
        self.state().borrowed
    }

    /// The number of tokens that can be borrowed now (0 while tasks wait, or when the
    /// total was lowered below the number borrowed).
    pub fn available_tokens(&self) -> usize {
        let state = self.state();
        state.total.saturating_sub(state.borrowed)
    }

    /// Borrows a token for the current task, waiting for one if none is free.
    ///
    /// Outside any anyio task, each call borrows for a new [`Borrower`] (see
    /// [`Borrower::current_task`]).
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A call in a cancelled scope returns `Cancelled` and borrows nothing,
    /// even when a token is free. A waiting call that is cancelled leaves the queue; a token
    /// handed to it before the cancellation is returned as usual (the task sees `Cancelled`
    /// at its next checkpoint). Dropping the future gives back a token it was handed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the task already holds (or waits for) a token of
    /// this limiter; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # anyio::run(|| async {
    /// let limiter = anyio::CapacityLimiter::new(1)?;
    /// let token = limiter.acquire().await?;
    /// assert_eq!(limiter.available_tokens(), 0);
    /// drop(token);
    /// assert_eq!(limiter.available_tokens(), 1);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn acquire(&self) -> Result<CapacityLimiterGuard> {
        self.acquire_on_behalf_of(Borrower::current_task()).await
    }

    /// Borrows a token for `borrower`, waiting for one if none is free.
    ///
    /// # Cancellation
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when `borrower` already holds (or waits for) a token of
    /// this limiter; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::{Borrower, CapacityLimiter};
    ///
    /// # anyio::run(|| async {
    /// let limiter = CapacityLimiter::new(4)?;
    /// let worker = Borrower::new();
    /// let token = limiter.acquire_on_behalf_of(worker).await?;
    /// assert_eq!(token.borrower(), worker);
    /// // A borrower holds one token at most.
    /// assert!(limiter.acquire_on_behalf_of(worker).await.is_err());
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn acquire_on_behalf_of(&self, borrower: Borrower) -> Result<CapacityLimiterGuard> {
        lowlevel::Checkpoint::check()?;
        let queued = {
            let mut state = self.state();
            state.check_borrower(borrower)?;
            if state.has_free_token() {
                Err(state.lend(borrower))
            } else {
                state.waiting.insert(borrower);
                let loan = Loan {
                    borrower,
                    id: 0,
                    anonymous: false,
                };
                Ok(state.waiters.push_back(loan, true))
            }
        };
        match queued {
            Err(loan) => {
                let guard = self.guard(loan);
                // An uncontended acquisition is still a schedule point (AnyIO yields
                // here); the token is ours already, so it is not a cancellation point.
                lowlevel::cancel_shielded_checkpoint().await;
                Ok(guard)
            }
            Ok(key) => {
                let loan = Wait::new(&*self.inner, key, true).await?;
                Ok(self.guard(loan))
            }
        }
    }

    /// Borrows a token that no borrower map records (for `to_thread`, whose calls need no
    /// identity: one task may run several at once). The same protocol as
    /// [`acquire_on_behalf_of`](Self::acquire_on_behalf_of), without its bookkeeping; the
    /// loan shows in `borrowed_tokens` but not in `statistics().borrowers`.
    pub(crate) async fn acquire_anonymous(&self) -> Result<CapacityLimiterGuard> {
        lowlevel::Checkpoint::check()?;
        let queued = {
            let mut state = self.state();
            let loan = Loan {
                borrower: Borrower::new(),
                id: 0,
                anonymous: true,
            };
            if state.has_free_token() {
                state.borrowed += 1;
                Err(Loan {
                    id: state.next_loan_id(),
                    ..loan
                })
            } else {
                Ok(state.waiters.push_back(loan, true))
            }
        };
        match queued {
            Err(loan) => {
                let guard = self.guard(loan);
                // As in `acquire_on_behalf_of`: a schedule point, not a cancellation point.
                lowlevel::cancel_shielded_checkpoint().await;
                Ok(guard)
            }
            Ok(key) => {
                let loan = Wait::new(&*self.inner, key, true).await?;
                Ok(self.guard(loan))
            }
        }
    }

    fn guard(&self, loan: Loan) -> CapacityLimiterGuard {
        CapacityLimiterGuard {
            limiter: self.clone(),
            loan,
            forgotten: false,
        }
    }

    /// Borrows a token for the current task if one is free now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when no token is free (or tasks are queued for one);
    /// [`ErrorKind::InvalidState`] when the task already holds a token of this limiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::{CapacityLimiter, ErrorKind};
    ///
    /// # anyio::run(|| async {
    /// let limiter = CapacityLimiter::new(1)?;
    /// let token = limiter.try_acquire()?;
    /// let err = limiter.try_acquire_on_behalf_of(anyio::Borrower::new()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WouldBlock);
    /// # drop(token);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "acquire_nowait")]
    pub fn try_acquire(&self) -> Result<CapacityLimiterGuard> {
        self.try_acquire_on_behalf_of(Borrower::current_task())
    }

    /// Borrows a token for `borrower` if one is free now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when no token is free (or tasks are queued for one);
    /// [`ErrorKind::InvalidState`] when `borrower` already holds a token of this limiter.
    #[doc(alias = "acquire_on_behalf_of_nowait")]
    pub fn try_acquire_on_behalf_of(&self, borrower: Borrower) -> Result<CapacityLimiterGuard> {
        let loan = {
            let mut state = self.state();
            state.check_borrower(borrower)?;
            if !state.has_free_token() {
                return Err(Error::new(
                    ErrorKind::WouldBlock,
                    "no token of this capacity limiter is free",
                ));
            }
            state.lend(borrower)
        };
        Ok(self.guard(loan))
    }

    /// Gives back the token of the current task, held without a guard (see
    /// [`CapacityLimiterGuard::forget`]).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the current task holds no token of this limiter.
    pub fn release(&self) -> Result<()> {
        self.release_on_behalf_of(Borrower::current_task())
    }

    /// Gives back the token held by `borrower` and hands it to the next waiter.
    ///
    /// Meant for tokens held without a guard ([`CapacityLimiterGuard::forget`]); releasing
    /// a token a guard still holds is allowed too, and the guard then does nothing when it
    /// is dropped.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when `borrower` holds no token of this limiter (for
    /// example because it was released already).
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::{Borrower, CapacityLimiter};
    ///
    /// let limiter = CapacityLimiter::new(1)?;
    /// let job = limiter.try_acquire_on_behalf_of(Borrower::new())?.forget();
    /// limiter.release_on_behalf_of(job)?;
    /// assert!(limiter.release_on_behalf_of(job).is_err()); // released twice
    /// # Ok::<_, anyio::Error>(())
    /// ```
    pub fn release_on_behalf_of(&self, borrower: Borrower) -> Result<()> {
        let mut wake = WakeList::new();
        {
            let mut state = self.state();
            let Some(&id) = state.borrowers.get(&borrower) else {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "this borrower isn't holding any of this capacity limiter's tokens",
                ));
            };
            let loan = Loan {
                borrower,
                id,
                anonymous: false,
            };
            state.give_back(loan, &mut wake);
        }
        wake.wake_all();
        Ok(())
    }

    /// Statistics: tokens, borrowers, tasks waiting.
    pub fn statistics(&self) -> CapacityLimiterStatistics {
        let state = self.state();
        let mut borrowers: Vec<Borrower> = state.borrowers.keys().copied().collect();
        borrowers.sort();
        CapacityLimiterStatistics {
            borrowed_tokens: state.borrowed,
            total_tokens: state.total,
            borrowers,
            tasks_waiting: state.waiters.len(),
        }
    }
}

impl fmt::Debug for CapacityLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("CapacityLimiter")
            .field("total_tokens", &state.total)
            .field("borrowed_tokens", &state.borrowed)
            .field("tasks_waiting", &state.waiters.len())
            .finish()
    }
}

/// A token borrowed from a [`CapacityLimiter`]; dropping it gives the token back (to the
/// next waiter, if any).
#[must_use = "the token is given back as soon as the guard is dropped"]
pub struct CapacityLimiterGuard {
    limiter: CapacityLimiter,
    loan: Loan,
    forgotten: bool,
}

impl CapacityLimiterGuard {
    /// Who holds the token.
    pub fn borrower(&self) -> Borrower {
        self.loan.borrower
    }

    /// The limiter the token belongs to.
    pub fn limiter(&self) -> &CapacityLimiter {
        &self.limiter
    }

    /// Keeps the token borrowed without a guard and returns its borrower; give it back
    /// with [`CapacityLimiter::release_on_behalf_of`] (or [`CapacityLimiter::release`] when
    /// the borrower is the current task). AnyIO's manual `acquire()` / `release()`.
    pub fn forget(mut self) -> Borrower {
        self.forgotten = true;
        if self.loan.anonymous {
            // Give the loan a name, so that `release_on_behalf_of` can find it.
            let mut state = self.limiter.state();
            state.borrowers.insert(self.loan.borrower, self.loan.id);
        }
        self.loan.borrower
    }
}

impl Drop for CapacityLimiterGuard {
    fn drop(&mut self) {
        if self.forgotten {
            return;
        }
        let mut wake = WakeList::new();
        self.limiter.state().give_back(self.loan, &mut wake);
        wake.wake_all();
    }
}

impl fmt::Debug for CapacityLimiterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityLimiterGuard")
            .field("borrower", &self.loan.borrower)
            .finish_non_exhaustive()
    }
}
