//! `examples/echo.rs` and `examples/tls_echo.rs` run as child processes on every backend
//! this build has: their self-checks (server, clients, idle timeout, graceful shutdown)
//! exit 0, and the echo server shuts down cleanly on `SIGTERM`.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The built example `name` (`cargo test` builds the examples next to `deps`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join(name))
        .unwrap();
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (or run `cargo build --examples`)",
        path.display()
    );
    path
}

/// Kills `child` if it has not finished within the overall limit; call `finished` after.
fn watchdog(child: &Child) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (finished, watch) = mpsc::channel::<()>();
    let pid = child.id().to_string();
    let thread = std::thread::spawn(move || {
        if watch.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    (finished, thread)
}

fn run_to_end(name: &str, backend: &str) -> Output {
    let child = Command::new(example(name))
        .args(["--backend", backend])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (finished, thread) = watchdog(&child);
    let out = child.wait_with_output().unwrap();
    let _ = finished.send(());
    thread.join().unwrap();
    out
}

fn assert_self_check(name: &str) {
    for backend in anyio::available_backends() {
        let out = run_to_end(name, backend.name());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name} on {}: {:?}\n{stdout}\n{stderr}",
            backend.name(),
            out.status
        );
        assert!(
            stdout.contains("self-check passed") && stdout.contains("shut down cleanly"),
            "{name} on {}: {stdout}",
            backend.name()
        );
    }
}

#[test]
fn the_echo_example_checks_itself_on_every_backend() {
    assert_self_check("echo");
}

#[cfg(feature = "tls")]
#[test]
fn the_tls_echo_example_checks_itself_on_every_backend() {
    assert_self_check("tls_echo");
}

#[test]
fn the_echo_server_echoes_and_shuts_down_on_sigterm() {
    for backend in anyio::available_backends() {
        let mut child = Command::new(example("echo"))
            .args(["--backend", backend.name(), "serve", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (finished, thread) = watchdog(&child);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().unwrap().unwrap();
        let port = ready
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{ready}"));
        // The example's own client mode, against the running server.
        let out = Command::new(example("echo"))
            .args(["--backend", backend.name(), "client", port, "hello there"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello there");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        let _ = finished.send(());
        thread.join().unwrap();
        assert!(status.success(), "{}: {status:?} {rest:?}", backend.name());
        assert!(
            rest.iter()
                .any(|l| l.starts_with("shut down cleanly after 1 connections")),
            "{}: {rest:?}",
            backend.name()
        );
    }
}
