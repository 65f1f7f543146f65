//! The networking scenarios that the socket kinds' tests share (issue 9), written once here
//! instead of copied per socket kind.
//!
//! - **Set-up and helpers:** [`on_ipv6`] (skip on a host without `::1`) and
//!   [`on_both_families!`] (a test on each IP family); `receive_all` is
//!   `support`'s, re-exported.
//! - **Closing from another task** ([`close_wakes`]): a call blocked on a socket (receive,
//!   send, accept, `next()` …) is woken by a close in another task and fails with
//!   `ClosedResource`.
//! - **Busy** ([`second_is_busy`]): a second call in the same direction, while a first one
//!   waits, is `BusyResource` (naming the direction) and leaves the first unaffected.
//! - **Byte streams** (TCP and UNIX, generic over [`ByteStream`]): end of stream in one
//!   direction only ([`send_eof_ends_one_direction`]), a large send
//!   ([`large_send_arrives_whole`]), abandoned receives ([`abandoned_receives_take_nothing`]),
//!   receives under random deadlines ([`random_cancellation_loses_no_byte`]).
//! - **Datagrams:** numbered datagrams under random deadlines over a connected UNIX
//!   datagram pair, through `receive` or the `Stream` ([`paced_datagrams_arrive_once`]).
//!
//! A test file includes this module with `#[path = "support/net.rs"] mod net_support;` next to
//! `mod support;`, and keeps its `#[anyio::test]`s (named for the behaviour, run on both
//! backends) calling these.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use anyio::net::ConnectedUnixDatagram;
use anyio::streams::ByteStream;
use anyio::testing::wait_all_tasks_blocked;
use anyio::{ErrorKind, task_group};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;

pub use crate::support::receive_all;
use crate::support::{Rng, kind};

/// True when this host has an IPv6 loopback address.
pub fn ipv6_available() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

/// Runs `scenario` on `"::1"`, or skips it (saying so) on a host without IPv6.
pub async fn on_ipv6<F>(scenario: impl FnOnce(&'static str) -> F) -> anyio::Result<()>
where
    F: Future<Output = anyio::Result<()>>,
{
    if !ipv6_available() {
        eprintln!("skipped: no ::1 on this host");
        return Ok(());
    }
    scenario("::1").await
}

/// Two `#[anyio::test]`s, `$v4` and `$v6`, running `$scenario(host)` on `127.0.0.1` and
/// on `::1` (skipped on a host without IPv6).
#[allow(unused_macros)] // not every file that includes this module tests IP sockets
macro_rules! on_both_families {
    ($v4:ident, $v6:ident, $scenario:expr) => {
        #[anyio::test]
        async fn $v4() -> anyio::Result<()> {
            ($scenario)("127.0.0.1").await
        }

        #[anyio::test]
        async fn $v6() -> anyio::Result<()> {
            net_support::on_ipv6($scenario).await
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_families;

/// Runs `blocked` in a task of its own; once every task is blocked, runs `close` here (in
/// another task) and checks that the blocked call was woken with `ClosedResource`.
pub async fn close_wakes<T: std::fmt::Debug + Send + 'static>(
    blocked: impl Future<Output = anyio::Result<T>> + Send + 'static,
    close: impl Future<Output = anyio::Result<()>>,
) -> anyio::Result<()> {
    let out = task_group(|tg| async move {
        let blocked = tg.start_soon(async move { anyio::Ok(kind(blocked.await)) })?;
        wait_all_tasks_blocked().await?;
        close.await?;
        blocked.await
    })
    .await?;
    assert_eq!(out, Some(ErrorKind::ClosedResource));
    Ok(())
}

/// Runs `first` in a task of its own; once every task is blocked, checks that `second` (the
/// same operation, through another handle) is `BusyResource` with a message naming
/// `doing` ("receiving"), then runs `unblock` and returns what `first` got (it was
/// unaffected) and what `unblock` made, which lives until `first` is done.
pub async fn second_is_busy<T: Send + 'static, U: std::fmt::Debug, V>(
    first: impl Future<Output = anyio::Result<T>> + Send + 'static,
    second: impl Future<Output = anyio::Result<U>>,
    doing: &str,
    unblock: impl Future<Output = anyio::Result<V>>,
) -> anyio::Result<(T, V)> {
    let got = task_group(|tg| async move {
        let first = tg.start_soon(first)?;
        wait_all_tasks_blocked().await?;
        let err = second.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BusyResource);
        assert!(err.to_string().contains(doing), "{err}");
        let made = unblock.await?;
        Ok((first.await?, made))
    })
    .await?;
    Ok(got.expect("the body returned"))
}

/// `send_eof` ends the peer's stream (after what was sent, and for good) and nothing
/// else: a second `send_eof` does nothing, a send after it is this side's mistake
/// (`ClosedResource`), the other direction still works, and closing the peer ends it.
pub async fn send_eof_ends_one_direction<S: ByteStream>(client: S, server: S) -> anyio::Result<()> {
    client.send(b"last words").await?;
    client.send_eof().await?;
    client.send_eof().await?; // again: nothing
    assert_eq!(receive_all(&server).await?, b"last words");
    assert_eq!(kind(server.receive(10).await), ErrorKind::EndOfStream);
    server.send(b"reply").await?;
    assert_eq!(client.receive(10).await?, b"reply");
    assert_eq!(
        kind(client.send(b"more").await),
        ErrorKind::ClosedResource,
        "sending after send_eof"
    );
    server.aclose().await?;
    assert_eq!(kind(client.receive(64).await), ErrorKind::EndOfStream);
    Ok(())
}

/// A send of `len` bytes (far more than the socket buffers hold), received in another
/// task, arrives whole and in order.
pub async fn large_send_arrives_whole<S: ByteStream + 'static>(
    client: S,
    server: S,
    len: u32,
) -> anyio::Result<()> {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let received = task_group(|tg| async move {
        tg.start_soon(async move {
            client.send(&data).await?;
            client.send_eof().await
        })?;
        receive_all(&server).await
    })
    .await?
    .unwrap();
    assert_eq!(received.len(), expected.len());
    assert!(received == expected);
    Ok(())
}

/// A `receive` and a `receive_into` polled once (pending) and dropped reserve nothing: the
/// busy flag is free and every byte sent afterwards arrives.
pub async fn abandoned_receives_take_nothing<S: ByteStream>(
    client: &S,
    server: &S,
) -> anyio::Result<()> {
    assert!(poll_once(server.receive(10)).await.is_none()); // pending, then dropped
    let mut buf = [0u8; 4];
    assert!(poll_once(server.receive_into(&mut buf)).await.is_none());
    client.send(b"every byte").await?;
    let mut got = Vec::new();
    while got.len() < 10 {
        got.extend(server.receive(64).await?);
    }
    assert_eq!(got, b"every byte");
    Ok(())
}

/// A sender streams `total` bytes (a known pattern, in random chunk sizes, from `seed`);
/// the receiver receives — by `receive` and `receive_into` in turn — under random short
/// deadlines, so many receives are cancelled mid-wait. Every byte must arrive once, in
/// order. Prints how many receives were cancelled.
pub async fn random_cancellation_loses_no_byte<S: ByteStream + 'static>(
    client: S,
    server: S,
    total: usize,
    seed: u64,
) -> anyio::Result<()> {
    let (received, cancels) = task_group(|tg| async move {
        tg.start_soon(async move {
            let mut rng = Rng::new(seed);
            let mut sent = 0;
            while sent < total {
                let n = (1 + rng.below(8192) as usize).min(total - sent);
                let chunk: Vec<u8> = (sent..sent + n).map(|i| (i % 251) as u8).collect();
                client.send(&chunk).await?;
                sent += n;
            }
            client.send_eof().await
        })?;
        let mut rng = Rng::new(seed ^ 0xfeed);
        let (mut got, mut cancels, mut bad) = (0usize, 0u64, None);
        loop {
            let timeout = Duration::from_micros(rng.below(300));
            let max = 1 + rng.below(4096) as usize;
            let mut buf = [0u8; 4096];
            let received = if rng.below(2) == 0 {
                anyio::move_on_after(timeout, server.receive_into(&mut buf[..max]))
                    .await
                    .map(|r| r.map(|n| buf[..n].to_vec()))
            } else {
                anyio::move_on_after(timeout, server.receive(max)).await
            };
            match received {
                Ok(Some(chunk)) => {
                    for (k, b) in chunk.iter().enumerate() {
                        if *b != ((got + k) % 251) as u8 && bad.is_none() {
                            bad = Some(got + k);
                        }
                    }
                    got += chunk.len();
                }
                Ok(None) => cancels += 1,
                Err(e) if e.kind() == ErrorKind::EndOfStream => break,
                Err(e) => return Err(e),
            }
        }
        assert_eq!(bad, None, "a byte arrived out of place");
        Ok((got, cancels))
    })
    .await?
    .unwrap();
    println!("received {received} bytes through {cancels} cancelled receives");
    assert_eq!(received, total);
    Ok(())
}

