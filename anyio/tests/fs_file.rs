//! `anyio::fs::AsyncFile`: reads, writes, seeks, lines, the I/O traits, bad input and
//! cancellation (AnyIO's tests/test_fileio.py, `TestAsyncFile`). Both backends, real files
//! in a temporary directory.

use std::io::SeekFrom;

use anyio::fs::tempfile::TemporaryDirectory;
use anyio::fs::{AsyncFile, OpenOptions, Path, open_file, wrap_file};
use anyio::{CancelScope, CapacityLimiter, ErrorKind};
use futures_lite::StreamExt;

async fn tmp() -> anyio::Result<(TemporaryDirectory, Path)> {
    let dir = TemporaryDirectory::new().await?;
    let path = Path::new(dir.path());
    Ok((dir, path))
}

#[anyio::test]
async fn open_read_and_read_to_end() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    p.write(b"hello world").await?;
    let mut f = open_file(&p, OpenOptions::new().read(true)).await?;
    let mut buf = [0u8; 5];
    assert_eq!(f.read(&mut buf).await?, 5);
    assert_eq!(&buf, b"hello");
    assert_eq!(f.read_to_end().await?, b" world");
    assert_eq!(f.read(&mut buf).await?, 0, "end of file");
    Ok(())
}

#[anyio::test]
async fn write_then_seek_and_tell() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&p)
        .await?;
    assert_eq!(f.write(b"0123456789").await?, 10);
    assert_eq!(f.stream_position().await?, 10);
    assert_eq!(f.seek(SeekFrom::Start(2)).await?, 2);
    let mut b = [0u8; 3];
    f.read(&mut b).await?;
    assert_eq!(&b, b"234");
    // The read-ahead holds the rest; the logical position is still 5.
    assert_eq!(f.stream_position().await?, 5);
    assert_eq!(f.seek(SeekFrom::Current(-1)).await?, 4);
    f.write_all(b"X").await?;
    assert_eq!(f.seek(SeekFrom::End(-1)).await?, 9);
    f.close().await?;
    assert_eq!(p.read().await?, b"0123X56789");
    Ok(())
}

#[anyio::test]
async fn read_line_and_lines_stream() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let p = dir.join("t");
    let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    p.write(format!("{text}last")).await?;
    let mut f = p.open().await?;
    let mut first = String::new();
    assert_eq!(f.read_line(&mut first).await?, 7);
    assert_eq!(first, "line 0\n");
    let rest: Vec<String> = f.lines().try_collect().await?;
    assert_eq!(rest.len(), 5000);
    assert_eq!(rest[0], "line 1");
    assert_eq!(rest[4998], "line 4999");
    assert_eq!(rest[4999], "last");
    Ok(())
}

#[anyio::test]
async fn set_len_truncate_metadata_sync() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&p)
        .await?;
    f.write_all(b"abcdef").await?;
    f.set_len(3).await?;
    assert_eq!(f.metadata().await?.len(), 3);
    f.seek(SeekFrom::Start(1)).await?;
    assert_eq!(f.truncate(None).await?, 1);
    f.sync_all().await?;
    f.sync_data().await?;
    assert_eq!(f.metadata().await?.len(), 1);
    Ok(())
}

#[anyio::test]
async fn futures_io_traits_copy_with_write_behind() -> anyio::Result<()> {
    use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let (_d, dir) = tmp().await?;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    dir.join("src").write(&data).await?;
    let mut src = dir.join("src").open().await?;
    let mut dst = AsyncFile::create(dir.join("dst")).await?;
    let mut chunk = vec![0u8; 65536];
    loop {
        let n = AsyncReadExt::read(&mut src, &mut chunk).await?;
        if n == 0 {
            break;
        }
        AsyncWriteExt::write_all(&mut dst, &chunk[..n]).await?;
    }
    AsyncWriteExt::flush(&mut dst).await?;
    assert_eq!(dir.join("dst").read().await?, data);
    assert_eq!(AsyncSeekExt::seek(&mut src, SeekFrom::Start(7)).await?, 7);
    Ok(())
}

#[cfg(feature = "tokio")]
#[anyio::test]
async fn tokio_io_traits() -> anyio::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let (_d, dir) = tmp().await?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(dir.join("f"))
        .await?;
    AsyncWriteExt::write_all(&mut f, b"tokio traits").await?;
    AsyncWriteExt::flush(&mut f).await?;
    assert_eq!(AsyncSeekExt::seek(&mut f, SeekFrom::Start(6)).await?, 6);
    let mut s = String::new();
    AsyncReadExt::read_to_string(&mut f, &mut s).await?;
    assert_eq!(s, "traits");
    Ok(())
}

#[anyio::test]
async fn dropped_file_writes_its_written_behind_data() -> anyio::Result<()> {
    use futures_lite::AsyncWriteExt;
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    let mut f = AsyncFile::create(&p).await?;
    for _ in 0..64 {
        AsyncWriteExt::write_all(&mut f, &[7u8; 4096]).await?;
    }
    drop(f);
    // The drop hands the data to a thread: wait for the bytes to appear.
    for _ in 0..10_000 {
        if p.metadata().await?.len() == 64 * 4096 {
            return Ok(());
        }
        anyio::lowlevel::checkpoint().await?;
        std::thread::yield_now();
    }
    panic!("written-behind data lost on drop");
}

