//! Byte streams, listeners and typed attributes (AnyIO's `ByteReceiveStream`,
//! `ByteSendStream`, `ByteStream`, `Listener` and `TypedAttributeProvider`).
//!
//! A byte stream carries bytes with no message boundaries, as a TCP connection does. Its
//! contract is AnyIO's:
//!
//! * [`receive(max_bytes)`](ByteReceiveStream::receive) returns between 1 and `max_bytes`
//!   bytes, never an empty chunk: the end of the stream is an error of kind
//!   [`ErrorKind::EndOfStream`]; `max_bytes == 0` is [`ErrorKind::InvalidArgument`].
//! * [`send(data)`](ByteSendStream::send) writes all of `data` before it returns.
//! * Every operation is a checkpoint ([`crate::lowlevel::checkpoint`]).
//! * Closing this side ([`aclose`](SharedResource::aclose)) makes every later call fail
//!   with [`ErrorKind::ClosedResource`], and wakes a call blocked in another task, which
//!   fails the same way.
//! * A failure of the peer or the OS (a reset connection, say) is
//!   [`ErrorKind::BrokenResource`], with the `std::io::Error` as its
//!   [`source`](std::error::Error::source).
//! * A second task receiving (or sending, or accepting) while one already does gets
//!   [`ErrorKind::BusyResource`] naming the action; the first one is unaffected.
//!
//! # Shared handles
//!
//! Every method takes `&self`, so one task can receive while another sends and a third
//! closes the stream (AnyIO and async-net allow this too). Where a stream type is
//! [`Clone`], its clones are handles to one resource: closing any of them closes all —
//! unlike the clones of a [memory object stream](super::memory), each of which is a
//! handle of its own.
//!
//! # Poll-first, object safe
//!
//! A stream implements the poll methods ([`poll_receive`](ByteReceiveStream::poll_receive),
//! [`poll_send`](ByteSendStream::poll_send), [`poll_close`](SharedResource::poll_close)); the
//! async methods are provided, and return named, `Send` futures ([`Receive`],
//! [`ReceiveInto`], [`SendAll`], …) that take the checkpoint, hold the busy guard and map
//! nothing else. So `Box<dyn ByteStream>` is a byte stream too, and adapters to other
//! I/O traits cost one call.
//!
//! # Cancellation
//!
//! A cancelled `receive`, `receive_into` or `accept` loses nothing: the data (or the
//! connection) is taken from the OS only in the poll that returns it, so a call either
//! returns it or returns `Cancelled` having taken nothing. The same holds for a future
//! that is polled once and then dropped (`tokio::time::timeout(d, stream.receive(n))`): it
//! reserves nothing and the next call gets every byte. A `send` cut by cancellation may
//! have written part of its data (see [`ByteSendStream::send`]).
//!
//! # Typed attributes
//!
//! Streams and listeners answer [`extra`](TypedAttributeProvider::extra) lookups for
//! [`TypedAttribute`]s (the socket ones are in [`crate::net::attr`]). A wrapper answers
//! from its own attributes first and asks the stream it wraps for the rest, so the lookup
//! goes down a whole chain (TLS over TCP, say) and an outer layer overrides an inner one,
//! as in AnyIO's `typedattrs` chapter.
//!
//! # Implementing a byte stream
//!
//! Implement [`SharedResource`] (closing), [`TypedAttributeProvider`] (possibly empty) and
//! the poll method of each direction; keep one [`BusyFlag`] per direction and return it
//! from `receive_busy`/`send_busy`. The poll methods keep the rules the provided futures
//! rely on:
//!
//! 1. `poll_receive` takes data only when it returns `Ready(Ok(n))`, with `1 <= n`; the end
//!    of the stream is `Ready(Err(EndOfStream))`; `Pending` registers `cx`'s waker.
//! 2. `poll_send` returns how many bytes it accepted (at least 1 for a non-empty buffer).
//! 3. After `poll_close`, every poll method returns `ClosedResource`, and a task parked in
//!    one of them is woken.
//! 4. The poll methods do not check cancellation nor take a busy flag: the futures do.
//!
//! ```
//! use std::sync::Mutex;
//! use std::task::{Context, Poll};
//! use anyio::streams::{
//!     AttributeRequest, BusyFlag, ByteReceiveStream, SharedResource, TypedAttributeProvider,
//! };
//! use anyio::{Error, ErrorKind, Result};
//!
//! /// Replays fixed bytes, then reports the end of the stream.
//! struct Replay {
//!     data: Mutex<Option<Vec<u8>>>, // None once closed
//!     busy: BusyFlag,
//! }
//!
//! impl TypedAttributeProvider for Replay {
//!     fn provide_attributes(&self, _request: &mut AttributeRequest<'_>) {}
//! }
//!
//! impl SharedResource for Replay {
//!     fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
//!         *self.data.lock().unwrap() = None;
//!         Poll::Ready(Ok(()))
//!     }
//! }
//!
//! impl ByteReceiveStream for Replay {
//!     fn poll_receive(&self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
//!         let mut data = self.data.lock().unwrap();
//!         let Some(data) = data.as_mut() else {
//!             return Poll::Ready(Err(Error::new(ErrorKind::ClosedResource, "closed")));
//!         };
//!         if data.is_empty() {
//!             return Poll::Ready(Err(Error::new(ErrorKind::EndOfStream, "replayed")));
//!         }
//!         let n = buf.len().min(data.len());
//!         buf[..n].copy_from_slice(&data[..n]);
//!         data.drain(..n);
//!         Poll::Ready(Ok(n))
//!     }
//!
//!     fn receive_busy(&self) -> &BusyFlag {
//!         &self.busy
//!     }
//! }
//!
//! # anyio::run(|| async {
//! let replay = Replay { data: Mutex::new(Some(b"hello".to_vec())), busy: BusyFlag::new() };
//! assert_eq!(replay.receive(3).await?, b"hel");
//! assert_eq!(replay.receive(3).await?, b"lo");
//! assert_eq!(replay.receive(3).await.unwrap_err().kind(), ErrorKind::EndOfStream);
//! let boxed: Box<dyn ByteReceiveStream> = Box::new(replay); // object safe
//! boxed.aclose().await?;
//! assert_eq!(boxed.receive(3).await.unwrap_err().kind(), ErrorKind::ClosedResource);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel::Checkpoint;

