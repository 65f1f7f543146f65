//! Buffered byte streams: receive an exact number of bytes, or up to a delimiter (AnyIO's
//! `anyio.streams.buffered`).
//!
//! A byte stream hands out whatever chunks the network made; a protocol usually wants a
//! 4-byte length header, then exactly that many bytes, or a line up to `b"\r\n"`.
//! [`BufferedByteReceiveStream`] wraps any [`ByteReceiveStream`] (a TCP stream, a TLS
//! stream, a [pipe](super::pipe), a `Box<dyn ByteReceiveStream>`) and keeps the bytes it
//! read but did not hand out yet in a buffer of its own:
//!
//! * [`receive_exactly(n)`](BufferedByteReceiveStream::receive_exactly) returns `n` bytes,
//!   or [`ErrorKind::IncompleteRead`] when the stream ends first;
//! * [`receive_until(delimiter, max_bytes)`](BufferedByteReceiveStream::receive_until)
//!   returns the bytes before the delimiter (and drops the delimiter), or
//!   [`ErrorKind::DelimiterNotFound`] when it is not within `max_bytes`;
//! * [`receive`](ByteReceiveStream::receive) serves the buffer first, then the stream;
//! * [`feed_data`](BufferedByteReceiveStream::feed_data) puts bytes in front of what the
//!   stream will deliver (the part of a handshake read too far, say).
//!
//! [`BufferedByteStream`] does the same over a [`ByteStream`] and sends through it.
//!
//! # Cancellation
//!
//! The bytes live in the wrapper, never in a future: a `receive_exactly` or `receive_until`
//! that is cancelled (by a scope or a deadline) or abandoned (polled, then dropped) leaves
//! every byte it read in the buffer, and the next call starts from them. So a deadline that
//! expires in the middle of a frame loses nothing: calling `receive_exactly` again completes
//! the frame.
//!
//! # Typed attributes
//!
//! The wrappers add none: every lookup goes to the wrapped stream.
//!
//! # Examples
//!
//! ```
//! use anyio::streams::buffered::BufferedByteReceiveStream;
//! use anyio::streams::pipe::create_byte_pipe;
//! use anyio::streams::{ByteSendStream, SharedResource};
//!
//! # anyio::run(|| async {
//! let (tx, rx) = create_byte_pipe(64)?;
//! tx.send(b"\x00\x05hello").await?;
//! tx.send(b"GET / HTTP/1.1\r\nHost: x\r\n").await?;
//! tx.aclose().await?;
//! let rx = BufferedByteReceiveStream::new(rx);
//! let header = rx.receive_exactly(2).await?;
//! let len = u16::from_be_bytes([header[0], header[1]]) as usize;
//! assert_eq!(rx.receive_exactly(len).await?, b"hello");
//! assert_eq!(rx.receive_until(b"\r\n", 1024).await?, b"GET / HTTP/1.1");
//! assert_eq!(rx.receive_until(b"\r\n", 1024).await?, b"Host: x");
//! # Ok::<_, anyio::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::bytes::{
    AttributeRequest, BusyFlag, ByteReceiveStream, ByteSendStream, ByteStream, Gate,
    SharedResource, TypedAttributeProvider, closed,
};
use crate::error::{Error, ErrorKind, Result};

/// The fewest bytes one read from the wrapped stream asks for (what it brings beyond the
/// request stays buffered, so small records cost one read per batch, not one each).
const MIN_READ: usize = 16 * 1024;
/// The most bytes one read from the wrapped stream asks for.
const CHUNK: usize = 64 * 1024;
/// An empty buffer whose storage grew past this gives it back.
const KEEP_CAPACITY: usize = 1024 * 1024;

/// The buffer: `data[pos..end]` is read but not handed out.
///
/// # Invariants
///
/// `pos <= end <= data.len()`; `data[end..]` is initialised spare room (so a read into it
/// needs no zeroing after the first time).
#[derive(Debug, Default)]
struct Buffer {
    data: Vec<u8>,
    pos: usize,
    end: usize,
    closed: bool,
    /// The receiver parked in the wrapped stream, woken by `feed_data`.
    waker: Option<Waker>,
}

