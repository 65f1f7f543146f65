//! The datagram half shared by UDP and UNIX datagram sockets: one receive and one send
//! future over a [`SocketCore`], each a whole datagram or nothing.
//!
//! # Losslessness
//!
//! A datagram is taken from the kernel by one `recvfrom` that either succeeds (and the
//! future returns it: the [`Gate`] lets a `Ready` win over a cancellation that arrived
//! meanwhile) or reports `WouldBlock` (and nothing was taken). So a cancelled or abandoned
//! receive loses no datagram. None is truncated either: a UDP receive reads into a
//! 64 KiB buffer (every IP datagram fits), a UNIX one sizes its buffer from the datagram
//! first (`MSG_PEEK | MSG_TRUNC` on Linux), since UNIX datagrams can be larger.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::net::{RecvFlags, SendFlags, SocketAddrAny};
use socket2::{SockAddr, SockRef};

use crate::backend::io::Direction;
use crate::context;
use crate::error::{Error, ErrorKind, Result};
use crate::lowlevel::Checkpoint;
use crate::net::socket::SocketCore;
use crate::streams::bytes::{Gate, broken};

/// The largest IP datagram (a UDP payload is at most 65,507 bytes over IPv4 and 65,527 over
/// IPv6 without jumbograms), and the buffer a receive uses where the OS cannot say the
/// size of the next datagram.
pub(crate) const MAX_IP_DATAGRAM: usize = 65536;

/// The size of the next datagram, without taking it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn next_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    // MSG_TRUNC makes Linux return the datagram's real length, not the 0 bytes copied.
    let (_, len) = rustix::net::recv(fd, &mut [0u8; 0][..], RecvFlags::PEEK | RecvFlags::TRUNC)?;
    Ok(len)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn next_size(_fd: BorrowedFd<'_>) -> io::Result<usize> {
    Ok(MAX_IP_DATAGRAM)
}

/// Takes one datagram (and its sender's address) from `fd`: into a buffer of `max` bytes
/// when every datagram of the socket fits one (UDP), else sized from the datagram first.
fn recv_one(fd: BorrowedFd<'_>, max: Option<usize>) -> io::Result<Received> {
    let size = match max {
        Some(max) => max,
        None => next_size(fd)?,
    };
    // At least 1: `spare_capacity` wants room; an empty datagram is received as empty.
    let mut buf = Vec::with_capacity(size.max(1));
    let (_, _, addr) = rustix::net::recvfrom(
        fd,
        rustix::buffer::spare_capacity(&mut buf),
        RecvFlags::empty(),
    )?;
    if buf.len() < buf.capacity() / 2 {
        buf.shrink_to_fit();
    }
    Ok((buf, addr))
}

/// The error of a failed datagram send: a datagram too large for the socket is the
/// caller's mistake ([`ErrorKind::InvalidArgument`]); anything else is
/// [`ErrorKind::BrokenResource`] with the `io::Error` as the source.
fn send_error(action: &'static str, e: io::Error) -> Error {
    if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error()) {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("{action}: the datagram is too large for this socket"),
            e,
        )
    } else {
        broken(action, e)
    }
}

/// The state of one receive: the socket, its checkpoint gate, the action it names.
pub(crate) struct RecvState<'a> {
    core: &'a SocketCore,
    /// The largest datagram the socket can receive, when known (UDP).
    max: Option<usize>,
    gate: Gate<'a>,
    action: &'static str,
}

impl<'a> RecvState<'a> {
    pub(crate) fn new(
        core: &'a SocketCore,
        max: Option<usize>,
        action: &'static str,
    ) -> RecvState<'a> {
        RecvState {
            core,
            max,
            gate: Gate::new(),
            action,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Received>> {
        let (core, action, max) = (self.core, self.action, self.max);
        let busy = Some((&core.receive_busy, "receiving"));
        self.gate
            .poll(cx, busy, |cx| poll_recv(core, max, action, cx))
    }
}

impl fmt::Debug for RecvState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvState")
            .field("action", &self.action)
            .field("gate", &self.gate)
            .finish()
    }
}

/// The state of a socket handle's [`Stream`](futures_core::Stream) of received datagrams:
/// the checkpoint its next item starts with, and nothing else.
///
/// Unlike a receive future it holds no busy flag between polls: `poll_next` cannot learn
/// that its caller gave up (a `next()` dropped by `select!` or a timeout), so a poll that
/// waits leaves only the socket's waker behind, and a datagram is taken only by the
/// `recvfrom` of the poll that returns it. The busy flag is entered for the length of one
/// poll, so a poll while another task is in `receive` is `BusyResource`.
#[derive(Debug, Default)]
pub(crate) struct StreamRecv {
    checkpoint: Checkpoint,
}

