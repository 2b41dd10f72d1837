//! Compile-time diagnostics of `#[lock]` and `#[once]` (trybuild).

#[test]
fn lock_and_once_diagnostics() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/lock_*.rs");
    cases.compile_fail("tests/ui/once_*.rs");
}
