//! The builder shared by [`run_process`](super::run_process) and
//! [`open_process`](super::open_process).

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

/// Where one of a child's standard streams goes (AnyIO's `PIPE`, `DEVNULL`, `None`, a file,
/// `STDOUT`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// The operation's default: a pipe for [`open_process`](super::open_process); for
    /// [`run_process`](super::run_process), a pipe for stdout and stderr, and for stdin a
    /// pipe when [`input`](Command::input) is set, else inherited.
    #[default]
    Default,
    /// A pipe to the parent, available as a byte stream on the [`Process`](super::Process).
    Piped,
    /// `/dev/null` (AnyIO's `DEVNULL`).
    Null,
    /// This process's own stream (AnyIO's `None`).
    Inherit,
    /// An open file or other fd (a duplicate is given to each child).
    Fd(Arc<OwnedFd>),
    /// For stderr only: wherever stdout goes (AnyIO's `stderr=STDOUT`).
    Stdout,
}

impl From<std::fs::File> for Stdio {
    fn from(file: std::fs::File) -> Stdio {
        Stdio::Fd(Arc::new(OwnedFd::from(file)))
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(Arc::new(fd))
    }
}

/// What to run and how: the program and its arguments (or a shell line), its standard
/// streams, directory, environment and credentials — AnyIO's `open_process`/`run_process`
/// keyword arguments as a builder.
///
/// Nothing is checked until a process is spawned, which reports bad input as
/// [`ErrorKind::InvalidArgument`].
///
/// # Examples
///
/// ```
/// use anyio::process::{Command, Stdio, run_process};
/// # anyio::run(|| async {
/// let mut cmd = Command::new("sh");
/// cmd.arg("-c").arg("echo $GREETING; echo oops >&2").env("GREETING", "hello");
/// cmd.stderr(Stdio::Stdout);
/// let done = run_process(&cmd).await?;
/// assert_eq!(done.stdout, b"hello\noops\n");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_clear: bool,
    pub(crate) new_session: bool,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) umask: Option<u32>,
    /// Fds the child gets, each at its number there.
    pub(crate) pass_fds: Vec<(Arc<OwnedFd>, RawFd)>,
    pub(crate) input: Option<Arc<[u8]>>,
    pub(crate) check: bool,
}

