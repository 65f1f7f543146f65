//! Subprocesses: `pass_fds` (AnyIO's `pass_fds`) — the child gets exactly the passed fds at
//! their numbers, the parent keeps no extra copy, and bad numbers are `InvalidArgument`.
//!
//! Every test runs on both backends with real processes. The child's fd table is read from
//! `/proc/<pid>/fd` while it blocks reading its stdin (a pipe the test holds), so no sleep
//! orders anything.

mod support;

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

use anyio::ErrorKind;
use anyio::process::{Command, Process, Stdio, open_process, run_process};
use anyio::streams::{ByteReceiveStream, SharedResource};
use support::kind;

/// The fd numbers open in process `pid`.
fn fds_of(pid: u32) -> BTreeSet<RawFd> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the child's fd table")
        .map(|e| {
            e.expect("an fd entry")
                .file_name()
                .to_str()
                .and_then(|n| n.parse().ok())
                .expect("a numeric fd")
        })
        .collect()
}

/// What fd `fd` of process `pid` refers to (`pipe:[…]`, a path, …).
fn target_of(pid: u32, fd: RawFd) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("an fd link")
}

/// A shell that says `ready` once started and then blocks reading a pipe from this
/// process (a program's start-up may hold fds of its own for a moment — `cat` opens
/// locale files — so the table is read only after the word).
fn blocked_cat() -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo ready; read x || true"])
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .stderr(Stdio::Null);
    cmd
}

/// Opens `cmd` (a [`blocked_cat`]) and waits for its word.
async fn open_ready(cmd: &Command) -> anyio::Result<Process> {
    let child = open_process(cmd).await?;
    let mut said = Vec::new();
    while !said.ends_with(b"ready\n") {
        said.extend(child.stdout().expect("a stdout pipe").receive(64).await?);
    }
    Ok(child)
}

/// Lets a [`blocked_cat`] finish.
async fn finish(child: Process) -> anyio::Result<()> {
    child.stdin().expect("a stdin pipe").aclose().await?;
    assert!(child.wait().await?.success());
    Ok(())
}

/// The fds a child gets with nothing passed: 0–2, plus any fd this process itself
/// inherited without close-on-exec (a test harness's, a jobserver's), which every child
/// inherits in turn.
async fn baseline() -> anyio::Result<BTreeSet<RawFd>> {
    let child = open_ready(&blocked_cat()).await?;
    let fds = fds_of(child.pid());
    finish(child).await?;
    assert!(fds.is_superset(&BTreeSet::from([0, 1, 2])));
    Ok(fds)
}

fn with(base: &BTreeSet<RawFd>, passed: &[RawFd]) -> BTreeSet<RawFd> {
    base.iter().chain(passed).copied().collect()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("a pipe")
}

/// Reads a pipe's read end to its end.
fn drain(reader: OwnedFd) -> std::io::Result<String> {
    std::io::read_to_string(std::fs::File::from(reader))
}

#[anyio::test]
async fn a_passed_pipe_is_written_by_the_child() -> anyio::Result<()> {
    let (reader, writer) = pipe();
    let fd = writer.as_raw_fd();
    let mut cmd = Command::shell(format!("echo hello > /dev/fd/{fd}"));
    cmd.pass_fd(writer);
    run_process(&cmd).await?;
    // The same command spawns again: each spawn passes its own copy.
    run_process(&cmd).await?;
    // No copy of the write end is left in this process once the command is gone, so the
    // reader sees the end of the stream (a leaked copy would hang to the test's timeout).
    drop(cmd);
    let text = drain(reader)?;
    assert_eq!(text, "hello\nhello\n");
    Ok(())
}

