//! UNIX domain sockets: streams, listeners, datagram sockets, and passing file descriptors
//! (AnyIO's `connect_unix`, `create_unix_listener`, `create_unix_datagram_socket`,
//! `create_connected_unix_datagram_socket`, `UNIXSocketStream.send_fds`/`receive_fds`).
//!
//! # Paths
//!
//! A path names a socket file. On Linux and Android, a path whose first byte is `'\0'`
//! names a socket in the abstract namespace (`"\0name"`), with no file behind it. A path
//! too long for the OS (`sun_path`: 108 bytes on Linux) is
//! [`ErrorKind::InvalidArgument`]. Addresses read back (the sender of a datagram, the
//! [`LocalPath`](super::attr::LocalPath) attribute) use the same convention, and an
//! unbound socket's address is the empty path.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::backend::io::{Direction, Registered, SocketKind};
use crate::error::{Error, ErrorKind, Result};
use crate::net::dgram::{
    ReceiveDatagram, RecvState, SendDatagram, StreamRecv, UnixReceiveFrom, data_only,
    datagram_socket, with_unix_sender,
};
use crate::net::socket::{Expected, SocketCore, byte_stream_impls, socket_common, socket_methods};
use crate::streams::bytes::{Gate, RECEIVE_LIMIT, broken, eof, os_error};
use crate::streams::{BusyFlag, Listener};

/// The most file descriptors one message may carry (Linux's `SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// The socket address of `path`, or `InvalidArgument` (too long, say).
fn unix_addr(path: &Path, what: &str) -> Result<SockAddr> {
    SockAddr::unix(path).map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!(
                "{what}: {} is not a usable UNIX socket path",
                path.display()
            ),
            e,
        )
    })
}

/// The path of a UNIX socket address: empty when unnamed, `'\0'` + the name when
/// abstract; `None` for other families.
pub(crate) fn sockaddr_path(addr: &SockAddr) -> Option<PathBuf> {
    if addr.domain() != Domain::UNIX {
        return None;
    }
    if let Some(p) = addr.as_pathname() {
        return Some(p.to_owned());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = addr.as_abstract_namespace() {
        use std::os::unix::ffi::OsStringExt;
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        return Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)));
    }
    Some(PathBuf::new())
}

/// A new UNIX socket of `ty` (close-on-exec, non-blocking).
fn new_socket(ty: Type, what: &str) -> Result<Socket> {
    let socket =
        Socket::new(Domain::UNIX, ty, None).map_err(|e| os_error(format!("{what}: socket"), e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| os_error(format!("{what}: making the socket non-blocking"), e))?;
    Ok(socket)
}

/// Checks that `socket` is a UNIX socket of `ty` (connected when `connected`, listening
/// when `listening`), makes it non-blocking and registers it as `kind`.
fn adopt(
    socket: Socket,
    ty: Type,
    connected: bool,
    listening: bool,
    kind: SocketKind,
    what: &'static str,
) -> Result<Arc<SocketCore>> {
    let expected = Expected {
        ty,
        family: |a| a.domain() == Domain::UNIX,
        wrong: "not a UNIX socket of the right type",
        connected,
        listening,
    };
    crate::net::socket::adopt(socket, &expected, kind, what)
}

fn path_of(core: &SocketCore, action: &'static str, peer: bool) -> Result<PathBuf> {
    sockaddr_path(&core.sock_addr(action, peer)?)
        .ok_or_else(|| Error::new(ErrorKind::Io, "not a UNIX socket address"))
}

/// Removes a stale socket file at `path` (not a regular file, not a missing one).
fn remove_stale_socket(path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    if path.as_os_str().as_bytes().first() == Some(&0) {
        return Ok(()); // abstract: no file
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| os_error(format!("removing the stale socket {}", path.display()), e)),
        _ => Ok(()),
    }
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    if path.as_os_str().as_bytes().first() == Some(&0) {
        return Ok(()); // abstract: no file to change
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| os_error(format!("setting the mode of {}", path.display()), e))
}

