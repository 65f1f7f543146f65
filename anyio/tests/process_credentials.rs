//! Subprocesses: what the child sets up between fork and exec — a new session
//! (`start_new_session`), the file mode mask (`umask`), the supplementary groups
//! (`groups`, AnyIO's `extra_groups`), the group and the user — and the bad input refused
//! before anything runs.
//!
//! Every test runs on both backends with real processes. The child's credentials are read
//! from `/proc`: from the child's own `/proc/self/status` (it `cat`s it), or from
//! `/proc/<pid>/stat` while it blocks reading a pipe this test holds, so no sleep orders
//! anything. Changing groups and users needs root (`CAP_SETGID`, `CAP_SETUID`): run as
//! anyone else, the same tests assert that the spawn fails with `PermissionDenied`.

use anyio::process::{Command, Stdio, open_process, run_process};
use anyio::streams::SharedResource;
use anyio::{Backend, ErrorKind};

mod support;
use support::group_and_session;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The value of the `name:` line of a `/proc/<pid>/status` text.
fn status_line(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name}: line in {status}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The child's own `/proc/self/status`, as `cmd` (a `cat` of it) printed it.
async fn child_status(cmd: &Command) -> anyio::Result<String> {
    let done = run_process(cmd).await?;
    Ok(String::from_utf8(done.stdout).expect("a UTF-8 status"))
}

fn cat_status() -> Command {
    let mut cmd = Command::new("cat");
    cmd.arg("/proc/self/status");
    cmd
}

/// A spawn refused by the kernel for want of privilege.
fn assert_permission_denied<T: std::fmt::Debug>(r: anyio::Result<T>) {
    let err = r.expect_err("an unprivileged spawn that changes credentials");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(
        err.source_as::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::PermissionDenied),
        "{err}"
    );
}

/// (process group, session) of a `cat` started with `start_new_session(new)`, read while it
/// blocks on its stdin (the spawn returns only after the exec, so the setup is done).
async fn session_of_child(new: bool) -> anyio::Result<(u32, (i32, i32))> {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::Piped)
        .stdout(Stdio::Null)
        .start_new_session(new);
    let child = open_process(&cmd).await?;
    let pid = child.pid();
    let ids = group_and_session(pid);
    child.stdin().expect("a stdin pipe").aclose().await?;
    assert!(child.wait().await?.success());
    Ok((pid, ids))
}

#[anyio::test]
async fn new_session_child_leads_a_session_of_its_own() -> anyio::Result<()> {
    let (pid, (pgrp, session)) = session_of_child(true).await?;
    assert_eq!(session, pid as i32, "setsid: the child leads a new session");
    assert_eq!(pgrp, pid as i32, "and a new process group");
    Ok(())
}

#[anyio::test]
async fn without_new_session_child_shares_our_session() -> anyio::Result<()> {
    let (_, ours) = group_and_session(std::process::id());
    let (pid, (pgrp, session)) = session_of_child(false).await?;
    assert_eq!(session, ours);
    assert_ne!(pgrp, pid as i32);
    Ok(())
}

#[anyio::test]
async fn umask_is_set_in_the_child_and_not_here() -> anyio::Result<()> {
    let own = |s: &str| status_line(s, "Umask");
    let before = own(&std::fs::read_to_string("/proc/self/status")?);
    let done = run_process(Command::shell("umask").umask(0o027)).await?;
    assert_eq!(done.stdout, b"0027\n");
    let status = child_status(cat_status().umask(0o077)).await?;
    assert_eq!(own(&status), "0077");
    assert_eq!(own(&std::fs::read_to_string("/proc/self/status")?), before);
    Ok(())
}

#[anyio::test]
async fn missing_program_with_umask_is_a_spawn_error() -> anyio::Result<()> {
    // The child's PATH is the one searched: a fixed one, so no directory in ours that the
    // user may not search turns "not found" into "permission denied".
    for program in [
        "/nonexistent/anyio-no-such-program",
        "anyio-no-such-program-in-path",
    ] {
        let mut cmd = Command::new(program);
        cmd.env("PATH", "/usr/bin:/bin").umask(0o022);
        let err = open_process(&cmd).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert_eq!(
            err.source_as::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound),
            "{err}"
        );
    }
    Ok(())
}

#[anyio::test]
async fn groups_are_exactly_the_requested_list() -> anyio::Result<()> {
    let mut cmd = cat_status();
    cmd.groups(&[65534, 100]);
    if !is_root() {
        assert_permission_denied(run_process(&cmd).await);
        return Ok(());
    }
    // The kernel keeps the list sorted.
    assert_eq!(
        status_line(&child_status(&cmd).await?, "Groups"),
        "100 65534"
    );
    cmd.groups(&[]);
    assert_eq!(status_line(&child_status(&cmd).await?, "Groups"), "");
    Ok(())
}

#[anyio::test]
async fn uid_gid_and_groups_together() -> anyio::Result<()> {
    let mut cmd = cat_status();
    cmd.uid(65534).gid(65534).groups(&[65534, 100]);
    if !is_root() {
        assert_permission_denied(run_process(&cmd).await);
        return Ok(());
    }
    let status = child_status(&cmd).await?;
    // Real, effective, saved and filesystem ids all changed.
    assert_eq!(status_line(&status, "Uid"), "65534 65534 65534 65534");
    assert_eq!(status_line(&status, "Gid"), "65534 65534 65534 65534");
    assert_eq!(status_line(&status, "Groups"), "100 65534");
    Ok(())
}

#[anyio::test]
async fn uid_without_groups_drops_a_privileged_parents_groups() -> anyio::Result<()> {
    // The parent's supplementary groups are its spawning thread's: a runner on a thread of
    // its own, whose groups are set to [100] when this process may, spawns the children.
    let backend: Backend = anyio::current_async_library()?.parse()?;
    let root = is_root();
    let (plain, with_uid) = anyio::to_thread::run_sync(move || {
        std::thread::spawn(move || {
            if root {
                let users = rustix::process::Gid::from_raw(100);
                rustix::thread::set_thread_groups(&[users]).map_err(std::io::Error::from)?;
            }
            anyio::Runner::new(backend).run(|| async {
                let uid = rustix::process::getuid().as_raw();
                let plain = status_line(&child_status(&cat_status()).await?, "Groups");
                let with_uid = child_status(cat_status().uid(uid)).await?;
                Ok::<_, anyio::Error>((plain, status_line(&with_uid, "Groups")))
            })
        })
        .join()
        .expect("the spawning thread")
    })
    .await??;
    if root {
        assert_eq!(
            plain, "100",
            "a child without uid keeps the parent's groups"
        );
        assert_eq!(with_uid, "", "a child with uid drops them (std's rule)");
    } else {
        // Not allowed to drop them: the child keeps them and still starts.
        assert_eq!(with_uid, plain);
    }
    Ok(())
}

#[anyio::test]
async fn bad_credentials_are_refused_before_spawning() -> anyio::Result<()> {
    let too_many: Vec<u32> = (0..65537).collect();
    let cmd = || Command::new("true");
    let bad = [
        ("a mask above 0o777", cmd().umask(0o1000).clone()),
        ("65537 groups", cmd().groups(&too_many).clone()),
        ("a group -1", cmd().groups(&[100, u32::MAX]).clone()),
        ("a uid -1", cmd().uid(u32::MAX).clone()),
        ("a gid -1", cmd().gid(u32::MAX).clone()),
    ];
    for (what, cmd) in &bad {
        let err = run_process(cmd).await.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what}: {err}");
    }
    Ok(())
}
