//! Text streams: strings over byte streams, encoded as UTF-8 (AnyIO's
//! `anyio.streams.text`).
//!
//! [`TextReceiveStream`] decodes what a [`ByteReceiveStream`] delivers and returns it as
//! `String`s; [`TextSendStream`] encodes `&str`s onto a [`ByteSendStream`];
//! [`TextStream`] does both over a [`ByteStream`]. The chunks keep no boundaries: a
//! `receive` returns whatever text has arrived (never an empty string).
//!
//! # Decoding
//!
//! UTF-8 only — AnyIO's other encodings are out of scope (decode other encodings from the
//! byte stream with a crate such as `encoding_rs`). A character split across two chunks
//! of the byte stream is held back until its last byte arrives, then returned whole.
//! Invalid input is handled as [`Utf8Errors`] says:
//!
//! * [`Utf8Errors::Strict`] (the default): the text before the invalid bytes is returned
//!   first; the receive that meets them fails with [`ErrorKind::Io`], its source an
//!   `io::Error` of kind `InvalidData` wrapping the [`std::str::Utf8Error`] (the same kind
//!   [`AsyncFile::lines`](crate::fs::AsyncFile::lines) reports). The invalid bytes are
//!   dropped, so the next receive goes on after them. A stream that ends in the middle of
//!   a character fails the same way.
//! * [`Utf8Errors::Replace`]: each invalid sequence becomes U+FFFD (`�`), as
//!   [`String::from_utf8_lossy`] does.
//!
//! # Cancellation
//!
//! A receive is lossless: the bytes read and not yet returned as text stay in the stream,
//! so a cancelled or abandoned receive leaves them to the next one.
//!
//! # Examples
//!
//! ```
//! use anyio::streams::pipe::create_byte_pipe;
//! use anyio::streams::text::{TextReceiveStream, TextSendStream};
//! use anyio::streams::SharedResource;
//!
//! # anyio::run(|| async {
//! let (tx, rx) = create_byte_pipe(64)?;
//! let (tx, rx) = (TextSendStream::new(tx), TextReceiveStream::new(rx));
//! tx.send("grüße").await?;
//! tx.aclose().await?;
//! assert_eq!(rx.receive().await?, "grüße");
//! assert_eq!(rx.receive().await.unwrap_err().kind(), anyio::ErrorKind::EndOfStream);
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, Gate, SendAll,
    SendEof, SharedResource, TypedAttributeProvider, closed,
};
use super::{
    AsyncResource, ObjectReceiveStream, ObjectSendStream, SendError, UnreliableObjectReceiveStream,
    UnreliableObjectSendStream,
};
use crate::error::{Error, ErrorKind, Result};

/// How many bytes one read from the byte stream asks for.
const CHUNK: usize = 16 * 1024;

/// What a [`TextReceiveStream`] does with bytes that are not UTF-8 (Python's `errors=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Utf8Errors {
    /// Fail the receive that meets them ([`ErrorKind::Io`], see the
    /// [module docs](self#decoding)).
    #[default]
    Strict,
    /// Replace each invalid sequence with U+FFFD.
    Replace,
}

/// The decoder: bytes received and not yet returned as text.
///
/// # Invariant
///
/// Between receives, `pending` holds at most an incomplete character, or (in strict mode)
/// an invalid sequence and what followed it, left for the next receive to report.
#[derive(Debug, Default)]
struct Decoder {
    pending: Vec<u8>,
    /// The read buffer, zeroed once.
    chunk: Vec<u8>,
    closed: bool,
}

impl Decoder {
    /// Decodes `pending`: `Some` when there is text (or an error) to return, `None` when
    /// more bytes are needed. At the end of the stream everything is consumed.
    fn decode(&mut self, mode: Utf8Errors, at_end: bool) -> Option<Result<String>> {
        let mut out = String::new();
        let mut done = 0;
        let mut failed = None;
        while done < self.pending.len() {
            let rest = &self.pending[done..];
            let e = match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    done = self.pending.len();
                    break;
                }
                Err(e) => e,
            };
            let valid = e.valid_up_to();
            out.push_str(&String::from_utf8_lossy(&rest[..valid]));
            done += valid;
            let bad = match e.error_len() {
                Some(n) => n,
                None if at_end => rest.len() - valid,
                None => break, // an incomplete character: wait for its other bytes
            };
            match mode {
                Utf8Errors::Replace => {
                    out.push(char::REPLACEMENT_CHARACTER);
                    done += bad;
                }
                // The text before the invalid bytes goes first; they are reported next.
                Utf8Errors::Strict if !out.is_empty() => break,
                Utf8Errors::Strict => {
                    done += bad;
                    failed = Some(e);
                    break;
                }
            }
        }
        self.pending.drain(..done);
        if let Some(e) = failed {
            return Some(Err(Error::with_source(
                ErrorKind::Io,
                "receiving text: the bytes are not valid UTF-8",
                io::Error::new(io::ErrorKind::InvalidData, e),
            )));
        }
        (!out.is_empty()).then_some(Ok(out))
    }
}