// ---------------------------------------------------------------------------------------
// Streams.

/// A connected UNIX stream socket (AnyIO's `UNIXSocketStream`): a [`ByteStream`](crate::streams::ByteStream) that
/// can also pass file descriptors ([`send_fds`](Self::send_fds),
/// [`receive_fds`](Self::receive_fds)).
///
/// Clones are handles to one connection: one task can receive while another sends;
/// closing any handle closes it for all, waking blocked calls with
/// [`ErrorKind::ClosedResource`]. Dropping the last handle closes the socket.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily) ([`Family::Unix`](super::attr::Family)),
/// [`LocalPath`](super::attr::LocalPath), [`RemotePath`](super::attr::RemotePath),
/// [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct UnixStream {
    core: Arc<SocketCore>,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_path().ok())
            .field("remote", &self.peer_path().ok())
            .finish()
    }
}

/// Connects to the UNIX stream socket at `path` (AnyIO's `connect_unix`).
///
/// # Cancellation
///
/// A checkpoint; a cancelled connect closes its socket. While the listener's backlog is
/// full, the connect waits (retrying after short sleeps) until the listener accepts.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a path too long (or with a NUL inside);
/// [`ErrorKind::Io`] from the OS (no such file: `NotFound`; nothing listening:
/// `ConnectionRefused`), with the `io::Error` as the source; [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// use anyio::net::{connect_unix, create_unix_listener};
/// use anyio::streams::{ByteReceiveStream, ByteSendStream, Listener};
///
/// # anyio::run(|| async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("sock");
/// let listener = create_unix_listener(&path).await?;
/// let client = connect_unix(&path).await?;
/// let server = listener.accept().await?;
/// client.send(b"hello").await?;
/// assert_eq!(server.receive(64).await?, b"hello");
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub async fn connect_unix(path: impl AsRef<Path>) -> Result<UnixStream> {
    crate::lowlevel::checkpoint().await?;
    let path = path.as_ref();
    let addr = unix_addr(path, "connect_unix")?;
    let socket = new_socket(Type::STREAM, "connect_unix")?;
    let core = SocketCore::new(crate::net::socket::register(
        socket,
        SocketKind::UnixStream,
    )?);
    let action = "connecting to a UNIX socket";
    // A UNIX connect completes at once or fails at once, except when the listener's
    // backlog is full (`EAGAIN`). Nothing wakes a non-blocking socket when room appears
    // (a blocking connect sleeps in the kernel instead), so that case retries after a
    // cancellable sleep that doubles up to 50 ms.
    let mut backoff = Duration::from_millis(1);
    loop {
        let r = core.with_fd(action, |fd| SockRef::from(&fd).connect(&addr))?;
        match r {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == Some(libc::EISCONN) => break,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                crate::time::sleep(backoff).await?;
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(os_error(
                    format!("connecting to the UNIX socket {}", path.display()),
                    e,
                ));
            }
        }
    }
    Ok(UnixStream {
        core: Arc::new(core),
    })
}

impl UnixStream {
    fn from_registered(io: Registered) -> UnixStream {
        UnixStream {
            core: Arc::new(SocketCore::new(io)),
        }
    }

