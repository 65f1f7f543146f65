//! The shared harness of anyio's benchmarks: each case runs the anyio version and the raw
//! runtime's version of the same work alternately (so machine noise hits both alike),
//! several rounds, and reports the medians and their ratio.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use anyio::{Backend, Error, Runner, TokioOptions};

/// One comparison: a name, and the two timed closures (each returns its own elapsed time,
/// so setup such as building a runtime stays outside the measurement).
pub struct Case<'a> {
    pub name: String,
    pub anyio: Box<dyn FnMut() -> Duration + 'a>,
    pub raw: Box<dyn FnMut() -> Duration + 'a>,
    /// The ratio to reach; `f64::NAN` for an informational row.
    pub target: f64,
}

pub struct Row {
    pub name: String,
    pub anyio: Duration,
    pub raw: Duration,
    pub target: f64,
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs every case `rounds` times, alternating anyio and raw (and which goes first).
///
/// `ANYIO_BENCH_ONLY=text` keeps the cases whose name contains `text` (for profiling one
/// case under callgrind); `ANYIO_BENCH_SIDE=anyio` or `raw` runs only that side, once.
pub fn run(cases: Vec<Case<'_>>, rounds: usize) -> Vec<Row> {
    let only = std::env::var("ANYIO_BENCH_ONLY").ok();
    let side = std::env::var("ANYIO_BENCH_SIDE").ok();
    let mut rows = Vec::new();
    for mut case in cases {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        match side.as_deref() {
            Some("anyio") => {
                println!("{}: anyio {:?}", case.name, (case.anyio)());
                continue;
            }
            Some("raw") => {
                println!("{}: raw {:?}", case.name, (case.raw)());
                continue;
            }
            _ => {}
        }
        // One warm-up of each, not measured.
        (case.anyio)();
        (case.raw)();
        let (mut a, mut r) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                a.push((case.anyio)());
                r.push((case.raw)());
            } else {
                r.push((case.raw)());
                a.push((case.anyio)());
            }
        }
        let row = Row {
            name: case.name,
            anyio: median(a),
            raw: median(r),
            target: case.target,
        };
        print_row(&row);
        rows.push(row);
    }
    rows
}

pub fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<58} {:>12} {:>12} {:>8} {:>8}",
        "case", "anyio", "raw", "ratio", "target"
    );
}

fn print_row(row: &Row) {
    let ratio = row.anyio.as_secs_f64() / row.raw.as_secs_f64();
    if row.target.is_nan() {
        println!(
            "{:<58} {:>12.3?} {:>12.3?} {:>8.2} {:>8}",
            row.name, row.anyio, row.raw, ratio, "info"
        );
        return;
    }
    let verdict = if ratio <= row.target { "ok" } else { "MISSED" };
    println!(
        "{:<58} {:>12.3?} {:>12.3?} {:>8.2} {:>6.1} {}",
        row.name, row.anyio, row.raw, ratio, row.target, verdict
    );
}

pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// The tokio runtime every benchmark compares against: multi-thread, two workers.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Times `body` inside an anyio run on `backend` (runtime setup not timed), on the same
/// kind of runtime as [`tokio_rt`] for tokio and anyio's default (one thread) for smol.
pub fn anyio_timed<F, Fut>(backend: Backend, body: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyio::Result<()>>,
{
    let runner = match backend {
        Backend::Tokio => Runner::new(backend).tokio_options(TokioOptions::new().worker_threads(2)),
        _ => Runner::new(backend),
    };
    runner
        .run(|| async move {
            let start = Instant::now();
            body().await?;
            Ok::<_, Error>(start.elapsed())
        })
        .unwrap()
}

/// Times `body` in `block_on` of a [`tokio_rt`] runtime (runtime setup not timed).
pub fn tokio_timed<Fut: Future<Output = ()>>(body: impl FnOnce() -> Fut) -> Duration {
    tokio_rt().block_on(async move {
        let start = Instant::now();
        body().await;
        start.elapsed()
    })
}