/// Receives strings decoded from a byte stream (AnyIO's `TextReceiveStream`). See the
/// [module docs](self).
///
/// Closing it closes the byte stream.
pub struct TextReceiveStream<S> {
    inner: S,
    mode: Utf8Errors,
    decoder: Mutex<Decoder>,
    busy: BusyFlag,
}

impl<S> fmt::Debug for TextReceiveStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextReceiveStream")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<S> TextReceiveStream<S> {
    /// Decodes `inner` strictly ([`Utf8Errors::Strict`]).
    pub fn new(inner: S) -> TextReceiveStream<S> {
        TextReceiveStream::with_errors(inner, Utf8Errors::Strict)
    }

    /// Decodes `inner`, handling invalid bytes as `mode` says.
    pub fn with_errors(inner: S, mode: Utf8Errors) -> TextReceiveStream<S> {
        TextReceiveStream {
            inner,
            mode,
            decoder: Mutex::new(Decoder::default()),
            busy: BusyFlag::new(),
        }
    }

    /// The byte stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Takes the wrapper apart: the byte stream, and the bytes received but not decoded
    /// yet (an incomplete character, say).
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let d = self.decoder.into_inner().unwrap_or_else(|e| e.into_inner());
        (self.inner, d.pending)
    }

    fn lock(&self) -> MutexGuard<'_, Decoder> {
        // `Decoder` holds plain bytes, valid after a panic.
        self.decoder.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: ByteReceiveStream> TextReceiveStream<S> {
    /// Receives the text that has arrived (at least one character).
    ///
    /// # Cancellation
    ///
    /// A checkpoint, and lossless: bytes read and not returned as text stay for the next
    /// receive.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] (source kind `InvalidData`) for invalid UTF-8 in strict mode;
    /// [`ErrorKind::EndOfStream`] once the byte stream ended and everything was returned;
    /// [`ErrorKind::ClosedResource`] when this stream was closed;
    /// [`ErrorKind::BusyResource`] when another task is receiving; the byte stream's
    /// errors; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::pipe::create_byte_pipe;
    /// use anyio::streams::text::{TextReceiveStream, Utf8Errors};
    /// use anyio::streams::ByteSendStream;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = create_byte_pipe(64)?;
    /// let rx = TextReceiveStream::with_errors(rx, Utf8Errors::Replace);
    /// tx.send(b"caf\xc3").await?; // half of an 'é'
    /// assert_eq!(rx.receive().await?, "caf"); // the 'é' is held back
    /// tx.send(b"\xa9 \xff!").await?;
    /// assert_eq!(rx.receive().await?, "é \u{fffd}!");
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn receive(&self) -> ReceiveText<'_, S> {
        ReceiveText {
            stream: self,
            gate: Gate::new(),
        }
    }

    fn poll_text(&self, cx: &mut Context<'_>) -> Poll<Result<String>> {
        let mut d = self.lock();
        let d = &mut *d;
        loop {
            if d.closed {
                return Poll::Ready(Err(closed("receiving text")));
            }
            if let Some(r) = d.decode(self.mode, false) {
                return Poll::Ready(r);
            }
            if d.chunk.is_empty() {
                d.chunk = vec![0; CHUNK];
            }
            match std::task::ready!(self.inner.poll_receive(cx, &mut d.chunk)) {
                Ok(n) => {
                    let n = n.min(d.chunk.len());
                    d.pending.extend_from_slice(&d.chunk[..n]);
                }
                Err(e) if e.kind() == ErrorKind::EndOfStream => {
                    return Poll::Ready(d.decode(self.mode, true).unwrap_or(Err(e)));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for TextReceiveStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.inner.provide_attributes(request);
    }
}

impl<S: SharedResource> SharedResource for TextReceiveStream<S> {
    /// Drops the undecoded bytes, marks this stream closed and closes the byte stream.
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        {
            let mut d = self.lock();
            d.closed = true;
            d.pending = Vec::new();
        }
        self.inner.poll_close(cx)
    }
}

/// The future of [`TextReceiveStream::receive`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveText<'a, S> {
    stream: &'a TextReceiveStream<S>,
    gate: Gate<'a>,
}

impl<S: ByteReceiveStream> Future for ReceiveText<'_, S> {
    type Output = Result<String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<String>> {
        let this = self.get_mut();
        let stream = this.stream;
        let busy = Some((&stream.busy, "receiving"));
        this.gate.poll(cx, busy, |cx| stream.poll_text(cx))
    }
}

impl<S: ByteReceiveStream> AsyncResource for TextReceiveStream<S> {
    /// As [`SharedResource::aclose`].
    async fn aclose(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_close(cx)).await
    }
}

impl<S: ByteReceiveStream> UnreliableObjectReceiveStream<String> for TextReceiveStream<S> {
    /// As [`TextReceiveStream::receive`].
    fn receive(&mut self) -> impl Future<Output = Result<String>> + Send {
        TextReceiveStream::receive(self)
    }
}