    /// Wraps a connected `std::os::unix::net::UnixStream` (one of a
    /// [`pair`](std::os::unix::net::UnixStream::pair), say), registering it with the
    /// backend that serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a connected UNIX stream
    /// socket; [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`]
    /// when registration fails.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> Result<UnixStream> {
        Ok(UnixStream {
            core: adopt(
                Socket::from(stream),
                Type::STREAM,
                true,
                false,
                SocketKind::UnixStream,
                "UnixStream::from_std",
            )?,
        })
    }

    /// The path this socket is bound to (empty when unbound, as a connecting socket is).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the local path", false)
    }

    /// The peer's path (empty when the peer is unbound).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn peer_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the peer path", true)
    }

    /// Sends `message` with the file descriptors `fds` attached (`SCM_RIGHTS`; AnyIO's
    /// `send_fds`). The peer receives duplicates of the fds with
    /// [`receive_fds`](Self::receive_fds); the fds here stay open.
    ///
    /// The fds travel with the first bytes of the message; when the OS takes only part
    /// of the message at first, the rest is sent as plain bytes after it.
    ///
    /// # Cancellation
    ///
    /// A checkpoint. As [`ByteSendStream::send`](crate::streams::ByteSendStream::send): a cancelled send may have sent part of
    /// the message (with the fds), and the stream then holds an incomplete message.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for an empty message, an empty fd list or more than
    /// [`MAX_FDS`] fds; [`ErrorKind::ClosedResource`] once closed (or after
    /// [`send_eof`](crate::streams::ByteStream::send_eof)); [`ErrorKind::BusyResource`] when another task
    /// is sending; [`ErrorKind::BrokenResource`] for an OS error;
    /// [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Seek, Write};
    /// use std::os::fd::AsFd;
    /// use anyio::net::UnixStream;
    ///
    /// # anyio::run(|| async {
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let (a, b) = (UnixStream::from_std(a)?, UnixStream::from_std(b)?);
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"through the socket")?;
    /// a.send_fds(b"x", &[file.as_fd()]).await?;
    /// let (msg, fds) = b.receive_fds(1, 1).await?;
    /// assert_eq!((msg.as_slice(), fds.len()), (&b"x"[..], 1));
    /// let mut received = std::fs::File::from(fds.into_iter().next().unwrap());
    /// received.rewind()?;
    /// let mut text = String::new();
    /// received.read_to_string(&mut text)?;
    /// assert_eq!(text, "through the socket");
    /// # anyio::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn send_fds<'a>(&'a self, message: &'a [u8], fds: &'a [BorrowedFd<'a>]) -> SendFds<'a> {
        let invalid = (message.is_empty() || fds.is_empty() || fds.len() > MAX_FDS).then(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "send_fds: the message must not be empty and carry 1 to {MAX_FDS} fds \
                     (got {} bytes, {} fds)",
                    message.len(),
                    fds.len()
                ),
            )
        });
        SendFds {
            core: &self.core,
            message,
            fds,
            sent: 0,
            space: Vec::new(),
            invalid,
            gate: Gate::new(),
        }
    }

    /// Receives up to `msglen` bytes and up to `maxfds` file descriptors sent with them
    /// ([`send_fds`](Self::send_fds); AnyIO's `receive_fds`). The fds are new
    /// [`OwnedFd`]s with close-on-exec set (on Linux and Android).
    ///
    /// Fds beyond `maxfds` in one message are closed by the OS, not delivered.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled (or abandoned) call takes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `msglen` or `maxfds` is 0, or `maxfds` is above
    /// [`MAX_FDS`]; [`ErrorKind::EndOfStream`] when the peer has closed and nothing
    /// arrived; [`ErrorKind::ClosedResource`], [`ErrorKind::BusyResource`],
    /// [`ErrorKind::BrokenResource`] and [`ErrorKind::Cancelled`] as for
    /// [`ByteReceiveStream::receive`](crate::streams::ByteReceiveStream::receive).
    pub fn receive_fds(&self, msglen: usize, maxfds: usize) -> ReceiveFds<'_> {
        let invalid = (msglen == 0 || maxfds == 0 || maxfds > MAX_FDS).then(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "receive_fds({msglen}, {maxfds}): msglen must be at least 1 and maxfds \
                     1 to {MAX_FDS}"
                ),
            )
        });
        ReceiveFds {
            core: &self.core,
            msglen: msglen.min(RECEIVE_LIMIT),
            maxfds,
            buf: Vec::new(),
            space: Vec::new(),
            invalid,
            gate: Gate::new(),
        }
    }
}

/// The future of [`UnixStream::send_fds`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFds<'a> {
    core: &'a SocketCore,
    message: &'a [u8],
    fds: &'a [BorrowedFd<'a>],
    /// Bytes of the message sent so far (the fds went with the first ones).
    sent: usize,
    /// The control-message space, allocated on the first attempt.
    space: Vec<MaybeUninit<u8>>,
    invalid: Option<Error>,
    gate: Gate<'a>,
}

