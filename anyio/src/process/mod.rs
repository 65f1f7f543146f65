//! Subprocesses (AnyIO's "Using subprocesses" chapter): run a command to completion with
//! [`run_process`], or start one with [`open_process`] and talk to it through its pipes.
//!
//! # The model
//!
//! A [`Command`] says what to run — a program and its arguments, or a shell line
//! ([`Command::shell`]) — and how: where its standard streams go ([`Stdio`]: a pipe,
//! `/dev/null`, this process's own, a file, or stderr merged into stdout), its directory,
//! environment and credentials, and the other fds it gets ([`Command::pass_fd`], AnyIO's
//! `pass_fds`). One builder serves both entry points.
//!
//! Between fork and exec the child sets up what the command asks for, in Python's order:
//! its file mode mask ([`Command::umask`]), a session of its own
//! ([`Command::start_new_session`]), its supplementary groups ([`Command::groups`]), its
//! group and its user ([`Command::gid`], [`Command::uid`]). A failure there is the spawn's
//! error, as a missing program is.
//!
//! * [`run_process`] writes [`input`](Command::input) to the child, reads its stdout and
//!   stderr concurrently (so a child that fills both pipes never deadlocks), waits for it
//!   and returns a [`CompletedProcess`]. By default (AnyIO's `check=True`) a non-zero exit
//!   is an error of kind [`ErrorKind::ProcessFailed`] whose source is a
//!   [`CalledProcessError`] with the status and both outputs.
//! * [`open_process`] returns a running [`Process`]: its pipes are anyio byte streams
//!   ([`ProcessStdin`], [`ProcessOutput`]) under the usual contract — the end of the
//!   child's output is [`ErrorKind::EndOfStream`], writing to a child that closed its
//!   stdin is [`ErrorKind::BrokenResource`], a pipe this side closed is
//!   [`ErrorKind::ClosedResource`], a cancelled receive loses nothing.
//!
//! # Cancellation and teardown
//!
//! Cancelling [`Process::wait`] leaves the child alone. [`Process::aclose`] — and leaving
//! `run_process` under cancellation — closes the pipes and waits; if that wait is
//! cancelled, the child is killed and reaped in a shielded scope, so the call returns only
//! once the child is gone. Dropping a `Process` kills a child that still runs; the backend
//! reaps it. No path leaves a zombie.
//!
//! # Examples
//!
//! ```
//! use anyio::process::{Command, open_process, run_process};
//! use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource};
//! use anyio::ErrorKind;
//!
//! # anyio::run(|| async {
//! // Run to completion; a non-zero exit is an error.
//! let done = run_process(Command::new("echo").arg("hello")).await?;
//! assert_eq!(done.stdout, b"hello\n");
//! let err = run_process(&Command::shell("exit 3")).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::ProcessFailed);
//!
//! // Talk to a running child.
//! let cat = open_process(&Command::new("cat")).await?;
//! let stdin = cat.stdin().unwrap();
//! stdin.send(b"ping").await?;
//! stdin.aclose().await?;
//! assert_eq!(cat.stdout().unwrap().receive(64).await?, b"ping");
//! assert!(cat.aclose().await?.success());
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

mod child;
mod command;
mod pipe;

use std::ffi::OsString;
use std::fmt;
use std::process::ExitStatus;

pub use child::Process;
pub use command::{Command, Stdio};
pub use pipe::{ProcessOutput, ProcessStdin};

use crate::backend::process::{Child, Pipe};
use crate::error::{Error, ErrorKind, Result};
use crate::streams::{ByteReceiveStream, ByteSendStream, SharedResource};

/// What [`run_process`] returns (Python's `CompletedProcess`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CompletedProcess {
    /// The program and its arguments.
    pub args: Vec<OsString>,
    /// The exit code, or minus the signal that killed the child.
    pub returncode: i32,
    /// The full exit status.
    pub status: ExitStatus,
    /// Everything the child wrote to its stdout (empty when it was not a pipe).
    pub stdout: Vec<u8>,
    /// Everything the child wrote to its stderr (empty when it was not a pipe).
    pub stderr: Vec<u8>,
}

/// The source of a [`ErrorKind::ProcessFailed`] error: a child that [`run_process`]
/// ran exited with a non-zero status (Python's `CalledProcessError`). Get it with
/// [`Error::source_as`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CalledProcessError {
    /// The program and its arguments.
    pub args: Vec<OsString>,
    /// The exit code, or minus the signal that killed the child.
    pub returncode: i32,
    /// The full exit status.
    pub status: ExitStatus,
    /// Everything the child wrote to its stdout.
    pub stdout: Vec<u8>,
    /// Everything the child wrote to its stderr.
    pub stderr: Vec<u8>,
}

impl fmt::Display for CalledProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command {:?} exited with {}", self.args, self.status)
    }
}

impl std::error::Error for CalledProcessError {}

