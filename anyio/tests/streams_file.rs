//! File streams: AnyIO's tests/streams/test_file.py translated, plus the byte-stream
//! contract on files — a FIFO whose read blocks (busy, close from another task, a deadline
//! that loses no byte), `/dev/full` for a failing write, a cancelled close that still
//! writes everything, and the wrappers stacked on a file. Every test runs on both backends,
//! with real files in a temporary directory.

use std::io::{SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyio::fs::tempfile::TemporaryDirectory;
use anyio::fs::{AsyncFile, OpenOptions};
use anyio::streams::buffered::BufferedByteReceiveStream;
use anyio::streams::file::{FilePath, FileReadStream, FileWriteStream};
use anyio::streams::text::TextReceiveStream;
use anyio::streams::{ByteReceiveStream, ByteSendStream, SharedResource, TypedAttributeProvider};
use anyio::testing::wait_all_tasks_blocked;
use anyio::{CancelScope, ErrorKind, Result, move_on_after, task_group};

async fn file_with(content: &[u8]) -> Result<(TemporaryDirectory, PathBuf)> {
    let dir = TemporaryDirectory::new().await?;
    let path = dir.path().join("file");
    std::fs::write(&path, content)?;
    Ok((dir, path))
}

async fn read_all(r: &FileReadStream) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match r.receive(5).await {
            Ok(chunk) => out.extend(chunk),
            Err(e) if e.kind() == ErrorKind::EndOfStream => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

#[anyio::test]
async fn read_a_file_from_its_path() -> Result<()> {
    let (_dir, path) = file_with(b"Hello, file stream!").await?;
    let r = FileReadStream::from_path(&path).await?;
    assert_eq!(read_all(&r).await?, b"Hello, file stream!");
    assert_eq!(
        r.receive(1).await.unwrap_err().kind(),
        ErrorKind::EndOfStream,
        "the end stays the end"
    );
    Ok(())
}

#[anyio::test]
async fn read_an_open_file_from_its_position() -> Result<()> {
    let (_dir, path) = file_with(b"skip:rest").await?;
    let mut file = AsyncFile::open(&path).await?;
    file.seek(SeekFrom::Start(5)).await?;
    let r = FileReadStream::new(file);
    assert_eq!(read_all(&r).await?, b"rest");
    Ok(())
}

#[anyio::test]
async fn read_after_close_is_closed() -> Result<()> {
    let (_dir, path) = file_with(b"data").await?;
    let r = FileReadStream::from_path(&path).await?;
    r.aclose().await?;
    assert_eq!(
        r.receive(1).await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    assert_eq!(
        r.seek(SeekFrom::Start(0)).await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    r.aclose().await?; // again: nothing happens
    Ok(())
}

#[anyio::test]
async fn seek_and_tell() -> Result<()> {
    let (_dir, path) = file_with(b"0123456789").await?;
    let r = FileReadStream::from_path(&path).await?;
    assert_eq!(r.receive(3).await?, b"012");
    assert_eq!(r.tell().await?, 3);
    assert_eq!(r.seek(SeekFrom::Start(7)).await?, 7);
    assert_eq!(r.receive(10).await?, b"789");
    assert_eq!(r.seek(SeekFrom::End(-4)).await?, 6);
    assert_eq!(r.tell().await?, 6);
    assert_eq!(r.receive(10).await?, b"6789");
    let err = r.seek(SeekFrom::Current(-100)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(r.tell().await?, 10, "a refused seek moves nothing");
    Ok(())
}

fn is_send<T: Send>(_: &T) {}

#[anyio::test]
async fn futures_are_send() -> Result<()> {
    let (_dir, path) = file_with(b"x").await?;
    let r = FileReadStream::from_path(&path).await?;
    is_send(&r.receive(1));
    is_send(&r.seek(SeekFrom::Start(0)));
    is_send(&r.tell());
    let w = FileWriteStream::from_path(&path, true).await?;
    is_send(&w.send(b"x"));
    is_send(&w.aclose());
    Ok(())
}

#[anyio::test]
async fn path_attribute_from_path_only() -> Result<()> {
    let (_dir, path) = file_with(b"").await?;
    let r = FileReadStream::from_path(&path).await?;
    assert_eq!(r.extra::<FilePath>()?, path);
    let w = FileWriteStream::from_path(&path, true).await?;
    assert_eq!(w.extra::<FilePath>()?, path);
    let r = FileReadStream::new(AsyncFile::open(&path).await?);
    assert_eq!(
        r.extra::<FilePath>().unwrap_err().kind(),
        ErrorKind::TypedAttributeLookup
    );
    Ok(())
}

#[anyio::test]
async fn write_truncates_or_appends() -> Result<()> {
    let (_dir, path) = file_with(b"old content").await?;
    let w = FileWriteStream::from_path(&path, false).await?;
    w.send(b"Hello, ").await?;
    w.send(b"World!").await?;
    w.aclose().await?;
    assert_eq!(std::fs::read(&path)?, b"Hello, World!");
    let w = FileWriteStream::from_path(&path, true).await?;
    w.send(b" More.").await?;
    w.aclose().await?;
    assert_eq!(std::fs::read(&path)?, b"Hello, World! More.");
    Ok(())
}

#[anyio::test]
async fn write_after_close_is_closed() -> Result<()> {
    let (_dir, path) = file_with(b"").await?;
    let w = FileWriteStream::from_path(&path, false).await?;
    w.aclose().await?;
    assert_eq!(
        w.send(b"x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    w.aclose().await?;
    Ok(())
}

#[anyio::test]
async fn a_cancelled_close_still_writes_everything() -> Result<()> {
    let (_dir, path) = file_with(b"").await?;
    let w = FileWriteStream::from_path(&path, false).await?;
    let big = vec![b'z'; 3 * 1024 * 1024]; // more than one write-behind batch
    w.send(&big).await?;
    let scope = CancelScope::new();
    scope.cancel();
    let _ = scope.run(w.aclose()).await;
    assert_eq!(
        w.send(b"x").await.unwrap_err().kind(),
        ErrorKind::ClosedResource
    );
    assert_eq!(std::fs::read(&path)?.len(), big.len());
    Ok(())
}

#[anyio::test]
async fn a_failing_write_is_a_broken_resource() -> Result<()> {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return Ok(());
    }
    let w = FileWriteStream::from_path("/dev/full", false).await?;
    // The write is written behind: its failure comes with the next send or the close.
    let first = w.send(b"no room").await;
    let err = match first {
        Err(e) => e,
        Ok(()) => match w.send(b"still no room").await {
            Err(e) => e,
            Ok(()) => w.aclose().await.unwrap_err(),
        },
    };
    assert_eq!(err.kind(), ErrorKind::BrokenResource, "{err}");
    let src = err
        .source_as::<std::io::Error>()
        .expect("the io::Error as the source");
    assert_eq!(src.raw_os_error(), Some(28), "ENOSPC: {src}");
    Ok(())
}

#[anyio::test]
async fn reading_a_directory_is_a_broken_resource() -> Result<()> {
    let dir = TemporaryDirectory::new().await?;
    let r = FileReadStream::from_path(dir.path()).await?;
    let err = r.receive(8).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenResource, "{err}");
    assert!(err.source_as::<std::io::Error>().is_some());
    Ok(())
}

#[anyio::test]
async fn missing_file_is_an_io_error() -> Result<()> {
    let dir = TemporaryDirectory::new().await?;
    let err = FileReadStream::from_path(dir.path().join("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    Ok(())
}

#[anyio::test]
async fn wrappers_stack_on_a_file() -> Result<()> {
    let (_dir, path) = file_with("line one\nlíne two\n".as_bytes()).await?;
    let lines = BufferedByteReceiveStream::new(FileReadStream::from_path(&path).await?);
    assert_eq!(lines.receive_until(b"\n", 64).await?, b"line one");
    assert_eq!(lines.receive_until(b"\n", 64).await?, "líne two".as_bytes());
    let text = TextReceiveStream::new(FileReadStream::from_path(&path).await?);
    let mut all = String::new();
    while let Ok(s) = text.receive().await {
        all.push_str(&s);
    }
    assert_eq!(all, "line one\nlíne two\n");
    // The file's attribute shows through both wrappers.
    assert_eq!(lines.extra::<FilePath>()?, path);
    assert_eq!(text.extra::<FilePath>()?, path);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A FIFO: a file whose read blocks.

/// A FIFO opened read-write (which does not block on Linux) as a read stream, and its path
/// for a writer.
async fn fifo() -> Result<(TemporaryDirectory, PathBuf, FileReadStream)> {
    let dir = TemporaryDirectory::new().await?;
    let path = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&path).status()?;
    assert!(status.success(), "mkfifo failed");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await?;
    Ok((dir, path, FileReadStream::new(file)))
}

/// Writes `data` into the FIFO (which has a reader: the stream's descriptor).
fn feed(path: &PathBuf, data: &[u8]) -> Result<()> {
    let mut w = std::fs::OpenOptions::new().write(true).open(path)?;
    w.write_all(data)?;
    Ok(())
}

#[anyio::test]
async fn deadline_on_a_blocked_read_loses_nothing() -> Result<()> {
    let (_dir, path, r) = fifo().await?;
    let got = move_on_after(Duration::from_millis(50), r.receive(16)).await?;
    assert_eq!(got, None, "nothing to read yet");
    feed(&path, b"late bytes")?;
    // The read the cancelled call started returns its data to this one.
    let mut out = Vec::new();
    while out.len() < 10 {
        out.extend(r.receive(16).await?);
    }
    assert_eq!(out, b"late bytes");
    Ok(())
}

#[anyio::test]
async fn busy_and_close_from_another_task() -> Result<()> {
    let (_dir, path, r) = fifo().await?;
    let r = Arc::new(r);
    task_group(|tg| {
        let r = r.clone();
        async move {
            let reader = r.clone();
            let blocked = tg.start_soon(async move {
                anyio::Ok(reader.receive(16).await.err().map(|e| e.kind()))
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(
                r.receive(16).await.unwrap_err().kind(),
                ErrorKind::BusyResource
            );
            assert_eq!(
                r.seek(SeekFrom::Start(0)).await.unwrap_err().kind(),
                ErrorKind::BusyResource
            );
            r.aclose().await?;
            assert_eq!(blocked.await?, Some(ErrorKind::ClosedResource));
            Ok(())
        }
    })
    .await?;
    // Let the thread still blocked in read(2) finish, so its descriptor closes.
    feed(&path, b"bye")?;
    Ok(())
}

#[anyio::test]
async fn concurrent_closes_both_return_once_everything_is_written() -> Result<()> {
    let (_dir, path) = file_with(b"").await?;
    let w = Arc::new(FileWriteStream::from_path(&path, false).await?);
    let big = vec![b'q'; 3 * 1024 * 1024];
    w.send(&big).await?;
    task_group(|tg| {
        let w = w.clone();
        async move {
            let (a, b) = (w.clone(), w.clone());
            let first = tg.start_soon(async move { a.aclose().await })?;
            let second = tg.start_soon(async move { b.aclose().await })?;
            first.await?;
            second.await?;
            Ok(())
        }
    })
    .await?;
    assert_eq!(std::fs::read(&path)?.len(), big.len());
    Ok(())
}