/// A new handle starts its stream afresh.
impl Clone for StreamRecv {
    fn clone(&self) -> StreamRecv {
        StreamRecv::default()
    }
}

impl StreamRecv {
    /// One poll of the stream: a datagram taken in this very poll, or an error, or `Pending`
    /// with only the socket's waker left behind.
    pub(crate) fn poll(
        &mut self,
        core: &SocketCore,
        max: Option<usize>,
        action: &'static str,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Received>> {
        let checkpoint = &mut self.checkpoint;
        let mut attempt = || {
            if checkpoint.is_done() {
                // Polled again after waiting: a cancelled poll takes nothing.
                if let Some(e) = context::check_cancelled() {
                    return Poll::Ready(Err(e));
                }
            }
            ready!(checkpoint.poll_in_place(cx))?;
            let _guard = core.receive_busy.enter("receiving")?;
            let polled = poll_recv(core, max, action, cx);
            if polled.is_pending() {
                context::mark_blocked();
            }
            polled
        };
        let out = attempt();
        if out.is_ready() {
            self.checkpoint.reset();
        }
        out
    }
}

/// One non-blocking attempt to take a datagram from `core`; on `Pending` the waker is
/// registered.
fn poll_recv(
    core: &SocketCore,
    max: Option<usize>,
    action: &'static str,
    cx: &mut Context<'_>,
) -> Poll<Result<Received>> {
    core.poll_io(Direction::Read, cx, action, |fd| recv_one(fd, max))
        .map(|r| r?.map_err(|e| broken(action, e)))
}

/// A datagram as [`RecvState`] takes it: the data and the sender's address, if the OS
/// gave one.
pub(crate) type Received = (Vec<u8>, Option<SocketAddrAny>);

/// The item of an unconnected IP socket: the datagram and its sender's address.
pub(crate) fn with_ip_sender((data, addr): Received) -> Result<(Vec<u8>, SocketAddr)> {
    let addr = addr
        .and_then(|a| SocketAddr::try_from(a).ok())
        .ok_or_else(|| Error::new(ErrorKind::Io, "a datagram without an IP sender"))?;
    Ok((data, addr))
}

/// The item of an unconnected UNIX socket: the datagram and its sender's path (see
/// [`unix_path`]; empty when the OS gave no address).
pub(crate) fn with_unix_sender((data, addr): Received) -> Result<(Vec<u8>, PathBuf)> {
    Ok((data, addr.map(unix_path).unwrap_or_default()))
}

/// The item of a connected socket: the datagram alone.
pub(crate) fn data_only((data, _): Received) -> Result<Vec<u8>> {
    Ok(data)
}

/// A public receive future: the [`RecvState`] of one receive, its output made by `$from`
/// from the [`Received`] datagram.
macro_rules! receive_future {
    ($(#[$doc:meta])* $name:ident -> $out:ty = $from:ident) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        #[derive(Debug)]
        pub struct $name<'a> {
            pub(crate) state: RecvState<'a>,
        }

        impl Future for $name<'_> {
            type Output = Result<$out>;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                self.get_mut().state.poll(cx).map(|r| r.and_then($from))
            }
        }
    };
}

receive_future! {
    /// The future of a connected datagram socket's `receive`
    /// ([`ConnectedUdpSocket`](super::ConnectedUdpSocket),
    /// [`ConnectedUnixDatagram`](super::ConnectedUnixDatagram)): one whole datagram.
    ReceiveDatagram -> Vec<u8> = data_only
}

receive_future! {
    /// The future of [`UdpSocket::receive`](super::UdpSocket::receive): one whole datagram
    /// and its sender's address.
    ReceiveFrom -> (Vec<u8>, SocketAddr) = with_ip_sender
}

receive_future! {
    /// The future of [`UnixDatagram::receive`](super::UnixDatagram::receive): one whole
    /// datagram and its sender's path (empty for an unbound sender; an abstract name starts
    /// with `'\0'`).
    UnixReceiveFrom -> (Vec<u8>, PathBuf) = with_unix_sender
}

/// The path of a UNIX socket address: empty when unnamed, `'\0'` + the name when abstract.
pub(crate) fn unix_path(addr: SocketAddrAny) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let Ok(unix) = rustix::net::SocketAddrUnix::try_from(addr) else {
        return PathBuf::new();
    };
    if let Some(bytes) = unix.path_bytes() {
        return PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = unix.abstract_name() {
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        return PathBuf::from(std::ffi::OsString::from_vec(bytes));
    }
    PathBuf::new()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::unix::ffi::OsStringExt;

/// The future of a datagram send (`send`, `send_to`): the whole datagram or nothing.
#[must_use = "futures do nothing unless polled"]
pub struct SendDatagram<'a> {
    core: &'a SocketCore,
    data: &'a [u8],
    to: Option<Result<SockAddr>>,
    gate: Gate<'a>,
    action: &'static str,
}

