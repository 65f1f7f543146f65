//! An in-process byte pipe: a bounded buffer of bytes between a [`PipeSendStream`] and a
//! [`PipeReceiveStream`], so byte-stream wrappers (buffered, text, TLS) can be stacked and
//! tested without sockets.
//!
//! The receiver gets the end of the stream once the sender is closed and every byte was
//! received; a sender whose receiver is gone gets [`ErrorKind::BrokenResource`]. Data is
//! taken only in the poll that returns it, so a cancelled receive loses nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, SharedResource,
    TypedAttributeProvider, closed, eof,
};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Default)]
struct State {
    buf: VecDeque<u8>,
    send_closed: bool,
    receive_closed: bool,
    receive_waker: Option<Waker>,
    send_waker: Option<Waker>,
}

#[derive(Debug)]
struct Shared {
    capacity: usize,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (no invariant spans
        // two statements), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates a byte pipe holding at most `capacity` bytes not yet received.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] when `capacity` is 0.
pub fn create_byte_pipe(capacity: usize) -> Result<(PipeSendStream, PipeReceiveStream)> {
    if capacity == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "create_byte_pipe: the capacity must be at least 1 byte",
        ));
    }
    let shared = Arc::new(Shared {
        capacity,
        state: Mutex::new(State::default()),
    });
    Ok((
        PipeSendStream {
            shared: shared.clone(),
            busy: BusyFlag::new(),
        },
        PipeReceiveStream {
            shared,
            busy: BusyFlag::new(),
        },
    ))
}

/// The sending end of a [`create_byte_pipe`] pipe; closing it is the end of the stream
/// for the receiver.
#[derive(Debug)]
pub struct PipeSendStream {
    shared: Arc<Shared>,
    busy: BusyFlag,
}

/// The receiving end of a [`create_byte_pipe`] pipe.
#[derive(Debug)]
pub struct PipeReceiveStream {
    shared: Arc<Shared>,
    busy: BusyFlag,
}

impl TypedAttributeProvider for PipeSendStream {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

impl TypedAttributeProvider for PipeReceiveStream {
    fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
}

fn wake_all(s: &mut State) {
    if let Some(w) = s.receive_waker.take() {
        w.wake();
    }
    if let Some(w) = s.send_waker.take() {
        w.wake();
    }
}

impl SharedResource for PipeSendStream {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = self.shared.lock();
        s.send_closed = true;
        wake_all(&mut s);
        Poll::Ready(Ok(()))
    }
}

impl SharedResource for PipeReceiveStream {
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = self.shared.lock();
        s.receive_closed = true;
        s.buf = VecDeque::new();
        wake_all(&mut s);
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeSendStream {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.send_closed = true;
        wake_all(&mut s);
    }
}

impl Drop for PipeReceiveStream {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.receive_closed = true;
        s.buf = VecDeque::new();
        wake_all(&mut s);
    }
}

impl ByteSendStream for PipeSendStream {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let mut s = self.shared.lock();
        if s.send_closed {
            return Poll::Ready(Err(closed("sending")));
        }
        if s.receive_closed {
            return Poll::Ready(Err(Error::new(
                ErrorKind::BrokenResource,
                "sending on a byte pipe whose receiver is closed",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = self.shared.capacity - s.buf.len();
        if room == 0 {
            s.send_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        s.buf.extend(&buf[..n]);
        if let Some(w) = s.receive_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn send_busy(&self) -> &BusyFlag {
        &self.busy
    }
}

impl ByteReceiveStream for PipeReceiveStream {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let mut s = self.shared.lock();
        if s.receive_closed {
            return Poll::Ready(Err(closed("receiving")));
        }
        if s.buf.is_empty() {
            if s.send_closed {
                return Poll::Ready(Err(eof()));
            }
            s.receive_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(s.buf.len());
        for (dst, src) in buf.iter_mut().zip(s.buf.drain(..n)) {
            *dst = src;
        }
        if let Some(w) = s.send_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.busy
    }
}
