//! `AsyncFile`'s prefetch: after a read-ahead that filled its buffer on a regular file, the
//! next batch is read on a thread while the buffer serves reads. These tests check that
//! nothing about the file's contract moves: positions, writes and seeks on the same file,
//! cancellation, dropping, and that a pipe is never read speculatively. Both backends,
//! real files and pipes.

use std::io::{SeekFrom, Write};

use anyio::fs::tempfile::TemporaryDirectory;
use anyio::fs::{AsyncFile, OpenOptions, Path, wrap_file};
use anyio::{CancelScope, ErrorKind};

const CHUNK: usize = 64 * 1024;

/// `len` bytes that differ from one offset to the next within any 251-byte window.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn file_of(len: usize) -> anyio::Result<(TemporaryDirectory, Path, Vec<u8>)> {
    let dir = TemporaryDirectory::new().await?;
    let path = Path::new(dir.path()).join("data");
    let data = pattern(len);
    path.write(&data).await?;
    Ok((dir, path, data))
}

async fn read_chunks(f: &mut AsyncFile, total: usize) -> anyio::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0; CHUNK];
    while out.len() < total {
        let want = CHUNK.min(total - out.len());
        let n = f.read(&mut buf[..want]).await?;
        assert!(n > 0, "the file ended early at {}", out.len());
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

#[anyio::test]
async fn a_copy_in_chunks_is_exact() -> anyio::Result<()> {
    // An odd length: the last batch is short, the one after it empty.
    let len = 5 * 1024 * 1024 + 12_345;
    let (dir, src, data) = file_of(len).await?;
    let dst = Path::new(dir.path()).join("copy");
    let mut from = AsyncFile::open(&src).await?;
    let mut to = AsyncFile::create(&dst).await?;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).await?;
    }
    assert_eq!(from.read(&mut buf).await?, 0, "still the end");
    to.close().await?;
    from.close().await?;
    assert_eq!(dst.read().await?, data);
    Ok(())
}

#[anyio::test]
async fn positions_seeks_and_writes_see_the_prefetched_bytes() -> anyio::Result<()> {
    let len = 6 * 1024 * 1024;
    let (_dir, path, mut data) = file_of(len).await?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await?;
    // 3 MiB in chunks: read-ahead grows to 1 MiB and prefetches run.
    let got = read_chunks(&mut f, 3 << 20).await?;
    assert_eq!(got, data[..3 << 20]);
    assert_eq!(f.stream_position().await?, 3 << 20, "the logical position");
    // Back over bytes already returned, and forward over bytes read ahead.
    assert_eq!(f.seek(SeekFrom::Current(-100)).await?, (3 << 20) - 100);
    assert_eq!(
        read_chunks(&mut f, 100).await?,
        data[(3 << 20) - 100..3 << 20]
    );
    let got = read_chunks(&mut f, CHUNK + 7).await?;
    let at = 3 << 20;
    assert_eq!(got, data[at..at + CHUNK + 7]);
    // A write lands at the logical position, not where the read-ahead left the OS.
    let at = at + CHUNK + 7;
    f.write_all(b"0123456789").await?;
    data[at..at + 10].copy_from_slice(b"0123456789");
    assert_eq!(f.stream_position().await?, (at + 10) as u64);
    let rest = read_chunks(&mut f, len - at - 10).await?;
    assert_eq!(rest, data[at + 10..]);
    assert_eq!(f.read(&mut [0; 16]).await?, 0, "the end of the file");
    f.seek(SeekFrom::Start(0)).await?;
    assert_eq!(f.read_to_end().await?, data);
    Ok(())
}