impl Buffer {
    fn filled(&self) -> &[u8] {
        &self.data[self.pos..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.pos
    }

    fn consume(&mut self, n: usize) {
        self.pos += n.min(self.len());
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            if self.data.len() > KEEP_CAPACITY {
                self.data = Vec::new();
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.filled()[..n].to_vec();
        self.consume(n);
        out
    }

    /// Spare room for `want` more bytes, moving the unread bytes to the front first when
    /// that makes room without growing.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.data.len() - self.end < want && self.pos > 0 {
            self.data.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.data.len() - self.end < want {
            self.data.resize(self.end + want, 0);
        }
        &mut self.data[self.end..self.end + want]
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.spare(bytes.len()).copy_from_slice(bytes);
        self.end += bytes.len();
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Remembers the waker of a receive that waits in the wrapped stream.
    fn park(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }

    fn clear(&mut self) {
        *self = Buffer {
            closed: self.closed,
            waker: self.waker.take(),
            ..Buffer::default()
        };
    }
}

/// A byte receive stream with a buffer, for reading exact sizes and delimited records
/// (AnyIO's `BufferedByteReceiveStream`). See the [module docs](self).
///
/// It is a [`ByteReceiveStream`] itself: [`receive`](ByteReceiveStream::receive) returns
/// buffered bytes first. Closing it closes the wrapped stream and drops the buffer.
pub struct BufferedByteReceiveStream<S> {
    inner: S,
    buf: Mutex<Buffer>,
    busy: BusyFlag,
}

impl<S> fmt::Debug for BufferedByteReceiveStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedByteReceiveStream")
            .field("buffered", &self.buffered_len())
            .finish_non_exhaustive()
    }
}

