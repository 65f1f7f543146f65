//! `anyio::fs::tempfile` (AnyIO's tests/test_tempfile.py): unnamed, named, spooled files and
//! directories, `mkstemp`/`mkdtemp`/`gettempdir`, removal on close and on drop, the
//! rollover of a spooled file, cancellation (nothing is created in a cancelled scope) and
//! bad input. Both backends, real files.

use std::io::SeekFrom;
use std::path::Path as StdPath;

use anyio::fs::tempfile::{
    NamedTemporaryFile, SpooledTemporaryFile, TemporaryDirectory, TemporaryFile, gettempdir,
    mkdtemp, mkstemp,
};
use anyio::{CancelScope, ErrorKind};

mod support;
use support::kind;

/// The names in `dir`, sorted.
fn names(dir: &StdPath) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[anyio::test]
async fn gettempdir_is_the_systems() -> anyio::Result<()> {
    let dir = gettempdir().await?;
    assert_eq!(dir.as_std_path(), std::env::temp_dir());
    Ok(())
}

#[anyio::test]
async fn mkstemp_makes_a_file_anyio_never_removes() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let (mut file, path) = mkstemp("pre-", ".suf", Some(parent.path())).await?;
    let name = path
        .as_std_path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("pre-") && name.ends_with(".suf"), "{name}");
    assert_eq!(path.as_std_path().parent(), Some(parent.path()));
    file.write_all(b"kept").await?;
    file.close().await?;
    assert_eq!(std::fs::read(path.as_std_path())?, b"kept");
    // Still there after the file is gone: the caller owns it.
    assert_eq!(names(parent.path()), vec![name]);
    parent.cleanup().await?;
    Ok(())
}

#[anyio::test]
async fn mkdtemp_makes_a_directory_anyio_never_removes() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let path = mkdtemp("d-", "", Some(parent.path())).await?;
    assert!(path.as_std_path().is_dir());
    let name = path
        .as_std_path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("d-"), "{name}");
    assert_eq!(names(parent.path()), vec![name]);
    parent.cleanup().await?;
    Ok(())
}

#[anyio::test]
async fn creating_in_a_missing_directory_is_an_io_error() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let missing = parent.path().join("no/such/dir");
    assert_eq!(kind(mkstemp("", "", Some(&missing)).await), ErrorKind::Io);
    assert_eq!(kind(mkdtemp("", "", Some(&missing)).await), ErrorKind::Io);
    assert_eq!(
        kind(TemporaryFile::create_in(&missing).await),
        ErrorKind::Io
    );
    assert_eq!(
        kind(NamedTemporaryFile::new_in(&missing).await),
        ErrorKind::Io
    );
    assert_eq!(
        kind(TemporaryDirectory::with_options("", "", Some(&missing)).await),
        ErrorKind::Io
    );
    // The error names the operation and keeps the OS error as its source.
    let err = NamedTemporaryFile::new_in(&missing).await.unwrap_err();
    let source = std::error::Error::source(&err).expect("the io::Error");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    Ok(())
}

#[anyio::test]
async fn unnamed_file_has_no_name_and_round_trips() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let mut f = TemporaryFile::create_in(parent.path()).await?;
    assert!(
        names(parent.path()).is_empty(),
        "an unnamed file has no entry"
    );
    f.write_all(b"spam and eggs").await?;
    assert_eq!(f.seek(SeekFrom::Start(5)).await?, 5);
    assert_eq!(f.read_to_end().await?, b"and eggs");
    f.close().await?;
    let mut g = TemporaryFile::create().await?;
    g.write_all(b"x").await?;
    g.seek(SeekFrom::Start(0)).await?;
    assert_eq!(g.read_to_end().await?, b"x");
    Ok(())
}

#[anyio::test]
async fn named_file_is_removed_on_close() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let mut named = NamedTemporaryFile::with_options("n-", ".txt", Some(parent.path())).await?;
    let path = named.path().to_path_buf();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("n-") && name.ends_with(".txt"), "{name}");
    named.write_all(b"visible by name").await?;
    named.flush().await?;
    // Another opener sees the data through the name.
    assert_eq!(std::fs::read(&path)?, b"visible by name");
    named.close().await?;
    assert!(!path.exists());
    assert!(names(parent.path()).is_empty());
    Ok(())
}

#[anyio::test]
async fn named_file_is_removed_on_drop() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let named = NamedTemporaryFile::new_in(parent.path()).await?;
    let path = named.path().to_path_buf();
    assert!(path.exists());
    drop(named);
    assert!(!path.exists());
    Ok(())
}

#[anyio::test]
async fn named_file_kept_stays() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let mut named = NamedTemporaryFile::new_in(parent.path()).await?;
    named.write_all(b"keep me").await?;
    let (file, path) = named.keep()?;
    file.close().await?;
    assert_eq!(std::fs::read(&path)?, b"keep me");
    parent.cleanup().await?;
    Ok(())
}

#[anyio::test]
async fn directory_removed_with_its_contents_on_cleanup_and_on_drop() -> anyio::Result<()> {
    let dir = TemporaryDirectory::with_options("t-", "-d", None).await?;
    let path = dir.path().to_path_buf();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("t-") && name.ends_with("-d"), "{name}");
    std::fs::create_dir_all(path.join("a/b"))?;
    std::fs::write(path.join("a/b/f"), b"x")?;
    dir.cleanup().await?;
    assert!(!path.exists());

    let dir = TemporaryDirectory::new().await?;
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("f"), b"x")?;
    drop(dir);
    assert!(!path.exists());
    Ok(())
}

