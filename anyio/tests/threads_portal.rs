//! Blocking portals: `start_blocking_portal`, `with_portal`, `BlockingPortalProvider`
//! (AnyIO's tests/test_from_thread.py, `TestBlockingPortal` and
//! `TestBlockingPortalProvider`). Synchronous tests run once per backend as
//! `name::tokio` / `name::smol`, each bounded in time; async ones use `#[anyio::test]`.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use anyio::from_thread::{
    BlockingPortal, BlockingPortalProvider, PortalBuilder, start_blocking_portal, with_portal,
};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{Backend, ErrorKind, Runner, TaskStatus};

/// Runs `body` on `backend` in a thread of its own; fails the test after 60 s.
fn bounded(backend: Backend, body: fn(Backend) -> anyio::Result<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(body(backend));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{backend}: {e:?}")),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{backend}: timed out"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// A synchronous test run on each backend, as `name::tokio` and `name::smol`.
macro_rules! portal_test {
    ($(#[$doc:meta])* fn $name:ident($backend:ident) $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($backend: Backend) -> anyio::Result<()> $body

            #[cfg(feature = "tokio")]
            #[test]
            fn tokio() {
                bounded(Backend::Tokio, body)
            }

            #[cfg(feature = "smol")]
            #[test]
            fn smol() {
                bounded(Backend::Smol, body)
            }
        }
    };
}

/// A one-way latch with bounded waits.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let guard = self.0.0.lock().unwrap();
        let (guard, _) = self
            .0
            .1
            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
            .unwrap();
        assert!(*guard, "gate never opened");
    }
}

/// Waits for `gate` from async code without blocking the event loop.
async fn wait_gate(gate: Gate) -> anyio::Result<()> {
    anyio::to_thread::run_sync(move || gate.wait()).await
}

portal_test! {
    fn call_runs_async_code_in_the_event_loop(backend) {
        let portal = start_blocking_portal(backend)?;
        let here = std::thread::current().id();
        let (lib, there) = portal.call(|| async {
            anyio::lowlevel::checkpoint().await?;
            Ok::<_, anyio::Error>((anyio::current_async_library()?, std::thread::current().id()))
        })?;
        assert_eq!(lib, backend.name());
        assert_ne!(there, here);
        Ok(())
    }
}

portal_test! {
    fn call_sync_runs_in_the_portal_thread(backend) {
        let portal = start_blocking_portal(backend)?;
        let name = portal.call_sync(|| std::thread::current().name().map(str::to_owned))?;
        assert_eq!(name, Some(format!("anyio-portal-{backend}")));
        Ok(())
    }
}

portal_test! {
    fn thread_name_can_be_chosen(backend) {
        let portal = PortalBuilder::new(backend).thread_name("foo").start()?;
        let name = portal.call_sync(|| std::thread::current().name().map(str::to_owned))?;
        assert_eq!(name.as_deref(), Some("foo"));
        Ok(())
    }
}

#[test]
fn bad_runner_options_fail_the_start() {
    #[cfg(feature = "tokio")]
    {
        let runner =
            Runner::new(Backend::Tokio).tokio_options(anyio::TokioOptions::new().worker_threads(0));
        let err = PortalBuilder::new(Backend::Tokio)
            .runner(runner)
            .start()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
    #[cfg(feature = "smol")]
    {
        let runner = Runner::new(Backend::Smol).smol_options(anyio::SmolOptions::new().threads(0));
        let err = PortalBuilder::new(Backend::Smol)
            .runner(runner)
            .start()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}

portal_test! {
    fn call_returns_the_error_of_the_async_code(backend) {
        let portal = start_blocking_portal(backend)?;
        let err = portal
            .call(|| async { Err::<(), _>(anyio::Error::new(ErrorKind::InvalidArgument, "nope")) })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        // One failed call does not break the portal.
        assert_eq!(portal.call_sync(|| 1)?, 1);
        Ok(())
    }
}

portal_test! {
    fn panic_in_a_call_resumes_in_the_caller(backend) {
        let portal = start_blocking_portal(backend)?;
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
            portal.call_sync(|| -> u8 { panic!("boom in the portal") })
        }));
        let panic = out.expect_err("the panic must cross back");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom in the portal"));
        assert_eq!(portal.call_sync(|| 2)?, 2, "the portal still runs");
        Ok(())
    }
}