impl fmt::Debug for SendFds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFds")
            .field("len", &self.message.len())
            .field("fds", &self.fds.len())
            .field("sent", &self.sent)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl Future for SendFds<'_> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        const ACTION: &str = "sending fds on a UNIX stream";
        let this = self.get_mut();
        if let Some(e) = this.invalid.take() {
            return Poll::Ready(Err(e));
        }
        let (core, message, fds) = (this.core, this.message, this.fds);
        let (sent, space) = (&mut this.sent, &mut this.space);
        this.gate
            .poll(cx, Some((&core.send_busy, "sending")), |cx| {
                // Relaxed: as in `poll_send`.
                if core.write_shut.load(Ordering::Relaxed) {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::ClosedResource,
                        "sending fds on a UNIX stream after send_eof",
                    )));
                }
                if space.is_empty() {
                    space.resize(
                        rustix::cmsg_space!(ScmRights(fds.len())),
                        MaybeUninit::uninit(),
                    );
                }
                while *sent < message.len() {
                    let (first, rest) = (*sent == 0, &message[*sent..]);
                    let polled = core.poll_io(Direction::Write, cx, ACTION, |fd| {
                        if first {
                            let mut control = SendAncillaryBuffer::new(space);
                            // The space was sized for exactly these fds: the push fits.
                            let _ = control.push(SendAncillaryMessage::ScmRights(fds));
                            rustix::net::sendmsg(
                                fd,
                                &[IoSlice::new(rest)],
                                &mut control,
                                SendFlags::NOSIGNAL,
                            )
                            .map_err(io::Error::from)
                        } else {
                            rustix::net::send(fd, rest, SendFlags::NOSIGNAL)
                                .map_err(io::Error::from)
                        }
                    });
                    match polled {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => match r?.map_err(|e| broken(ACTION, e)) {
                            Ok(n) => *sent += n,
                            Err(e) => return Poll::Ready(Err(e)),
                        },
                    }
                }
                Poll::Ready(Ok(()))
            })
    }
}

/// The future of [`UnixStream::receive_fds`].
#[must_use = "futures do nothing unless polled"]
pub struct ReceiveFds<'a> {
    core: &'a SocketCore,
    msglen: usize,
    maxfds: usize,
    /// The message buffer and control space, allocated on the first attempt.
    buf: Vec<u8>,
    space: Vec<MaybeUninit<u8>>,
    invalid: Option<Error>,
    gate: Gate<'a>,
}

impl fmt::Debug for ReceiveFds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiveFds")
            .field("msglen", &self.msglen)
            .field("maxfds", &self.maxfds)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl Future for ReceiveFds<'_> {
    type Output = Result<(Vec<u8>, Vec<OwnedFd>)>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        const ACTION: &str = "receiving fds from a UNIX stream";
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = RecvFlags::CMSG_CLOEXEC;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = RecvFlags::empty();
        let this = self.get_mut();
        if let Some(e) = this.invalid.take() {
            return Poll::Ready(Err(e));
        }
        let (core, msglen, maxfds) = (this.core, this.msglen, this.maxfds);
        let (buf, space) = (&mut this.buf, &mut this.space);
        let polled = this
            .gate
            .poll(cx, Some((&core.receive_busy, "receiving")), |cx| {
                if buf.is_empty() {
                    buf.resize(msglen, 0);
                    space.resize(
                        rustix::cmsg_space!(ScmRights(maxfds)),
                        MaybeUninit::uninit(),
                    );
                }
                core.poll_io(Direction::Read, cx, ACTION, |fd| {
                    let mut control = RecvAncillaryBuffer::new(space);
                    let msg =
                        rustix::net::recvmsg(fd, &mut [IoSliceMut::new(buf)], &mut control, flags)?;
                    let mut fds = Vec::new();
                    for m in control.drain() {
                        if let RecvAncillaryMessage::ScmRights(received) = m {
                            fds.extend(received);
                        }
                    }
                    Ok((msg.bytes, fds))
                })
                .map(|r| r?.map_err(|e| broken(ACTION, e)))
            });
        polled.map(|r| {
            let (n, fds) = r?;
            if n == 0 && fds.is_empty() {
                return Err(eof());
            }
            let mut data = std::mem::take(&mut this.buf);
            data.truncate(n);
            Ok((data, fds))
        })
    }
}

