//! The teardown contract, counted: 200 `run_process` calls cancelled at varied moments
//! (before the spawn, while writing input, while draining output, while waiting) leave no
//! child of this process — running or zombie — and no open fd behind.
//!
//! This file holds one test that runs each backend in turn (not `#[anyio::test]`, whose
//! two tests would run in parallel): counting this process's children and fds is only
//! meaningful when nothing else in the process spawns or opens anything meanwhile.

mod support;

use std::time::{Duration, Instant};

use anyio::process::{Command, run_process};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, Runner, task_group};

const RUNS: u32 = 200;

/// This process's children, with their state letter (`Z` for a zombie), from `/proc`.
fn our_children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may contain spaces: parse after the last ')'.
        let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            children.push((pid, state));
        }
    }
    children
}

/// This process's open fds and what each is, without the listing's own fd (whose number
/// is whichever is lowest free at the time, so it can take the number of an fd that closed
/// between two listings).
fn open_fds() -> Vec<(String, String)> {
    let listing = std::fs::read_dir("/proc/self/fd").unwrap().flatten();
    let own = format!("/proc/{}/fd", std::process::id());
    let mut fds: Vec<_> = listing
        .map(|e| {
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                target.display().to_string(),
            )
        })
        .filter(|(_, target)| *target != own)
        .collect();
    fds.sort();
    fds
}

async fn cancelled_runs() -> anyio::Result<()> {
    let mut cmd = Command::shell("cat >/dev/null; sleep 30");
    cmd.input(vec![b'x'; 256 * 1024]); // more than a pipe holds: cut mid-write too
    // Warm up: the backends' process machinery (tokio's SIGCHLD pipe, async-process's
    // reaper) opens its fds once, on first use.
    let mut warm = Command::new("true");
    warm.input(b"x".to_vec());
    run_process(&warm).await?;
    anyio::move_on_after(Duration::from_millis(2), async {
        run_process(&cmd).await.map(drop)
    })
    .await?;
    let fds_before = open_fds();
    let mut completed = 0;
    for i in 0..RUNS {
        let r = if i % 4 == 3 {
            // Cancelled from another task once the run is blocked (waiting or writing).
            let scope = CancelScope::new();
            let (cmd, canceller) = (cmd.clone(), scope.clone());
            task_group(|tg| async move {
                tg.start_soon(async move {
                    wait_all_tasks_blocked().await?;
                    canceller.cancel();
                    Ok(())
                })?;
                scope.run(async { run_process(&cmd).await.map(drop) }).await
            })
            .await?
            .flatten()
        } else {
            // Cut by a deadline: 0 to ~4 ms, so some runs never spawn and others are
            // cancelled at every stage after.
            let after = Duration::from_micros(u64::from(i % 8) * 500);
            anyio::move_on_after(after, async { run_process(&cmd).await.map(drop) }).await?
        };
        completed += usize::from(r.is_some());
    }
    // A child killed at teardown is reaped by the backend's reaper (async-process's runs
    // on its own thread), which closes the child's pidfd right after the reap: give that
    // last step time to land. A real leak stays, and fails below after the wait.
    let settle = Instant::now() + Duration::from_secs(10);
    let (children, fds_after) = loop {
        let (children, fds) = (our_children(), open_fds());
        let settled = children.is_empty() && fds.iter().all(|fd| fds_before.contains(fd));
        if settled || Instant::now() >= settle {
            break (children, fds);
        }
        anyio::sleep(Duration::from_millis(10)).await?;
    };
    println!(
        "{RUNS} cancelled runs: {completed} completed, children left {children:?}, fds {} -> {}",
        fds_before.len(),
        fds_after.len()
    );
    assert_eq!(completed, 0, "`sleep 30` cannot complete");
    assert!(
        children.is_empty(),
        "no child (zombie or not) is left: {children:?}"
    );
    let leaked: Vec<_> = fds_after
        .iter()
        .filter(|fd| !fds_before.contains(fd))
        .collect();
    assert!(leaked.is_empty(), "no fd is left open: {leaked:?}");
    Ok(())
}

#[test]
fn cancelled_run_process_leaves_no_zombie_and_no_fd() {
    support::with_timeout(240, || {
        for backend in anyio::available_backends() {
            println!("backend {backend:?}");
            Runner::new(*backend).run(cancelled_runs).unwrap();
        }
        assert!(anyio::available_backends().contains(&Backend::Tokio));
    });
}
