//! The builder shared by [`run_process`](super::run_process) and
//! [`open_process`](super::open_process).

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::Mode;
use rustix::process::{Gid, Uid};

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
    pub(crate) groups: Option<Vec<u32>>,
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
            groups: None,
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

    /// Starts the child in a session of its own (AnyIO's `start_new_session`): the child
    /// calls `setsid()` before it runs the program, so it leads a new session and a new
    /// process group and has no controlling terminal. The signals a terminal sends to this
    /// process's group (Ctrl-C) and its hangup do not reach it.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::Io`] when `setsid()` fails in the child (it cannot
    /// for a freshly forked child, which never leads a process group).
    pub fn start_new_session(&mut self, yes: bool) -> &mut Command {
        self.new_session = yes;
        self
    }

    /// Runs the child as user `uid` (AnyIO's `user`; needs the privilege to do so).
    ///
    /// The child changes its user last, after its [`groups`](Self::groups) and
    /// [`gid`](Self::gid). Without `groups`, a child started by a privileged process
    /// (one with `CAP_SETGID`) drops every supplementary group before it changes user, as
    /// the standard library's `CommandExt::uid` does, so it keeps none of root's groups;
    /// an unprivileged process's child keeps its groups.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::InvalidArgument`] for `u32::MAX` (which is `-1`,
    /// "no user"), and with [`ErrorKind::Io`] when the child may not change to `uid`
    /// (the source is an `io::Error` of kind `PermissionDenied`).
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (AnyIO's `group`).
    ///
    /// # Errors
    ///
    /// As [`uid`](Self::uid).
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.gid = Some(gid);
        self
    }

    /// Runs the child with exactly the supplementary groups `groups` (AnyIO's
    /// `extra_groups`); an empty list drops them all. The child sets them before its
    /// [`gid`](Self::gid) and [`uid`](Self::uid), while it still has the privilege to.
    ///
    /// # Errors
    ///
    /// Spawning fails with [`ErrorKind::InvalidArgument`] for more than 65536 groups
    /// (Linux's `NGROUPS_MAX`) or a group `u32::MAX`, checked before anything runs; and
    /// with [`ErrorKind::Io`] when the child may not set them (without `CAP_SETGID`, so in
    /// practice unless this process runs as root: the source is an `io::Error` of kind
    /// `PermissionDenied`).
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::process::{Command, run_process};
    /// # anyio::run(|| async {
    /// let mut cmd = Command::new("id");
    /// cmd.arg("-G").groups(&[100]).gid(100);
    /// if rustix::process::geteuid().is_root() {
    ///     assert_eq!(run_process(&cmd).await?.stdout, b"100\n");
    /// } else {
    ///     assert!(run_process(&cmd).await.is_err());
    /// }
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "extra_groups")]
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.groups = Some(groups.to_vec());
        self
    }

    /// Runs the child with file mode creation mask `mask` (AnyIO's `umask`; the default
    /// leaves this process's mask). The child sets it before it runs the program; this
    /// process's mask does not change.
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
        let setup = ChildSetup::of(self)?;
        let mut cmd = std::process::Command::new(&self.program);
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
        self.map_fds(&mut cmd)?;
        if let Some(setup) = setup {
            setup.install(&mut cmd);
        }
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

/// Linux's limit on supplementary groups (`NGROUPS_MAX`, fixed since Linux 2.6.4);
/// `setgroups` refuses a longer list with `EINVAL`.
const NGROUPS_MAX: usize = 65536;

/// What the child does to itself between fork and exec, in Python's `_posixsubprocess`
/// order: the file mode mask, a new session, the supplementary groups, the group, the
/// user. Everything is checked and built here, in the parent; the child only makes
/// syscalls.
#[derive(Debug)]
struct ChildSetup {
    umask: Option<Mode>,
    new_session: bool,
    groups: Groups,
    gid: Option<Gid>,
    uid: Option<Uid>,
}

/// What the child does with its supplementary groups.
#[derive(Debug)]
enum Groups {
    /// Leaves them.
    Keep,
    /// Sets exactly these.
    Set(Vec<Gid>),
    /// Drops them all if it may (std's rule for a `uid` without groups: a root parent's
    /// child must not keep root's groups), and keeps them on `EPERM`.
    DropIfPermitted,
}

