//! Stress: a cancellation racing a task that is about to block must never be lost
//! (invariant 4 of the scope tree: either the canceller sees the blocked task's link and
//! wakes it, or the task sees the cancellation when it re-checks after linking).
//!
//! Each round, one child blocks in a fresh scope while a sibling — on another thread when
//! the runtime has two — cancels that scope (or an enclosing one) at the same moment; and a
//! third shape races a cancellation against the scope's completion. A lost
//! wake-up would hang the round; the test's timeout turns that into a failure. Bounded:
//! 20,000 rounds of each shape per runtime, each runtime under a 120 s timeout.

use std::time::Instant;

use anyio::{Backend, CancelScope, Runner, SmolOptions, TokioOptions, sleep_forever};

const ROUNDS: usize = 20_000;

async fn race_rounds() -> anyio::Result<(usize, usize, usize)> {
    let mut caught = 0;
    let mut nested_caught = 0;
    let mut completed_first = 0;
    for _ in 0..ROUNDS {
        // The scope itself is cancelled.
        let scope = CancelScope::new();
        let remote = scope.clone();
        let s = scope.clone();
        anyio::task_group(|tg| async move {
            tg.start_soon(async move { s.run(sleep_forever()).await.map(drop) })?;
            tg.start_soon(async move {
                remote.cancel();
                Ok(())
            })?;
            Ok(())
        })
        .await?;
        caught += usize::from(scope.cancelled_caught());

        // An enclosing scope is cancelled while the task links a chain of new nodes.
        let outer = CancelScope::new();
        let remote = outer.clone();
        let o = outer.clone();
        anyio::task_group(|tg| async move {
            tg.start_soon(async move {
                o.run(async {
                    CancelScope::new()
                        .with_timeout(std::time::Duration::from_secs(3600))
                        .run(sleep_forever())
                        .await
                })
                .await
                .map(drop)
            })?;
            tg.start_soon(async move {
                remote.cancel();
                Ok(())
            })?;
            Ok(())
        })
        .await?;
        nested_caught += usize::from(outer.cancelled_caught());

        // A cancellation racing the scope's completion: either outcome is fine, but the
        // scope's report must match what its future returned (DESIGN §3.4's pitfall).
        let scope = CancelScope::new();
        let remote = scope.clone();
        let s = scope.clone();
        let out = anyio::task_group(|tg| async move {
            let h = tg.start_soon(async move {
                s.run(async {
                    anyio::lowlevel::checkpoint().await?;
                    Ok::<_, anyio::Error>(7)
                })
                .await
            })?;
            tg.start_soon(async move {
                remote.cancel();
                Ok(())
            })?;
            h.await
        })
        .await?
        .expect("the group was not cancelled");
        assert_eq!(out.is_none(), scope.cancelled_caught());
        assert!(out.is_none() || out == Some(7));
        completed_first += usize::from(out.is_some());
    }
    Ok((caught, nested_caught, completed_first))
}

fn run_on(name: &'static str, runner: Runner) {
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(runner.run(race_rounds));
    });
    let (caught, nested, completed) = match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("{name}: a cancellation was lost (a round hung)"),
    };
    println!(
        "{name}: {ROUNDS} rounds of each shape, every blocked task woken \
         ({caught} + {nested} scopes caught their cancellation); completion races: \
         {completed} completed first, {} cancelled first; in {:?}",
        ROUNDS - completed,
        start.elapsed()
    );
    assert_eq!(caught, ROUNDS);
    assert_eq!(nested, ROUNDS);
}

#[test]
fn cancellation_racing_a_blocking_task_is_never_lost_on_tokio() {
    run_on(
        "tokio(2 workers)",
        Runner::new(Backend::Tokio).tokio_options(TokioOptions::new().worker_threads(2)),
    );
}

#[test]
fn cancellation_racing_a_blocking_task_is_never_lost_on_smol() {
    run_on(
        "smol(2 threads)",
        Runner::new(Backend::Smol).smol_options(SmolOptions::new().threads(2)),
    );
}