/// Starts `cmd` and returns the running child (AnyIO's `open_process`). Streams left at
/// [`Stdio::Default`] are pipes.
///
/// # Cancellation
///
/// A checkpoint before the spawn: a cancelled call starts nothing.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for bad input (an empty program name, a NUL byte in an
/// argument, an invalid variable name, [`Stdio::Stdout`] for stdin or stdout, a passed fd
/// numbered 0–2, past the fd limit or twice, a mask above `0o777`, more than 65536 groups,
/// a uid, gid or group `u32::MAX`);
/// [`ErrorKind::Io`] when the OS cannot start it (a missing executable: the source is an
/// `io::Error` of kind `NotFound`; credentials this process may not give:
/// `PermissionDenied`); [`ErrorKind::NoEventLoop`] outside any async context;
/// [`ErrorKind::Cancelled`].
pub async fn open_process(cmd: &Command) -> Result<Process> {
    crate::lowlevel::checkpoint().await?;
    spawn(cmd, true)
}

fn spawn(cmd: &Command, default_pipes: bool) -> Result<Process> {
    let backend = crate::detect::current_backend()?;
    let std_cmd = cmd.to_std()?;
    let stdin_default = default_pipes || cmd.input.is_some();
    let (stdin_child, stdin) = command::plan(&cmd.stdin, stdin_default, true)?;
    let (stdout_child, stdout) = command::plan(&cmd.stdout, true, false)?;
    let (stderr_child, stderr) = match &cmd.stderr {
        Stdio::Stdout => (stdout_child.merged()?, None),
        other => command::plan(other, true, false)?,
    };
    let stdio = [
        stdin_child.into_std(),
        stdout_child.into_std(),
        stderr_child.into_std(),
    ];
    let (child, pid) = Child::spawn(backend, std_cmd, stdio)?;
    // The command (and the child's pipe ends in it) is consumed: this process holds only
    // its own ends, so they see the end of the stream when the child exits.
    let stdin = stdin.map(|fd| Pipe::writer(backend, fd)).transpose()?;
    let stdout = stdout.map(|fd| Pipe::reader(backend, fd)).transpose()?;
    let stderr = stderr.map(|fd| Pipe::reader(backend, fd)).transpose()?;
    Ok(Process::new(
        child,
        pid,
        stdin.map(ProcessStdin::new),
        stdout.map(|p| ProcessOutput::new(p, "stdout")),
        stderr.map(|p| ProcessOutput::new(p, "stderr")),
    ))
}

/// Runs `cmd` to completion (AnyIO's `run_process`): writes its
/// [`input`](Command::input) to stdin and closes it, collects stdout and stderr
/// concurrently, and waits for the exit. Streams left at [`Stdio::Default`] are pipes for
/// stdout and stderr, and for stdin a pipe when there is input (else it is inherited).
///
/// A child that exits without reading all its input is not an error (the unread input is
/// dropped, as Python's `subprocess.run` does).
///
/// # Cancellation
///
/// A checkpoint before the spawn. Cancelled while the child runs, it closes the pipes,
/// kills the child and reaps it (shielded) before it returns `Cancelled`: no child and no
/// fd outlives the call.
///
/// # Errors
///
/// [`ErrorKind::ProcessFailed`] when [`check`](Command::check) is on (the default) and the
/// child exited with a non-zero status (the source is a [`CalledProcessError`]); the
/// errors of [`open_process`]; [`ErrorKind::BrokenResource`] when reading a pipe fails;
/// [`ErrorKind::Cancelled`].
pub async fn run_process(cmd: &Command) -> Result<CompletedProcess> {
    crate::lowlevel::checkpoint().await?;
    let mut process = spawn(cmd, false)?;
    let stdin = process.take_stdin();
    let stdout = process.take_stdout();
    let stderr = process.take_stderr();
    let talked = communicate(cmd, stdin, stdout, stderr).await;
    // The pipes are closed by now (dropped): only the wait, and its teardown, remain.
    let closed = process.aclose().await;
    let (stdout, stderr) = talked?;
    let status = closed?;
    let returncode = child::returncode_of(status);
    if cmd.check && !status.success() {
        let failure = CalledProcessError {
            args: cmd.argv(),
            returncode,
            status,
            stdout,
            stderr,
        };
        return Err(Error::with_source(
            ErrorKind::ProcessFailed,
            format!("running {:?}: the child exited with {status}", cmd.program),
            failure,
        ));
    }
    Ok(CompletedProcess {
        args: cmd.argv(),
        returncode,
        status,
        stdout,
        stderr,
    })
}

/// Writes the input and drains both outputs, all in this task (no spawn: the three
/// futures are polled together, each a lossless checkpoint).
async fn communicate(
    cmd: &Command,
    stdin: Option<ProcessStdin>,
    stdout: Option<ProcessOutput>,
    stderr: Option<ProcessOutput>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let write = async {
        let Some(stdin) = stdin else { return Ok(()) };
        let input = cmd.input.as_deref().unwrap_or(&[]);
        match stdin.send(input).await {
            Err(e) if e.kind() == ErrorKind::BrokenResource => {}
            r => r?,
        }
        stdin.aclose().await
    };
    let out = drain(stdout);
    let err = drain(stderr);
    let ((), (out, err)) =
        futures_lite::future::try_zip(write, futures_lite::future::try_zip(out, err)).await?;
    Ok((out, err))
}

async fn drain(stream: Option<ProcessOutput>) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    let Some(stream) = stream else { return Ok(all) };
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.receive_into(&mut buf).await {
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::EndOfStream => break,
            Err(e) => return Err(e),
        }
    }
    stream.aclose().await?;
    Ok(all)
}
