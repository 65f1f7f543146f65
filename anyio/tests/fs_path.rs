//! `anyio::fs::Path` and directory streams: std::fs operations, batched iteration,
//! cancellation classes, the limiter reaching derived objects (AnyIO's
//! tests/test_fileio.py, `TestPath`). Both backends, real files in a temporary directory.

use std::collections::BTreeSet;

use anyio::fs::Path;
use anyio::fs::tempfile::TemporaryDirectory;
use anyio::{CancelScope, CapacityLimiter, ErrorKind};
use futures_lite::StreamExt;

mod support;
use support::Rng;

async fn tmp() -> anyio::Result<(TemporaryDirectory, Path)> {
    let dir = TemporaryDirectory::new().await?;
    let path = Path::new(dir.path());
    Ok((dir, path))
}

#[anyio::test]
async fn file_and_directory_operations() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let sub = dir.join("a/b");
    sub.create_dir_all().await?;
    assert!(sub.is_dir().await? && !sub.is_file().await?);
    let f = sub.join("f.txt");
    assert!(!f.exists().await?);
    f.write("text").await?;
    assert!(f.exists().await? && f.try_exists().await? && f.is_file().await?);
    assert_eq!(f.read_to_string().await?, "text");
    assert_eq!(f.metadata().await?.len(), 4);
    assert_eq!(f.copy(sub.join("g.txt")).await?, 4);
    let moved = sub.join("g.txt").rename(dir.join("moved.txt")).await?;
    assert_eq!(moved.read().await?, b"text");
    assert!(!sub.join("g.txt").exists().await?);
    dir.join("hard").hard_link_to(&moved).await?;
    dir.join("soft").symlink_to(&moved).await?;
    assert!(dir.join("soft").is_symlink().await?);
    assert!(
        dir.join("soft")
            .symlink_metadata()
            .await?
            .file_type()
            .is_symlink()
    );
    assert_eq!(dir.join("soft").read_link().await?, moved);
    assert_eq!(
        dir.join("soft").canonicalize().await?,
        moved.canonicalize().await?
    );
    let mut perm = moved.metadata().await?.permissions();
    perm.set_readonly(true);
    moved.set_permissions(perm).await?;
    assert!(moved.metadata().await?.permissions().readonly());
    dir.join("touched").touch().await?;
    assert_eq!(dir.join("touched").metadata().await?.len(), 0);
    f.remove_file().await?;
    sub.remove_dir().await?;
    dir.join("a").remove_dir_all().await?;
    assert!(!dir.join("a").exists().await?);
    assert!(Path::cwd().await?.is_absolute());
    assert!(Path::new("rel").absolute().await?.is_absolute());
    Ok(())
}

#[anyio::test]
async fn errors_name_the_path_and_have_the_right_kind() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let e = dir.join("missing").read().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("missing"), "{e}");
    assert_eq!(
        Path::new("a\0b").metadata().await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        dir.read().await.unwrap_err().kind(),
        ErrorKind::Io,
        "a directory read as a file"
    );
    assert_eq!(
        dir.join("[").glob("[").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let e = dir.join("x").rename(dir.join("y")).await.unwrap_err();
    assert!(e.to_string().contains("renaming"), "{e}");
    Ok(())
}

async fn make_tree(
    dir: &Path,
    dirs: usize,
    files_per_dir: usize,
) -> anyio::Result<BTreeSet<String>> {
    let d = dir.as_std_path().to_path_buf();
    anyio::to_thread::run_sync(move || {
        let mut all = BTreeSet::new();
        for i in 0..dirs {
            let sub = d.join(format!("d{i}")).join("inner");
            std::fs::create_dir_all(&sub).unwrap();
            all.insert(format!("d{i}"));
            all.insert(format!("d{i}/inner"));
            for j in 0..files_per_dir {
                std::fs::write(sub.join(format!("f{j}")), b"").unwrap();
                all.insert(format!("d{i}/inner/f{j}"));
            }
        }
        all
    })
    .await
}

fn rel(dir: &Path, p: &Path) -> String {
    p.as_std_path()
        .strip_prefix(dir.as_std_path())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[anyio::test]
async fn read_dir_walk_and_glob_find_everything() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let all = make_tree(&dir, 5, 100).await?;
    let mut top: Vec<String> = Vec::new();
    let mut rd = dir.read_dir().await?;
    while let Some(e) = rd.next().await {
        let e = e?;
        assert!(e.file_type()?.is_dir());
        assert_eq!(e.depth(), 1);
        top.push(e.file_name().to_string_lossy().into_owned());
    }
    top.sort();
    assert_eq!(top, ["d0", "d1", "d2", "d3", "d4"]);
    let mut seen = BTreeSet::new();
    let mut walk = dir.walk();
    while let Some(e) = walk.next().await {
        let e = e?;
        let r = rel(&dir, &e.path());
        assert_eq!(e.depth(), r.matches('/').count() + 1);
        if let Some(parent) = r.rsplit_once('/').map(|(p, _)| p.to_owned()) {
            assert!(seen.contains(&parent), "parent {parent} before {r}");
        }
        seen.insert(r);
    }
    assert_eq!(seen, all);
    let found: Vec<Path> = dir.glob("*/inner/f1*")?.try_collect().await?;
    assert_eq!(found.len(), 5 * 11);
    let deep: Vec<Path> = dir.glob("**/f99")?.try_collect().await?;
    assert_eq!(deep.len(), 5);
    Ok(())
}

