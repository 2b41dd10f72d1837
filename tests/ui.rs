//! Compile-time diagnostics of the attribute macros: every `tests/ui/<attribute>/*.rs`
//! must fail to compile with exactly the checked-in `.stderr`. Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui`, then read the new messages.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
}