portal_test! {
    fn calls_from_many_threads_at_once(backend) {
        let portal = start_blocking_portal(backend)?;
        let total = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (portal, total) = (&portal, &total);
                s.spawn(move || {
                    for i in 0..100u64 {
                        let v = portal
                            .call(move || async move {
                                anyio::lowlevel::checkpoint().await?;
                                Ok::<_, anyio::Error>(t * 1000 + i)
                            })
                            .unwrap();
                        total.fetch_add(v, Ordering::SeqCst);
                    }
                });
            }
        });
        let expected: u64 = (0..8u64).flat_map(|t| (0..100u64).map(move |i| t * 1000 + i)).sum();
        assert_eq!(total.load(Ordering::SeqCst), expected);
        Ok(())
    }
}

portal_test! {
    fn start_task_soon_returns_a_handle_to_wait_on(backend) {
        let portal = start_blocking_portal(backend)?;
        let gate = Gate::default();
        let g = gate.clone();
        let task = portal.start_task_soon(move || async move {
            wait_gate(g).await?;
            Ok::<_, anyio::Error>("test")
        })?;
        assert!(!task.is_finished());
        gate.open();
        assert_eq!(task.wait()?, "test");
        Ok(())
    }
}

portal_test! {
    fn cancelling_a_task_from_sync_code(backend) {
        let portal = start_blocking_portal(backend)?;
        let saw_cancel = Arc::new(AtomicBool::new(false));
        let s = saw_cancel.clone();
        let task = portal.start_task_soon(move || async move {
            let out = anyio::sleep(Duration::from_secs(60)).await;
            s.store(out.as_ref().is_err_and(|e| e.kind() == ErrorKind::Cancelled), Ordering::SeqCst);
            out
        })?;
        portal.call(wait_all_tasks_blocked)?;
        task.cancel();
        let err = task.wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskCancelled);
        assert!(saw_cancel.load(Ordering::SeqCst));
        Ok(())
    }
}

portal_test! {
    fn cancelling_a_task_before_it_runs(backend) {
        let portal = start_blocking_portal(backend)?;
        let task = portal.start_task_soon(|| async {
            anyio::sleep(Duration::from_secs(60)).await?;
            Ok::<_, anyio::Error>(())
        })?;
        task.cancel();
        assert_eq!(task.wait().unwrap_err().kind(), ErrorKind::TaskCancelled);
        Ok(())
    }
}

portal_test! {
    fn cancelling_a_task_after_the_portal_stopped(backend) {
        let portal = start_blocking_portal(backend)?;
        let task = portal.start_task_soon(|| async {
            anyio::sleep(Duration::from_secs(60)).await?;
            Ok::<_, anyio::Error>(())
        })?;
        portal.call(wait_all_tasks_blocked)?;
        portal.stop(false); // the task goes on
        assert!(!portal.is_running());
        task.cancel();
        assert_eq!(task.wait().unwrap_err().kind(), ErrorKind::TaskCancelled);
        portal.join()?;
        Ok(())
    }
}

portal_test! {
    fn task_builder_names_a_spawned_task(backend) {
        let portal = start_blocking_portal(backend)?;
        let task = portal.task().name("testname").spawn(|| async {
            Ok::<_, anyio::Error>(anyio::get_current_task().map(|t| t.name))
        })?;
        assert_eq!(task.wait()?.as_deref(), Some("testname"));
        Ok(())
    }
}

