//! Foreign futures in cancelled scopes: `.cancellable()` lets them see the cancellation,
//! and debug mode's watchdog reports a task left pending in one after its scope was
//! cancelled. Every test runs on tokio and on smol.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, CancelScope, CancellableExt, ErrorKind, Runner};

#[anyio::test]
async fn cancellable_ext_lets_a_cancelled_group_end() -> anyio::Result<()> {
    let (_tx, rx) = async_channel::bounded::<u32>(1);
    let out = anyio::task_group(|tg| async move {
        let child = tg.start_soon(async move {
            // A foreign future: it never reaches an anyio checkpoint on its own.
            let item = rx.recv().cancellable().await?;
            Ok(item.ok())
        })?;
        wait_all_tasks_blocked().await?;
        tg.cancel_scope().cancel();
        let err = CancelScope::shielded().run(child).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskCancelled);
        Ok(())
    })
    .await?;
    assert_eq!(out, Some(()));
    Ok(())
}

#[anyio::test]
async fn cancellable_ext_returns_the_output_of_a_foreign_future() -> anyio::Result<()> {
    let (tx, rx) = async_channel::bounded::<u32>(1);
    tx.send(7).await.unwrap();
    assert_eq!(rx.recv().cancellable().await?, Ok(7));
    Ok(())
}

#[anyio::test]
async fn cancellable_ext_in_a_cancelled_scope_does_not_poll_the_future() -> anyio::Result<()> {
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            async { panic!("polled in a cancelled scope") }
                .cancellable()
                .await
        })
        .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test(backends = ["tokio"])]
async fn tokio_accept_with_cancellable_ext_sees_the_deadline() -> anyio::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let out = anyio::move_on_after(Duration::from_millis(20), async {
        let (_conn, _peer) = listener.accept().cancellable().await??;
        Ok::<_, anyio::Error>(())
    })
    .await?;
    assert_eq!(out, None);
    Ok(())
}

#[anyio::test(backends = ["smol"])]
async fn smol_accept_with_cancellable_ext_sees_the_deadline() -> anyio::Result<()> {
    let listener = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0))?;
    let out = anyio::move_on_after(Duration::from_millis(20), async {
        let (_conn, _peer) = listener.accept().cancellable().await??;
        Ok::<_, anyio::Error>(())
    })
    .await?;
    assert_eq!(out, None);
    Ok(())
}

// ---- the watchdog, tested in a child process whose stderr is read ----

/// The environment variable that makes [`watchdog_child`] run its scenario on a backend.
const CHILD_ENV: &str = "ANYIO_CANCEL_WATCHDOG_CHILD";

/// The child's scenario: a cancelled group with a child stuck in a foreign future (to be
/// reported), one blocked in an anyio wait in a shielded scope, one in a foreign future
/// in a shielded scope, one waiting for its worker thread (none of them reported), and the
/// host waiting for them at the group's exit (not reported). A byte on stdin, sent once the report is out, releases them all.
fn child_scenario(backend: Backend) -> anyio::Result<()> {
    let (stuck_tx, stuck_rx) = async_channel::bounded::<()>(1);
    let (shielded_tx, shielded_rx) = async_channel::bounded::<()>(1);
    let (thread_tx, thread_rx) = mpsc::channel::<()>();
    let release = anyio::Event::new();
    let r = release.clone();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        // EOF (the parent died) releases too, so the child never outlives it for long.
        let _ = std::io::stdin().read(&mut byte);
        r.set();
        let _ = thread_tx.send(());
        let _ = shielded_tx.send_blocking(());
        let _ = stuck_tx.send_blocking(());
    });
    Runner::new(backend)
        .cancel_watchdog(Duration::from_millis(200))
        .run(|| async move {
            anyio::task_group(|tg| async move {
                tg.task().name("shielded-anyio-wait").spawn(async move {
                    CancelScope::shielded().run(release.wait()).await?;
                    Ok(())
                })?;
                tg.task().name("shielded-foreign-wait").spawn(async move {
                    CancelScope::shielded()
                        .run(async move { Ok::<_, anyio::Error>(shielded_rx.recv().await) })
                        .await?;
                    Ok(())
                })?;
                tg.task().name("thread-wait").spawn(async move {
                    // A cancelled call waits for its thread: an anyio wait, not reported.
                    let _ = anyio::to_thread::run_sync(move || thread_rx.recv()).await?;
                    Ok(())
                })?;
                wait_all_tasks_blocked().await?;
                tg.cancel_scope().cancel();
                // Spawned after the cancellation: every other task has been in its
                // situation at least as long as this one when its report is due.
                tg.task().name("stuck-accept").spawn(async move {
                    let _ = stuck_rx.recv().await; // ignores the cancelled scope
                    Ok(())
                })?;
                Ok(())
            })
            .await?;
            Ok(())
        })
}