/// The most bytes a single [`receive`](ByteReceiveStream::receive) allocates for, whatever
/// `max_bytes` asks (a huge `max_bytes` is not an allocation request).
pub const RECEIVE_LIMIT: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------
// Typed attributes.

/// A typed attribute: a key whose value a stream or listener may provide (AnyIO's
/// `TypedAttribute`), looked up with [`TypedAttributeProvider::extra`].
///
/// An attribute is a type (usually an empty enum); its value type says what the lookup
/// returns.
///
/// # Examples
///
/// ```
/// use anyio::streams::TypedAttribute;
///
/// /// The name of the user a connection was authenticated as.
/// enum UserName {}
///
/// impl TypedAttribute for UserName {
///     type Value = String;
///     const NAME: &'static str = "user_name";
/// }
/// assert_eq!(UserName::NAME, "user_name");
/// ```
pub trait TypedAttribute: 'static {
    /// What a lookup of this attribute returns.
    type Value: 'static;
    /// A name for error messages.
    const NAME: &'static str;
}

/// A lookup in progress: providers offer values with [`provide`](Self::provide), and the
/// first value offered for the wanted attribute is kept.
pub struct AttributeRequest<'a> {
    key: TypeId,
    slot: &'a mut dyn Any,
    fulfilled: bool,
}

impl fmt::Debug for AttributeRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttributeRequest")
            .field("fulfilled", &self.fulfilled)
            .finish_non_exhaustive()
    }
}