#[anyio::test]
async fn bad_input_is_an_error_of_the_right_kind() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let err = AsyncFile::open("nul\0byte").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = AsyncFile::open(dir.join("missing")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.source_as::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
    // A directory read as a file.
    let mut d = AsyncFile::open(dir.as_std_path()).await?;
    let mut b = [0u8; 4];
    assert_eq!(d.read(&mut b).await.unwrap_err().kind(), ErrorKind::Io);
    // Negative and overflowing seeks.
    let p = dir.join("f");
    p.write(b"abc").await?;
    let mut f = p.open().await?;
    assert_eq!(
        f.seek(SeekFrom::Current(-10)).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        f.seek(SeekFrom::Start(u64::MAX)).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    f.seek(SeekFrom::Start(1)).await?;
    assert_eq!(
        f.seek(SeekFrom::Current(i64::MIN))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // Writing to a read-only file.
    assert_eq!(f.write_all(b"x").await.unwrap_err().kind(), ErrorKind::Io);
    // Invalid UTF-8 as text.
    p.write([0xff, 0xfe, b'\n']).await?;
    let mut f = p.open().await?;
    let mut s = String::new();
    assert_eq!(f.read_line(&mut s).await.unwrap_err().kind(), ErrorKind::Io);
    Ok(())
}

#[anyio::test]
async fn nothing_starts_in_a_cancelled_scope() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    p.write(b"abc").await?;
    let mut f = OpenOptions::new().read(true).write(true).open(&p).await?;
    let scope = CancelScope::new();
    scope.cancel();
    let out = scope
        .run(async {
            let e = f.write_all(b"zzz").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Cancelled);
            let mut b = [0u8; 3];
            assert_eq!(
                f.read(&mut b).await.unwrap_err().kind(),
                ErrorKind::Cancelled
            );
            assert_eq!(
                f.seek(SeekFrom::Start(1)).await.unwrap_err().kind(),
                ErrorKind::Cancelled
            );
            let e = AsyncFile::create(dir.join("new")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Cancelled);
            anyio::Ok(())
        })
        .await?;
    assert_eq!(
        out,
        Some(()),
        "the body saw every cancellation and returned"
    );
    assert_eq!(p.read().await?, b"abc", "nothing was written");
    assert!(!dir.join("new").exists().await?, "nothing was created");
    assert_eq!(f.stream_position().await?, 0, "nothing was read or sought");
    Ok(())
}

#[anyio::test]
async fn a_started_write_completes_under_cancellation() -> anyio::Result<()> {
    // The limiter's only token is held, so the write waits; then the token is freed and
    // the scope cancelled right after the write's thread starts.
    let (_d, dir) = tmp().await?;
    let p = dir.join("f");
    let limiter = CapacityLimiter::new(1)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .limiter(limiter.clone())
        .open(&p)
        .await?;
    let scope = CancelScope::new();
    let data = vec![1u8; 8 << 20];
    let out = scope
        .run(async {
            let r = f.write_all(&data).await;
            // The write ran: its result comes back even though the scope is cancelled.
            anyio::Ok(r)
        })
        .or_cancel_soon(&scope)
        .await;
    let r = out?.expect("the body returned");
    r?;
    assert_eq!(p.metadata().await?.len(), 8 << 20);
    Ok(())
}

#[anyio::test]
async fn wrap_file_and_limiter_reach_the_threads() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let limiter = CapacityLimiter::new(1)?;
    let std_file = std::fs::File::create(dir.join("w").as_std_path()).unwrap();
    let mut f = wrap_file(std_file).with_limiter(limiter.clone());
    assert!(f.limiter().is_some());
    let hold = limiter.acquire().await?;
    anyio::task_group(|tg| async move {
        let writer = tg.start_soon(async move { f.write_all(b"via limiter").await })?;
        anyio::testing::wait_all_tasks_blocked().await?;
        assert_eq!(
            limiter.statistics().tasks_waiting,
            1,
            "the write waits for the limiter"
        );
        drop(hold);
        writer.await?;
        anyio::Ok(())
    })
    .await?;
    assert_eq!(dir.join("w").read().await?, b"via limiter");
    Ok(())
}

/// Cancels `scope` as soon as the body has started its thread (the body is polled once
/// first).
trait OrCancelSoon: std::future::Future + Sized {
    fn or_cancel_soon(self, scope: &CancelScope) -> CancelSoon<Self> {
        CancelSoon {
            fut: Box::pin(self),
            scope: scope.clone(),
            polled: false,
        }
    }
}
impl<F: std::future::Future> OrCancelSoon for F {}

struct CancelSoon<F: std::future::Future> {
    fut: std::pin::Pin<Box<F>>,
    scope: CancelScope,
    polled: bool,
}

impl<F: std::future::Future> std::future::Future for CancelSoon<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let p = self.fut.as_mut().poll(cx);
        if !self.polled {
            self.polled = true;
            self.scope.cancel();
        }
        p
    }
}
