//! A TCP echo server and client: `serve` for the accept loop, a per-connection idle
//! timeout (`fail_after`), and a graceful shutdown that stops accepting, lets the open
//! connections finish, and cancels whatever is still running after a drain deadline.
//!
//! ```text
//! cargo run --example echo                       # self-check: server + clients, exits 0
//! cargo run --example echo -- serve 7000         # serve until SIGINT/SIGTERM (Ctrl+C)
//! cargo run --example echo -- client 7000 hello  # send "hello", print the echo
//! ```
//!
//! Add `--backend smol` (built with `--features smol`) to run any of them on smol.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyio::net::{TcpStream, connect_tcp, create_tcp_listener};
use anyio::streams::{ByteReceiveStream, ByteSendStream, ByteStream, Listener, SharedResource};
use anyio::{Backend, CancelScope, ErrorKind, Event, Runner, fail_after, task_group};

/// How long the drain after a shutdown request may take before connections are cut.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// Echoes one connection until the client shuts its side, or stays silent for `idle`.
async fn handle(stream: TcpStream, idle: Duration) -> anyio::Result<()> {
    loop {
        match fail_after(idle, stream.receive(64 * 1024)).await {
            Ok(chunk) => stream.send(&chunk).await?,
            Err(e) if e.kind() == ErrorKind::EndOfStream => break,
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                println!("connection idle for {idle:?}: closing it");
                break;
            }
            // A client that vanished is its own problem, not the server's.
            Err(e) if e.kind() == ErrorKind::BrokenResource => break,
            Err(e) => return Err(e),
        }
    }
    stream.aclose().await
}

/// Serves until `stop` is set, then drains: no new connection is accepted, the open ones
/// finish (or are cancelled at the drain deadline). Counts the connections it served.
async fn run_server(
    listener: anyio::net::MultiListener<anyio::net::TcpListener>,
    idle: Duration,
    stop: Event,
    served: Arc<AtomicUsize>,
) -> anyio::Result<()> {
    task_group(|connections| async move {
        let accepting = CancelScope::new();
        let stop_accepting = accepting.clone();
        connections.start_soon(async move {
            stop.wait().await?;
            stop_accepting.cancel();
            anyio::Ok(())
        })?;
        let handler = move |stream: TcpStream| {
            // Relaxed: a statistic, read after the server's group has joined.
            served.fetch_add(1, Ordering::Relaxed);
            handle(stream, idle)
        };
        // Runs until the stop above cancels its scope (absorbed there: `Ok(None)`).
        accepting
            .run(listener.serve(handler, Some(&connections)))
            .await?;
        listener.aclose().await?;
        println!("shutting down: no new connections, draining the open ones");
        connections
            .cancel_scope()
            .set_deadline(Instant::now() + DRAIN_DEADLINE);
        anyio::Ok(())
    })
    .await?;
    Ok(())
}

/// Sends `message`, shuts the sending side, and returns everything echoed back.
async fn client(port: u16, message: &[u8]) -> anyio::Result<Vec<u8>> {
    let stream = connect_tcp("127.0.0.1", port).await?;
    stream.send(message).await?;
    stream.send_eof().await?;
    let mut echoed = Vec::new();
    loop {
        match stream.receive(64 * 1024).await {
            Ok(chunk) => echoed.extend(chunk),
            Err(e) if e.kind() == ErrorKind::EndOfStream => break,
            Err(e) => return Err(e),
        }
    }
    stream.aclose().await?;
    Ok(echoed)
}