/// The second scenario: the root task awaits a foreign future inside an inner scope that
/// is cancelled, while the task's own scope is not: judged by the inner scope, reported.
fn child_scenario_inner_scope(backend: Backend) -> anyio::Result<()> {
    let (tx, rx) = async_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        let _ = std::io::stdin().read(&mut byte);
        let _ = tx.send_blocking(());
    });
    Runner::new(backend)
        .cancel_watchdog(Duration::from_millis(200))
        .run(|| async move {
            let inner = CancelScope::new();
            inner.cancel();
            inner
                .run(async move { Ok::<_, anyio::Error>(rx.recv().await) })
                .await?;
            Ok(())
        })
}

/// Not a test of its own: the body of the child process (does nothing without `CHILD_ENV`,
/// which names the backend and the scenario).
#[test]
fn watchdog_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (backend, scenario) = spec.split_once(':').unwrap();
    let backend: Backend = backend.parse().unwrap();
    match scenario {
        "group" => child_scenario(backend).unwrap(),
        "inner" => child_scenario_inner_scope(backend).unwrap(),
        other => panic!("unknown scenario {other}"),
    }
    println!("child scenario done");
}

/// Runs [`watchdog_child`]'s `scenario` on `backend` until the report of `task` is out,
/// then releases it; returns every stderr line once the child has exited.
fn run_child(backend: Backend, scenario: &str, task: &str) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "watchdog_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{}:{scenario}", backend.name()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let reported = line.contains(&format!("task '{task}'"));
                lines.push(line);
                if reported {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no report within 60 s on {backend}; stderr: {lines:#?}");
            }
        }
    }
    // Release the tasks: the group exits and the child ends.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"x").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    assert!(status.success(), "child failed on {backend}: {lines:#?}");
    lines
}

#[test]
fn watchdog_reports_a_task_stuck_in_a_foreign_future_of_a_cancelled_scope() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    for backend in anyio::available_backends() {
        let lines = run_child(*backend, "group", "stuck-accept");
        let reports: Vec<&String> = lines.iter().filter(|l| l.starts_with("anyio:")).collect();
        assert_eq!(
            reports.len(),
            1,
            "exactly one report on {backend}: {lines:#?}"
        );
        let report = reports[0];
        assert!(report.contains("'stuck-accept'"), "{report}");
        assert!(
            report.contains("spawned at") && report.contains("cancel_foreign.rs"),
            "where it was spawned: {report}"
        );
        assert!(report.contains("cancellable"), "the advice: {report}");
    }
}

#[test]
fn watchdog_judges_a_foreign_future_by_its_innermost_scope() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    for backend in anyio::available_backends() {
        let lines = run_child(*backend, "inner", "main");
        let reports: Vec<&String> = lines.iter().filter(|l| l.starts_with("anyio:")).collect();
        assert_eq!(
            reports.len(),
            1,
            "exactly one report on {backend}: {lines:#?}"
        );
        assert!(reports[0].contains("task 'main'"), "{}", reports[0]);
        // The root task was not spawned by `start_soon`: no place to name.
        assert!(!reports[0].contains("spawned at"), "{}", reports[0]);
    }
}
