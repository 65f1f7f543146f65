//! Free ports (`anyio::testing::{free_tcp_port, free_udp_port, FreePortFactory}`): each is
//! bindable on the loopback addresses when handed out, and one factory never hands out a
//! port twice.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use anyio::net::{connect_tcp, create_tcp_listener};
use anyio::streams::Listener;
use anyio::testing::{FreePortFactory, free_tcp_port, free_udp_port};

fn ipv6_loopback() -> bool {
    UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// A TCP port from `free_tcp_port` takes an anyio listener on 127.0.0.1 that a client
/// reaches, on each backend.
#[anyio::test]
async fn free_tcp_port_takes_a_listener() -> anyio::Result<()> {
    let port = free_tcp_port()?;
    assert_ne!(port, 0);
    let listener = create_tcp_listener()
        .local_host("127.0.0.1")
        .local_port(port)
        .await?;
    assert_eq!(listener.listeners()[0].local_addr()?.port(), port);
    let _client = connect_tcp("127.0.0.1", port).await?;
    let _server = listener.accept().await?;
    Ok(())
}

/// TCP ports bind on both loopback addresses (IPv6 where this machine has it).
#[test]
fn tcp_ports_bind_on_both_loopbacks() {
    let ports = FreePortFactory::tcp();
    for _ in 0..20 {
        let port = ports.next().unwrap();
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("127.0.0.1");
        if ipv6_loopback() {
            let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).expect("::1");
            drop(v6);
        }
        drop(v4);
    }
}

/// UDP ports bind on both loopback addresses too.
#[test]
fn udp_ports_bind_on_both_loopbacks() {
    for _ in 0..20 {
        let port = free_udp_port().unwrap();
        let v4 = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("127.0.0.1");
        if ipv6_loopback() {
            let v6 = UdpSocket::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).expect("::1");
            drop(v6);
        }
        drop(v4);
    }
}

/// One factory never repeats a port, even while nothing holds the earlier ones (the OS
/// would happily offer them again); `given` lists them all.
#[test]
fn a_factory_never_repeats_a_port() {
    for factory in [FreePortFactory::tcp(), FreePortFactory::udp()] {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let port = factory.next().unwrap();
            assert!(
                seen.insert(port),
                "port {port} handed out twice by {factory:?}"
            );
        }
        let mut given = factory.given();
        given.sort_unstable();
        let mut seen: Vec<u16> = seen.into_iter().collect();
        seen.sort_unstable();
        assert_eq!(given, seen);
    }
}

/// The process-wide functions share one factory per kind, across threads.
#[test]
fn free_port_functions_never_repeat_across_threads() {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..25)
                    .map(|_| free_tcp_port().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        for port in t.join().unwrap() {
            assert!(all.insert(port), "port {port} handed out twice");
        }
    }
    assert_eq!(all.len(), 100);
}
