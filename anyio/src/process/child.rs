//! [`Process`]: a running child, its pipes, and the teardown contract.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::pipe::{ProcessOutput, ProcessStdin};
use crate::backend::process::Child;
use crate::error::{Error, ErrorKind, Result};
use crate::streams::SharedResource;

/// The wakers of every task waiting for the child: whichever task polls the backend's
/// wait registers this one waker, so a waiter that is cancelled (and never polls again)
/// cannot leave the others unwoken.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The child and what is known of its exit.
///
/// # Invariant
///
/// Once `status` is `Some`, the child has been reaped: its pid may belong to another
/// process, so no signal is sent any more. Reaping happens only under this lock, so a
/// signal sent while `status` is `None` reaches our child (alive or a zombie).
struct ChildState {
    child: Child,
    status: Option<ExitStatus>,
}

/// A child process started by [`open_process`](super::open_process) (AnyIO's `Process`).
///
/// Its `stdin`, `stdout` and `stderr`, where they are pipes, are anyio byte streams:
/// borrow them ([`stdout`](Self::stdout)) or take them out into another task
/// ([`take_stdout`](Self::take_stdout)).
///
/// # Teardown
///
/// * Cancelling [`wait`](Self::wait) leaves the child alone: it keeps running and a later
///   `wait` gets its status.
/// * [`aclose`](Self::aclose) (AnyIO's `async with` exit) closes the pipes and waits for
///   the child; if that wait is cancelled, it kills the child and reaps it in a shielded
///   scope before it returns the cancellation.
/// * Dropping a `Process` whose child still runs kills the child (SIGKILL); the backend
///   reaps it in the background (tokio's SIGCHLD driver, async-process's reaper), so it
///   does not stay a zombie. Prefer `aclose`, which waits.
pub struct Process {
    pid: u32,
    state: Mutex<ChildState>,
    waiters: Arc<Waiters>,
    waker: Waker,
    stdin: Option<ProcessStdin>,
    stdout: Option<ProcessOutput>,
    stderr: Option<ProcessOutput>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid)
            .field("returncode", &self.returncode())
            .finish_non_exhaustive()
    }
}

/// AnyIO's `returncode` of an exit status: the exit code, or minus the signal that killed
/// the child.
pub(crate) fn returncode_of(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        (None, None) => i32::MIN,
    }
}