impl<S> BufferedByteReceiveStream<S> {
    /// Wraps `inner` with an empty buffer.
    pub fn new(inner: S) -> BufferedByteReceiveStream<S> {
        BufferedByteReceiveStream {
            inner,
            buf: Mutex::new(Buffer::default()),
            busy: BusyFlag::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // No invariant of `Buffer` spans a panic point, so a poisoned lock is used as is.
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A copy of the bytes read from the stream but not handed out yet (AnyIO's `buffer`).
    pub fn buffer(&self) -> Vec<u8> {
        self.lock().filled().to_vec()
    }

    /// How many bytes are buffered.
    pub fn buffered_len(&self) -> usize {
        self.lock().len()
    }

    /// Appends `data` to the buffer: the next receives return it before anything the
    /// stream delivers (AnyIO's `feed_data`). Not a checkpoint.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when this stream was closed.
    pub fn feed_data(&self, data: &[u8]) -> Result<()> {
        let mut buf = self.lock();
        if buf.closed {
            return Err(closed("feeding data"));
        }
        buf.extend(data);
        Ok(())
    }

    /// Takes the wrapper apart: the wrapped stream, and the bytes still buffered.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let buf = self.buf.into_inner().unwrap_or_else(|e| e.into_inner());
        (self.inner, buf.filled().to_vec())
    }
}

impl<S: ByteReceiveStream> BufferedByteReceiveStream<S> {
    /// Receives exactly `n` bytes (AnyIO's `receive_exactly`); `n == 0` returns an empty
    /// vector at once (after the checkpoint), as AnyIO does.
    ///
    /// Reads from the stream in chunks of 16 to 64 KiB (so a huge `n` is no allocation
    /// request); bytes read past `n` stay buffered.
    ///
    /// # Cancellation
    ///
    /// A checkpoint, and lossless: a cancelled or dropped call leaves what it read in the
    /// buffer, and the next call gets those bytes first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::IncompleteRead`] when the stream ends before `n` bytes came (they stay
    /// buffered: see [`buffer`](Self::buffer)); [`ErrorKind::ClosedResource`] when this
    /// stream was closed; [`ErrorKind::BusyResource`] when another task is receiving; the
    /// wrapped stream's errors; [`ErrorKind::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::buffered::BufferedByteReceiveStream;
    /// use anyio::streams::pipe::create_byte_pipe;
    /// use anyio::streams::{ByteSendStream, SharedResource};
    /// use anyio::ErrorKind;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = create_byte_pipe(16)?;
    /// tx.send(b"abcde").await?;
    /// tx.aclose().await?;
    /// let rx = BufferedByteReceiveStream::new(rx);
    /// assert_eq!(rx.receive_exactly(3).await?, b"abc");
    /// let err = rx.receive_exactly(3).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::IncompleteRead);
    /// assert_eq!(rx.buffer(), b"de"); // kept
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn receive_exactly(&self, n: usize) -> ReceiveExactly<'_, S> {
        ReceiveExactly {
            stream: self,
            n,
            gate: Gate::new(),
        }
    }

    /// Receives the bytes up to `delimiter` and drops the delimiter (AnyIO's
    /// `receive_until`).
    ///
    /// At most `max_bytes` bytes are consumed, the delimiter included: the delimiter must
    /// end within the first `max_bytes` bytes. Bytes read past the delimiter stay buffered.
    ///
    /// # Cancellation
    ///
    /// A checkpoint, and lossless: a cancelled or dropped call leaves what it read in the
    /// buffer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for an empty `delimiter` or `max_bytes == 0`;
    /// [`ErrorKind::DelimiterNotFound`] when the first `max_bytes` bytes hold no whole
    /// delimiter; [`ErrorKind::IncompleteRead`] when the stream ends first (in both cases
    /// the bytes stay buffered); [`ErrorKind::ClosedResource`], [`ErrorKind::BusyResource`],
    /// the wrapped stream's errors and [`ErrorKind::Cancelled`] as for
    /// [`receive_exactly`](Self::receive_exactly).
    ///
    /// # Examples
    ///
    /// ```
    /// use anyio::streams::buffered::BufferedByteReceiveStream;
    /// use anyio::streams::pipe::create_byte_pipe;
    /// use anyio::streams::ByteSendStream;
    /// use anyio::ErrorKind;
    ///
    /// # anyio::run(|| async {
    /// let (tx, rx) = create_byte_pipe(64)?;
    /// tx.send(b"a line\nno end in sight").await?;
    /// let rx = BufferedByteReceiveStream::new(rx);
    /// assert_eq!(rx.receive_until(b"\n", 80).await?, b"a line");
    /// let err = rx.receive_until(b"\n", 8).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::DelimiterNotFound);
    /// # Ok::<_, anyio::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn receive_until<'a>(
        &'a self,
        delimiter: &'a [u8],
        max_bytes: usize,
    ) -> ReceiveUntil<'a, S> {
        ReceiveUntil {
            stream: self,
            delimiter,
            max_bytes,
            scanned: 0,
            gate: Gate::new(),
        }
    }

    /// Reads one chunk of up to `want` bytes from the wrapped stream into the buffer.
    fn poll_fill(&self, cx: &mut Context<'_>, buf: &mut Buffer, want: usize) -> Poll<Result<()>> {
        let want = want.clamp(MIN_READ, CHUNK);
        let spare = buf.spare(want);
        match self.inner.poll_receive(cx, spare) {
            Poll::Ready(Ok(n)) => {
                buf.end += n.min(want);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                buf.park(cx);
                Poll::Pending
            }
        }
    }

    fn poll_exactly(&self, cx: &mut Context<'_>, n: usize) -> Poll<Result<Vec<u8>>> {
        let mut buf = self.lock();
        loop {
            if buf.closed {
                return Poll::Ready(Err(closed("receiving")));
            }
            if buf.len() >= n {
                return Poll::Ready(Ok(buf.take(n)));
            }
            let lacking = n - buf.len();
            match std::task::ready!(self.poll_fill(cx, &mut buf, lacking)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::EndOfStream => {
                    return Poll::Ready(Err(incomplete(n, buf.len())));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_until(
        &self,
        cx: &mut Context<'_>,
        delimiter: &[u8],
        max_bytes: usize,
        scanned: &mut usize,
    ) -> Poll<Result<Vec<u8>>> {
        let mut buf = self.lock();
        loop {
            if buf.closed {
                return Poll::Ready(Err(closed("receiving")));
            }
            // Only the first `max_bytes` bytes may hold the delimiter; the start of the
            // search backs up so a delimiter split across two reads is found.
            let window = &buf.filled()[..buf.len().min(max_bytes)];
            let from = scanned
                .saturating_sub(delimiter.len() - 1)
                .min(window.len());
            if let Some(i) = find(&window[from..], delimiter) {
                let found = buf.take(from + i);
                buf.consume(delimiter.len());
                return Poll::Ready(Ok(found));
            }
            *scanned = window.len();
            if window.len() >= max_bytes {
                return Poll::Ready(Err(Error::new(
                    ErrorKind::DelimiterNotFound,
                    format!("receive_until: the delimiter was not found within {max_bytes} bytes"),
                )));
            }
            match std::task::ready!(self.poll_fill(cx, &mut buf, MIN_READ)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::EndOfStream => {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::IncompleteRead,
                        format!(
                            "receive_until: the stream ended after {} bytes without the \
                             delimiter",
                            buf.len()
                        ),
                    )));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

fn incomplete(wanted: usize, got: usize) -> Error {
    Error::new(
        ErrorKind::IncompleteRead,
        format!("receive_exactly({wanted}): the stream ended after {got} bytes"),
    )
}

/// The first position of `needle` (not empty) in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_byte(&haystack[from..], needle[0]) {
        let at = from + i;
        if haystack.len() - at < needle.len() {
            return None; // no room for a whole delimiter here or later
        }
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The first position of `byte` in `haystack`, eight bytes at a time (the classic
/// "has a zero byte" test on `word ^ pattern`; a hit is confirmed byte by byte).
fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(byte);
    let mut words = haystack.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let w = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes) ^ pattern;
        if w.wrapping_sub(LO) & !w & HI != 0 {
            return word.iter().position(|&b| b == byte).map(|i| base + i);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| base + i)
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for BufferedByteReceiveStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.inner.provide_attributes(request);
    }
}

impl<S: SharedResource> SharedResource for BufferedByteReceiveStream<S> {
    /// Drops the buffer, marks this stream closed, then closes the wrapped stream.
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        {
            let mut buf = self.lock();
            buf.closed = true;
            buf.clear();
        }
        self.inner.poll_close(cx)
    }
}

impl<S: ByteReceiveStream> ByteReceiveStream for BufferedByteReceiveStream<S> {
    fn poll_receive(&self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<Result<usize>> {
        let mut buf = self.lock();
        if buf.closed {
            return Poll::Ready(Err(closed("receiving")));
        }
        if buf.len() == 0 {
            // The lock stays held, so a `feed_data` either came before or sees the waker.
            let r = self.inner.poll_receive(cx, out);
            if r.is_pending() {
                buf.park(cx);
            }
            return r;
        }
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf.filled()[..n]);
        buf.consume(n);
        Poll::Ready(Ok(n))
    }

    fn receive_busy(&self) -> &BusyFlag {
        &self.busy
    }
}

/// The future of [`BufferedByteReceiveStream::receive_exactly`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveExactly<'a, S> {
    stream: &'a BufferedByteReceiveStream<S>,
    n: usize,
    gate: Gate<'a>,
}

impl<S: ByteReceiveStream> Future for ReceiveExactly<'_, S> {
    type Output = Result<Vec<u8>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        let this = self.get_mut();
        let (stream, n) = (this.stream, this.n);
        let busy = Some((&stream.busy, "receiving"));
        this.gate.poll(cx, busy, |cx| stream.poll_exactly(cx, n))
    }
}