/// Server and clients in one process: every client gets its bytes back, a silent client
/// is closed by the idle timeout, and the server shuts down cleanly.
async fn self_check() -> anyio::Result<()> {
    const CLIENTS: usize = 8;
    let listener = create_tcp_listener().local_host("127.0.0.1").await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let stop = Event::new();
    let served = Arc::new(AtomicUsize::new(0));
    let echoed_bytes = Arc::new(AtomicUsize::new(0));
    task_group(|tg| {
        let (stop, served, echoed_bytes) = (stop.clone(), served.clone(), echoed_bytes.clone());
        async move {
            // Long enough that a busy machine never idles an active client out.
            let idle = Duration::from_secs(2);
            tg.start_soon(run_server(listener, idle, stop.clone(), served))?;
            task_group(|clients| async move {
                for i in 0..CLIENTS {
                    let echoed_bytes = echoed_bytes.clone();
                    clients.start_soon(async move {
                        let message: Vec<u8> = (0..(i + 1) * 10_000).map(|b| b as u8).collect();
                        let echoed = client(port, &message).await?;
                        assert!(echoed == message, "client {i}: the echo differs");
                        // Relaxed: a statistic, read after this group has joined.
                        echoed_bytes.fetch_add(echoed.len(), Ordering::Relaxed);
                        anyio::Ok(())
                    })?;
                }
                // A client that says nothing: the server's idle timeout closes it.
                let silent = connect_tcp("127.0.0.1", port).await?;
                let end = silent.receive(16).await.unwrap_err();
                assert_eq!(end.kind(), ErrorKind::EndOfStream);
                anyio::Ok(())
            })
            .await?;
            stop.set();
            anyio::Ok(())
        }
    })
    .await?;
    // Relaxed: both groups have joined every task that counted.
    println!(
        "self-check passed: {} connections served, {} bytes echoed; shut down cleanly",
        served.load(Ordering::Relaxed),
        echoed_bytes.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Serves on `port` until SIGINT or SIGTERM.
async fn serve(port: u16) -> anyio::Result<()> {
    use anyio::signal::{SIGINT, SIGTERM, open_signal_receiver};
    // Listen for signals before announcing readiness, so an early one is not missed.
    let mut signals = open_signal_receiver([SIGTERM, SIGINT])?;
    let listener = create_tcp_listener()
        .local_host("127.0.0.1")
        .local_port(port)
        .await?;
    let port = listener.listeners()[0].local_addr()?.port();
    let stop = Event::new();
    let served = Arc::new(AtomicUsize::new(0));
    task_group(|tg| {
        let (stop, served) = (stop.clone(), served.clone());
        async move {
            tg.start_soon(run_server(
                listener,
                Duration::from_secs(30),
                stop.clone(),
                served,
            ))?;
            println!("listening on 127.0.0.1:{port} (pid {})", std::process::id());
            let signum = signals.receive().await?;
            println!("signal {signum}");
            stop.set();
            anyio::Ok(())
        }
    })
    .await?;
    // Relaxed: the server's group has joined every handler.
    println!(
        "shut down cleanly after {} connections",
        served.load(Ordering::Relaxed)
    );
    Ok(())
}

fn usage() -> anyio::Error {
    anyio::Error::new(
        ErrorKind::InvalidArgument,
        "usage: echo [--backend tokio|smol] [serve PORT | client PORT MESSAGE]",
    )
}

fn port(arg: Option<&String>) -> anyio::Result<u16> {
    arg.ok_or_else(usage)?.parse().map_err(|_| usage())
}

fn main() -> anyio::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut backend = Backend::default();
    if let Some(i) = args.iter().position(|a| a == "--backend") {
        backend = args.get(i + 1).ok_or_else(usage)?.parse()?;
        args.drain(i..i + 2);
    }
    Runner::new(backend).run(move || async move {
        match args.first().map(String::as_str) {
            None => self_check().await,
            Some("serve") => serve(port(args.get(1))?).await,
            Some("client") => {
                let message = args.get(2).ok_or_else(usage)?;
                let echoed = client(port(args.get(1))?, message.as_bytes()).await?;
                println!("{}", String::from_utf8_lossy(&echoed));
                Ok(())
            }
            Some(_) => Err(usage()),
        }
    })
}
