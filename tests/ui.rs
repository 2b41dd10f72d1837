//! Compile-fail tests of the attribute macros' diagnostics: every `tests/ui/*.rs` must
//! fail to compile with exactly the checked-in `.stderr`. Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui`, then read the new messages.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