portal_test! {
    fn task_builder_names_show_in_running_tasks(backend) {
        let portal = start_blocking_portal(backend)?;
        let release = anyio::Event::new();
        let r = release.clone();
        let task = portal.task().name("listed").spawn(move || async move {
            r.wait().await?;
            Ok::<_, anyio::Error>(())
        })?;
        let names = portal.call(|| async {
            wait_all_tasks_blocked().await?;
            Ok::<_, anyio::Error>(
                anyio::get_running_tasks().into_iter().map(|t| t.name).collect::<Vec<_>>(),
            )
        })?;
        assert!(names.contains(&"listed".to_owned()), "{names:?}");
        release.set();
        task.wait()?;
        let unnamed = portal.task().spawn(|| async {
            Ok::<_, anyio::Error>(anyio::get_current_task().unwrap())
        })?;
        let info = unnamed.wait()?;
        assert_eq!(info.name, format!("task-{}", info.id));
        Ok(())
    }
}

portal_test! {
    fn task_builder_on_a_stopped_portal_is_an_invalid_state_error(backend) {
        let portal = start_blocking_portal(backend)?;
        portal.stop(false);
        let err = portal
            .task()
            .name("late")
            .spawn(|| async { Ok::<_, anyio::Error>(()) })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        let err = portal
            .task()
            .name("late")
            .start(|status: TaskStatus<()>| async move {
                status.started(());
                Ok::<_, anyio::Error>(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        portal.join()?;
        Ok(())
    }
}

portal_test! {
    fn task_builder_start_from_the_portals_own_loop_is_refused(backend) {
        let portal = start_blocking_portal(backend)?;
        let inner = portal.clone();
        // A blocking `start` on the portal's own event loop would deadlock: refused.
        let err = portal.call(move || async move {
            let refused = inner
                .task()
                .name("inner")
                .start(|status: TaskStatus<()>| async move {
                    status.started(());
                    Ok::<_, anyio::Error>(())
                })
                .unwrap_err();
            Ok::<_, anyio::Error>(refused)
        })?;
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.to_string().contains("own event loop"), "{err}");
        Ok(())
    }
}

portal_test! {
    fn start_task_returns_the_started_value(backend) {
        let portal = start_blocking_portal(backend)?;
        let (task, value) = portal.start_task(|status: TaskStatus<&'static str>| async move {
            status.started("foo");
            Ok::<_, anyio::Error>(5)
        })?;
        assert_eq!(value, "foo");
        assert_eq!(task.wait()?, 5);
        Ok(())
    }
}

portal_test! {
    fn task_builder_names_a_started_task(backend) {
        let portal = start_blocking_portal(backend)?;
        let (_task, name) = portal.task().name("testname").start(|status: TaskStatus<Option<String>>| async move {
            status.started(anyio::get_current_task().map(|t| t.name));
            Ok::<_, anyio::Error>(())
        })?;
        assert_eq!(name.as_deref(), Some("testname"));
        Ok(())
    }
}

portal_test! {
    fn start_task_failing_before_started_returns_its_error(backend) {
        let portal = start_blocking_portal(backend)?;
        let err = portal
            .start_task(|_status: TaskStatus<()>| async move {
                Err::<(), _>(anyio::Error::new(ErrorKind::InvalidArgument, "foo"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.to_string(), "foo");
        Ok(())
    }
}

portal_test! {
    fn start_task_failing_after_started_fails_its_handle(backend) {
        let portal = start_blocking_portal(backend)?;
        let (task, value) = portal.start_task(|status: TaskStatus<u8>| async move {
            status.started(2);
            Err::<(), _>(anyio::Error::new(ErrorKind::InvalidArgument, "foo"))
        })?;
        assert_eq!(value, 2);
        assert_eq!(task.wait().unwrap_err().kind(), ErrorKind::InvalidArgument);
        Ok(())
    }
}

portal_test! {
    fn start_task_without_started_call_is_an_error(backend) {
        let portal = start_blocking_portal(backend)?;
        let err = portal
            .start_task(|_status: TaskStatus<()>| async move { Ok::<_, anyio::Error>(()) })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.to_string().contains("started"), "{err}");
        Ok(())
    }
}

portal_test! {
    fn start_task_panicking_before_started_resumes_in_the_caller(backend) {
        let portal = start_blocking_portal(backend)?;
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
            portal.start_task(|_status: TaskStatus<()>| async move {
                if true {
                    panic!("boom before started");
                }
                Ok::<_, anyio::Error>(())
            })
        }));
        let panic = out.expect_err("the panic must cross back");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom before started"));
        Ok(())
    }
}

