//! Hang reports: a test that runs past its `#[anyio::test]` timeout fails with the task
//! tree of that moment (tasks nested by parent, names, the scopes each waits in with their
//! deadline and shield), and `anyio::testing::dump_task_tree()` gives the same text.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use anyio::testing::{self, __TestOptions, __run_test};
use anyio::{Backend, CancelScope, Event, current_time, sleep_forever, task_group};

/// A run that hangs: a named worker asleep in a shielded scope under a scope with a
/// deadline an hour away, and a named waiter on an event nobody sets.
async fn hang() -> anyio::Result<()> {
    task_group(|tg| async move {
        tg.task().name("stuck-worker").spawn(async {
            let deadline = current_time() + Duration::from_secs(3600);
            CancelScope::new()
                .with_deadline(deadline)
                .run(CancelScope::shielded().run(sleep_forever()))
                .await?;
            anyio::Ok(())
        })?;
        let never = Event::new();
        tg.task()
            .name("event-waiter")
            .spawn(async move { never.wait().await })?;
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// The failure message of a hung test, from the function `#[anyio::test]` expands to.
fn hang_message(backend: Backend, options: __TestOptions) -> String {
    let panic = catch_unwind(AssertUnwindSafe(|| __run_test(backend, options, hang)))
        .expect_err("a hung test must fail");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a text message")
}

fn assert_shows_the_tree(msg: &str, backend: Backend) {
    assert!(
        msg.contains(&format!("timed out after 1s on {backend}")),
        "{msg}"
    );
    assert!(msg.contains("task tree (3 tasks"), "{msg}");
    assert!(msg.contains("- task 'main' (id "), "{msg}");
    // Children are nested under the root, with its id as their parent.
    let main_id = msg
        .split("- task 'main' (id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the root's id");
    assert!(
        msg.contains("    - task 'stuck-worker' (id "),
        "the worker is not nested under main: {msg}"
    );
    assert!(
        msg.contains(&format!(", parent {main_id}): blocked")),
        "{msg}"
    );
    assert!(msg.contains("'event-waiter'"), "{msg}");
    // The worker's scopes, outer then inner: the deadline an hour away, then the shield.
    let worker = msg
        .split("'stuck-worker'")
        .nth(1)
        .expect("the worker's lines");
    // The deadline was set an hour away; the test's timeout (and a loaded machine) has
    // used up some of it by the time the tree is drawn.
    let outer = worker.find("in scope: deadline in ").expect(msg);
    let remaining: f64 = worker[outer + "in scope: deadline in ".len()..]
        .split('s')
        .next()
        .and_then(|n| n.parse().ok())
        .expect(msg);
    assert!(
        (3000.0..=3600.0).contains(&remaining),
        "the worker's deadline is not about an hour away: {msg}"
    );
    let inner = worker.find("in scope: no deadline, shielded").expect(msg);
    assert!(outer < inner, "scopes out of order: {msg}");
}

/// On each backend, a hung test's failure names every task, nests them by parent, and
/// shows the worker's deadline and shield.
#[test]
fn hung_test_reports_the_task_tree() {
    for &backend in anyio::available_backends() {
        let msg = hang_message(backend, __TestOptions::new(Duration::from_secs(1)));
        assert_shows_the_tree(&msg, backend);
    }
}

/// The same on a virtual clock (the deadline is shown in virtual time), and on a
/// current-thread runtime.
#[test]
fn hung_virtual_test_reports_the_task_tree() {
    for &backend in anyio::available_backends() {
        let options = __TestOptions::new(Duration::from_secs(1))
            .current_thread()
            .virtual_time(None);
        let msg = hang_message(backend, options);
        assert!(msg.contains("virtual time"), "{msg}");
        assert_shows_the_tree(&msg, backend);
    }
}

/// Through the attribute itself: the failure message carries the tree.
#[anyio::test(timeout = 1)]
#[should_panic(expected = "- task 'stuck-worker'")]
async fn hung_attribute_test_fails_with_the_tree() -> anyio::Result<()> {
    hang().await
}

/// `dump_task_tree` from inside a run: the caller is listed as runnable, a sleeping child
/// as blocked in its scope.
#[anyio::test]
async fn dump_task_tree_from_a_task() -> anyio::Result<()> {
    task_group(|tg| async move {
        tg.task().name("napper").spawn(anyio::move_on_after(
            Duration::from_secs(600),
            sleep_forever(),
        ))?;
        testing::wait_all_tasks_blocked().await?;
        let tree = testing::dump_task_tree();
        assert!(tree.starts_with("task tree (2 tasks):"), "{tree}");
        assert!(tree.contains("- task 'main' (id "), "{tree}");
        assert!(tree.contains("): runnable"), "{tree}");
        let napper = tree.split("'napper'").nth(1).expect(&tree);
        assert!(napper.contains("): blocked"), "{tree}");
        assert!(napper.contains("in scope: deadline in "), "{tree}");
        assert!(napper.contains("s, not shielded"), "{tree}");
        tg.cancel_scope().cancel();
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// Outside any run and backend the dump says so instead of failing.
#[test]
fn dump_task_tree_outside_a_run() {
    let tree = std::thread::spawn(testing::dump_task_tree).join().unwrap();
    assert!(tree.starts_with("task tree"), "{tree}");
}