/// How [`paced_datagrams_arrive_once`] receives.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// `ConnectedUnixDatagram::receive`.
    Receive,
    /// The `Stream`'s `next()`.
    Next,
}

/// `n` numbered datagrams over a connected UNIX datagram pair (a full queue makes the
/// sender wait, so nothing is dropped), sent in random bursts with pauses between (so the
/// receiver often waits on an empty queue and its deadline lands mid-wait; the pauses pace,
/// they order nothing), received `via` under random deadlines of up to 100 µs: each arrives
/// exactly once, in order. `seeds` drive the sender's and the receiver's randomness.
pub async fn paced_datagrams_arrive_once(n: u32, via: Via, seeds: (u64, u64)) -> anyio::Result<()> {
    let (tx, mut rx) = ConnectedUnixDatagram::pair()?;
    let (seen, cancels) = task_group(|tg| async move {
        tg.start_soon(async move {
            let mut rng = Rng::new(seeds.0);
            let mut i = 0;
            while i < n {
                for _ in 0..1 + rng.below(16) {
                    if i < n {
                        tx.send(&i.to_le_bytes()).await?;
                        i += 1;
                    }
                }
                anyio::sleep(Duration::from_micros(rng.below(300))).await?;
            }
            anyio::Ok(())
        })?;
        let mut rng = Rng::new(seeds.1);
        let mut seen = vec![0u32; n as usize];
        let (mut got, mut cancels, mut next) = (0, 0u64, 0u32);
        while got < n {
            let timeout = Duration::from_micros(rng.below(100));
            let received = match via {
                Via::Receive => anyio::move_on_after(timeout, rx.receive()).await?,
                Via::Next => {
                    let item = async { rx.next().await.expect("datagram streams never end") };
                    anyio::move_on_after(timeout, item).await?
                }
            };
            match received {
                Some(data) => {
                    let i = u32::from_le_bytes(data[..].try_into().unwrap());
                    assert_eq!(i, next, "in order");
                    next += 1;
                    seen[i as usize] += 1;
                    got += 1;
                }
                None => cancels += 1,
            }
        }
        Ok((seen, cancels))
    })
    .await?
    .unwrap();
    println!("{n} datagrams through {cancels} cancelled receives ({via:?})");
    assert!(seen.iter().all(|&n| n == 1), "each datagram exactly once");
    Ok(())
}
