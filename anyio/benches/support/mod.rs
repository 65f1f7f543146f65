//! The shared harness of anyio's benchmarks.
//!
//! **The rule.** Every case has an anyio side and a raw side that do the same work, and
//! both run their measured body as a *spawned task* on the *same runtime configuration*:
//!
//! * anyio side: inside [`Runner::run`], the body is a task-group child of the root task
//!   ([`run_anyio`]);
//! * raw side: the body is `tokio::spawn`ed (or `Executor::spawn`ed) on a runtime built
//!   exactly as anyio builds its own ([`tokio_runtime`], [`smol_runtime`]), and the calling
//!   thread waits for it the way anyio's root does (`block_on`) ([`run_raw`]).
//!
//! The four configurations ([`Config`]) are the ones anyio's `Runner` offers: tokio
//! current-thread, tokio multi-thread with 2 workers, smol on the calling thread alone, and
//! smol on 2 threads (the caller's and one helper). The body starts its own clock after its
//! setup, so building the runtime is never timed.
//!
//! Each case runs once per side as a warm-up, then `ANYIO_BENCH_ROUNDS` rounds (default 5)
//! alternating the sides (A B, B A, ...); the medians and their ratio (anyio / raw: > 1 is
//! slower) are printed, then a summary table with one column per configuration.
//!
//! **Environment.**
//! * `ANYIO_BENCH_ROUNDS=n`: rounds per case (default 5).
//! * `ANYIO_BENCH_CASE=spawn,timers`: only those cases (by id, exact).
//! * `ANYIO_BENCH_CONFIG=tokio-ct,smol-1`: only those configurations
//!   (`tokio-ct`, `tokio-2`, `smol-1`, `smol-2`).
//! * `ANYIO_BENCH_SIDE=anyio` (or `raw`): run the selected cases' body once, on that side
//!   only, no warm-up (for a profiler: `callgrind.sh` uses it).
//! * `ANYIO_BENCH_SIZE=n`: the workload size (operations) instead of the case's default.
//! * `ANYIO_BENCH_LIST=1`: print each case's id, default size and configurations, and exit.
#![allow(dead_code)]

pub mod net;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyio::{Backend, Flavor, Runner, SmolOptions, TokioOptions};

/// One of the runtime configurations every case runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    /// tokio, current-thread scheduler.
    TokioCt,
    /// tokio, multi-thread scheduler with 2 workers.
    Tokio2,
    /// smol: one executor run by the calling thread alone (anyio's smol default).
    Smol1,
    /// smol: one executor run by the calling thread and one helper thread.
    Smol2,
}

impl Config {
    pub const ALL: [Config; 4] = [
        Config::TokioCt,
        Config::Tokio2,
        Config::Smol1,
        Config::Smol2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Config::TokioCt => "tokio-ct",
            Config::Tokio2 => "tokio-2",
            Config::Smol1 => "smol-1",
            Config::Smol2 => "smol-2",
        }
    }

    pub fn is_tokio(self) -> bool {
        matches!(self, Config::TokioCt | Config::Tokio2)
    }

    pub fn backend(self) -> Backend {
        if self.is_tokio() {
            Backend::Tokio
        } else {
            Backend::Smol
        }
    }

    /// anyio's runner for this configuration.
    pub fn runner(self) -> Runner {
        match self {
            Config::TokioCt => Runner::new(Backend::Tokio)
                .tokio_options(TokioOptions::new().flavor(Flavor::CurrentThread)),
            Config::Tokio2 => Runner::new(Backend::Tokio).tokio_options(
                TokioOptions::new()
                    .flavor(Flavor::MultiThread)
                    .worker_threads(2),
            ),
            Config::Smol1 => Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(1)),
            Config::Smol2 => Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(2)),
        }
    }
}

