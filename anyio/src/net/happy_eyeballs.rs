//! Happy eyeballs (RFC 8305): connecting to the first address of a host that answers,
//! trying its addresses in a staggered race.
//!
//! # The ordering
//!
//! The resolver's order (RFC 6724 preference) is kept within each family, and the
//! families are interleaved, IPv6 first: `v6₁ v4₁ v6₂ v4₂ …` (RFC 8305 §4). So a host
//! whose IPv6 path is broken costs one stagger delay, not one connect timeout per IPv6
//! address.
//!
//! # The race
//!
//! Attempt *n+1* starts when attempt *n* has been pending for the stagger delay (250 ms
//! by default, RFC 8305's recommendation) **or as soon as any attempt fails**. The first
//! attempt to connect wins; the others are cancelled, and their sockets closed, before
//! `connect_tcp` returns (they run as children of a task group, which waits for them).
//! When every attempt fails, the error lists each address with its `io::Error`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Poll, ready};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::backend::io::{Direction, SocketKind};
use crate::error::{Error, ErrorKind, Result};
use crate::net::TcpStream;
use crate::streams::bytes::{Gate, os_error};
use crate::sync::Event;

/// Orders `addrs` for happy eyeballs: each family in its given order, the families
/// interleaved, IPv6 first.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let mut out = Vec::with_capacity(v6.len() + v4.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Every failed attempt of a `connect_tcp` that found no address to connect to: the
/// [`source`](std::error::Error::source) of its error when there was more than one address.
///
/// # Examples
///
/// ```
/// use anyio::net::{connect_tcp_addrs, ConnectErrors};
///
/// # anyio::run(|| async {
/// // Two closed ports.
/// let a = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
/// let b = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
/// let err = connect_tcp_addrs([a, b]).await.unwrap_err();
/// let all = err.source_as::<ConnectErrors>().unwrap();
/// assert_eq!(all.errors().len(), 2);
/// assert!(all.errors().iter().all(|(_, e)| e.kind() == std::io::ErrorKind::ConnectionRefused));
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ConnectErrors {
    errors: Vec<(SocketAddr, io::Error)>,
}

impl ConnectErrors {
    /// Each address tried, in the order the attempts failed, with its error.
    pub fn errors(&self) -> &[(SocketAddr, io::Error)] {
        &self.errors
    }
}

impl fmt::Display for ConnectErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (addr, e)) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{addr}: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectErrors {}

#[derive(Default)]
struct Race {
    winner: Option<TcpStream>,
    errors: Vec<(SocketAddr, io::Error)>,
    /// Set by any failure: starts the next attempt without waiting for the delay.
    kick: Event,
}

/// One address: no race to run, so no task group (a connect costs what it costs).
pub(crate) async fn connect_one(
    remote: SocketAddr,
    local: Option<SocketAddr>,
    host: &crate::net::tcp::Shown,
) -> Result<TcpStream> {
    match attempt(remote, local).await {
        Ok(stream) => Ok(stream),
        Err(Failed::Os(e)) => Err(os_error(format!("connecting to {host} ({remote})"), e)),
        Err(Failed::Anyio(e)) => Err(e),
    }
}

