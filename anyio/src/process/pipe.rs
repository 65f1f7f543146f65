//! The pipes to a child as anyio byte streams.

use std::fmt;
use std::io;
use std::sync::Mutex;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use crate::backend::process::Pipe;
use crate::error::Result;
use crate::streams::bytes::{broken, closed, eof};
use crate::streams::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, SharedResource,
    TypedAttributeProvider,
};

/// One registered pipe end that can be closed through `&self`.
///
/// # Invariant
///
/// `pipe` is `None` exactly when the stream was closed; a task parked in a poll has its
/// waker in `parked`, so closing wakes it and its next poll sees `ClosedResource`.
struct End {
    pipe: Mutex<Option<Pipe>>,
    parked: AtomicWaker,
}

impl End {
    fn new(pipe: Pipe) -> End {
        End {
            pipe: Mutex::new(Some(pipe)),
            parked: AtomicWaker::new(),
        }
    }

    fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        action: &'static str,
        op: impl FnOnce(&Pipe, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<Result<T>> {
        let guard = self.pipe.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pipe) = guard.as_ref() else {
            return Poll::Ready(Err(closed(action)));
        };
        // Registered before the poll, so a close between the poll and its return is seen
        // (close takes the lock after we release it, then wakes).
        self.parked.register(cx.waker());
        op(pipe, cx).map_err(|e| broken(action, e))
    }

    fn close(&self) {
        let pipe = self.pipe.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(pipe); // deregisters and closes the fd
        self.parked.wake();
    }

    fn is_closed(&self) -> bool {
        self.pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

/// The child's stdin as a [`ByteSendStream`]: bytes sent here are what the child reads.
///
/// Sending after the child closed its end (or exited) fails with
/// [`ErrorKind::BrokenResource`](crate::ErrorKind::BrokenResource) (the OS's `EPIPE` is
/// the source); closing it ([`aclose`](SharedResource::aclose)) is how the child sees the
/// end of its input.
pub struct ProcessStdin {
    end: End,
    busy: BusyFlag,
}

impl ProcessStdin {
    pub(crate) fn new(pipe: Pipe) -> ProcessStdin {
        ProcessStdin {
            end: End::new(pipe),
            busy: BusyFlag::new(),
        }
    }
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStdin")
            .field("closed", &self.end.is_closed())
            .finish()
    }
}

impl TypedAttributeProvider for ProcessStdin {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl SharedResource for ProcessStdin {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.end.close();
        Poll::Ready(Ok(()))
    }
}

impl ByteSendStream for ProcessStdin {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.end.poll(cx, "sending to a child's stdin", |p, cx| {
            p.poll_write(cx, buf)
        })
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.busy
    }
}

/// The child's stdout or stderr as a [`ByteReceiveStream`]; the end of the stream
/// ([`ErrorKind::EndOfStream`](crate::ErrorKind::EndOfStream)) comes once the child (and
/// every process it passed the pipe to) has closed it, usually by exiting.
pub struct ProcessOutput {
    end: End,
    busy: BusyFlag,
    name: &'static str,
}

impl ProcessOutput {
    pub(crate) fn new(pipe: Pipe, name: &'static str) -> ProcessOutput {
        ProcessOutput {
            end: End::new(pipe),
            busy: BusyFlag::new(),
            name,
        }
    }
}

impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("stream", &self.name)
            .field("closed", &self.end.is_closed())
            .finish()
    }
}

impl TypedAttributeProvider for ProcessOutput {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl SharedResource for ProcessOutput {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.end.close();
        Poll::Ready(Ok(()))
    }
}

impl ByteReceiveStream for ProcessOutput {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let action = if self.name == "stdout" {
            "receiving from a child's stdout"
        } else {
            "receiving from a child's stderr"
        };
        match self.end.poll(cx, action, |p, cx| p.poll_read(cx, buf)) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(eof())),
            other => other,
        }
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.busy
    }
}