impl AttributeRequest<'_> {
    /// True when this lookup is for attribute `A` and nothing answered it yet.
    pub fn wants<A: TypedAttribute>(&self) -> bool {
        !self.fulfilled && self.key == TypeId::of::<A>()
    }

    /// Offers `value()` for attribute `A`; `value` runs only when `A` is the attribute
    /// looked up and no earlier provider answered (so the outermost layer wins).
    pub fn provide<A: TypedAttribute>(&mut self, value: impl FnOnce() -> A::Value) -> &mut Self {
        self.provide_opt::<A>(|| Some(value()))
    }

    /// As [`provide`](Self::provide), for a value that may be absent (the remote address
    /// of a socket that is not connected): `None` leaves the lookup to inner layers.
    pub fn provide_opt<A: TypedAttribute>(
        &mut self,
        value: impl FnOnce() -> Option<A::Value>,
    ) -> &mut Self {
        if !self.wants::<A>() {
            return self;
        }
        if let Some(slot) = self.slot.downcast_mut::<Option<A::Value>>() {
            if let Some(v) = value() {
                *slot = Some(v);
                self.fulfilled = true;
            }
        }
        self
    }

    /// True once a provider has answered.
    pub fn is_fulfilled(&self) -> bool {
        self.fulfilled
    }
}

/// Something that answers typed attribute lookups (AnyIO's `TypedAttributeProvider`).
///
/// Implement [`provide_attributes`](Self::provide_attributes): offer your own attributes,
/// then pass the request to the object you wrap, if any.
///
/// # Examples
///
/// ```
/// use anyio::streams::{AttributeRequest, TypedAttribute, TypedAttributeProvider};
/// use anyio::ErrorKind;
///
/// enum Answer {}
/// impl TypedAttribute for Answer {
///     type Value = u32;
///     const NAME: &'static str = "answer";
/// }
/// enum Question {}
/// impl TypedAttribute for Question {
///     type Value = &'static str;
///     const NAME: &'static str = "question";
/// }
///
/// struct Inner;
/// impl TypedAttributeProvider for Inner {
///     fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
///         request.provide::<Answer>(|| 41).provide::<Question>(|| "life");
///     }
/// }
/// struct Wrapper(Inner);
/// impl TypedAttributeProvider for Wrapper {
///     fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
///         request.provide::<Answer>(|| 42); // overrides the inner value
///         self.0.provide_attributes(request);
///     }
/// }
///
/// let w = Wrapper(Inner);
/// assert_eq!(w.extra::<Answer>().unwrap(), 42);
/// assert_eq!(w.extra::<Question>().unwrap(), "life"); // found further down
/// assert_eq!(Inner.extra::<Answer>().unwrap(), 41);
/// # enum Missing {}
/// # impl TypedAttribute for Missing { type Value = (); const NAME: &'static str = "missing"; }
/// assert_eq!(w.extra::<Missing>().unwrap_err().kind(), ErrorKind::TypedAttributeLookup);
/// assert_eq!(w.extra_or::<Missing>(()), ());
/// ```
pub trait TypedAttributeProvider {
    /// Offers this object's attributes to `request`, then those of the object it wraps.
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>);

    /// Looks up attribute `A` (AnyIO's `extra(attribute)`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TypedAttributeLookup`] when no layer provides it.
    fn extra<A: TypedAttribute>(&self) -> Result<A::Value>
    where
        Self: Sized,
    {
        extra::<A>(self)
    }

    /// Looks up attribute `A`, or returns `default` (AnyIO's `extra(attribute, default)`).
    fn extra_or<A: TypedAttribute>(&self, default: A::Value) -> A::Value
    where
        Self: Sized,
    {
        lookup::<A>(self).unwrap_or(default)
    }
}

/// Looks up attribute `A` on any provider, `dyn` ones included.
///
/// # Errors
///
/// [`ErrorKind::TypedAttributeLookup`] when no layer provides it.
pub fn extra<A: TypedAttribute>(
    provider: &(impl TypedAttributeProvider + ?Sized),
) -> Result<A::Value> {
    lookup::<A>(provider).ok_or_else(|| {
        Error::new(
            ErrorKind::TypedAttributeLookup,
            format!("no layer provides the typed attribute '{}'", A::NAME),
        )
    })
}

fn lookup<A: TypedAttribute>(
    provider: &(impl TypedAttributeProvider + ?Sized),
) -> Option<A::Value> {
    let mut slot: Option<A::Value> = None;
    let mut request = AttributeRequest {
        key: TypeId::of::<A>(),
        slot: &mut slot,
        fulfilled: false,
    };
    provider.provide_attributes(&mut request);
    slot
}

// ---------------------------------------------------------------------------------------
// The busy flag.