#[anyio::test]
async fn lines_and_read_to_end_after_a_prefetch() -> anyio::Result<()> {
    let (_dir, path, data) = file_of(3 * 1024 * 1024).await?;
    let mut f = AsyncFile::open(&path).await?;
    let got = read_chunks(&mut f, 2 << 20).await?;
    assert_eq!(got, data[..2 << 20]);
    // read_to_end takes the buffered and prefetched bytes first.
    assert_eq!(f.read_to_end().await?, data[2 << 20..]);

    // A line that straddles the buffer and a prefetched batch.
    let mut text = vec![b'a'; (2 << 20) - 3];
    text.extend_from_slice(b"xy\nlast line\n");
    path.write(&text).await?;
    let mut f = AsyncFile::open(&path).await?;
    let got = read_chunks(&mut f, (1 << 20) + CHUNK).await?;
    assert!(got.iter().all(|&b| b == b'a'));
    let mut line = String::new();
    f.read_line(&mut line).await?;
    assert_eq!(line.len(), (2 << 20) - (1 << 20) - CHUNK);
    assert!(line.ends_with("axy\n"));
    line.clear();
    f.read_line(&mut line).await?;
    assert_eq!(line, "last line\n");
    assert_eq!(f.read_line(&mut line).await?, 0);
    Ok(())
}

#[anyio::test]
async fn a_cancelled_read_loses_nothing_and_dropping_is_quiet() -> anyio::Result<()> {
    let len = 3 * 1024 * 1024;
    let (_dir, path, data) = file_of(len).await?;
    let mut f = AsyncFile::open(&path).await?;
    let mut got = read_chunks(&mut f, 2 * CHUNK).await?;
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            let e = f.read(&mut [0; CHUNK]).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Cancelled);
            anyio::Ok(())
        })
        .await?;
    assert_eq!(out, Some(()));
    got.extend(read_chunks(&mut f, len - got.len()).await?);
    assert_eq!(got, data, "every byte once, in order");
    // Dropped right after a read that started a prefetch: nothing to wait for or report.
    let mut f = AsyncFile::open(&path).await?;
    read_chunks(&mut f, 2 * CHUNK).await?;
    drop(f);
    Ok(())
}

#[anyio::test]
async fn a_pipe_is_never_read_ahead_speculatively() -> anyio::Result<()> {
    let (reader, writer) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let mut writer = std::fs::File::from(writer);
    // Exactly one full read-ahead's worth (a pipe holds 64 KiB): the first read fills its
    // buffer, as a sequential read of a file would.
    writer.write_all(&pattern(CHUNK))?;
    let mut f = wrap_file(std::fs::File::from(reader));
    let got = read_chunks(&mut f, CHUNK).await?;
    assert_eq!(got, pattern(CHUNK));
    // The writer is still open and writes nothing: a speculative read would block on
    // the pipe, and `close` (which waits for every operation) would hang.
    f.close().await?;
    drop(writer);
    Ok(())
}

/// A read polled once and dropped (as `timeout`/`select!` do) at every chunk of a file that
/// is read ahead and prefetched: the abandoned reads take nothing, so the reads that follow
/// still get every byte once, in order — whether the abandoned one was served from the
/// buffer, was waiting for a prefetch, or had started its own read on a thread.
#[anyio::test]
async fn an_abandoned_read_loses_nothing() -> anyio::Result<()> {
    use futures_lite::future::poll_once;
    let len = 3 * 1024 * 1024;
    let (_dir, path, data) = file_of(len).await?;
    let mut f = AsyncFile::open(&path).await?;
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0; CHUNK];
    let mut abandoned_pending = 0;
    while got.len() < len {
        let first = {
            let mut abandoned = std::pin::pin!(f.read(&mut buf));
            poll_once(&mut abandoned).await
        };
        if let Some(n) = first {
            // A read that completed in its first poll returned its bytes: keep them.
            let n = n?;
            assert!(n > 0, "the file ended early at {}", got.len());
            got.extend_from_slice(&buf[..n]);
            continue;
        }
        abandoned_pending += 1;
        let n = f.read(&mut buf).await?;
        assert!(n > 0, "the file ended early at {}", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(f.read(&mut buf).await?, 0);
    assert!(got == data, "an abandoned read took or repeated bytes");
    // A read that needs a thread hop cannot finish in its first poll: some were cut there.
    assert!(abandoned_pending > 0, "no read was abandoned while pending");
    Ok(())
}
