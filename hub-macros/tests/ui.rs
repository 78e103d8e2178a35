//! Compile-time behaviour of `#[cached_api]` / `#[cached]`: every misuse is a compile error
//! spanned on the offending tokens (`ui/fail/*.stderr`). Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite` and read them. The forms that compile are tested in `tests/expand`:
//! with no `pass` case here, trybuild only checks, never builds or links.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