impl ChildSetup {
    /// Checks the command's credentials and mask; `None` when the child needs no setup, so
    /// a plain command gets no hook (and std may still spawn it with `posix_spawn`).
    fn of(cmd: &Command) -> Result<Option<ChildSetup>> {
        let umask = match cmd.umask {
            Some(mask) if mask > 0o777 => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("spawning a process: umask {mask:#o} is above 0o777"),
                ));
            }
            mask => mask.map(Mode::from_raw_mode),
        };
        let groups = match &cmd.groups {
            Some(groups) if groups.len() > NGROUPS_MAX => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "spawning a process: {} supplementary groups are more than \
                         NGROUPS_MAX ({NGROUPS_MAX})",
                        groups.len()
                    ),
                ));
            }
            Some(groups) => {
                let mut gids = Vec::with_capacity(groups.len());
                for &group in groups {
                    gids.push(Gid::from_raw(valid_id("a supplementary group", group)?));
                }
                Groups::Set(gids)
            }
            None if cmd.uid.is_some() => Groups::DropIfPermitted,
            None => Groups::Keep,
        };
        let gid = cmd.gid.map(|g| valid_id("the group", g)).transpose()?;
        let uid = cmd.uid.map(|u| valid_id("the user", u)).transpose()?;
        let setup = ChildSetup {
            umask,
            new_session: cmd.new_session,
            groups,
            gid: gid.map(Gid::from_raw),
            uid: uid.map(Uid::from_raw),
        };
        let needed = setup.umask.is_some()
            || setup.new_session
            || !matches!(setup.groups, Groups::Keep)
            || setup.gid.is_some()
            || setup.uid.is_some();
        Ok(needed.then_some(setup))
    }

    /// Runs in the child, between fork and exec: raw syscalls only (see `install`).
    /// `set_thread_*` change the calling thread's credentials, which is the whole process
    /// here: the forked child has one thread.
    fn apply(&self) -> std::io::Result<()> {
        if let Some(mask) = self.umask {
            rustix::process::umask(mask);
        }
        if self.new_session {
            rustix::process::setsid().map_err(raw_os_error)?;
        }
        match &self.groups {
            Groups::Keep => {}
            Groups::Set(groups) => {
                rustix::thread::set_thread_groups(groups).map_err(raw_os_error)?
            }
            Groups::DropIfPermitted => match rustix::thread::set_thread_groups(&[]) {
                Err(e) if e != rustix::io::Errno::PERM => return Err(raw_os_error(e)),
                _ => {}
            },
        }
        if let Some(gid) = self.gid {
            rustix::thread::set_thread_gid(gid).map_err(raw_os_error)?;
        }
        if let Some(uid) = self.uid {
            rustix::thread::set_thread_uid(uid).map_err(raw_os_error)?;
        }
        Ok(())
    }

    /// Registers [`apply`](Self::apply) as `cmd`'s `pre_exec` hook — the crate's one
    /// `unsafe` (docs/decisions.md, "One `unsafe`: the child's setup between fork and
    /// exec").
    #[allow(unsafe_code)]
    fn install(self, cmd: &mut std::process::Command) {
        // SAFETY: `pre_exec` is unsafe because the closure runs in the child after `fork`
        // of a possibly multi-threaded parent, where only async-signal-safe operations are
        // sound: another thread may have held the allocator's or any other lock at the
        // fork, and that lock stays held for ever in the child. This closure is sound
        // there because:
        // - it allocates nothing and takes no lock: everything it needs (the mask, the
        //   group list as a `Vec<Gid>`, the ids) was checked and built above, in the
        //   parent, and is moved in; the child only reads it. Dropping it happens in the
        //   parent, with the std command, never in the child (the child execs or exits);
        // - it only makes syscalls through rustix: `umask` and `setsid` (async-signal-safe
        //   in POSIX), and `setgroups`, `setgid`, `setuid` through `rustix::thread`, which
        //   issues the raw syscalls (its own with the `linux_raw` backend, libc's
        //   `syscall()` with the libc one), not libc's `setxid` wrappers, which signal
        //   every thread and take a lock;
        //   no std I/O, no formatting;
        // - it cannot panic: no indexing, no unwrap, no arithmetic;
        // - a failure becomes `io::Error::from_raw_os_error`, a plain integer, which std
        //   sends to the parent through its exec-status pipe and reports from the spawn;
        // - it touches no fd, so the stdio std moved to 0-2 and the fds `command-fds`
        //   maps (its hook runs first, registered earlier) are left as they are.
        unsafe {
            cmd.pre_exec(move || self.apply());
        }
    }
}

/// An errno as an `io::Error` without allocating (safe between fork and exec).
fn raw_os_error(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// `id` unless it is `u32::MAX`, which the kernel reads as `-1`, "leave unchanged".
fn valid_id(what: &str, id: u32) -> Result<u32> {
    if id == u32::MAX {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("spawning a process: {what} {id} is -1, not an id"),
        ));
    }
    Ok(id)
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