#[anyio::test]
async fn queries_and_mutations_do_nothing_in_a_cancelled_scope() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let f = dir.join("f");
    f.write("x").await?;
    let scope = CancelScope::new();
    scope.cancel();
    scope
        .run(async {
            assert!(f.exists().await.unwrap_err().is_cancelled());
            assert!(f.metadata().await.unwrap_err().is_cancelled());
            assert!(dir.read_dir().await.unwrap_err().is_cancelled());
            assert!(f.rename(dir.join("g")).await.unwrap_err().is_cancelled());
            assert!(f.remove_file().await.unwrap_err().is_cancelled());
            assert!(
                dir.join("new")
                    .create_dir()
                    .await
                    .unwrap_err()
                    .is_cancelled()
            );
            assert!(dir.walk().next().await.unwrap().unwrap_err().is_cancelled());
            anyio::Ok(())
        })
        .await?;
    assert!(f.exists().await?, "not renamed, not removed");
    assert!(!dir.join("g").exists().await? && !dir.join("new").exists().await?);
    Ok(())
}

#[anyio::test]
async fn a_cancelled_walk_stops_and_resumes_losing_nothing() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let all = make_tree(&dir, 4, 150).await?;
    let mut walk = dir.walk();
    let mut seen = BTreeSet::new();
    let mut cancels = 0;
    // Cancel a scope around every tenth step; every step outside goes on where it stopped.
    let mut step = 0u32;
    loop {
        step += 1;
        let scope = CancelScope::new();
        if step % 10 == 0 {
            scope.cancel();
        }
        let item = scope.run(async { anyio::Ok(walk.next().await) }).await?;
        match item.flatten() {
            None => break,
            Some(Err(e)) if e.is_cancelled() => cancels += 1,
            Some(r) => {
                seen.insert(rel(&dir, &r?.path()));
            }
        }
    }
    assert!(cancels > 0);
    assert_eq!(seen, all, "every entry once, none lost to a cancelled step");
    Ok(())
}

#[anyio::test]
async fn copy_under_random_cancellation_is_complete_or_not_done() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    let src = dir.join("src");
    let data: Vec<u8> = (0..(256u32 << 10)).map(|i| (i % 253) as u8).collect();
    src.write(&data).await?;
    let mut rng = Rng::new(0x5eed_f11e);
    let (mut done, mut not_done) = (0, 0);
    for round in 0..60 {
        let dst = dir.join(format!("dst{round}"));
        let scope = CancelScope::new();
        let yields = rng.below(4);
        let canceller = scope.clone();
        let out = anyio::task_group(|tg| {
            let (src, dst) = (src.clone(), dst.clone());
            let scope = scope.clone();
            async move {
                tg.start_soon(async move {
                    for _ in 0..yields {
                        anyio::lowlevel::checkpoint().await?;
                    }
                    canceller.cancel();
                    anyio::Ok(())
                })?;
                scope.run(async { src.copy(&dst).await }).await
            }
        })
        .await?
        .expect("not cancelled from outside");
        match out {
            Some(n) => {
                assert_eq!(n, data.len() as u64);
                assert_eq!(dst.read().await?, data, "reported done: complete");
                dst.remove_file().await?;
                done += 1;
            }
            None => {
                assert!(!dst.exists().await?, "reported not done: never started");
                not_done += 1;
            }
        }
    }
    println!("copies: {done} complete, {not_done} not started");
    Ok(())
}

#[anyio::test]
async fn the_limiter_reaches_derived_paths_streams_and_files() -> anyio::Result<()> {
    let (_d, dir) = tmp().await?;
    make_tree(&dir, 1, 3).await?;
    let limiter = CapacityLimiter::new(1)?;
    let root = dir.clone().with_limiter(limiter.clone());
    assert!(root.join("d0").limiter().is_some());
    assert!(root.join("d0").parent().unwrap().limiter().is_some());
    let entry = root.read_dir().await?.next().await.unwrap()?;
    assert!(entry.path().limiter().is_some());
    let walked = root.walk().next().await.unwrap()?;
    assert!(walked.path().limiter().is_some());
    let globbed = root.glob("*")?.next().await.unwrap()?;
    assert!(globbed.limiter().is_some());
    assert!(root.join("d0/inner/f0").open().await?.limiter().is_some());
    // Count the borrowers: with the only token held, each derived object's operation waits.
    let hold = limiter.acquire().await?;
    anyio::task_group(|tg| {
        let limiter = limiter.clone();
        async move {
            let p = entry.path();
            tg.start_soon(async move { p.metadata().await.map(drop) })?;
            let g = globbed.clone();
            tg.start_soon(async move { g.exists().await.map(drop) })?;
            let f = root.join("d0/inner/f1");
            tg.start_soon(async move { f.write("x").await })?;
            anyio::testing::wait_all_tasks_blocked().await?;
            assert_eq!(limiter.statistics().tasks_waiting, 3);
            drop(hold);
            anyio::Ok(())
        }
    })
    .await?;
    assert_eq!(limiter.statistics().borrowed_tokens, 0);
    Ok(())
}
