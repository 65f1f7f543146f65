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
/// Options: `backends = ["tokio"]` restricts the backends; `timeout = 30` (seconds, default
/// 60) fails a test that runs longer, so a bug fails the test instead of hanging the suite.
/// Other attributes on the function (`#[ignore]`, `#[should_panic]`) apply to each
/// generated test. The function may return `()` or `Result<(), E>` with `E: Debug`.
///
/// Tests run with debug mode's cancellation watchdog (`Runner::cancel_watchdog`, 5 s): a
/// task left pending in a foreign future long after its scope was cancelled — the usual
/// reason a test hangs until its timeout — is reported on stderr.
///
/// ```ignore
/// #[anyio::test]
/// async fn sleeps() -> anyio::Result<()> {
///     anyio::sleep(std::time::Duration::from_millis(1)).await
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