portal_test! {
    fn stop_lets_running_tasks_finish_and_refuses_new_calls(backend) {
        let portal = start_blocking_portal(backend)?;
        let gate = Gate::default();
        let g = gate.clone();
        let task = portal.start_task_soon(move || async move {
            wait_gate(g).await?;
            Ok::<_, anyio::Error>(7)
        })?;
        portal.stop(false);
        let err = portal.call_sync(|| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(!task.is_finished());
        gate.open();
        assert_eq!(task.wait()?, 7);
        portal.join()?;
        Ok(())
    }
}

portal_test! {
    fn stop_with_cancel_remaining_cancels_calls_in_progress(backend) {
        let portal = start_blocking_portal(backend)?;
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| -> anyio::Result<()> {
            for _ in 0..2 {
                let (portal, tx) = (&portal, tx.clone());
                s.spawn(move || {
                    let out = portal.call(|| async {
                        anyio::sleep(Duration::from_secs(60)).await?;
                        Ok::<_, anyio::Error>(())
                    });
                    tx.send(out).unwrap();
                });
            }
            // Both calls are running once both tasks are blocked in their sleep.
            loop {
                let n = portal.call(|| async {
                    anyio::testing::wait_all_tasks_blocked().await?;
                    Ok::<_, anyio::Error>(anyio::get_running_tasks().len())
                });
                if n? >= 4 {
                    break; // host, two calls, and this one
                }
            }
            portal.stop(true);
            Ok(())
        })?;
        for _ in 0..2 {
            let out = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_eq!(out.unwrap_err().kind(), ErrorKind::TaskCancelled);
        }
        portal.join()?;
        Ok(())
    }
}

portal_test! {
    fn a_portal_used_after_stop_errors_clearly(backend) {
        let portal = start_blocking_portal(backend)?;
        portal.stop(false);
        portal.join()?;
        let err = portal.call(|| async { Ok::<_, anyio::Error>(()) }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.to_string().contains("portal is not running"), "{err}");
        let err = portal.start_task_soon(|| async { Ok::<_, anyio::Error>(()) }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        Ok(())
    }
}

portal_test! {
    fn a_blocking_call_from_the_portals_own_loop_is_refused(backend) {
        let portal = start_blocking_portal(backend)?;
        let inner = portal.clone();
        let err = portal.call(move || async move {
            Ok::<_, anyio::Error>(inner.call_sync(|| ()).unwrap_err())
        })?;
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.to_string().contains("own event loop"), "{err}");
        Ok(())
    }
}

portal_test! {
    fn dropping_the_portal_waits_for_its_tasks(backend) {
        let portal = start_blocking_portal(backend)?;
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let _task = portal.start_task_soon(move || async move {
            for _ in 0..10 {
                anyio::lowlevel::checkpoint().await?;
            }
            d.store(true, Ordering::SeqCst);
            Ok::<_, anyio::Error>(())
        })?;
        drop(portal);
        assert!(done.load(Ordering::SeqCst), "drop returned before the task finished");
        Ok(())
    }
}

portal_test! {
    fn provider_starts_a_new_portal_per_sequential_use(backend) {
        let provider = BlockingPortalProvider::new(backend);
        let mut threads = HashSet::new();
        for _ in 0..3 {
            let portal = provider.portal()?;
            let (lib, id) = portal.call_sync(|| (anyio::current_async_library(), std::thread::current().id()))?;
            assert_eq!(lib?, backend.name());
            threads.insert(id);
        }
        assert_eq!(threads.len(), 3);
        Ok(())
    }
}