impl Command {
    /// Runs `program` (looked up in `PATH` when it has no `/`) with no arguments.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            stdin: Stdio::Default,
            stdout: Stdio::Default,
            stderr: Stdio::Default,
            cwd: None,
            env: Vec::new(),
            env_clear: false,
            new_session: false,
            uid: None,
            gid: None,
            umask: None,
            pass_fds: Vec::new(),
            input: None,
            check: true,
        }
    }

    /// Runs `line` through `/bin/sh -c` (AnyIO's command given as a string).
    pub fn shell(line: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(line);
        cmd
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets where the child's stdin comes from.
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdin = stdio.into();
        self
    }

    /// Sets where the child's stdout goes.
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdout = stdio.into();
        self
    }

    /// Sets where the child's stderr goes ([`Stdio::Stdout`] merges it into stdout).
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stderr = stdio.into();
        self
    }

    /// Runs the child in `dir` (AnyIO's `cwd`).
    pub fn cwd(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets one environment variable of the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        let value = Some(value.as_ref().to_owned());
        self.env.push((key.as_ref().to_owned(), value));
        self
    }

    /// Sets several environment variables of the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes one variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child with an empty environment (plus the variables set after or before
    /// with [`env`](Self::env)).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Replaces the child's whole environment with `vars` (AnyIO's `env=`).
    pub fn env_replace<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.env_clear().envs(vars)
    }

    /// Puts the child in a process group of its own (AnyIO's `start_new_session`), so the
    /// signals a terminal sends to this process's group (Ctrl-C) do not reach it.
    ///
    /// This is `setpgid(0, 0)`, not `setsid()`: the child keeps the controlling terminal
    /// (a full `setsid` needs code between fork and exec, which this crate, free of
    /// `unsafe`, does not run).
    pub fn start_new_session(&mut self, yes: bool) -> &mut Command {
        self.new_session = yes;
        self
    }

    /// Runs the child as user `uid` (AnyIO's `user`; needs the privilege to do so).
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (AnyIO's `group`).
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.gid = Some(gid);
        self
    }

    /// Runs the child with file mode creation mask `mask` (AnyIO's `umask`; the default
    /// leaves this process's mask).
    ///
    /// Setting a mask in the child needs code between fork and exec, which this crate,
    /// free of `unsafe`, does not run; so the child is started through `/bin/sh`, which
    /// sets the mask and then `exec`s the program in its place (same pid, same arguments,
    /// the program looked up in the child's `PATH`). The cost is one extra `exec`.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::InvalidArgument`] for a mask above `0o777`.
    pub fn umask(&mut self, mask: u32) -> &mut Command {
        self.umask = Some(mask);
        self
    }

    /// Keeps `fd` open in the child at the same number it has here (AnyIO's `pass_fds`,
    /// one fd per call). Other fds stay closed in the child as long as they are
    /// close-on-exec, as everything this crate and the standard library open is; unlike
    /// Python's `close_fds`, an fd this process inherited without close-on-exec is
    /// inherited by its children too, passed or not.
    ///
    /// The command keeps `fd` open until it is dropped, so it can be spawned more than
    /// once. The fd is given to the child by a copy made close-on-exec here and moved to
    /// its number in the child between fork and exec (by the `command-fds` crate), so no
    /// other child spawned meanwhile, from any thread, inherits it.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::InvalidArgument`] when `fd` is 0, 1 or 2 (use
    /// [`stdin`](Self::stdin), [`stdout`](Self::stdout), [`stderr`](Self::stderr)), or when
    /// two passed fds would have the same number in the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::{AsRawFd, OwnedFd};
    /// use anyio::process::{Command, run_process};
    ///
    /// # anyio::run(|| async {
    /// let file = tempfile::tempfile()?;
    /// let fd = file.as_raw_fd();
    /// let mut cmd = Command::shell(format!("test -e /proc/self/fd/{fd} && echo has {fd}"));
    /// cmd.pass_fd(OwnedFd::from(file));
    /// let done = run_process(&cmd).await?;
    /// assert_eq!(done.stdout, format!("has {fd}\n").into_bytes());
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn pass_fd(&mut self, fd: impl Into<OwnedFd>) -> &mut Command {
        let fd = fd.into();
        let number = fd.as_raw_fd();
        self.pass_fds.push((Arc::new(fd), number));
        self
    }

    /// Passes each of `fds` as [`pass_fd`](Self::pass_fd) does (AnyIO's `pass_fds`).
    ///
    /// # Errors
    ///
    /// As [`pass_fd`](Self::pass_fd).
    pub fn pass_fds<I, F>(&mut self, fds: I) -> &mut Command
    where
        I: IntoIterator<Item = F>,
        F: Into<OwnedFd>,
    {
        for fd in fds {
            self.pass_fd(fd);
        }
        self
    }

    /// Gives the child `fd` at number `child_fd` (3 or more), whatever its number here;
    /// a shared `fd` can be given to several commands.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::InvalidArgument`] for a `child_fd` below 3 or at
    /// or above this process's fd limit (`RLIMIT_NOFILE`, which the child inherits), or
    /// used twice.
    pub fn pass_fd_as(&mut self, fd: Arc<OwnedFd>, child_fd: RawFd) -> &mut Command {
        self.pass_fds.push((fd, child_fd));
        self
    }

    /// The bytes [`run_process`](super::run_process) writes to the child's stdin (which
    /// it then closes); ignored by `open_process`.
    pub fn input(&mut self, input: impl Into<Vec<u8>>) -> &mut Command {
        self.input = Some(input.into().into());
        self
    }

    /// Whether [`run_process`](super::run_process) fails with
    /// [`ErrorKind::ProcessFailed`] on a non-zero exit (the default, AnyIO's `check=True`).
    pub fn check(&mut self, check: bool) -> &mut Command {
        self.check = check;
        self
    }

    /// The program and its arguments, for messages.
    pub(crate) fn argv(&self) -> Vec<OsString> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Checks the input and builds the std command, without stdio.
    pub(crate) fn to_std(&self) -> Result<std::process::Command> {
        if self.program.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "spawning a process: the program name is empty",
            ));
        }
        no_nul("the program name", &self.program)?;
        for arg in &self.args {
            no_nul("an argument", arg)?;
        }
        for (k, v) in &self.env {
            no_nul("an environment variable name", k)?;
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("spawning a process: invalid environment variable name {k:?}"),
                ));
            }
            if let Some(v) = v {
                no_nul("an environment variable value", v)?;
            }
        }
        if let Some(dir) = &self.cwd {
            no_nul("the working directory", dir.as_os_str())?;
        }
        let mut cmd = match self.umask {
            None => std::process::Command::new(&self.program),
            Some(mask) if mask > 0o777 => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("spawning a process: umask {mask:#o} is above 0o777"),
                ));
            }
            Some(mask) => {
                // `$0` is the program, `"$@"` its arguments, word for word.
                let mut sh = std::process::Command::new("/bin/sh");
                sh.arg("-c")
                    .arg(format!("umask {mask:04o} && exec \"$0\" \"$@\""))
                    .arg(&self.program);
                sh
            }
        };
        cmd.args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.new_session {
            cmd.process_group(0);
        }
        if let Some(uid) = self.uid {
            cmd.uid(uid);
        }
        if let Some(gid) = self.gid {
            cmd.gid(gid);
        }
        self.map_fds(&mut cmd)?;
        Ok(cmd)
    }

    /// Checks the passed fds and installs their mapping in `cmd`: each is duplicated
    /// close-on-exec (at 3 or above, clear of the stdio numbers the child's streams are
    /// moved to first), and `command-fds` moves the copy to its number in the child.
    fn map_fds(&self, cmd: &mut std::process::Command) -> Result<()> {
        if self.pass_fds.is_empty() {
            return Ok(());
        }
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        let mut targets: Vec<RawFd> = Vec::with_capacity(self.pass_fds.len());
        let mut mappings = Vec::with_capacity(self.pass_fds.len());
        for (fd, target) in &self.pass_fds {
            let target = *target;
            if target < 3 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "spawning a process: fd {target} cannot be passed (0, 1 and 2 are \
                         the child's standard streams: set them with stdin/stdout/stderr)"
                    ),
                ));
            }
            if u64::try_from(target).map_or(true, |t| t >= limit) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "spawning a process: fd {target} is at or above the fd limit \
                         ({limit}) the child inherits"
                    ),
                ));
            }
            if targets.contains(&target) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("spawning a process: fd {target} is passed to the child twice"),
                ));
            }
            targets.push(target);
            let parent_fd = rustix::io::fcntl_dupfd_cloexec(&**fd, 3)
                .map_err(|e| os("duplicating an fd to pass to a child process", e))?;
            mappings.push(command_fds::FdMapping {
                parent_fd,
                child_fd: target,
            });
        }
        command_fds::CommandFdExt::fd_mappings(cmd, mappings).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                "spawning a process: two passed fds have the same number in the child",
            )
        })?;
        Ok(())
    }
}