/// The tokio runtime of a tokio configuration, built as `anyio/src/backend/tokio.rs`
/// builds it (same scheduler, worker count, `enable_all`, thread name).
pub fn tokio_runtime(config: Config) -> tokio::runtime::Runtime {
    let mut builder = match config {
        Config::TokioCt => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    builder
        .enable_all()
        .thread_name("anyio-tokio")
        .build()
        .unwrap()
}

/// A smol executor run as `anyio/src/backend/smol.rs` runs it: `threads - 1` helper
/// threads in `async_io::block_on(ex.run(..))`, plus the caller (see [`SmolRuntime::block_on`]).
pub struct SmolRuntime {
    pub ex: Arc<async_executor::Executor<'static>>,
    stop: Option<async_channel::Sender<()>>,
    helpers: Vec<std::thread::JoinHandle<()>>,
}

pub fn smol_runtime(threads: usize) -> SmolRuntime {
    let ex = Arc::new(async_executor::Executor::new());
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let helpers = (1..threads)
        .map(|i| {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            std::thread::Builder::new()
                .name(format!("anyio-smol-{i}"))
                .spawn(move || {
                    async_io::block_on(ex.run(async move {
                        let _ = stopped.recv().await;
                    }))
                })
                .unwrap()
        })
        .collect();
    SmolRuntime {
        ex,
        stop: Some(stop),
        helpers,
    }
}

impl SmolRuntime {
    /// Drives `fut` on the calling thread as one of the executor's threads.
    pub fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        async_io::block_on(self.ex.run(fut))
    }
}

impl Drop for SmolRuntime {
    fn drop(&mut self) {
        drop(self.stop.take());
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

/// The raw side's view of its runtime: spawning, yielding and sleeping the runtime's way.
#[derive(Clone)]
pub enum Raw {
    Tokio(tokio::runtime::Handle),
    Smol(Arc<async_executor::Executor<'static>>),
}

/// A raw task's handle: awaiting [`RawTask::join`] waits for its output.
pub enum RawTask<T> {
    Tokio(tokio::task::JoinHandle<T>),
    Smol(async_executor::Task<T>),
}

impl<T> RawTask<T> {
    pub async fn join(self) -> T {
        match self {
            RawTask::Tokio(h) => h.await.unwrap(),
            RawTask::Smol(t) => t.await,
        }
    }
}

impl Raw {
    pub fn is_tokio(&self) -> bool {
        matches!(self, Raw::Tokio(_))
    }

    pub fn spawn<F>(&self, fut: F) -> RawTask<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Raw::Tokio(h) => RawTask::Tokio(h.spawn(fut)),
            Raw::Smol(ex) => RawTask::Smol(ex.spawn(fut)),
        }
    }

    /// An unconditional yield to the scheduler.
    pub async fn yield_now(&self) {
        match self {
            Raw::Tokio(_) => tokio::task::yield_now().await,
            Raw::Smol(_) => futures_lite::future::yield_now().await,
        }
    }

    pub async fn sleep(&self, d: std::time::Duration) {
        match self {
            Raw::Tokio(_) => tokio::time::sleep(d).await,
            Raw::Smol(_) => {
                async_io::Timer::after(d).await;
            }
        }
    }
}

/// Seconds since `start` (what a timed body returns).
pub fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Runs `body()` as a task-group child of the root task of an anyio run on `config`, and
/// returns what the body measured.
pub fn run_anyio<F, Fut>(config: Config, body: F) -> f64
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyio::Result<f64>> + Send + 'static,
{
    config
        .runner()
        .run(move || async move {
            let fut = body();
            let out = Arc::new(Mutex::new(None));
            let slot = out.clone();
            anyio::task_group(|tg| async move {
                tg.start_soon(async move {
                    let v = fut.await?;
                    *slot.lock().unwrap() = Some(v);
                    Ok(())
                })?;
                Ok(())
            })
            .await?;
            let v = out.lock().unwrap().take().unwrap();
            Ok::<_, anyio::Error>(v)
        })
        .unwrap()
}

/// Runs `body(raw)` as a spawned task of a raw runtime built as anyio builds `config`'s,
/// the calling thread waiting in `block_on`, and returns what the body measured.
pub fn run_raw<F, Fut>(config: Config, body: F) -> f64
where
    F: FnOnce(Raw) -> Fut,
    Fut: Future<Output = f64> + Send + 'static,
{
    match config {
        Config::TokioCt | Config::Tokio2 => {
            let rt = tokio_runtime(config);
            let handle = rt.handle().clone();
            let fut = body(Raw::Tokio(handle.clone()));
            let v = rt.block_on(async move { handle.spawn(fut).await.unwrap() });
            rt.shutdown_background();
            v
        }
        Config::Smol1 | Config::Smol2 => {
            let rt = smol_runtime(if config == Config::Smol1 { 1 } else { 2 });
            let task = rt.ex.spawn(body(Raw::Smol(rt.ex.clone())));
            rt.block_on(task)
        }
    }
}

/// What a case measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds of wall-clock time.
    Time,
    /// Bytes of heap per task.
    BytesPerTask,
}

