//! Name resolution: `getaddrinfo` and `getnameinfo`, run on a worker thread so the
//! executor never blocks, with IDNA for unicode host names.

use std::net::{IpAddr, SocketAddr};

use crate::error::{Error, ErrorKind, Result};
use crate::to_thread;

/// Converts a host name to the ASCII form DNS understands (IDNA 2008 with UTS #46
/// compatibility, as AnyIO 4.14 does): `"bücher.example"` → `"xn--bcher-kva.example"`.
/// ASCII names are returned as they are.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a name IDNA rejects.
pub(crate) fn to_ascii_host(host: &str) -> Result<String> {
    if host.is_ascii() {
        return Ok(host.to_owned());
    }
    idna::domain_to_ascii_strict(host).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("the host name {host:?} is not a valid international domain name ({e})"),
        )
    })
}

/// Parses an IP literal, with or without the brackets of an IPv6 URL host (`"[::1]"`).
pub(crate) fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves `host` to the socket addresses of its stream (TCP) endpoints at `port`, in
/// the order the system's resolver prefers (RFC 6724), without duplicates (AnyIO's
/// `getaddrinfo`, for stream sockets).
///
/// An IP literal is returned as it is, without a lookup. Other names are converted with
/// IDNA first, then looked up by the C library's `getaddrinfo` (with `AI_ADDRCONFIG`: only
/// families the host has an address of) on a worker thread, so the event loop never
/// blocks.
///
/// # Cancellation
///
/// A checkpoint. A cancelled lookup returns at once; its worker thread finishes the
/// lookup on its own and the result is dropped.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for a host name IDNA rejects or that contains a NUL;
/// [`ErrorKind::Io`] when the name cannot be resolved (the source is the resolver's
/// `io::Error`); [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let addrs = anyio::net::getaddrinfo("localhost", 80).await?;
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub async fn getaddrinfo(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    crate::lowlevel::checkpoint().await?;
    if let Some(ip) = parse_ip(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let ascii = to_ascii_host(host)?;
    if ascii.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a host name must not contain a NUL byte",
        ));
    }
    let shown = host.to_owned();
    let lookup = move || resolve_blocking(&ascii, port);
    let found = to_thread::Builder::new()
        .abandon_on_cancel(true)
        .run_sync(lookup)
        .await?;
    found.map_err(|e| {
        Error::with_source(
            ErrorKind::Io,
            format!("resolving the host name {shown:?}"),
            e,
        )
    })
}

fn resolve_blocking(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_ADDRCONFIG,
        address: libc::AF_UNSPEC,
        socktype: libc::SOCK_STREAM,
        protocol: 0,
    };
    let service = port.to_string();
    let mut out: Vec<SocketAddr> = Vec::new();
    for info in dns_lookup::getaddrinfo(Some(host), Some(&service), Some(hints))? {
        let addr = info?.sockaddr;
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

/// Looks up the host name and service name of a socket address (AnyIO's `getnameinfo`),
/// on a worker thread. Where there is no name, the numeric form is returned.
///
/// # Cancellation
///
/// As [`getaddrinfo`].
///
/// # Errors
///
/// [`ErrorKind::Io`] when the lookup fails; [`ErrorKind::Cancelled`].
///
/// # Examples
///
/// ```
/// # anyio::run(|| async {
/// let (host, service) = anyio::net::getnameinfo("127.0.0.1:22".parse().unwrap()).await?;
/// assert!(!host.is_empty() && !service.is_empty());
/// # anyio::Ok(())
/// # }).unwrap();
/// ```
pub async fn getnameinfo(addr: SocketAddr) -> Result<(String, String)> {
    crate::lowlevel::checkpoint().await?;
    let found = to_thread::Builder::new()
        .abandon_on_cancel(true)
        .run_sync(move || dns_lookup::getnameinfo(&addr, 0))
        .await?;
    found.map_err(|e| {
        Error::with_source(
            ErrorKind::Io,
            format!("looking up the name of {addr}"),
            std::io::Error::from(e),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_ip, to_ascii_host};

    #[test]
    fn unicode_names_become_punycode() {
        assert_eq!(
            to_ascii_host("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(to_ascii_host("plain.example").unwrap(), "plain.example");
        assert!(to_ascii_host(&format!("{}ü.example", "a".repeat(70))).is_err());
    }

    #[test]
    fn ip_literals_with_or_without_brackets() {
        assert_eq!(parse_ip("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip("::1"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("localhost"), None);
    }
}