/// The future of [`BufferedByteReceiveStream::receive_until`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveUntil<'a, S> {
    stream: &'a BufferedByteReceiveStream<S>,
    delimiter: &'a [u8],
    max_bytes: usize,
    /// How many buffered bytes were searched already (the buffer only grows at the end
    /// while this call holds the busy flag).
    scanned: usize,
    gate: Gate<'a>,
}

impl<S: ByteReceiveStream> Future for ReceiveUntil<'_, S> {
    type Output = Result<Vec<u8>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        let this = self.get_mut();
        if this.delimiter.is_empty() || this.max_bytes == 0 {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidArgument,
                "receive_until: the delimiter must not be empty and max_bytes must be at least 1",
            )));
        }
        let (stream, delimiter, max) = (this.stream, this.delimiter, this.max_bytes);
        let scanned = &mut this.scanned;
        let busy = Some((&stream.busy, "receiving"));
        this.gate.poll(cx, busy, |cx| {
            stream.poll_until(cx, delimiter, max, scanned)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Both directions.

/// A byte stream whose receiving side is buffered (AnyIO's `BufferedByteStream`): the
/// methods of [`BufferedByteReceiveStream`], and sending and
/// [`send_eof`](ByteStream::send_eof) through the wrapped stream.
///
/// # Examples
///
/// ```
/// use anyio::streams::buffered::BufferedByteStream;
/// use anyio::streams::pipe::create_byte_pipe;
/// use anyio::streams::stapled::StapledByteStream;
/// use anyio::streams::{ByteSendStream, ByteStream};
///
/// # anyio::run(|| async {
/// let (tx, rx) = create_byte_pipe(64)?;
/// let echo = BufferedByteStream::new(StapledByteStream::new(tx, rx)); // a loopback
/// echo.send(b"ping\n").await?;
/// assert_eq!(echo.receive_until(b"\n", 16).await?, b"ping");
/// echo.send_eof().await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct BufferedByteStream<S> {
    recv: BufferedByteReceiveStream<S>,
}

impl<S> BufferedByteStream<S> {
    /// Wraps `inner` with an empty receive buffer.
    pub fn new(inner: S) -> BufferedByteStream<S> {
        BufferedByteStream {
            recv: BufferedByteReceiveStream::new(inner),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        self.recv.get_ref()
    }

    /// As [`BufferedByteReceiveStream::buffer`].
    pub fn buffer(&self) -> Vec<u8> {
        self.recv.buffer()
    }

    /// As [`BufferedByteReceiveStream::buffered_len`].
    pub fn buffered_len(&self) -> usize {
        self.recv.buffered_len()
    }

    /// As [`BufferedByteReceiveStream::feed_data`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ClosedResource`] when this stream was closed.
    pub fn feed_data(&self, data: &[u8]) -> Result<()> {
        self.recv.feed_data(data)
    }

    /// As [`BufferedByteReceiveStream::into_parts`].
    pub fn into_parts(self) -> (S, Vec<u8>) {
        self.recv.into_parts()
    }
}

impl<S: ByteReceiveStream> BufferedByteStream<S> {
    /// As [`BufferedByteReceiveStream::receive_exactly`].
    ///
    /// # Cancellation
    ///
    /// Lossless, as there.
    ///
    /// # Errors
    ///
    /// As there.
    pub fn receive_exactly(&self, n: usize) -> ReceiveExactly<'_, S> {
        self.recv.receive_exactly(n)
    }

    /// As [`BufferedByteReceiveStream::receive_until`].
    ///
    /// # Cancellation
    ///
    /// Lossless, as there.
    ///
    /// # Errors
    ///
    /// As there.
    pub fn receive_until<'a>(
        &'a self,
        delimiter: &'a [u8],
        max_bytes: usize,
    ) -> ReceiveUntil<'a, S> {
        self.recv.receive_until(delimiter, max_bytes)
    }
}

