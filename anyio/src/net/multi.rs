//! [`MultiListener`]: several listeners accepting as one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use crate::error::{Error, ErrorKind, Result};
use crate::streams::{
    AttributeRequest, BusyFlag, Listener, SharedResource, TypedAttributeProvider,
};

/// Several listeners accepting as one (AnyIO's `MultiListener`): what
/// [`create_tcp_listener`](super::create_tcp_listener) returns, one listener per local
/// address.
///
/// [`accept`](Listener::accept) returns the first connection any of them has (they are
/// polled in turn, starting with a different one each time, so none starves); closing it
/// closes all of them. Typed attributes come from the listeners in order, so the first
/// listener's answer wins.
#[derive(Debug)]
pub struct MultiListener<L> {
    listeners: Vec<L>,
    busy: BusyFlag,
    /// Which listener to poll first next time (round robin).
    next: AtomicUsize,
}

impl<L> MultiListener<L> {
    /// Joins `listeners`.
    pub fn new(listeners: Vec<L>) -> MultiListener<L> {
        MultiListener {
            listeners,
            busy: BusyFlag::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// The listeners, in the order they were given.
    pub fn listeners(&self) -> &[L] {
        &self.listeners
    }

    /// Takes the listeners apart again.
    pub fn into_listeners(self) -> Vec<L> {
        self.listeners
    }
}

impl<L: TypedAttributeProvider> TypedAttributeProvider for MultiListener<L> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        for l in &self.listeners {
            if request.is_fulfilled() {
                return;
            }
            l.provide_attributes(request);
        }
    }
}

impl<L: SharedResource> SharedResource for MultiListener<L> {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut first_error = None;
        let mut pending = false;
        for l in &self.listeners {
            match l.poll_close(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            return Poll::Pending;
        }
        Poll::Ready(first_error.map_or(Ok(()), Err))
    }
}

impl<S, L: Listener<S>> Listener<S> for MultiListener<L> {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<S>> {
        let n = self.listeners.len();
        if n == 0 {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidState,
                "accepting on a MultiListener with no listeners",
            )));
        }
        // Relaxed: a fairness hint; any value is a valid place to start.
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Poll::Ready(r) = self.listeners[(start + i) % n].poll_accept(cx) {
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    }

    fn accept_busy(&self) -> &BusyFlag {
        &self.busy
    }
}