impl<S: ByteReceiveStream> ObjectReceiveStream<String> for TextReceiveStream<S> {}

// ---------------------------------------------------------------------------------------
// Sending.

/// Sends strings encoded as UTF-8 onto a byte stream (AnyIO's `TextSendStream`).
///
/// Closing it closes the byte stream.
#[derive(Debug)]
pub struct TextSendStream<S> {
    inner: S,
}

impl<S> TextSendStream<S> {
    /// Encodes onto `inner`.
    pub fn new(inner: S) -> TextSendStream<S> {
        TextSendStream { inner }
    }

    /// The byte stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The byte stream, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: ByteSendStream> TextSendStream<S> {
    /// Sends `text` (all of it), as the byte stream's [`send`](ByteSendStream::send).
    ///
    /// # Cancellation
    ///
    /// As [`ByteSendStream::send`]: a send cut while it waits for room may have written a
    /// prefix of the text's bytes (possibly part of a character).
    ///
    /// # Errors
    ///
    /// As [`ByteSendStream::send`].
    pub fn send<'a>(&'a self, text: &'a str) -> SendAll<'a, S> {
        self.inner.send(text.as_bytes())
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for TextSendStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.inner.provide_attributes(request);
    }
}

impl<S: SharedResource> SharedResource for TextSendStream<S> {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_close(cx)
    }
}

impl<S: ByteSendStream> AsyncResource for TextSendStream<S> {
    /// As [`SharedResource::aclose`].
    async fn aclose(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_close(cx)).await
    }
}

impl<S: ByteSendStream> UnreliableObjectSendStream<String> for TextSendStream<S> {
    /// As [`TextSendStream::send`]; a failed send gives the string back.
    async fn send(&mut self, item: String) -> Result<(), SendError<String>> {
        let r = TextSendStream::send(self, &item).await;
        r.map_err(|e| SendError::new(e, item))
    }
}

impl<S: ByteSendStream> ObjectSendStream<String> for TextSendStream<S> {}

// ---------------------------------------------------------------------------------------
// Both directions.

/// Text in both directions over a byte stream (AnyIO's `TextStream`): the receiving side
/// of a [`TextReceiveStream`], sending as a [`TextSendStream`], and
/// [`send_eof`](Self::send_eof).
///
/// # Examples
///
/// ```
/// use anyio::streams::pipe::create_byte_pipe;
/// use anyio::streams::stapled::StapledByteStream;
/// use anyio::streams::text::TextStream;
///
/// # anyio::run(|| async {
/// let (tx, rx) = create_byte_pipe(64)?;
/// let loopback = TextStream::new(StapledByteStream::new(tx, rx));
/// loopback.send("hi ✓").await?;
/// assert_eq!(loopback.receive().await?, "hi ✓");
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct TextStream<S> {
    recv: TextReceiveStream<S>,
}

impl<S> TextStream<S> {
    /// Decodes strictly from and encodes onto `inner`.
    pub fn new(inner: S) -> TextStream<S> {
        TextStream::with_errors(inner, Utf8Errors::Strict)
    }

    /// As [`new`](Self::new), handling invalid received bytes as `mode` says.
    pub fn with_errors(inner: S, mode: Utf8Errors) -> TextStream<S> {
        TextStream {
            recv: TextReceiveStream::with_errors(inner, mode),
        }
    }

    /// The byte stream.
    pub fn get_ref(&self) -> &S {
        self.recv.get_ref()
    }

    /// As [`TextReceiveStream::into_parts`].
    pub fn into_parts(self) -> (S, Vec<u8>) {
        self.recv.into_parts()
    }
}

impl<S: ByteStream> TextStream<S> {
    /// As [`TextReceiveStream::receive`].
    ///
    /// # Cancellation
    ///
    /// Lossless, as there.
    ///
    /// # Errors
    ///
    /// As there.
    pub fn receive(&self) -> ReceiveText<'_, S> {
        self.recv.receive()
    }

    /// As [`TextSendStream::send`].
    ///
    /// # Cancellation
    ///
    /// As there.
    ///
    /// # Errors
    ///
    /// As there; [`ErrorKind::ClosedResource`] once this stream was closed.
    pub fn send<'a>(&'a self, text: &'a str) -> SendAll<'a, S> {
        self.recv.inner.send(text.as_bytes())
    }

    /// Shuts the sending direction, as the byte stream's
    /// [`send_eof`](ByteStream::send_eof).
    ///
    /// # Cancellation
    ///
    /// As there.
    ///
    /// # Errors
    ///
    /// As there.
    pub fn send_eof(&self) -> SendEof<'_, S> {
        self.recv.inner.send_eof()
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for TextStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.recv.provide_attributes(request);
    }
}

impl<S: SharedResource> SharedResource for TextStream<S> {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.recv.poll_close(cx)
    }
}

impl<S: ByteStream> AsyncResource for TextStream<S> {
    /// As [`SharedResource::aclose`].
    async fn aclose(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_close(cx)).await
    }
}