/// One direction's "a task is using this" flag: the second task to enter gets
/// [`ErrorKind::BusyResource`] (AnyIO's `BusyResourceError`), the first is unaffected.
///
/// The provided futures enter it on their first real attempt and leave it when they
/// complete or are dropped, so a future polled once and dropped leaves the flag free.
#[derive(Debug, Default)]
pub struct BusyFlag {
    busy: AtomicBool,
}

impl BusyFlag {
    /// A free flag.
    pub const fn new() -> BusyFlag {
        BusyFlag {
            busy: AtomicBool::new(false),
        }
    }

    /// Enters the flag for `action` ("receiving", "sending", "accepting").
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BusyResource`] naming `action` when another guard is alive.
    #[inline]
    pub fn enter(&self, action: &'static str) -> Result<BusyGuard<'_>> {
        // Acquire on success: what the previous holder did before leaving (its Release
        // store in `BusyGuard::drop`) is visible to the new holder. Relaxed on failure:
        // nothing is read then.
        match self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(BusyGuard { flag: self }),
            Err(_) => Err(Error::new(
                ErrorKind::BusyResource,
                format!("another task is already {action} on this resource"),
            )),
        }
    }

    /// True while a guard is alive.
    pub fn is_busy(&self) -> bool {
        // Relaxed: a snapshot for diagnostics; it orders nothing.
        self.busy.load(Ordering::Relaxed)
    }
}

/// Proof that a task is using one direction of a resource; leaving it frees the flag.
#[derive(Debug)]
#[must_use = "the flag is free again as soon as the guard is dropped"]
pub struct BusyGuard<'a> {
    flag: &'a BusyFlag,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `enter`, handing the direction over.
        self.flag.busy.store(false, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------
// The checkpoint discipline of a poll-first operation.

/// The state every poll-first operation goes through (crate-internal, for every stream,
/// listener and socket future):
///
/// 1. first poll: cancellation check and schedule point — `Cancelled` here takes nothing;
///    when the cooperative budget is spent the task yields first;
/// 2. the busy flag is entered (or `BusyResource` returned);
/// 3. the operation is polled; its `Ready` wins, even over a cancellation that arrived
///    meanwhile (the data was taken: returning it is what keeps cancellation lossless);
/// 4. on `Pending`, cancellation is checked again (the data was not taken, so `Cancelled`
///    loses nothing), and the task is marked blocked so enclosing deadlines arm. The
///    re-check is skipped when step 1 ran in this same poll: nothing of this task ran
///    since, and a cancellation from another thread meanwhile is not lost — its walk wakes
///    the task if its scope is linked, and the link made after this poll re-checks
///    (scope-tree invariant 4).
///
/// Dropping the future at any step releases the flag; nothing else was reserved.
pub(crate) struct Gate<'a> {
    /// Step 1, the one checkpoint mechanism of the crate.
    checkpoint: Checkpoint,
    /// Held, not read: dropping it frees the flag.
    guard: Option<BusyGuard<'a>>,
    finished: bool,
}

impl fmt::Debug for Gate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.finished {
            "done"
        } else if self.checkpoint.is_done() {
            "entered"
        } else {
            "start"
        };
        f.debug_struct("Gate").field("state", &state).finish()
    }
}

impl<'a> Gate<'a> {
    pub(crate) fn new() -> Gate<'a> {
        Gate {
            checkpoint: Checkpoint::new(),
            guard: None,
            finished: false,
        }
    }

    /// Drives the operation `op` through the steps above; `busy` (if any) is entered for
    /// `action`.
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        busy: Option<(&'a BusyFlag, &'static str)>,
        mut op: impl FnMut(&mut Context<'_>) -> Poll<Result<T>>,
    ) -> Poll<Result<T>> {
        if self.finished {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidState,
                "an I/O future was polled after it completed",
            )));
        }
        // Whether step 1 ran in this poll (see step 4).
        let checked = !self.checkpoint.is_done();
        if checked {
            match self.checkpoint.poll_in_place(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return self.finish(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            if let Some((flag, action)) = busy {
                match flag.enter(action) {
                    Ok(guard) => self.guard = Some(guard),
                    Err(e) => return self.finish(Err(e)),
                }
            }
        }
        if let Poll::Ready(r) = op(cx) {
            return self.finish(r);
        }
        if checked {
            context::mark_blocked();
        } else if let Some(e) = context::cancelled_or_block() {
            return self.finish(Err(e));
        }
        Poll::Pending
    }

    fn finish<T>(&mut self, r: Result<T>) -> Poll<Result<T>> {
        self.guard = None;
        self.finished = true;
        Poll::Ready(r)
    }
}

// ---------------------------------------------------------------------------------------
// Errors.

/// The error for a stream operation failed by the peer or the OS: kind
/// [`ErrorKind::BrokenResource`], the `io::Error` kept as the source, and `action` ("receiving
/// from a TCP stream") as the message.
pub(crate) fn broken(action: &'static str, e: io::Error) -> Error {
    Error::with_source(ErrorKind::BrokenResource, action, e)
}

/// The error for an OS call that is not a stream operation (bind, connect, listen): kind
/// [`ErrorKind::Io`] with the `io::Error` as the source — except an invalid argument, which
/// is [`ErrorKind::InvalidArgument`].
pub(crate) fn os_error(action: impl Into<std::borrow::Cow<'static, str>>, e: io::Error) -> Error {
    let kind = match e.kind() {
        io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
        io::ErrorKind::TimedOut => ErrorKind::TimedOut,
        _ => ErrorKind::Io,
    };
    Error::with_source(kind, action, e)
}

/// The error for an operation on a resource this side closed.
pub(crate) fn closed(action: &'static str) -> Error {
    Error::new(
        ErrorKind::ClosedResource,
        format!("{action} on a closed resource"),
    )
}

fn end_of_stream() -> Error {
    Error::new(ErrorKind::EndOfStream, "the peer closed its sending side")
}

// ---------------------------------------------------------------------------------------
// The traits.

/// A resource closed through a shared reference: [`AsyncResource`](super::AsyncResource)
/// for streams and listeners that are used from several tasks at once. Object safe.
pub trait SharedResource: TypedAttributeProvider + Send + Sync {
    /// Closes the resource, waking every task blocked on it (they fail with
    /// [`ErrorKind::ClosedResource`]). Closing a closed resource does nothing.
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>>;

    /// Closes the resource (AnyIO's `aclose`).
    ///
    /// # Cancellation
    ///
    /// Not a cancellation point: the resource is closed even in a cancelled scope. When it
    /// returns, the OS resource (the socket's fd) is released, so binding the same port
    /// right after succeeds.
    ///
    /// # Errors
    ///
    /// Whatever closing reports; the resource is closed anyway.
    fn aclose(&self) -> Close<'_, Self>
    where
        Self: Sized,
    {
        Close { resource: self }
    }
}

/// Receives bytes (AnyIO's `ByteReceiveStream`). See the [module docs](self) for the
/// contract and for how to implement it.
pub trait ByteReceiveStream: SharedResource {
    /// Attempts to receive into `buf` (never empty): `Ready(Ok(n))` with `1 <= n <=
    /// buf.len()` bytes taken, `Ready(Err(_))` ([`ErrorKind::EndOfStream`] at the end), or
    /// `Pending` with `cx`'s waker registered and nothing taken.
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>>;