#[anyio::test]
async fn the_child_has_exactly_the_passed_fds() -> anyio::Result<()> {
    let (_r1, w1) = pipe();
    let file = tempfile::tempfile()?;
    // An fd this process holds and does not pass (close-on-exec, as everything std opens).
    let (_kept_r, kept_w) = pipe();
    let (n1, n2) = (w1.as_raw_fd(), file.as_raw_fd());
    let ours = [
        (n1, target_of(std::process::id(), n1)),
        (n2, target_of(std::process::id(), n2)),
    ];
    let base = baseline().await?;
    assert!(!base.contains(&kept_w.as_raw_fd()));
    let mut cmd = blocked_cat();
    cmd.pass_fds([w1, OwnedFd::from(file)]);
    let child = open_ready(&cmd).await?;
    let pid = child.pid();
    // The shell blocks reading its stdin until the test closes it.
    let fds = fds_of(pid);
    assert_eq!(
        fds,
        with(&base, &[n1, n2]),
        "kept fd {}",
        kept_w.as_raw_fd()
    );
    for (n, what) in ours {
        assert_eq!(
            target_of(pid, n),
            what,
            "fd {n} is the same file in the child"
        );
    }
    finish(child).await
}

#[anyio::test]
async fn fds_are_mapped_to_other_numbers_even_crosswise() -> anyio::Result<()> {
    let (_ra, wa) = pipe();
    let (_rb, wb) = pipe();
    let (na, nb) = (wa.as_raw_fd(), wb.as_raw_fd());
    let (ta, tb) = (
        target_of(std::process::id(), na),
        target_of(std::process::id(), nb),
    );
    let base = baseline().await?;
    let mut cmd = blocked_cat();
    // a goes to b's number and b to a's: a naive dup2 order would lose one of them.
    cmd.pass_fd_as(Arc::new(wa), nb)
        .pass_fd_as(Arc::new(wb), na);
    let shared = Arc::new(OwnedFd::from(tempfile::tempfile()?));
    let tshared = target_of(std::process::id(), shared.as_raw_fd());
    cmd.pass_fd_as(shared.clone(), 200);
    let child = open_ready(&cmd).await?;
    let pid = child.pid();
    assert_eq!(fds_of(pid), with(&base, &[na, nb, 200]));
    assert_eq!(target_of(pid, nb), ta);
    assert_eq!(target_of(pid, na), tb);
    assert_eq!(target_of(pid, 200), tshared);
    finish(child).await
}

#[anyio::test]
async fn passed_fds_survive_the_umask_wrapper() -> anyio::Result<()> {
    let (reader, writer) = pipe();
    let fd = writer.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask > /dev/fd/{fd}"))
        .umask(0o027);
    cmd.pass_fd(writer);
    run_process(&cmd).await?;
    drop(cmd);
    assert_eq!(drain(reader)?, "0027\n");
    Ok(())
}

#[anyio::test]
async fn bad_fd_numbers_are_invalid_arguments() -> anyio::Result<()> {
    let shared = Arc::new(OwnedFd::from(tempfile::tempfile()?));
    for bad in [0, 1, 2, -1, RawFd::MIN, RawFd::MAX] {
        let mut cmd = Command::new("true");
        cmd.pass_fd_as(shared.clone(), bad);
        assert_eq!(
            kind(run_process(&cmd).await),
            ErrorKind::InvalidArgument,
            "fd {bad}"
        );
        assert_eq!(
            kind(open_process(&cmd).await),
            ErrorKind::InvalidArgument,
            "fd {bad}"
        );
    }
    // The same child number twice, from two fds or from one.
    let other = Arc::new(OwnedFd::from(tempfile::tempfile()?));
    let mut cmd = Command::new("true");
    cmd.pass_fd_as(shared.clone(), 10).pass_fd_as(other, 10);
    assert_eq!(kind(run_process(&cmd).await), ErrorKind::InvalidArgument);
    let (_r, w) = pipe();
    let n = w.as_raw_fd();
    let mut cmd = Command::new("true");
    cmd.pass_fd(w).pass_fd_as(shared.clone(), n);
    assert_eq!(kind(run_process(&cmd).await), ErrorKind::InvalidArgument);
    // Nothing was spawned or leaked by the refusals: the shared fd is still ours alone
    // and usable, and a good command with it runs.
    let mut cmd = Command::new("true");
    cmd.pass_fd_as(shared, 10);
    run_process(&cmd).await?;
    Ok(())
}
