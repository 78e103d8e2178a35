//! Compile-time behaviour of `#[cached_api]` / `#[cached]`: every misuse is a compile error
//! spanned on the offending tokens (`ui/fail/*.stderr`), every argument form compiles
//! (`ui/pass`). Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