    /// As [`poll_receive`](Self::poll_receive), appending at most `max_bytes` bytes to the
    /// empty `buf` (whose capacity it may keep across calls). The default zero-fills a
    /// buffer and calls `poll_receive`; a socket overrides it to read into the spare
    /// capacity without zeroing.
    fn poll_receive_vec(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<()>> {
        buf.resize(max_bytes.clamp(1, RECEIVE_LIMIT), 0);
        match self.poll_receive(cx, buf) {
            Poll::Ready(Ok(n)) => {
                buf.truncate(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                buf.clear();
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                buf.clear();
                Poll::Pending
            }
        }
    }

    /// The flag that makes a second concurrent receive fail with
    /// [`ErrorKind::BusyResource`].
    fn receive_busy(&self) -> &BusyFlag;

    /// Receives between 1 and `max_bytes` bytes (at most [`RECEIVE_LIMIT`] at once),
    /// waiting for some if need be (AnyIO's `receive(max_bytes)`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint, and lossless: a cancelled (or dropped) receive has taken nothing, and
    /// the next call gets the bytes it would have got.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `max_bytes` is 0; [`ErrorKind::EndOfStream`]
    /// once the peer has closed its sending side and everything was received;
    /// [`ErrorKind::ClosedResource`] when this side closed the stream (also for a call
    /// blocked when that happens); [`ErrorKind::BrokenResource`] when the peer or the OS
    /// failed it; [`ErrorKind::BusyResource`] when another task is receiving;
    /// [`ErrorKind::Cancelled`].
    fn receive(&self, max_bytes: usize) -> Receive<'_, Self>
    where
        Self: Sized,
    {
        Receive {
            stream: self,
            max_bytes,
            buf: Vec::new(),
            gate: Gate::new(),
        }
    }

    /// Receives between 1 and `buf.len()` bytes into `buf`; returns how many. The
    /// allocation-free form of [`receive`](Self::receive).
    ///
    /// # Cancellation
    ///
    /// As [`receive`](Self::receive): lossless.
    ///
    /// # Errors
    ///
    /// As [`receive`](Self::receive); an empty `buf` is [`ErrorKind::InvalidArgument`].
    fn receive_into<'a>(&'a self, buf: &'a mut [u8]) -> ReceiveInto<'a, Self>
    where
        Self: Sized,
    {
        ReceiveInto {
            stream: self,
            buf,
            gate: Gate::new(),
        }
    }
}

/// Sends bytes (AnyIO's `ByteSendStream`).
pub trait ByteSendStream: SharedResource {
    /// Attempts to send a prefix of `buf`: `Ready(Ok(n))` with the number of bytes
    /// accepted (at least 1 when `buf` is not empty), `Ready(Err(_))`, or `Pending` with
    /// `cx`'s waker registered and nothing sent.
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>>;

    /// The flag that makes a second concurrent send fail with
    /// [`ErrorKind::BusyResource`].
    fn send_busy(&self) -> &BusyFlag;

    /// Sends all of `data`, waiting for room as often as need be (AnyIO's `send`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint before anything is written. A send cancelled while it waits for room
    /// returns `Cancelled` with a prefix of `data` possibly written (trio's caveat: the
    /// stream is then in an unknown place of the protocol, and should usually be closed).
    /// A send whose data fits the OS buffer is never cut.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when this side closed the stream, or shut its sending
    /// direction with `send_eof`; [`ErrorKind::BrokenResource`] when the peer or the OS failed
    /// it; [`ErrorKind::BusyResource`] when another task is sending;
    /// [`ErrorKind::Cancelled`].
    fn send<'a>(&'a self, data: &'a [u8]) -> SendAll<'a, Self>
    where
        Self: Sized,
    {
        SendAll {
            stream: self,
            data,
            gate: Gate::new(),
        }
    }
}

/// A byte stream in both directions (AnyIO's `ByteStream`).
pub trait ByteStream: ByteReceiveStream + ByteSendStream {
    /// Shuts the sending direction: the peer's receive reports the end of the stream once
    /// it has everything sent so far; this side can still receive. Doing it again does
    /// nothing.
    fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>>;

    /// Shuts the sending direction (AnyIO's `send_eof`).
    ///
    /// # Cancellation
    ///
    /// A checkpoint, taken before the shutdown.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when the stream is closed; [`ErrorKind::BrokenResource`]
    /// when the OS refuses; [`ErrorKind::Cancelled`].
    fn send_eof(&self) -> SendEof<'_, Self>
    where
        Self: Sized,
    {
        SendEof {
            stream: self,
            gate: Gate::new(),
        }
    }
}

/// Accepts connections, each a stream of type `S` (AnyIO's `Listener`).
pub trait Listener<S>: SharedResource {
    /// Attempts to accept one connection; a connection is taken from the OS only when
    /// this returns `Ready(Ok(_))`.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<S>>;

    /// The flag that makes a second concurrent accept fail with
    /// [`ErrorKind::BusyResource`].
    fn accept_busy(&self) -> &BusyFlag;

    /// Accepts the next connection.
    ///
    /// # Cancellation
    ///
    /// A checkpoint, and lossless: a cancelled accept took no connection.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when the listener is closed (also for a call blocked
    /// when that happens); [`ErrorKind::BrokenResource`] when the OS fails it;
    /// [`ErrorKind::BusyResource`] when another task is accepting; [`ErrorKind::Cancelled`].
    fn accept(&self) -> Accept<'_, Self, S>
    where
        Self: Sized,
    {
        Accept {
            listener: self,
            gate: Gate::new(),
            _stream: std::marker::PhantomData,
        }
    }

    /// Accepts connections forever, running `handler(stream)` for each in a task of its
    /// own (AnyIO's `serve`): in `task_group` when one is given, or else in a group of its
    /// own that this call waits for.
    ///
    /// # Cancellation
    ///
    /// Runs until cancelled; with a group of its own, cancellation also cancels the
    /// handlers, and the call returns once they have finished.
    ///
    /// # Errors
    ///
    /// The first failure of `accept` (for example [`ErrorKind::ClosedResource`] once the
    /// listener is closed) or, with a group of its own, of a handler (the other handlers are
    /// then cancelled); [`ErrorKind::Cancelled`].
    fn serve<H, F>(
        &self,
        handler: H,
        task_group: Option<&crate::TaskGroup>,
    ) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sized,
        S: Send + 'static,
        H: FnMut(S) -> F + Send,
        F: Future<Output = Result<()>> + Send + 'static,
    {
        serve(self, handler, task_group.cloned())
    }
}

async fn serve<L, S, H, F>(
    listener: &L,
    mut handler: H,
    task_group: Option<crate::TaskGroup>,
) -> Result<()>
where
    L: Listener<S>,
    S: Send + 'static,
    H: FnMut(S) -> F + Send,
    F: Future<Output = Result<()>> + Send + 'static,
{
    if let Some(tg) = task_group {
        loop {
            let stream = listener.accept().await?;
            tg.start_soon(handler(stream))?;
        }
    }
    crate::task_group(|tg| async move {
        loop {
            let stream = listener.accept().await?;
            tg.start_soon(handler(stream))?;
        }
    })
    .await
    .map(|_: Option<()>| ())
}

/// Closes `resource` without waiting for a graceful close (AnyIO's `aclose_forcefully`):
/// its close runs in a cancelled scope, so a TLS stream, say, skips its `close_notify`.
///
/// # Errors
///
/// Whatever closing reports.
pub async fn aclose_forcefully<R: SharedResource + ?Sized>(resource: &R) -> Result<()> {
    let scope = crate::CancelScope::new();
    scope.cancel();
    let closing = std::future::poll_fn(|cx| resource.poll_close(cx));
    scope.run(closing).await.map(drop)
}

// ---------------------------------------------------------------------------------------
// The futures.

/// The future of [`SharedResource::aclose`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Close<'a, R: ?Sized> {
    resource: &'a R,
}

impl<R: SharedResource + ?Sized> Future for Close<'_, R> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.resource.poll_close(cx)
    }
}

