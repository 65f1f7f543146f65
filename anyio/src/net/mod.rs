//! Networking (AnyIO's "Using sockets" chapter): TCP streams and listeners, name
//! resolution, and the socket attributes.
//!
//! Sockets are created and configured once, above the backends, with `socket2`; the
//! backend only registers the finished socket with its reactor and polls its readiness
//! (tokio's reactor on the tokio backend, async-io's on smol). So every socket type here
//! behaves the same on both backends, and keeps the byte-stream contract of
//! [`crate::streams::bytes`]: `EndOfStream`, `ClosedResource`, `BrokenResource` and
//! `BusyResource`, lossless cancellation of `receive` and `accept`, every call a
//! checkpoint.

pub mod attr;
pub(crate) mod socket;
mod tcp;

pub use tcp::{TcpListener, TcpStream};