type Side = Box<dyn Fn(Config, usize) -> f64>;

/// One workload, measured on both sides.
pub struct Case {
    /// Short id, for `ANYIO_BENCH_CASE` and `callgrind.sh`.
    pub id: &'static str,
    /// What the body does (with `{n}` for the size).
    pub what: &'static str,
    /// The raw peers (tokio's / smol's).
    pub peer: &'static str,
    /// The ratio to reach (at most); `None` for an informational row.
    pub target: Option<f64>,
    /// The default workload size, in operations.
    pub size: usize,
    /// Seconds taken off both medians before the ratio (a sleep every body waits out).
    pub subtract: f64,
    pub unit: Unit,
    pub configs: Vec<Config>,
    anyio: Side,
    raw: Side,
}

impl Case {
    pub fn new(
        id: &'static str,
        what: &'static str,
        peer: &'static str,
        target: Option<f64>,
        size: usize,
        anyio: impl Fn(Config, usize) -> f64 + 'static,
        raw: impl Fn(Config, usize) -> f64 + 'static,
    ) -> Case {
        Case {
            id,
            what,
            peer,
            target,
            size,
            subtract: 0.0,
            unit: Unit::Time,
            configs: Config::ALL.to_vec(),
            anyio: Box::new(anyio),
            raw: Box::new(raw),
        }
    }

    pub fn subtract(mut self, secs: f64) -> Case {
        self.subtract = secs;
        self
    }

    pub fn unit(mut self, unit: Unit) -> Case {
        self.unit = unit;
        self
    }

    pub fn configs(mut self, configs: &[Config]) -> Case {
        self.configs = configs.to_vec();
        self
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect())
}

fn show(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Time => format!("{:9.2} ms", v * 1e3),
        Unit::BytesPerTask => format!("{v:9.0} B/task"),
    }
}