/// The future of [`ByteReceiveStream::receive`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Receive<'a, S: ?Sized> {
    stream: &'a S,
    max_bytes: usize,
    buf: Vec<u8>,
    gate: Gate<'a>,
}

impl<S: ByteReceiveStream + ?Sized> Future for Receive<'_, S> {
    type Output = Result<Vec<u8>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        let this = self.get_mut();
        if this.max_bytes == 0 {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidArgument,
                "receive(max_bytes): max_bytes must be at least 1",
            )));
        }
        let (stream, max, buf) = (this.stream, this.max_bytes, &mut this.buf);
        let busy = Some((stream.receive_busy(), "receiving"));
        let r = this
            .gate
            .poll(cx, busy, |cx| stream.poll_receive_vec(cx, max, buf));
        r.map_ok(|()| {
            let mut out = std::mem::take(&mut this.buf);
            if out.len() < out.capacity() / 2 {
                out.shrink_to_fit();
            }
            out
        })
    }
}

/// The future of [`ByteReceiveStream::receive_into`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveInto<'a, S: ?Sized> {
    stream: &'a S,
    buf: &'a mut [u8],
    gate: Gate<'a>,
}

impl<S: ByteReceiveStream + ?Sized> Future for ReceiveInto<'_, S> {
    type Output = Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidArgument,
                "receive_into: the buffer must not be empty",
            )));
        }
        let (stream, buf) = (this.stream, &mut *this.buf);
        let busy = Some((stream.receive_busy(), "receiving"));
        this.gate.poll(cx, busy, |cx| stream.poll_receive(cx, buf))
    }
}