impl<S: TypedAttributeProvider> TypedAttributeProvider for BufferedByteStream<S> {
    fn provide_attributes(&self, request: &mut AttributeRequest<'_>) {
        self.recv.provide_attributes(request);
    }
}

impl<S: SharedResource> SharedResource for BufferedByteStream<S> {
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.recv.poll_close(cx)
    }
}

impl<S: ByteReceiveStream> ByteReceiveStream for BufferedByteStream<S> {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        self.recv.poll_receive(cx, buf)
    }

    fn receive_busy(&self) -> &BusyFlag {
        self.recv.receive_busy()
    }
}

impl<S: ByteSendStream> ByteSendStream for BufferedByteStream<S> {
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        if self.recv.lock().closed {
            return Poll::Ready(Err(closed("sending")));
        }
        self.recv.inner.poll_send(cx, buf)
    }

    fn send_busy(&self) -> &BusyFlag {
        self.recv.inner.send_busy()
    }
}

impl<S: ByteStream> ByteStream for BufferedByteStream<S> {
    fn poll_send_eof(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.recv.inner.poll_send_eof(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{find, find_byte};

    #[test]
    fn find_byte_agrees_with_a_plain_scan() {
        let hay: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        for start in [0, 1, 7, 8, 9, 250, 690] {
            for b in [0u8, 1, 7, 8, 127, 128, 255] {
                let slice = &hay[start..];
                let plain = slice.iter().position(|&x| x == b);
                assert_eq!(find_byte(slice, b), plain, "start {start} byte {b}");
            }
        }
        assert_eq!(find_byte(b"", b'x'), None);
        assert_eq!(find_byte(b"aaaaaaaaaaaaaaab", b'b'), Some(15));
    }

    #[test]
    fn find_handles_partial_and_overlapping_matches() {
        assert_eq!(find(b"abc\r\r\ndef", b"\r\n"), Some(4));
        assert_eq!(find(b"aaab", b"aab"), Some(1));
        assert_eq!(find(b"abc\r", b"\r\n"), None);
        assert_eq!(find(b"\n", b"\n"), Some(0));
        assert_eq!(find(b"xx", b"xxx"), None);
    }
}
