//! Benchmarks of "Using subprocesses": `run_process` against the raw runtime's process API
//! doing the same work.
//!
//! The bodies run as a spawned task on both sides, on the same runtime configuration (tokio
//! current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see `support/mod.rs`
//! for the rule, the rounds and the environment variables.
//!
//! Case (id for `ANYIO_BENCH_CASE`; the size counts processes):
//! * `run_process`: 1,000 runs of `true`, one after the other, each with stdin from
//!   `/dev/null` and stdout and stderr captured through pipes, the exit status checked:
//!   `run_process` vs `tokio::process::Command::output()` / `async_process::Command::output()`
//!   configured the same way (both raw APIs also pipe, drain and wait). The cost is
//!   dominated by the fork/exec and the child's run, which both sides pay alike; what the
//!   ratio shows is anyio's overhead around them (pipes built above the backend, the
//!   checkpoints, the teardown).
//!
//! `cargo bench --all-features --bench process`; `ANYIO_BENCH_SIZE=20` for a quick round.

mod support;

use std::process::Stdio as StdStdio;
use std::time::Instant;

use anyio::process::{Command, Stdio, run_process};
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

fn anyio_runs(config: Config, n: usize) -> f64 {
    run_anyio(config, move || async move {
        let mut cmd = Command::new("true");
        cmd.stdin(Stdio::Null);
        let start = Instant::now();
        for _ in 0..n {
            let done = run_process(&cmd).await?;
            assert_eq!(done.returncode, 0);
        }
        Ok(secs(start))
    })
}

fn raw_runs(config: Config, n: usize) -> f64 {
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        for _ in 0..n {
            let ok = match raw {
                Raw::Tokio(_) => {
                    let out = tokio::process::Command::new("true")
                        .stdin(StdStdio::null())
                        .output()
                        .await
                        .unwrap();
                    out.status.success()
                }
                Raw::Smol(_) => {
                    let out = async_process::Command::new("true")
                        .stdin(StdStdio::null())
                        .output()
                        .await
                        .unwrap();
                    out.status.success()
                }
            };
            assert!(ok);
        }
        secs(start)
    })
}

fn main() {
    let cases = vec![Case::new(
        "run_process",
        "`run_process(\"true\")`, {n} runs one after the other",
        "tokio::process / async-process output()",
        Some(1.1),
        1_000,
        anyio_runs,
        raw_runs,
    )];
    support::main("anyio subprocess benchmarks", cases);
}