fn no_nul(what: &str, s: &OsStr) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("spawning a process: {what} contains a NUL byte"),
        ));
    }
    Ok(())
}

/// The child's end of one standard stream.
#[derive(Debug)]
pub(crate) enum ChildEnd {
    Fd(OwnedFd),
    Null,
    Inherit,
}

impl ChildEnd {
    pub(crate) fn into_std(self) -> std::process::Stdio {
        match self {
            ChildEnd::Fd(fd) => fd.into(),
            ChildEnd::Null => std::process::Stdio::null(),
            ChildEnd::Inherit => std::process::Stdio::inherit(),
        }
    }

    /// The same destination for stderr merged into stdout (an inherited stdout is this
    /// process's fd 1, not its stderr).
    pub(crate) fn merged(&self) -> Result<ChildEnd> {
        Ok(match self {
            ChildEnd::Fd(fd) => ChildEnd::Fd(dup(fd)?),
            ChildEnd::Null => ChildEnd::Null,
            ChildEnd::Inherit => ChildEnd::Fd(dup(std::io::stdout())?),
        })
    }
}

fn os(action: &'static str, e: impl Into<std::io::Error>) -> Error {
    Error::with_source(ErrorKind::Io, action, e.into())
}

/// A close-on-exec pipe: (read end, write end). The child's end becomes its stdio through
/// `dup2`, which drops close-on-exec there; no other child inherits it, so the parent sees
/// the end of the stream as soon as this child's copy is gone.
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| os("creating a pipe for a child process", e))
}

fn dup(fd: impl AsFd) -> Result<OwnedFd> {
    // `try_clone_to_owned` duplicates with close-on-exec set.
    fd.as_fd()
        .try_clone_to_owned()
        .map_err(|e| os("duplicating an fd for a child process", e))
}

/// Plans one stream: the child's end, and the parent's end when it is a pipe. `reading` is
/// true for stdin (the child reads, the parent writes).
pub(crate) fn plan(
    stdio: &Stdio,
    default_piped: bool,
    reading: bool,
) -> Result<(ChildEnd, Option<OwnedFd>)> {
    Ok(match stdio {
        Stdio::Default if !default_piped => (ChildEnd::Inherit, None),
        Stdio::Default | Stdio::Piped => {
            let (r, w) = pipe()?;
            if reading {
                (ChildEnd::Fd(r), Some(w))
            } else {
                (ChildEnd::Fd(w), Some(r))
            }
        }
        Stdio::Null => (ChildEnd::Null, None),
        Stdio::Inherit => (ChildEnd::Inherit, None),
        Stdio::Fd(fd) => (ChildEnd::Fd(dup(&**fd)?), None),
        Stdio::Stdout => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "spawning a process: Stdio::Stdout is only valid for stderr",
            ));
        }
    })
}
