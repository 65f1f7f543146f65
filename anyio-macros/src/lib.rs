//! Procedural macros of [anyio](https://docs.rs/anyio): `#[anyio::main]` and
//! `#[anyio::test]`. Use them through the `anyio` crate (feature `macros`, on by default).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod entry;

use proc_macro::TokenStream;

/// Runs an `async fn main` with `anyio::run` (or the backend named with
/// `backend = "smol"`).
///
/// ```ignore
/// #[anyio::main]
/// async fn main() -> anyio::Result<()> {
///     anyio::sleep(std::time::Duration::from_millis(10)).await?;
///     Ok(())
/// }
/// ```
///
/// A `main` that returns `()` exits with status 1 after printing the error when the run
/// itself fails (a runtime that cannot be built).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: proc_macro2::TokenStream = item.into();
    entry::main(args.into(), item.clone())
        .unwrap_or_else(|e| entry::error_with_stub(e, item))
        .into()
}

/// Runs an async test once on every enabled backend: `#[anyio::test] async fn it_works()`
/// becomes the tests `it_works::tokio` and `it_works::smol`.
///
/// The function may return `()` or `Result<(), E>` with `E: Debug`, and takes no
/// arguments. Other attributes on it (`#[ignore]`, `#[should_panic]`) apply to each
/// generated test.
///
/// # Options
///
/// * `backends = ["tokio"]`: only these backends.
/// * `timeout = 30`: seconds of real time (default 60) after which the test fails — with
///   the task tree of that moment in its message (`anyio::testing::dump_task_tree`: every
///   task nested under its parent, by name, with the scopes it waits in, their deadlines
///   and shields), so a hang says where it hangs.
/// * `flavor = "current_thread"`: tokio's current-thread scheduler; smol on one thread
///   (smol's default). `flavor = "multi_thread"` is tokio's default, the multi-thread
///   scheduler with one worker per core.
/// * `threads = 2`: tokio's multi-thread scheduler with that many workers; smol's executor
///   on that many threads (not with `flavor = "current_thread"`).
/// * `virtual_time`: the test runs on an `anyio::testing::VirtualClock` that moves only
///   when the test calls `anyio::testing::current_clock().unwrap().advance(d)`.
/// * `autojump = "0ms"` (also `"10ms"`, `"500us"`, `"1s"`): a virtual clock that jumps to
///   the next deadline by itself once every task has been blocked that long (real time).
///   Sleeps, `sleep_until`, scope deadlines and `current_time()` follow the clock; a raw
///   `tokio::time::sleep` and `to_thread` work stay in real time.
///
/// Options combine: `#[anyio::test(flavor = "current_thread", autojump = "0ms", timeout =
/// 10)]`.
///
/// Tests run with debug mode's cancellation watchdog (`Runner::cancel_watchdog`, 5 s): a
/// task left pending in a foreign future long after its scope was cancelled — the usual
/// reason a test hangs until its timeout — is reported on stderr.
///
/// ```ignore
/// #[anyio::test(autojump = "0ms")]
/// async fn retries_for_a_day() -> anyio::Result<()> {
///     let start = anyio::current_time();
///     anyio::sleep(std::time::Duration::from_secs(86_400)).await?; // instant
///     assert_eq!(anyio::current_time() - start, std::time::Duration::from_secs(86_400));
///     Ok(())
/// }
/// ```
///
/// # Parameterised tests (rstest)
///
/// Put `#[rstest]` and its cases above `#[anyio::test]`: rstest turns each case into an
/// argument-free async function that carries the attributes below it, and
/// `#[anyio::test]` then runs each of those on every backend
/// (`doubles::case_1::tokio`, `doubles::case_1::smol`, ...). anyio's own test suite does
/// this in `tests/testing_runner.rs`.
///
/// ```ignore
/// #[rstest::rstest]
/// #[case(1)]
/// #[case(21)]
/// #[anyio::test]
/// async fn doubles(#[case] n: u64) -> anyio::Result<()> {
///     assert_eq!(n * 2, n + n);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