/// The future of [`ByteSendStream::send`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SendAll<'a, S: ?Sized> {
    stream: &'a S,
    data: &'a [u8],
    gate: Gate<'a>,
}

impl<S: ByteSendStream + ?Sized> Future for SendAll<'_, S> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let (stream, data) = (this.stream, &mut this.data);
        let busy = Some((stream.send_busy(), "sending"));
        this.gate.poll(cx, busy, |cx| {
            while !data.is_empty() {
                match stream.poll_send(cx, data) {
                    Poll::Ready(Ok(n)) => *data = &data[n.min(data.len())..],
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
    }
}

/// The future of [`ByteStream::send_eof`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SendEof<'a, S: ?Sized> {
    stream: &'a S,
    gate: Gate<'a>,
}

impl<S: ByteStream + ?Sized> Future for SendEof<'_, S> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let stream = this.stream;
        this.gate.poll(cx, None, |cx| stream.poll_send_eof(cx))
    }
}

/// The future of [`Listener::accept`].
#[must_use = "futures do nothing unless polled"]
pub struct Accept<'a, L: ?Sized, S> {
    listener: &'a L,
    gate: Gate<'a>,
    _stream: std::marker::PhantomData<fn() -> S>,
}

impl<L: ?Sized, S> fmt::Debug for Accept<'_, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl<L: Listener<S> + ?Sized, S> Future for Accept<'_, L, S> {
    type Output = Result<S>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<S>> {
        let this = self.get_mut();
        let listener = this.listener;
        let busy = Some((listener.accept_busy(), "accepting"));
        this.gate.poll(cx, busy, |cx| listener.poll_accept(cx))
    }
}