/// Races connections to `targets` (already ordered; each with the local address to bind,
/// if any), `delay` apart.
pub(crate) async fn race(
    targets: Vec<(SocketAddr, Option<SocketAddr>)>,
    delay: Duration,
    host: &crate::net::tcp::Shown,
) -> Result<TcpStream> {
    if let [(remote, local)] = targets[..] {
        return connect_one(remote, local, host).await;
    }
    let race = Arc::new(Mutex::new(Race::default()));
    let shared = race.clone();
    let count = targets.len();
    crate::task_group(|tg| async move {
        for (i, (remote, local)) in targets.into_iter().enumerate() {
            let kick = Event::new();
            shared.lock().unwrap_or_else(|p| p.into_inner()).kick = kick.clone();
            let (race, scope) = (shared.clone(), tg.cancel_scope());
            tg.start_soon(async move {
                match attempt(remote, local).await {
                    Ok(stream) => {
                        let mut race = race.lock().unwrap_or_else(|p| p.into_inner());
                        if race.winner.is_none() {
                            race.winner = Some(stream);
                            scope.cancel();
                        } // else a second winner: dropping it closes it
                        Ok(())
                    }
                    Err(Failed::Os(e)) => {
                        let mut r = race.lock().unwrap_or_else(|p| p.into_inner());
                        r.errors.push((remote, e));
                        r.kick.set();
                        Ok(())
                    }
                    Err(Failed::Anyio(e)) => Err(e),
                }
            })?;
            if i + 1 < count {
                // The next attempt starts after the delay, or at once if one fails.
                crate::move_on_after(delay, kick.wait()).await?;
            }
        }
        crate::Ok(())
    })
    .await?;
    let mut race = race.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stream) = race.winner.take() {
        return Ok(stream);
    }
    let mut errors = std::mem::take(&mut race.errors);
    match errors.len() {
        0 => Err(Error::new(
            ErrorKind::Io,
            format!("connecting to {host}: no address to try"),
        )),
        1 => {
            let (addr, e) = errors.remove(0);
            Err(os_error(format!("connecting to {host} ({addr})"), e))
        }
        n => Err(Error::with_source(
            ErrorKind::Io,
            format!("connecting to {host}: all {n} attempts failed"),
            ConnectErrors { errors },
        )),
    }
}

enum Failed {
    /// This address failed: the next one is tried.
    Os(io::Error),
    /// Not the address's fault (cancellation, no event loop): the race stops.
    Anyio(Error),
}

/// One connection attempt: a non-blocking `connect`, then a wait until the socket is
/// writable and `SO_ERROR` says how it went.
async fn attempt(
    remote: SocketAddr,
    local: Option<SocketAddr>,
) -> std::result::Result<TcpStream, Failed> {
    let socket = Socket::new(
        Domain::for_address(remote),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(Failed::Os)?;
    socket.set_nonblocking(true).map_err(Failed::Os)?;
    if let Some(local) = local {
        socket.bind(&local.into()).map_err(Failed::Os)?;
    }
    match socket.connect(&remote.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(Failed::Os(e)),
    }
    let _ = socket.set_tcp_nodelay(true);
    let io = crate::net::socket::register(socket, SocketKind::TcpStream).map_err(Failed::Anyio)?;
    let stream = TcpStream::from_registered(io);
    let mut gate = Gate::new();
    let mut writable = false;
    let connected = std::future::poll_fn(|cx| {
        gate.poll(cx, None, |cx| {
            let core = stream.core();
            if !writable {
                // The connect is checked once its writability event came, as tokio's and
                // async-io's own connects do (tokio always waits: its readiness is only
                // ever an event). Checking at once, before the event, answered sooner on
                // loopback, but the kernel's receive-buffer tuning of such a connection
                // then tipped three times as often into its large, slow state (see
                // docs/decisions.md, "A connect is checked after its writability event").
                match ready!(core.poll_ready(Direction::Write, cx, "connecting")) {
                    Ok(Ok(())) => writable = true,
                    Ok(Err(e)) => return Poll::Ready(Ok(Err(e))),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            core.poll_io(Direction::Write, cx, "connecting", connect_state)
        })
    })
    .await
    .map_err(Failed::Anyio)?;
    match connected {
        Ok(()) => Ok(stream),
        Err(e) => Err(Failed::Os(e)),
    }
}

/// Where a non-blocking connect is: done (`Ok`), failed (its error), or still in progress
/// (`WouldBlock`, so the caller waits for writability again).
fn connect_state(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    let sock = SockRef::from(&fd);
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    match sock.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::interleave;
    use std::net::SocketAddr;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_interleave_ipv6_first() {
        let given = vec![
            a("1.1.1.1:1"),
            a("2.2.2.2:1"),
            a("3.3.3.3:1"),
            a("[::1]:1"),
            a("[::2]:1"),
        ];
        let want = vec![
            a("[::1]:1"),
            a("1.1.1.1:1"),
            a("[::2]:1"),
            a("2.2.2.2:1"),
            a("3.3.3.3:1"),
        ];
        assert_eq!(interleave(given), want);
        assert_eq!(interleave(vec![]), vec![]);
        assert_eq!(interleave(vec![a("1.1.1.1:1")]), vec![a("1.1.1.1:1")]);
    }
}
