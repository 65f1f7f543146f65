//! Free ports for tests (AnyIO 4.9's `free_tcp_port` and `free_udp_port` fixtures).
//!
//! A port is *free* when a socket of its kind could bind it on `127.0.0.1` and, where this
//! machine has IPv6 loopback, on `::1` too, at the moment it was found: the probe sockets
//! are closed before the port is returned, so another process may still take it before
//! the test binds it (as with AnyIO's fixtures, that window is small and rarely hit).
//! One factory never hands out the same port twice.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, ErrorKind, Result};

/// How many ports a factory probes before it gives up.
const ATTEMPTS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
}

/// Finds free ports of one kind (TCP or UDP) and never returns the same one twice (AnyIO's
/// `FreePortFactory`).
///
/// # Examples
///
/// ```
/// use anyio::testing::FreePortFactory;
///
/// let ports = FreePortFactory::tcp();
/// let (a, b) = (ports.next()?, ports.next()?);
/// assert_ne!(a, b);
/// let listener = std::net::TcpListener::bind(("127.0.0.1", a))?;
/// # drop(listener);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FreePortFactory {
    kind: Kind,
    given: Mutex<HashSet<u16>>,
}

impl FreePortFactory {
    /// A factory of TCP ports.
    pub fn tcp() -> FreePortFactory {
        FreePortFactory::new(Kind::Tcp)
    }

    /// A factory of UDP ports.
    pub fn udp() -> FreePortFactory {
        FreePortFactory::new(Kind::Udp)
    }

    fn new(kind: Kind) -> FreePortFactory {
        FreePortFactory {
            kind,
            given: Mutex::new(HashSet::new()),
        }
    }

    /// Every port this factory has handed out.
    pub fn given(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.lock().iter().copied().collect();
        ports.sort_unstable();
        ports
    }

    /// A port free on `127.0.0.1` (and on `::1` where IPv6 loopback exists) that this
    /// factory has not handed out before.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when no loopback socket can be bound at all (the source kept), or
    /// when no new free port turned up in a few hundred tries.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&self) -> Result<u16> {
        // The probes stay open while we search, so the OS does not offer them again.
        let mut held = Vec::new();
        for _ in 0..ATTEMPTS {
            let probe = self.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
            let port = probe.port;
            held.push(probe);
            if self.lock().contains(&port) {
                continue;
            }
            if ipv6_loopback() {
                match self.bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
                    Ok(v6) => held.push(v6),
                    Err(_) => continue,
                }
            }
            if self.lock().insert(port) {
                return Ok(port);
            }
        }
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "finding a free {:?} port: no new one in {ATTEMPTS} tries",
                self.kind
            ),
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u16>> {
        // One set insertion at a time: a poisoned lock still holds a consistent set.
        self.given.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bind(&self, addr: SocketAddr) -> Result<Probe> {
        let bound = match self.kind {
            Kind::Tcp => TcpListener::bind(addr).and_then(|s| Ok((s.local_addr()?, Held::Tcp(s)))),
            Kind::Udp => UdpSocket::bind(addr).and_then(|s| Ok((s.local_addr()?, Held::Udp(s)))),
        };
        let (local, socket) = bound.map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("binding a {:?} probe socket to {addr}", self.kind),
                e,
            )
        })?;
        Ok(Probe {
            port: local.port(),
            _socket: socket,
        })
    }
}

struct Probe {
    port: u16,
    _socket: Held,
}

enum Held {
    Tcp(#[allow(dead_code)] TcpListener),
    Udp(#[allow(dead_code)] UdpSocket),
}

/// Whether `::1` can be bound here (checked once per process).
fn ipv6_loopback() -> bool {
    static V6: OnceLock<bool> = OnceLock::new();
    *V6.get_or_init(|| UdpSocket::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).is_ok())
}

/// A TCP port free on the loopback addresses, never the same twice in this process
/// (AnyIO's `free_tcp_port` fixture, backed by one process-wide [`FreePortFactory`]).
///
/// # Errors
///
/// As [`FreePortFactory::next`].
///
/// # Examples
///
/// ```
/// let port = anyio::testing::free_tcp_port()?;
/// let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
/// # drop(listener);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn free_tcp_port() -> Result<u16> {
    static TCP: OnceLock<FreePortFactory> = OnceLock::new();
    TCP.get_or_init(FreePortFactory::tcp).next()
}

/// A UDP port free on the loopback addresses, never the same twice in this process
/// (AnyIO's `free_udp_port` fixture).
///
/// # Errors
///
/// As [`FreePortFactory::next`].
pub fn free_udp_port() -> Result<u16> {
    static UDP: OnceLock<FreePortFactory> = OnceLock::new();
    UDP.get_or_init(FreePortFactory::udp).next()
}
