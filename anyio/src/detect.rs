//! Which backend serves a call made here (DESIGN §3.1), decided at the call in this order:
//!
//! 1. inside an anyio task (the root task of [`run`](fn@crate::run) or any task-group child)
//!    → the backend that task runs on, as published in the thread-local context;
//! 2. on an anyio worker thread (`to_thread`) → none: there is no event loop on that thread;
//! 3. inside a tokio runtime context (`#[tokio::main]`, `Runtime::block_on`, a
//!    `tokio::spawn`ed task) → tokio;
//! 4. otherwise → smol, whose reactor (async-io) serves any thread and any executor
//!    (`smol::block_on`, `futures_lite::future::block_on`, …), when the `smol` feature is on.

use crate::backend::{Backend, Handle};
use crate::context;
use crate::error::{Error, ErrorKind, Result};

/// The executor handle for tasks spawned from here.
pub(crate) fn current_handle() -> Result<Handle> {
    if let Some(handle) = context::with_current_task(|t| t.map(|t| t.env().backend.clone())) {
        return Ok(handle);
    }
    if context::is_worker_thread() {
        return Err(no_event_loop());
    }
    crate::backend::ambient_handle().ok_or_else(no_event_loop)
}

/// The backend that serves a call made here (for timers and `current_async_library`).
pub(crate) fn current_backend() -> Result<Backend> {
    if let Some(backend) = context::with_current_task(|t| t.map(|t| t.env().backend.backend())) {
        return Ok(backend);
    }
    if context::is_worker_thread() {
        return Err(no_event_loop());
    }
    crate::backend::ambient_backend().ok_or_else(no_event_loop)
}

fn no_event_loop() -> Error {
    let hint = if context::is_worker_thread() {
        "this is an anyio worker thread: use anyio::from_thread to reach the event loop"
    } else {
        "call it from inside anyio::run or a tokio runtime, or enable the `smol` feature of \
         `anyio` to run on any executor"
    };
    Error::new(
        ErrorKind::NoEventLoop,
        format!("no async context detected: {hint}"),
    )
}