/// Runs the selected cases on the selected configurations (see the module docs).
pub fn main(title: &str, cases: Vec<Case>) {
    let rounds: usize = std::env::var("ANYIO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let only_cases = env_list("ANYIO_BENCH_CASE");
    let only_configs = env_list("ANYIO_BENCH_CONFIG");
    let side = std::env::var("ANYIO_BENCH_SIDE").ok();
    let size: Option<usize> = std::env::var("ANYIO_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok());
    if std::env::var_os("ANYIO_BENCH_LIST").is_some() {
        for c in &cases {
            let configs: Vec<_> = c.configs.iter().map(|k| k.name()).collect();
            println!("{} {} {}", c.id, c.size, configs.join(","));
        }
        return;
    }
    let keep_case = |c: &Case| {
        only_cases
            .as_ref()
            .is_none_or(|o| o.iter().any(|i| i == c.id))
    };
    let keep_config = |k: Config| {
        only_configs
            .as_ref()
            .is_none_or(|o| o.iter().any(|i| i == k.name()))
    };
    let started = Instant::now();
    if side.is_none() {
        println!(
            "\n{title}: median of {rounds} alternating rounds, each body a spawned task on \
             both sides (ratio = anyio / raw)"
        );
    }
    let mut summary: Vec<(&Case, usize, Vec<Option<f64>>)> = Vec::new();
    for case in cases.iter().filter(|c| keep_case(c)) {
        let n = size.unwrap_or(case.size);
        let mut ratios = Vec::new();
        for config in Config::ALL {
            if !case.configs.contains(&config) || !keep_config(config) {
                ratios.push(None);
                continue;
            }
            if let Some(side) = side.as_deref() {
                let v = match side {
                    "anyio" => (case.anyio)(config, n),
                    "raw" => (case.raw)(config, n),
                    other => panic!("ANYIO_BENCH_SIDE is anyio or raw, not {other:?}"),
                };
                println!(
                    "{} {} {side} size={n} {}",
                    case.id,
                    config.name(),
                    show(case.unit, v)
                );
                continue;
            }
            ratios.push(Some(measure(case, config, n, rounds)));
        }
        summary.push((case, n, ratios));
    }
    if side.is_none() {
        print_summary(&summary);
        println!("\n{title}: {:.1} s", started.elapsed().as_secs_f64());
    }
}

/// Warm-up, then `rounds` alternating rounds; prints a line and returns the ratio.
fn measure(case: &Case, config: Config, n: usize, rounds: usize) -> f64 {
    (case.anyio)(config, n);
    (case.raw)(config, n);
    let (mut a, mut r) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            a.push((case.anyio)(config, n));
            r.push((case.raw)(config, n));
        } else {
            r.push((case.raw)(config, n));
            a.push((case.anyio)(config, n));
        }
    }
    let (a, r) = (median(a), median(r));
    let ratio = (a - case.subtract) / (r - case.subtract);
    let verdict = match case.target {
        Some(t) if ratio <= t => format!("target <= {t}: met"),
        Some(t) => format!("target <= {t}: MISSED"),
        None => "informational".to_owned(),
    };
    let sub = if case.subtract > 0.0 {
        format!(" (minus {:.1} ms each)", case.subtract * 1e3)
    } else {
        String::new()
    };
    println!(
        "{:<14} {:<9} anyio {} raw {}{sub}  ratio {ratio:5.2}  {verdict}",
        case.id,
        config.name(),
        show(case.unit, a),
        show(case.unit, r),
    );
    ratio
}

fn print_summary(summary: &[(&Case, usize, Vec<Option<f64>>)]) {
    println!(
        "\n| case | {} | target |",
        Config::ALL.map(Config::name).join(" | ")
    );
    println!("|---|---|---|---|---|---|");
    for (case, n, ratios) in summary {
        let cells: Vec<String> = ratios
            .iter()
            .map(|r| r.map_or("—".to_owned(), |r| format!("{r:.2}")))
            .collect();
        let what = case.what.replace("{n}", &n.to_string());
        let target = case.target.map_or("—".to_owned(), |t| format!("≤ {t}"));
        println!(
            "| `{}`: {what} (vs {}) | {} | {target} |",
            case.id,
            case.peer,
            cells.join(" | ")
        );
    }
}

/// Spawns every future as a task-group child and waits for all of them (anyio side).
pub async fn anyio_join_all<Fut>(futs: Vec<Fut>) -> anyio::Result<()>
where
    Fut: Future<Output = anyio::Result<()>> + Send + 'static,
{
    anyio::task_group(|tg| async move {
        for f in futs {
            tg.start_soon(f)?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Spawns every future as a task and awaits their handles in order (raw side).
pub async fn raw_join_all<Fut>(raw: &Raw, futs: Vec<Fut>)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = futs.into_iter().map(|f| raw.spawn(f)).collect();
    for t in tasks {
        t.join().await;
    }
}