impl Process {
    pub(crate) fn new(
        child: Child,
        pid: u32,
        stdin: Option<ProcessStdin>,
        stdout: Option<ProcessOutput>,
        stderr: Option<ProcessOutput>,
    ) -> Process {
        let waiters = Arc::new(Waiters::default());
        Process {
            pid,
            state: Mutex::new(ChildState {
                child,
                status: None,
            }),
            waker: Waker::from(waiters.clone()),
            waiters,
            stdin,
            stdout,
            stderr,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChildState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The child's process id (AnyIO's `pid`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The child's exit status once it has exited (reaping it if it has just exited), or
    /// `None` while it runs.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut state = self.lock();
        if state.status.is_none() {
            state.status = state.child.try_wait().ok().flatten();
        }
        state.status
    }

    /// AnyIO's `returncode`: `None` while the child runs, then its exit code, or minus the
    /// number of the signal that killed it.
    pub fn returncode(&self) -> Option<i32> {
        self.exit_status().map(returncode_of)
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<Result<ExitStatus>> {
        let mut state = self.lock();
        if let Some(status) = state.status {
            return Poll::Ready(Ok(status));
        }
        {
            let mut waiters = self.waiters.0.lock().unwrap_or_else(|e| e.into_inner());
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        let mut inner = Context::from_waker(&self.waker);
        match state.child.poll_wait(&mut inner) {
            Poll::Ready(Ok(status)) => {
                state.status = Some(status);
                drop(state);
                self.waiters.wake_by_ref();
                Poll::Ready(Ok(status))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::with_source(
                ErrorKind::Io,
                "waiting for a child process",
                e,
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Waits for the child to exit and returns its status (AnyIO's `wait`, which returns
    /// the [`returncode`](Self::returncode)). Several tasks may wait at once.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. A cancelled wait leaves the child running, untouched.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`]; [`ErrorKind::Io`] when the OS fails the wait.
    pub async fn wait(&self) -> Result<ExitStatus> {
        crate::lowlevel::checkpoint_if_cancelled().await?;
        let cached = self.lock().status;
        if let Some(status) = cached {
            crate::lowlevel::cancel_shielded_checkpoint().await;
            return Ok(status);
        }
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = self.poll_wait(cx) {
                return Poll::Ready(r);
            }
            if let Some(e) = crate::context::check_cancelled() {
                return Poll::Ready(Err(e));
            }
            crate::context::mark_blocked();
            Poll::Pending
        })
        .await
    }

    /// Sends signal `signal` (a number such as `libc::SIGTERM`) to the child (AnyIO's
    /// `send_signal`). Does nothing once the child has been reaped.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a number that is not a signal; [`ErrorKind::Io`]
    /// when the OS refuses.
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        let Some(sig) = rustix::process::Signal::from_named_raw(signal) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("sending signal {signal} to a child: not a signal number"),
            ));
        };
        let state = self.lock();
        if state.status.is_some() {
            return Ok(());
        }
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "the child has no valid pid",
            ));
        };
        // Under the lock: the child cannot be reaped (and its pid reused) meanwhile.
        let res = rustix::process::kill_process(pid, sig);
        drop(state);
        res.map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                "sending a signal to a child",
                std::io::Error::from(e),
            )
        })
    }

    /// Asks the child to exit: SIGTERM (AnyIO's `terminate`).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(rustix::process::Signal::TERM.as_raw())
    }

    /// Kills the child: SIGKILL (AnyIO's `kill`).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> Result<()> {
        self.send_signal(rustix::process::Signal::KILL.as_raw())
    }

    /// The child's stdin, when it is a pipe that was not taken.
    pub fn stdin(&self) -> Option<&ProcessStdin> {
        self.stdin.as_ref()
    }

    /// The child's stdout, when it is a pipe that was not taken.
    pub fn stdout(&self) -> Option<&ProcessOutput> {
        self.stdout.as_ref()
    }

    /// The child's stderr, when it is a pipe that was not taken.
    pub fn stderr(&self) -> Option<&ProcessOutput> {
        self.stderr.as_ref()
    }

    /// Takes the child's stdin out, to use it in another task.
    pub fn take_stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }

    /// Takes the child's stdout out, to use it in another task.
    pub fn take_stdout(&mut self) -> Option<ProcessOutput> {
        self.stdout.take()
    }

    /// Takes the child's stderr out, to use it in another task.
    pub fn take_stderr(&mut self) -> Option<ProcessOutput> {
        self.stderr.take()
    }

    /// Closes the pipes this handle still has, waits for the child to exit, and — if that
    /// wait is cancelled — kills it and reaps it in a shielded scope (AnyIO's `aclose`).
    ///
    /// # Cancellation
    ///
    /// The pipes are closed even in a cancelled scope. A cancelled wait kills the child
    /// (SIGKILL) and waits, shielded, until it is reaped; then the cancellation is returned.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`]; [`ErrorKind::Io`] when the OS fails the wait.
    pub async fn aclose(&self) -> Result<ExitStatus> {
        for pipe in [self.stdout.as_ref(), self.stderr.as_ref()]
            .into_iter()
            .flatten()
        {
            pipe.aclose().await?;
        }
        if let Some(stdin) = &self.stdin {
            stdin.aclose().await?;
        }
        match self.wait().await {
            Ok(status) => Ok(status),
            Err(e) => {
                self.kill_and_reap().await;
                Err(e)
            }
        }
    }

    /// Kills the child and waits, shielded, until it is reaped.
    pub(crate) async fn kill_and_reap(&self) {
        // A failed kill means the child is gone already; the wait then reaps it.
        let _ = self.kill();
        let reaped = crate::CancelScope::shielded().run(self.wait()).await;
        drop(reaped);
    }
}