byte_stream_impls!(UnixStream, "UNIX stream");

// ---------------------------------------------------------------------------------------
// Listeners.

/// A listening UNIX stream socket (AnyIO's `UNIXSocketListener`): a [`Listener`] of
/// [`UnixStream`]s.
///
/// Clones are handles to one listener; closing any closes it for all (waking a blocked
/// `accept`). Closing does not remove the socket file: [`create_unix_listener`] removes a
/// stale one the next time.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalPath`](super::attr::LocalPath),
/// [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct UnixListener {
    core: Arc<SocketCore>,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.local_path().ok())
            .finish()
    }
}

const ACCEPTING: &str = "accepting on a UNIX listener";

impl UnixListener {
    /// Wraps a listening `std::os::unix::net::UnixListener`, registering it with the
    /// backend that serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a listening UNIX stream
    /// socket; [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`]
    /// when registration fails.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> Result<UnixListener> {
        Ok(UnixListener {
            core: adopt(
                Socket::from(listener),
                Type::STREAM,
                false,
                true,
                SocketKind::UnixListener,
                "UnixListener::from_std",
            )?,
        })
    }

    /// The path the listener is bound to.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the local path", false)
    }
}

impl Listener<UnixStream> for UnixListener {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<UnixStream>> {
        self.core
            .poll_accept(cx, ACCEPTING)
            .map_ok(UnixStream::from_registered)
    }

    fn accept_busy(&self) -> &BusyFlag {
        &self.core.receive_busy
    }
}

/// A UNIX listener to be created: built by [`create_unix_listener`], configured with its
/// methods, created by `.await`.
#[must_use = "the listener is created only when this is awaited"]
#[derive(Debug)]
pub struct CreateUnixListener {
    path: PathBuf,
    mode: Option<u32>,
    backlog: u32,
}

/// Creates a UNIX stream listener bound to `path` (AnyIO's `create_unix_listener`).
///
/// A stale socket file at `path` (left by a listener that did not clean up) is removed
/// first; any other file there (a regular file, say) is left alone and the bind fails.
/// `"\0name"` listens in the abstract namespace (Linux, Android). The backlog (default and
/// maximum [`MAX_BACKLOG`](super::MAX_BACKLOG)) is clamped.
///
/// # Cancellation
///
/// A checkpoint.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a path too long; [`ErrorKind::Io`] from the OS (a
/// file in the way: `AddrInUse`), with the `io::Error` as the source;
/// [`ErrorKind::Cancelled`].
pub fn create_unix_listener(path: impl AsRef<Path>) -> CreateUnixListener {
    CreateUnixListener {
        path: path.as_ref().to_owned(),
        mode: None,
        backlog: super::MAX_BACKLOG,
    }
}

impl CreateUnixListener {
    /// The permissions of the socket file (`0o600`, say), set after binding.
    pub fn mode(mut self, mode: u32) -> CreateUnixListener {
        self.mode = Some(mode);
        self
    }

    /// The listen backlog, clamped to [`MAX_BACKLOG`](super::MAX_BACKLOG).
    pub fn backlog(mut self, backlog: u32) -> CreateUnixListener {
        self.backlog = backlog.min(super::MAX_BACKLOG);
        self
    }