#[anyio::test]
async fn nothing_is_created_in_a_cancelled_scope() -> anyio::Result<()> {
    let parent = TemporaryDirectory::new().await?;
    let p = parent.path().to_path_buf();
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope
        .run(async {
            let e1 = kind(mkstemp("", "", Some(&p)).await);
            let e2 = kind(mkdtemp("", "", Some(&p)).await);
            let e3 = kind(NamedTemporaryFile::new_in(&p).await);
            let e4 = kind(TemporaryDirectory::with_options("", "", Some(&p)).await);
            let e5 = kind(TemporaryFile::create_in(&p).await);
            let e6 = kind(gettempdir().await);
            anyio::Ok([e1, e2, e3, e4, e5, e6])
        })
        .await?;
    // Each call saw the scope's cancellation; the body went on to its end.
    assert_eq!(r, Some([ErrorKind::Cancelled; 6]));
    assert!(names(parent.path()).is_empty(), "nothing was created");
    Ok(())
}

#[anyio::test]
async fn spooled_calls_in_a_cancelled_scope_write_nothing() -> anyio::Result<()> {
    let mut spooled = SpooledTemporaryFile::new(4);
    spooled.write_all(b"ab").await?;
    let scope = CancelScope::new();
    scope.cancel();
    let seen = scope
        .run(async {
            let write = kind(spooled.write_all(b"cdef").await);
            let rollover = kind(spooled.rollover().await);
            anyio::Ok([write, rollover])
        })
        .await?;
    assert_eq!(seen, Some([ErrorKind::Cancelled; 2]));
    assert!(!spooled.is_rolled_over());
    spooled.seek(SeekFrom::Start(0)).await?;
    assert_eq!(
        spooled.read_to_end().await?,
        b"ab",
        "the cancelled write wrote nothing"
    );
    Ok(())
}

#[anyio::test]
async fn spooled_file_stays_in_memory_up_to_max_size() -> anyio::Result<()> {
    let mut f = SpooledTemporaryFile::new(10);
    f.write_all(b"0123456789").await?; // exactly max_size: still in memory
    assert!(!f.is_rolled_over());
    assert_eq!(f.stream_position().await?, 10);
    f.seek(SeekFrom::Start(2)).await?;
    let mut buf = [0; 3];
    assert_eq!(f.read(&mut buf).await?, 3);
    assert_eq!(&buf, b"234");
    assert_eq!(f.read_to_end().await?, b"56789");
    assert_eq!(f.read(&mut buf).await?, 0, "at the end");
    Ok(())
}

#[anyio::test]
async fn spooled_file_rolls_over_past_max_size_keeping_data_and_position() -> anyio::Result<()> {
    let mut f = SpooledTemporaryFile::new(10);
    f.write_all(b"01234").await?;
    f.write_all(b"56789A").await?; // 11 > 10
    assert!(f.is_rolled_over());
    assert_eq!(f.stream_position().await?, 11);
    f.write_all(b"BC").await?;
    f.seek(SeekFrom::Start(0)).await?;
    assert_eq!(f.read_to_end().await?, b"0123456789ABC");
    Ok(())
}

#[anyio::test]
async fn spooled_explicit_rollover_keeps_position() -> anyio::Result<()> {
    let mut f = SpooledTemporaryFile::new(1 << 20);
    f.write_all(b"hello world").await?;
    f.seek(SeekFrom::Start(6)).await?;
    f.rollover().await?;
    assert!(f.is_rolled_over());
    f.rollover().await?; // a second rollover does nothing
    assert_eq!(f.stream_position().await?, 6);
    assert_eq!(f.read_to_end().await?, b"world");
    Ok(())
}

#[anyio::test]
async fn spooled_zero_max_size_rolls_over_on_the_first_byte() -> anyio::Result<()> {
    let mut f = SpooledTemporaryFile::new(0);
    f.write_all(b"").await?;
    assert!(!f.is_rolled_over(), "an empty write holds nothing");
    f.write_all(b"x").await?;
    assert!(f.is_rolled_over());
    Ok(())
}

#[anyio::test]
async fn spooled_seek_before_the_start_is_invalid_argument() -> anyio::Result<()> {
    let mut f = SpooledTemporaryFile::new(100);
    f.write_all(b"abc").await?;
    assert_eq!(
        kind(f.seek(SeekFrom::Current(-10)).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(f.stream_position().await?, 3, "a failed seek moves nothing");
    f.rollover().await?;
    assert_eq!(
        kind(f.seek(SeekFrom::Current(-10)).await),
        ErrorKind::InvalidArgument
    );
    assert_eq!(f.stream_position().await?, 3);
    Ok(())
}

#[anyio::test]
async fn spooled_file_with_limiter_rolls_over_under_it() -> anyio::Result<()> {
    let limiter = anyio::CapacityLimiter::new(1)?;
    let mut f = SpooledTemporaryFile::new(2).with_limiter(limiter.clone());
    f.write_all(b"abc").await?;
    assert!(f.is_rolled_over());
    f.seek(SeekFrom::Start(0)).await?;
    assert_eq!(f.read_to_end().await?, b"abc");
    // Every loan was returned.
    assert_eq!(limiter.borrowed_tokens(), 0);
    Ok(())
}
