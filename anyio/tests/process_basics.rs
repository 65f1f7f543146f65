//! Subprocesses: AnyIO's tests/test_subprocesses.py translated, plus bad input, the pipe
//! contract (EPIPE, own close, Busy, lossless cancelled receive), 10 MiB through
//! stdin→cat→stdout, a child that ignores SIGTERM, and run_process cut by a deadline.
//!
//! Every test runs on both backends with real processes (`sh`, `cat`, `sleep`). Order comes
//! from the pipes themselves and `wait_all_tasks_blocked`, never from sleeps.

mod support;

use std::io::{Read, Seek, Write};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use anyio::process::{CalledProcessError, Command, Stdio, open_process, run_process};
use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, task_group};
use futures_lite::future::poll_once;
use support::kind;

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

async fn read_all(s: &impl ByteReceiveStream) -> anyio::Result<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        match s.receive(65536).await {
            Ok(chunk) => all.extend(chunk),
            Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(all),
            Err(e) => return Err(e),
        }
    }
}

#[anyio::test]
async fn run_process_exec_and_shell() -> anyio::Result<()> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo out; echo err >&2"]);
    let done = run_process(&cmd).await?;
    assert_eq!(done.returncode, 0);
    assert_eq!(done.stdout, b"out\n");
    assert_eq!(done.stderr, b"err\n");
    assert_eq!(done.args, vec!["sh", "-c", "echo out; echo err >&2"]);
    let done = run_process(&Command::shell("printf '%s' \"$((6 * 7))\"")).await?;
    assert_eq!(done.stdout, b"42");
    Ok(())
}

#[anyio::test]
async fn run_process_checked_failure_carries_status_and_output() -> anyio::Result<()> {
    let cmd = Command::shell("echo partial; echo broken >&2; exit 3");
    let err = run_process(&cmd).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProcessFailed);
    let failed = err
        .source_as::<CalledProcessError>()
        .expect("a CalledProcessError");
    assert_eq!(failed.returncode, 3);
    assert_eq!(failed.status.code(), Some(3));
    assert_eq!(failed.stdout, b"partial\n");
    assert_eq!(failed.stderr, b"broken\n");
    // check(false): the status is the result.
    let done = run_process(Command::shell("exit 3").check(false)).await?;
    assert_eq!(done.returncode, 3);
    Ok(())
}

#[anyio::test]
async fn run_process_with_input() -> anyio::Result<()> {
    let done = run_process(Command::new("cat").input(b"hello".to_vec())).await?;
    assert_eq!(done.stdout, b"hello");
    // A child that never reads its input is no error.
    let done = run_process(Command::new("true").input(vec![7u8; 1 << 20])).await?;
    assert_eq!(done.returncode, 0);
    Ok(())
}

#[anyio::test]
async fn stderr_merged_into_stdout() -> anyio::Result<()> {
    let mut cmd = Command::shell("echo one; echo two >&2; echo three");
    cmd.stderr(Stdio::Stdout);
    let done = run_process(&cmd).await?;
    assert_eq!(done.stdout, b"one\ntwo\nthree\n");
    assert!(done.stderr.is_empty());
    Ok(())
}

#[anyio::test]
async fn stdio_to_and_from_files_and_null() -> anyio::Result<()> {
    let dir = std::env::temp_dir().join(format!("anyio-proc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:?}.txt", std::thread::current().id()));
    let mut input = std::fs::File::create_new(&path).or_else(|_| {
        std::fs::remove_file(&path)?;
        std::fs::File::create_new(&path)
    })?;
    input.write_all(b"from a file\n")?;
    input.rewind()?;
    drop(input);
    let output = tempfile_in(&dir, "out")?;
    let mut cmd = Command::new("cat");
    cmd.stdin(std::fs::File::open(&path)?)
        .stdout(output.try_clone()?)
        .stderr(Stdio::Null);
    let done = run_process(&cmd).await?;
    assert!(done.stdout.is_empty(), "stdout went to the file");
    let mut written = String::new();
    let mut output = output;
    output.rewind()?;
    output.read_to_string(&mut written)?;
    assert_eq!(written, "from a file\n");
    // /dev/null as stdin: cat sees the end at once.
    let done = run_process(Command::new("cat").stdin(Stdio::Null)).await?;
    assert!(done.stdout.is_empty());
    std::fs::remove_file(&path).ok();
    Ok(())
}