    async fn create(self) -> Result<UnixListener> {
        crate::lowlevel::checkpoint().await?;
        let what = "create_unix_listener";
        let addr = unix_addr(&self.path, what)?;
        let action = || format!("creating a UNIX listener on {}", self.path.display());
        remove_stale_socket(&self.path)?;
        let socket = new_socket(Type::STREAM, what)?;
        socket.bind(&addr).map_err(|e| os_error(action(), e))?;
        if let Some(mode) = self.mode {
            chmod(&self.path, mode)?;
        }
        // `backlog` is at most MAX_BACKLOG, which fits an i32.
        socket
            .listen(self.backlog as i32)
            .map_err(|e| os_error(action(), e))?;
        Ok(UnixListener {
            core: SocketCore::open(socket, SocketKind::UnixListener)?,
        })
    }
}

impl IntoFuture for CreateUnixListener {
    type Output = Result<UnixListener>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<UnixListener>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

// ---------------------------------------------------------------------------------------
// Datagram sockets.

const DGRAM_RECEIVING: &str = "receiving from a UNIX datagram socket";
const DGRAM_SENDING: &str = "sending on a UNIX datagram socket";

/// An unconnected UNIX datagram socket (AnyIO's `UNIXDatagramSocket`): an unreliable
/// object stream of `(datagram, sender path)` pairs.
///
/// Clones, closing and cancellation as for [`UdpSocket`](super::UdpSocket): a receive
/// takes one whole datagram or nothing.
///
/// # Typed attributes
///
/// [`SocketFamily`](super::attr::SocketFamily), [`LocalPath`](super::attr::LocalPath),
/// [`RawSocket`](super::attr::RawSocket).
#[derive(Clone)]
pub struct UnixDatagram {
    core: Arc<SocketCore>,
    /// The state of this handle's `Stream` of received datagrams.
    stream: StreamRecv,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local", &self.local_path().ok())
            .finish()
    }
}