portal_test! {
    fn provider_shares_one_portal_between_overlapping_leases(backend) {
        let provider = BlockingPortalProvider::new(backend);
        let outer = provider.portal()?;
        let a = outer.call_sync(|| std::thread::current().id())?;
        {
            let inner = provider.portal()?;
            assert_eq!(inner.call_sync(|| std::thread::current().id())?, a);
        }
        assert!(outer.is_running(), "the outer lease still holds the portal");
        assert_eq!(outer.call_sync(|| std::thread::current().id())?, a);
        Ok(())
    }
}

portal_test! {
    fn provider_shares_one_portal_between_threads(backend) {
        let provider = BlockingPortalProvider::new(backend);
        let holder = provider.portal()?; // keeps the portal up while the threads come and go
        let threads = Mutex::new(HashSet::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let portal = provider.portal().unwrap();
                    let id = portal.call_sync(|| std::thread::current().id()).unwrap();
                    threads.lock().unwrap().insert(id);
                });
            }
        });
        assert_eq!(threads.lock().unwrap().len(), 1);
        drop(holder);
        Ok(())
    }
}

#[anyio::test]
async fn a_portal_can_be_started_and_used_from_async_code() -> anyio::Result<()> {
    // AnyIO's test_from_async: no deadlock, whichever backend runs the portal.
    for backend in anyio::available_backends() {
        let portal = start_blocking_portal(*backend)?;
        portal.call(anyio::lowlevel::checkpoint)?;
    }
    Ok(())
}

#[anyio::test]
async fn a_portal_in_async_code_serves_a_worker_thread() -> anyio::Result<()> {
    let lib = with_portal(|portal| async move {
        anyio::to_thread::run_sync(move || portal.call(|| async { anyio::current_async_library() }))
            .await?
    })
    .await?;
    assert_eq!(lib, anyio::current_async_library()?);
    Ok(())
}

#[anyio::test]
async fn a_portal_in_async_code_waits_for_its_tasks() -> anyio::Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    with_portal(|portal| async move {
        let task = anyio::to_thread::run_sync(move || {
            portal.start_task_soon(move || async move {
                anyio::sleep(Duration::from_millis(5)).await?;
                d.store(true, Ordering::SeqCst);
                Ok::<_, anyio::Error>(())
            })
        })
        .await??;
        drop(task);
        Ok(())
    })
    .await?;
    assert!(done.load(Ordering::SeqCst));
    Ok(())
}

#[anyio::test]
async fn a_portal_in_async_code_cancels_its_tasks_when_the_body_fails() -> anyio::Result<()> {
    let (tx, rx) = mpsc::channel::<BlockingPortal>();
    let outcome = Arc::new(Mutex::new(None));
    let o = outcome.clone();
    let sync_thread = std::thread::spawn(move || {
        let portal = rx.recv().unwrap();
        let out = portal.call(|| async {
            anyio::sleep(Duration::from_secs(60)).await?;
            Ok::<_, anyio::Error>(())
        });
        *o.lock().unwrap() = Some(out);
    });
    let err = with_portal(|portal| async move {
        tx.send(portal).unwrap();
        // Wait until the thread's call is running in the portal.
        loop {
            wait_all_tasks_blocked().await?;
            if anyio::get_running_tasks().len() >= 3 {
                break; // the test, the portal's host and the call
            }
            anyio::sleep(Duration::from_millis(1)).await?;
        }
        Err::<(), _>(anyio::Error::new(ErrorKind::Other, "body failed"))
    })
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "body failed");
    anyio::to_thread::run_sync(move || sync_thread.join().unwrap()).await?;
    let out = outcome.lock().unwrap().take().unwrap();
    assert_eq!(out.unwrap_err().kind(), ErrorKind::TaskCancelled);
    Ok(())
}