fn tempfile_in(dir: &std::path::Path, tag: &str) -> std::io::Result<std::fs::File> {
    let path = dir.join(format!("{:?}-{tag}", std::thread::current().id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[anyio::test]
async fn inherited_stdout_is_not_captured() -> anyio::Result<()> {
    let done = run_process(Command::new("true").stdout(Stdio::Inherit)).await?;
    assert!(done.stdout.is_empty());
    Ok(())
}

#[anyio::test]
async fn cwd_is_honoured() -> anyio::Result<()> {
    let dir = std::env::temp_dir().canonicalize()?;
    let done = run_process(Command::new("pwd").cwd(&dir)).await?;
    assert_eq!(
        String::from_utf8(done.stdout).unwrap().trim_end(),
        dir.to_str().unwrap()
    );
    // A missing directory is an OS error, not a panic.
    let err = run_process(Command::new("pwd").cwd("/nonexistent/anyio"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    Ok(())
}

#[anyio::test]
async fn env_add_remove_clear_replace() -> anyio::Result<()> {
    let mut cmd = Command::shell("printf '%s|%s' \"$ANYIO_A\" \"$HOME\"");
    cmd.env("ANYIO_A", "a");
    assert_eq!(
        run_process(&cmd).await?.stdout,
        format!("a|{}", std::env::var("HOME").unwrap_or_default()).as_bytes()
    );
    cmd.env_remove("HOME");
    assert_eq!(run_process(&cmd).await?.stdout, b"a|");
    let mut cmd = Command::new("/usr/bin/env");
    cmd.env_clear();
    assert_eq!(run_process(&cmd).await?.stdout, b"");
    cmd.env_replace([("ONLY", "this")]);
    assert_eq!(run_process(&cmd).await?.stdout, b"ONLY=this\n");
    Ok(())
}

#[anyio::test]
async fn start_new_session_gives_a_new_process_group() -> anyio::Result<()> {
    let (own, _) = support::group_and_session(std::process::id());
    let out = |new: bool| {
        let mut cmd = Command::shell("ps -o pgid= -p $$");
        cmd.start_new_session(new);
        cmd
    };
    let pgid = |v: Vec<u8>| String::from_utf8(v).unwrap().trim().parse::<i32>().unwrap();
    let same = run_process(&out(false)).await?;
    let new = open_process(&out(true)).await?;
    let pid = new.pid() as i32;
    let new_out = read_all(new.stdout().unwrap()).await?;
    new.aclose().await?;
    assert_eq!(pgid(same.stdout), own);
    assert_eq!(pgid(new_out), pid, "the child leads a group of its own");
    Ok(())
}

#[anyio::test]
async fn uid_and_gid_of_ourselves() -> anyio::Result<()> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let done = run_process(Command::shell("id -u; id -g").uid(uid).gid(gid)).await?;
    assert_eq!(done.stdout, format!("{uid}\n{gid}\n").as_bytes());
    Ok(())
}

#[anyio::test]
async fn umask_applies_to_the_child_only() -> anyio::Result<()> {
    let done = run_process(Command::shell("umask").umask(0o027)).await?;
    assert_eq!(done.stdout, b"0027\n");
    // Arguments reach the program word for word.
    let done = run_process(
        Command::new("printf")
            .args(["<%s>", "a b", "$HOME", "'"])
            .umask(0o077),
    )
    .await?;
    assert_eq!(done.stdout, b"<a b><$HOME><'>");
    // A file the child creates gets the mask.
    let dir = anyio::fs::tempfile::TemporaryDirectory::new().await?;
    let file = dir.path().join("f");
    run_process(Command::new("touch").arg(&file).umask(0o077)).await?;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file)?.permissions().mode() & 0o777,
        0o600
    );
    // The child is the program itself, with the pid the spawn reported.
    let child = open_process(Command::shell("echo $$").umask(0o022)).await?;
    let pid = child.pid();
    let out = child.stdout().unwrap().receive(64).await?;
    assert_eq!(out, format!("{pid}\n").as_bytes());
    child.aclose().await?;
    assert_eq!(
        kind(run_process(Command::new("true").umask(0o1000)).await),
        ErrorKind::InvalidArgument
    );
    Ok(())
}

#[anyio::test]
async fn bad_input_is_an_error_not_a_panic() -> anyio::Result<()> {
    assert_eq!(
        kind(run_process(&Command::new("")).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(run_process(Command::new("echo").arg("a\0b")).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(run_process(&Command::new("ec\0ho")).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(run_process(Command::new("true").env("A=B", "x")).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(run_process(Command::new("true").env("A", "x\0")).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(run_process(Command::new("true").stdout(Stdio::Stdout)).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(open_process(Command::new("true").stdin(Stdio::Stdout)).await),
        ErrorKind::InvalidArgument
    );
    let err = open_process(&Command::new("/nonexistent/anyio-no-such-program"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.source_as::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
    let err = open_process(&Command::new("anyio-no-such-program-in-path"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let p = open_process(&Command::new("true")).await?;
    assert_eq!(kind(p.send_signal(0x7fff)), ErrorKind::InvalidArgument);
    assert_eq!(kind(p.send_signal(-1)), ErrorKind::InvalidArgument);
    p.aclose().await?;
    Ok(())
}

#[anyio::test]
async fn nothing_starts_in_a_cancelled_scope() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope
        .run(async { open_process(&Command::new("true")).await.map(drop) })
        .await?;
    assert!(r.is_none());
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope
        .run(async { run_process(&Command::new("true")).await.map(drop) })
        .await?;
    assert!(r.is_none());
    Ok(())
}

#[anyio::test]
async fn terminate_kill_and_returncode() -> anyio::Result<()> {
    let p = open_process(Command::new("sleep").arg("30")).await?;
    assert!(p.pid() > 0);
    assert_eq!(p.returncode(), None);
    p.terminate()?;
    let status = p.wait().await?;
    assert_eq!(status.signal(), Some(SIGTERM));
    assert_eq!(p.returncode(), Some(-SIGTERM));
    // Signals to a reaped child do nothing (its pid may be someone else's now).
    p.kill()?;
    p.terminate()?;
    assert_eq!(p.wait().await?.signal(), Some(SIGTERM));
    let p = open_process(Command::new("sleep").arg("30")).await?;
    p.kill()?;
    assert_eq!(p.wait().await?.signal(), Some(SIGKILL));
    assert_eq!(p.returncode(), Some(-SIGKILL));
    Ok(())
}

#[anyio::test]
async fn a_child_that_ignores_sigterm_is_killed() -> anyio::Result<()> {
    // The child says it is ready only after installing its trap.
    let p = open_process(&Command::shell(
        "trap '' TERM; echo ready; while :; do sleep 1; done",
    ))
    .await?;
    assert_eq!(p.stdout().unwrap().receive(6).await?, b"ready\n");
    p.terminate()?;
    let gone = anyio::move_on_after(Duration::from_millis(300), p.wait()).await?;
    assert!(gone.is_none(), "SIGTERM was ignored");
    assert_eq!(p.returncode(), None);
    p.kill()?;
    assert_eq!(p.wait().await?.signal(), Some(SIGKILL));
    Ok(())
}

#[anyio::test]
async fn cancelled_wait_leaves_the_child_alone() -> anyio::Result<()> {
    let p = std::sync::Arc::new(open_process(&Command::new("cat")).await?);
    let scope = CancelScope::new();
    let r = task_group(|tg| {
        let (scope, p) = (scope.clone(), p.clone());
        async move {
            let canceller = scope.clone();
            tg.start_soon(async move {
                wait_all_tasks_blocked().await?;
                canceller.cancel();
                Ok(())
            })?;
            scope.run(p.wait()).await
        }
    })
    .await?;
    assert_eq!(r, Some(None), "the wait was cancelled");
    assert_eq!(p.returncode(), None, "the child still runs");
    // It still works: it echoes, and ends when its stdin closes.
    p.stdin().unwrap().send(b"still here").await?;
    p.stdin().unwrap().aclose().await?;
    assert_eq!(read_all(p.stdout().unwrap()).await?, b"still here");
    assert!(p.wait().await?.success());
    Ok(())
}

#[anyio::test]
async fn several_tasks_wait_at_once() -> anyio::Result<()> {
    let p = std::sync::Arc::new(open_process(&Command::new("cat")).await?);
    let statuses = task_group(|tg| {
        let p = p.clone();
        async move {
            let handles = (0..3)
                .map(|_| {
                    let p = p.clone();
                    tg.start_soon(async move { p.wait().await.map(|s| s.success()) })
                })
                .collect::<anyio::Result<Vec<_>>>()?;
            wait_all_tasks_blocked().await?;
            p.stdin().unwrap().aclose().await?;
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await?);
            }
            Ok(out)
        }
    })
    .await?;
    assert_eq!(statuses, Some(vec![true, true, true]));
    Ok(())
}

#[anyio::test]
async fn aclose_cancelled_kills_and_reaps() -> anyio::Result<()> {
    let p = open_process(Command::new("sleep").arg("30")).await?;
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope.run(p.aclose()).await?;
    assert!(r.is_none());
    // Reaped before aclose returned.
    assert_eq!(p.returncode(), Some(-SIGKILL));
    // Its pipes are closed (AnyIO's test_process_aexit_cancellation_closes_standard_streams).
    assert_eq!(
        kind(p.stdin().unwrap().send(b"x").await),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        kind(p.stdout().unwrap().receive(1).await),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        kind(p.stderr().unwrap().receive(1).await),
        ErrorKind::ClosedResource
    );
    Ok(())
}

#[anyio::test]
async fn aclose_waits_for_a_clean_exit() -> anyio::Result<()> {
    // cat exits when its stdin closes, which aclose does first.
    let p = open_process(&Command::new("cat")).await?;
    assert!(p.aclose().await?.success());
    Ok(())
}

#[anyio::test]
async fn ten_mib_through_cat() -> anyio::Result<()> {
    let data: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut p = open_process(&Command::new("cat")).await?;
    let stdin = p.take_stdin().unwrap();
    let stdout = p.take_stdout().unwrap();
    let expected = data.clone();
    let got = task_group(|tg| async move {
        tg.start_soon(async move {
            stdin.send(&data).await?;
            stdin.aclose().await
        })?;
        read_all(&stdout).await
    })
    .await?
    .unwrap();
    assert!(
        got == expected,
        "10 MiB came back intact ({} bytes)",
        got.len()
    );
    assert!(p.aclose().await?.success());
    Ok(())
}

#[anyio::test]
async fn run_process_drains_ten_mib_on_both_outputs() -> anyio::Result<()> {
    // 10 MiB on each pipe, written alternately: a sequential reader would deadlock.
    let cmd = Command::shell(
        "i=0; while [ $i -lt 10 ]; do head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; i=$((i+1)); done",
    );
    let done = run_process(&cmd).await?;
    assert_eq!(done.stdout.len(), 10 << 20);
    assert_eq!(done.stderr.len(), 10 << 20);
    // The same through input: stdin→cat→stdout with run_process.
    let data: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 253) as u8).collect();
    let done = run_process(Command::new("cat").input(data.clone())).await?;
    assert!(done.stdout == data);
    Ok(())
}

#[anyio::test]
async fn run_process_cancelled_by_a_deadline() -> anyio::Result<()> {
    let r = anyio::move_on_after(Duration::from_millis(100), async {
        run_process(Command::new("sleep").arg("30")).await.map(drop)
    })
    .await?;
    assert!(r.is_none());
    let err = anyio::fail_after(Duration::from_millis(100), async {
        run_process(Command::new("sleep").arg("30")).await.map(drop)
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    Ok(())
}

#[anyio::test]
async fn write_to_a_closed_child_stdin_is_broken() -> anyio::Result<()> {
    // The child closes its stdin, says so, and lives on.
    let p = open_process(&Command::shell("exec 0<&-; echo closed; sleep 30")).await?;
    assert_eq!(p.stdout().unwrap().receive(7).await?, b"closed\n");
    // Another test's child, between its fork and its exec, holds a copy of every fd of this
    // process, our pipe's read end too: a write in that window is still taken. Once that
    // child has exec'd (close-on-exec), the next write fails, so write until one does.
    let stdin = p.stdin().unwrap();
    let err = anyio::fail_after(Duration::from_secs(30), async {
        loop {
            match stdin.send(b"anyone?").await {
                Ok(()) => anyio::sleep(Duration::from_millis(10)).await?,
                Err(e) => return anyio::Ok(e),
            }
        }
    })
    .await?;
    assert_eq!(err.kind(), ErrorKind::BrokenResource);
    assert_eq!(
        err.source_as::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::BrokenPipe)
    );
    p.kill()?;
    p.aclose().await?;
    Ok(())
}

#[anyio::test]
async fn close_early_and_end_of_stream() -> anyio::Result<()> {
    // AnyIO's test_close_early: closing stdin ends cat, whose stdout then ends.
    let p = open_process(&Command::new("cat")).await?;
    p.stdin().unwrap().aclose().await?;
    assert_eq!(
        kind(p.stdout().unwrap().receive(1).await),
        ErrorKind::EndOfStream
    );
    assert_eq!(
        kind(p.stdin().unwrap().send(b"x").await),
        ErrorKind::ClosedResource
    );
    assert!(p.wait().await?.success());
    Ok(())
}

#[anyio::test]
async fn close_wakes_a_blocked_receive() -> anyio::Result<()> {
    let p = std::sync::Arc::new(open_process(&Command::new("cat")).await?);
    let r = task_group(|tg| {
        let p = p.clone();
        async move {
            let q = p.clone();
            tg.start_soon(async move {
                wait_all_tasks_blocked().await?;
                q.stdout().unwrap().aclose().await
            })?;
            Ok(kind(p.stdout().unwrap().receive(10).await))
        }
    })
    .await?;
    assert_eq!(r, Some(ErrorKind::ClosedResource));
    p.aclose().await?;
    Ok(())
}

#[anyio::test]
async fn second_receiver_is_busy_and_cancelled_receive_is_lossless() -> anyio::Result<()> {
    let p = std::sync::Arc::new(open_process(&Command::new("cat")).await?);
    let stdout = p.stdout().unwrap();
    {
        let mut first = std::pin::pin!(stdout.receive(10));
        assert!(poll_once(first.as_mut()).await.is_none());
        assert_eq!(kind(stdout.receive(10).await), ErrorKind::BusyResource);
    }
    // The abandoned receive reserved nothing, and a cancelled one took nothing.
    let scope = CancelScope::new();
    let r = task_group(|tg| {
        let (p, scope) = (p.clone(), scope.clone());
        async move {
            let canceller = scope.clone();
            tg.start_soon(async move {
                wait_all_tasks_blocked().await?;
                canceller.cancel();
                Ok(())
            })?;
            scope.run(p.stdout().unwrap().receive(10)).await
        }
    })
    .await?;
    assert_eq!(r, Some(None));
    p.stdin().unwrap().send(b"abc").await?;
    p.stdin().unwrap().aclose().await?;
    assert_eq!(read_all(stdout).await?, b"abc");
    p.aclose().await?;
    Ok(())
}

#[anyio::test]
async fn dropped_process_is_killed_and_reaped() -> anyio::Result<()> {
    let p = open_process(Command::new("sleep").arg("30")).await?;
    let pid = p.pid();
    drop(p);
    // The backend reaps it in the background; poll /proc for its disappearance as our
    // child (bounded by the test's timeout).
    while is_our_child(pid) {
        anyio::sleep(Duration::from_millis(20)).await?;
    }
    Ok(())
}

/// True while `pid` is a child of this process (running or a zombie), read from
/// `/proc/<pid>/stat`.
fn is_our_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next();
    fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id())
}