impl UnixDatagram {
    /// Wraps a `std::os::unix::net::UnixDatagram`, registering it with the backend that
    /// serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a UNIX datagram socket;
    /// [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`] when
    /// registration fails.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> Result<UnixDatagram> {
        Ok(UnixDatagram {
            core: adopt(
                Socket::from(socket),
                Type::DGRAM,
                false,
                false,
                SocketKind::UnixDatagram,
                "UnixDatagram::from_std",
            )?,
            stream: StreamRecv::default(),
        })
    }

    /// Receives one datagram and its sender's path (empty for an unbound sender).
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled (or abandoned) receive takes no datagram.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::receive`](super::UdpSocket::receive).
    pub fn receive(&self) -> UnixReceiveFrom<'_> {
        UnixReceiveFrom {
            state: RecvState::new(&self.core, None, DGRAM_RECEIVING),
        }
    }

    /// Sends `data` as one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a path too long or a datagram too large; as
    /// [`UdpSocket::send_to`](super::UdpSocket::send_to) otherwise (no socket at `path`:
    /// [`ErrorKind::BrokenResource`] with the `io::Error` as the source).
    pub fn send_to<'a>(&'a self, data: &'a [u8], path: impl AsRef<Path>) -> SendDatagram<'a> {
        let to = unix_addr(path.as_ref(), DGRAM_SENDING);
        SendDatagram::new(&self.core, data, Some(to), DGRAM_SENDING)
    }

    /// The path this socket is bound to (empty when unbound).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the local path", false)
    }
}

datagram_socket!(
    UnixDatagram,
    item: (Vec<u8>, PathBuf),
    items: "Received datagrams and their senders' paths",
    max: None,
    receiving: DGRAM_RECEIVING,
    from: with_unix_sender,
    send: |socket, item| socket.send_to(&item.0, &item.1),
    errors: "",
);

/// A UNIX datagram socket connected to one peer (AnyIO's `ConnectedUNIXDatagramSocket`):
/// an unreliable object stream of datagrams.
///
/// On Linux, a connected pair ([`pair`](Self::pair)) loses nothing: a sender waits while
/// the peer's queue is full.
///
/// # Typed attributes
///
/// As [`UnixDatagram`], plus [`RemotePath`](super::attr::RemotePath).
#[derive(Clone)]
pub struct ConnectedUnixDatagram {
    core: Arc<SocketCore>,
    /// The state of this handle's `Stream` of received datagrams.
    stream: StreamRecv,
}

impl fmt::Debug for ConnectedUnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedUnixDatagram")
            .field("local", &self.local_path().ok())
            .field("remote", &self.peer_path().ok())
            .finish()
    }
}

impl ConnectedUnixDatagram {
    /// Wraps a connected `std::os::unix::net::UnixDatagram`, registering it with the
    /// backend that serves this call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the socket is not a connected UNIX datagram
    /// socket; [`ErrorKind::NoEventLoop`] outside any async context; [`ErrorKind::Io`]
    /// when registration fails.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> Result<ConnectedUnixDatagram> {
        Ok(ConnectedUnixDatagram {
            core: adopt(
                Socket::from(socket),
                Type::DGRAM,
                true,
                false,
                SocketKind::UnixDatagram,
                "ConnectedUnixDatagram::from_std",
            )?,
            stream: StreamRecv::default(),
        })
    }

    /// Two unbound datagram sockets connected to each other (`socketpair`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] from the OS; [`ErrorKind::NoEventLoop`] outside any async
    /// context.
    pub fn pair() -> Result<(ConnectedUnixDatagram, ConnectedUnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()
            .map_err(|e| os_error("creating a UNIX datagram pair", e))?;
        Ok((
            ConnectedUnixDatagram::from_std(a)?,
            ConnectedUnixDatagram::from_std(b)?,
        ))
    }

    /// Receives one datagram from the peer.
    ///
    /// # Cancellation
    ///
    /// A checkpoint; a cancelled (or abandoned) receive takes no datagram.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::receive`](super::UdpSocket::receive).
    pub fn receive(&self) -> ReceiveDatagram<'_> {
        ReceiveDatagram {
            state: RecvState::new(&self.core, None, DGRAM_RECEIVING),
        }
    }

    /// Sends `data` as one datagram to the peer.
    ///
    /// # Errors
    ///
    /// As [`UnixDatagram::send_to`].
    pub fn send<'a>(&'a self, data: &'a [u8]) -> SendDatagram<'a> {
        SendDatagram::new(&self.core, data, None, DGRAM_SENDING)
    }

    /// The path this socket is bound to (empty when unbound).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn local_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the local path", false)
    }

    /// The peer's path (empty when the peer is unbound).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] once closed; [`ErrorKind::Io`] from the OS.
    pub fn peer_path(&self) -> Result<PathBuf> {
        path_of(&self.core, "reading the peer path", true)
    }
}

datagram_socket!(
    ConnectedUnixDatagram,
    item: Vec<u8>,
    items: "Received datagrams",
    max: None,
    receiving: DGRAM_RECEIVING,
    from: data_only,
    send: |socket, item| ConnectedUnixDatagram::send(socket, item),
    errors: "",
);

socket_common!(
    UnixStream,
    UnixListener,
    UnixDatagram,
    ConnectedUnixDatagram
);
socket_methods!(UnixStream, "stream": aclose, is_closed, with_fd);
socket_methods!(UnixListener, "listener": aclose);

/// A UNIX datagram socket to be created: built by [`create_unix_datagram_socket`],
/// configured with its methods, created by `.await`.
#[must_use = "the socket is created only when this is awaited"]
#[derive(Debug, Default)]
pub struct CreateUnixDatagram {
    local_path: Option<PathBuf>,
    local_mode: Option<u32>,
}

/// Creates an unconnected UNIX datagram socket (AnyIO's `create_unix_datagram_socket`),
/// bound to [`local_path`](CreateUnixDatagram::local_path) when given (a stale socket
/// file there is removed first), unbound otherwise (it can send, but receives no
/// replies).
///
/// # Cancellation
///
/// A checkpoint.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a path too long; [`ErrorKind::Io`] from the OS;
/// [`ErrorKind::Cancelled`].
pub fn create_unix_datagram_socket() -> CreateUnixDatagram {
    CreateUnixDatagram::default()
}

