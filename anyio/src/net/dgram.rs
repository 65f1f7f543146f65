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
fn recv_one(
    fd: BorrowedFd<'_>,
    max: Option<usize>,
) -> io::Result<(Vec<u8>, Option<SocketAddrAny>)> {
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

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Vec<u8>, Option<SocketAddrAny>)>> {
        let (core, action, max) = (self.core, self.action, self.max);
        let busy = Some((&core.receive_busy, "receiving"));
        self.gate.poll(cx, busy, |cx| {
            core.poll_io(Direction::Read, cx, action, |fd| recv_one(fd, max))
                .map(|r| r?.map_err(|e| broken(action, e)))
        })
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
    ) -> Poll<Result<(Vec<u8>, Option<SocketAddrAny>)>> {
        let out = self.poll_inner(core, max, action, cx);
        if out.is_ready() {
            self.checkpoint.reset();
        }
        out
    }

    fn poll_inner(
        &mut self,
        core: &SocketCore,
        max: Option<usize>,
        action: &'static str,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(Vec<u8>, Option<SocketAddrAny>)>> {
        if self.checkpoint.is_done() {
            // Polled again after waiting: a cancelled poll takes nothing.
            if let Some(e) = context::check_cancelled() {
                return Poll::Ready(Err(e));
            }
        }
        ready!(self.checkpoint.poll_in_place(cx))?;
        let _guard = core.receive_busy.enter("receiving")?;
        match core.poll_io(Direction::Read, cx, action, |fd| recv_one(fd, max)) {
            Poll::Ready(r) => Poll::Ready(r?.map_err(|e| broken(action, e))),
            Poll::Pending => {
                context::mark_blocked();
                Poll::Pending
            }
        }
    }
}

/// The sender of a datagram received on an IP socket.
pub(crate) fn ip_sender(addr: Option<SocketAddrAny>) -> Result<SocketAddr> {
    addr.and_then(|a| SocketAddr::try_from(a).ok())
        .ok_or_else(|| Error::new(ErrorKind::Io, "a datagram without an IP sender"))
}

/// The future of a connected datagram socket's `receive`
/// ([`ConnectedUdpSocket`](super::ConnectedUdpSocket),
/// [`ConnectedUnixDatagram`](super::ConnectedUnixDatagram)): one whole datagram.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveDatagram<'a> {
    pub(crate) state: RecvState<'a>,
}

impl Future for ReceiveDatagram<'_> {
    type Output = Result<Vec<u8>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().state.poll(cx).map_ok(|(data, _)| data)
    }
}

/// The future of [`UdpSocket::receive`](super::UdpSocket::receive): one whole datagram
/// and its sender's address.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveFrom<'a> {
    pub(crate) state: RecvState<'a>,
}

impl Future for ReceiveFrom<'_> {
    type Output = Result<(Vec<u8>, SocketAddr)>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().state.poll(cx).map(|r| {
            let (data, addr) = r?;
            Ok((data, ip_sender(addr)?))
        })
    }
}

/// The future of [`UnixDatagram::receive`](super::UnixDatagram::receive): one whole
/// datagram and its sender's path (empty for an unbound sender; an abstract name starts
/// with `'\0'`).
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct UnixReceiveFrom<'a> {
    pub(crate) state: RecvState<'a>,
}

impl Future for UnixReceiveFrom<'_> {
    type Output = Result<(Vec<u8>, PathBuf)>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().state.poll(cx).map(|r| {
            let (data, addr) = r?;
            Ok((data, unix_sender(addr)))
        })
    }
}

/// The sender of a datagram received on a UNIX socket (see [`unix_path`]).
pub(crate) fn unix_sender(addr: Option<SocketAddrAny>) -> PathBuf {
    addr.map(unix_path).unwrap_or_default()
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