// ---------------------------------------------------------------------------------------
// Smart pointers are streams too: `Box<dyn ByteStream>`, `Arc<S>`, `&S`.

macro_rules! forward_pointer {
    ($($ptr:ty),*) => {$(
        impl<T: TypedAttributeProvider + ?Sized> TypedAttributeProvider for $ptr {
            fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
                (**self).provide_attributes(request)
            }
        }
        impl<T: SharedResource + ?Sized> SharedResource for $ptr {
            fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
                (**self).poll_close(cx)
            }
        }
        impl<T: ByteReceiveStream + ?Sized> ByteReceiveStream for $ptr {
            fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
                (**self).poll_receive(cx, buf)
            }
            fn poll_receive_vec(
                &self,
                cx: &mut Context<'_>,
                max_bytes: usize,
                buf: &mut Vec<u8>,
            ) -> Poll<Result<()>> {
                (**self).poll_receive_vec(cx, max_bytes, buf)
            }
            fn receive_busy(&self) -> &BusyFlag {
                (**self).receive_busy()
            }
        }
        impl<T: ByteSendStream + ?Sized> ByteSendStream for $ptr {
            fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
                (**self).poll_send(cx, buf)
            }
            fn send_busy(&self) -> &BusyFlag {
                (**self).send_busy()
            }
        }
        impl<T: ByteStream + ?Sized> ByteStream for $ptr {
            fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
                (**self).poll_send_eof(cx)
            }
        }
        impl<S, T: Listener<S> + ?Sized> Listener<S> for $ptr {
            fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<S>> {
                (**self).poll_accept(cx)
            }
            fn accept_busy(&self) -> &BusyFlag {
                (**self).accept_busy()
            }
        }
    )*};
}

forward_pointer!(Box<T>, Arc<T>, &T);

/// Maps the end of a stream to `Ok(0)` and everything else unchanged: for adapters to
/// `AsyncRead`-style traits, where `Ok(0)` is the end.
#[allow(dead_code)] // for the tokio/futures-io adapters built on these traits
pub(crate) fn end_as_zero(r: Result<usize>) -> Result<usize> {
    match r {
        Err(e) if e.kind() == ErrorKind::EndOfStream => Ok(0),
        r => r,
    }
}

/// The end-of-stream error, for implementations in this crate.
pub(crate) fn eof() -> Error {
    end_of_stream()
}