impl CreateUnixDatagram {
    /// Binds the socket to this path (`"\0name"`: abstract).
    pub fn local_path(mut self, path: impl AsRef<Path>) -> CreateUnixDatagram {
        self.local_path = Some(path.as_ref().to_owned());
        self
    }

    /// The permissions of the bound socket file, set after binding.
    pub fn local_mode(mut self, mode: u32) -> CreateUnixDatagram {
        self.local_mode = Some(mode);
        self
    }

    fn socket(&self, what: &str) -> Result<Socket> {
        let local = match &self.local_path {
            Some(p) => Some((p, unix_addr(p, what)?)),
            None => None,
        };
        let socket = new_socket(Type::DGRAM, what)?;
        if let Some((path, addr)) = local {
            remove_stale_socket(path)?;
            socket
                .bind(&addr)
                .map_err(|e| os_error(format!("{what}: binding to {}", path.display()), e))?;
            if let Some(mode) = self.local_mode {
                chmod(path, mode)?;
            }
        }
        Ok(socket)
    }

    async fn create(self) -> Result<UnixDatagram> {
        crate::lowlevel::checkpoint().await?;
        let socket = self.socket("create_unix_datagram_socket")?;
        Ok(UnixDatagram {
            core: SocketCore::open(socket, SocketKind::UnixDatagram)?,
            stream: StreamRecv::default(),
        })
    }
}

impl IntoFuture for CreateUnixDatagram {
    type Output = Result<UnixDatagram>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<UnixDatagram>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}

/// A connected UNIX datagram socket to be created: built by
/// [`create_connected_unix_datagram_socket`], configured with its methods, created by
/// `.await`.
#[must_use = "the socket is created only when this is awaited"]
#[derive(Debug)]
pub struct CreateConnectedUnixDatagram {
    remote_path: PathBuf,
    local: CreateUnixDatagram,
}

/// Creates a UNIX datagram socket connected to the socket at `remote_path` (AnyIO's
/// `create_connected_unix_datagram_socket`), bound to
/// [`local_path`](CreateConnectedUnixDatagram::local_path) when given.
///
/// # Cancellation
///
/// A checkpoint.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a path too long; [`ErrorKind::Io`] from the OS (no
/// socket at `remote_path`: `NotFound` or `ConnectionRefused`); [`ErrorKind::Cancelled`].
pub fn create_connected_unix_datagram_socket(
    remote_path: impl AsRef<Path>,
) -> CreateConnectedUnixDatagram {
    CreateConnectedUnixDatagram {
        remote_path: remote_path.as_ref().to_owned(),
        local: CreateUnixDatagram::default(),
    }
}

impl CreateConnectedUnixDatagram {
    /// Binds the socket to this path before connecting.
    pub fn local_path(mut self, path: impl AsRef<Path>) -> CreateConnectedUnixDatagram {
        self.local.local_path = Some(path.as_ref().to_owned());
        self
    }

    /// The permissions of the bound socket file.
    pub fn local_mode(mut self, mode: u32) -> CreateConnectedUnixDatagram {
        self.local.local_mode = Some(mode);
        self
    }

    async fn create(self) -> Result<ConnectedUnixDatagram> {
        crate::lowlevel::checkpoint().await?;
        let what = "create_connected_unix_datagram_socket";
        let remote = unix_addr(&self.remote_path, what)?;
        let socket = self.local.socket(what)?;
        socket.connect(&remote).map_err(|e| {
            os_error(
                format!("{what}: connecting to {}", self.remote_path.display()),
                e,
            )
        })?;
        Ok(ConnectedUnixDatagram {
            core: SocketCore::open(socket, SocketKind::UnixDatagram)?,
            stream: StreamRecv::default(),
        })
    }
}

impl IntoFuture for CreateConnectedUnixDatagram {
    type Output = Result<ConnectedUnixDatagram>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<ConnectedUnixDatagram>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.create())
    }
}
