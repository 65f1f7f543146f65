//! Compile-time checks of `#[anyio::main]` and `#[anyio::test]`: misuse is a clear compile
//! error pointing at the mistake, never a panic in the macro or a confusing type error.

#[test]
fn macro_misuse_is_a_clear_compile_error() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