impl fmt::Debug for SendDatagram<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendDatagram")
            .field("len", &self.data.len())
            .field("action", &self.action)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl<'a> SendDatagram<'a> {
    /// A send of `data` to `to` (`None`: to the connected peer).
    pub(crate) fn new(
        core: &'a SocketCore,
        data: &'a [u8],
        to: Option<Result<SockAddr>>,
        action: &'static str,
    ) -> SendDatagram<'a> {
        SendDatagram {
            core,
            data,
            to,
            gate: Gate::new(),
            action,
        }
    }
}

impl Future for SendDatagram<'_> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let (core, data, action) = (this.core, this.data, this.action);
        let to = match &this.to {
            None => None,
            Some(Ok(addr)) => Some(addr),
            Some(Err(e)) => {
                return Poll::Ready(Err(Error::new(e.kind(), format!("{action}: {e}"))));
            }
        };
        let busy = Some((&core.send_busy, "sending"));
        this.gate.poll(cx, busy, |cx| {
            core.poll_io(Direction::Write, cx, action, |fd| match to {
                Some(addr) => SockRef::from(&fd).send_to(data, addr),
                None => rustix::net::send(fd, data, SendFlags::NOSIGNAL).map_err(io::Error::from),
            })
            .map(|r| r?.map(drop).map_err(|e| send_error(action, e)))
        })
    }
}

/// What every datagram socket type (with `core: Arc<SocketCore>` and `stream: StreamRecv`
/// fields and an inherent `receive`) has alike: the inherent `aclose` and `is_closed`
/// ([`socket_methods!`](crate::net::socket::socket_methods)), and the object-stream traits
/// over its inherent `receive` and send.
///
/// - `item`: the object type; `items`: how the `Stream` docs name the items;
/// - `max`, `receiving`: as for [`StreamRecv::poll`];
/// - `from`: turns a [`Received`] into a `Result<item>` ([`with_ip_sender`], say);
/// - `send`: `|socket, item| future` sends `&item` through `&socket`;
/// - `errors`: said of `BrokenResource` in the `Stream` docs (empty, or a sentence part).
macro_rules! datagram_socket {
    (
        $ty:ident, item: $item:ty, items: $items:literal, max: $max:expr,
        receiving: $receiving:expr, from: $from:expr,
        send: |$socket:ident, $sent:ident| $send:expr, errors: $errors:literal $(,)?
    ) => {
        $crate::net::socket::socket_methods!($ty, "socket": aclose, is_closed);

        impl $crate::streams::UnreliableObjectReceiveStream<$item> for $ty {
            fn receive(
                &mut self,
            ) -> impl ::std::future::Future<Output = $crate::Result<$item>> + Send {
                $ty::receive(self)
            }
        }

        #[doc = concat!(
            $items, " as a [`Stream`](futures_core::Stream) (AnyIO's `async for` over a ",
            "socket): each poll is a checkpoint, like [`receive`](", stringify!($ty),
            "::receive), and yields `Some(Ok(..))` per datagram or `Some(Err(e))` — ",
            "`ClosedResource` once closed, `BusyResource` while another task is in ",
            "`receive`, `BrokenResource` for an OS error", $errors, ", `Cancelled` in a ",
            "cancelled scope. The stream never ends by itself: a datagram socket has no end ",
            "of stream.\n\n",
            "Lossless and abandon-safe: a datagram is taken only by the poll that returns it, ",
            "and a poll that waits holds nothing, so a `next()` dropped by `select!` or a ",
            "timeout loses no datagram and leaves no busy flag behind. As with the reactor's ",
            "own readiness, only the most recent poller of one direction is woken: one ",
            "consumer at a time."
        )]
        impl ::futures_core::Stream for $ty {
            type Item = $crate::Result<$item>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                let this = self.get_mut();
                this.stream
                    .poll(&this.core, $max, $receiving, cx)
                    .map(|r| Some(r.and_then($from)))
            }
        }

        impl $crate::streams::UnreliableObjectSendStream<$item> for $ty {
            async fn send(
                &mut self,
                item: $item,
            ) -> ::std::result::Result<(), $crate::streams::SendError<$item>> {
                let ($socket, $sent) = (&*self, &item);
                match $send.await {
                    Ok(()) => Ok(()),
                    Err(e) => Err($crate::streams::SendError::new(e, item)),
                }
            }
        }
    };
}
pub(crate) use datagram_socket;
