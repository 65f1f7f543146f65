//! Benchmarks of "Asynchronous file I/O support": `anyio::fs` against the raw runtime's
//! file API doing the same work (`tokio::fs` on tokio, `async-fs` on smol).
//!
//! The bodies run as a spawned task on both sides, on the same runtime configuration (tokio
//! current-thread, tokio 2 workers, smol 1 thread, smol 2 threads): see `support/mod.rs`
//! for the rule, the rounds and the environment variables.
//!
//! Cases (id for `ANYIO_BENCH_CASE`):
//! * `file-copy`: read a file of `{n}` MiB (256 by default) in 64 KiB chunks and write each
//!   chunk to a second file, then flush and close both: `AsyncFile` vs `tokio::fs::File`
//!   / `async_fs::File`. The source is made once per process and stays in the page cache,
//!   so the case measures the async layer (thread hops, buffering), not the disk.
//! * `walk`: count every entry of a tree of `{n}` files (20,000 by default: 20 directories
//!   of 10 directories of `n / 200` files), depth first: `Path::walk` vs a recursion over
//!   `tokio::fs::read_dir` / `async_fs::read_dir` that asks each entry's file type (what
//!   a walk needs to descend), as a user of those APIs writes it.
//!
//! `cargo bench --all-features --bench fs`; `ANYIO_BENCH_SIZE=16 ANYIO_BENCH_CASE=file-copy`
//! for a quick round.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyio::fs::AsyncFile;
use futures_lite::StreamExt;
use support::{Case, Config, Raw, run_anyio, run_raw, secs};

const CHUNK: usize = 64 * 1024;

static SCRATCH: OnceLock<tempfile::TempDir> = OnceLock::new();

/// The benchmark's scratch directory, removed at the end of `main`.
fn scratch() -> &'static Path {
    SCRATCH
        .get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
        .path()
}

/// A source file of `mib` MiB (made once per size).
fn source(mib: usize) -> PathBuf {
    static MADE: OnceLock<Mutex<HashMap<usize, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let mut made = made.lock().unwrap();
    made.entry(mib)
        .or_insert_with(|| {
            let path = scratch().join(format!("source-{mib}"));
            let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
            let mut data = Vec::with_capacity(mib << 20);
            while data.len() < mib << 20 {
                data.extend_from_slice(&chunk);
            }
            std::fs::write(&path, data).expect("the source file");
            path
        })
        .clone()
}

/// A tree of `files` files (made once per size); returns its root.
fn tree(files: usize) -> PathBuf {
    static MADE: OnceLock<Mutex<HashMap<usize, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let mut made = made.lock().unwrap();
    made.entry(files)
        .or_insert_with(|| {
            let root = scratch().join(format!("tree-{files}"));
            let per_dir = files.div_ceil(200).max(1);
            let mut left = files;
            for a in 0..20 {
                for b in 0..10 {
                    let dir = root.join(format!("d{a}/e{b}"));
                    std::fs::create_dir_all(&dir).expect("a tree directory");
                    for f in 0..per_dir.min(left) {
                        std::fs::write(dir.join(format!("f{f}")), b"x").expect("a tree file");
                    }
                    left -= per_dir.min(left);
                }
            }
            root
        })
        .clone()
}

/// Every entry a walk of `tree(files)` yields: the files and the 20 + 200 directories.
fn tree_entries(files: usize) -> usize {
    files + 20 + 200
}

fn anyio_copy(config: Config, mib: usize) -> f64 {
    let src = source(mib);
    let dst = scratch().join(format!("anyio-copy-{}", config.name()));
    run_anyio(config, move || async move {
        let start = Instant::now();
        let mut from = AsyncFile::open(&src).await?;
        let mut to = AsyncFile::create(&dst).await?;
        let mut buf = vec![0; CHUNK];
        let mut total = 0;
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n]).await?;
            total += n;
        }
        to.flush().await?;
        to.close().await?;
        from.close().await?;
        assert_eq!(total, mib << 20);
        Ok(secs(start))
    })
}

fn raw_copy(config: Config, mib: usize) -> f64 {
    let src = source(mib);
    let dst = scratch().join(format!("raw-copy-{}", config.name()));
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let mut buf = vec![0; CHUNK];
        let mut total = 0;
        match raw {
            Raw::Tokio(_) => {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut from = tokio::fs::File::open(&src).await.unwrap();
                let mut to = tokio::fs::File::create(&dst).await.unwrap();
                loop {
                    let n = from.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    to.write_all(&buf[..n]).await.unwrap();
                    total += n;
                }
                to.flush().await.unwrap();
            }
            Raw::Smol(_) => {
                use futures_lite::{AsyncReadExt, AsyncWriteExt};
                let mut from = async_fs::File::open(&src).await.unwrap();
                let mut to = async_fs::File::create(&dst).await.unwrap();
                loop {
                    let n = from.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    to.write_all(&buf[..n]).await.unwrap();
                    total += n;
                }
                to.flush().await.unwrap();
            }
        }
        assert_eq!(total, mib << 20);
        secs(start)
    })
}

fn anyio_walk(config: Config, files: usize) -> f64 {
    let root = tree(files);
    run_anyio(config, move || async move {
        let start = Instant::now();
        let mut walk = anyio::fs::Path::new(&root).walk();
        let mut n = 0;
        while let Some(entry) = walk.next().await {
            entry?;
            n += 1;
        }
        assert_eq!(n, tree_entries(files));
        Ok(secs(start))
    })
}

fn raw_walk(config: Config, files: usize) -> f64 {
    let root = tree(files);
    run_raw(config, move |raw| async move {
        let start = Instant::now();
        let mut n = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            match raw {
                Raw::Tokio(_) => {
                    let mut entries = tokio::fs::read_dir(&dir).await.unwrap();
                    while let Some(e) = entries.next_entry().await.unwrap() {
                        n += 1;
                        if e.file_type().await.unwrap().is_dir() {
                            stack.push(e.path());
                        }
                    }
                }
                Raw::Smol(_) => {
                    let mut entries = async_fs::read_dir(&dir).await.unwrap();
                    while let Some(e) = entries.next().await {
                        let e = e.unwrap();
                        n += 1;
                        if e.file_type().await.unwrap().is_dir() {
                            stack.push(e.path());
                        }
                    }
                }
            }
        }
        assert_eq!(n, tree_entries(files));
        secs(start)
    })
}

fn main() {
    let cases = vec![
        Case::new(
            "file-copy",
            "read a {n} MiB file in 64 KiB chunks, write each to another file",
            "tokio::fs::File / async_fs::File",
            Some(1.0),
            256,
            anyio_copy,
            raw_copy,
        ),
        Case::new(
            "walk",
            "walk a tree of {n} files, counting entries",
            "tokio::fs::read_dir / async_fs::read_dir recursion",
            None,
            20_000,
            anyio_walk,
            raw_walk,
        ),
    ];
    support::main("anyio file benchmarks", cases);
    // A static's destructor never runs: remove the scratch files (gigabytes) here.
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir.path());
    }
}
