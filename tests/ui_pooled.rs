//! Compile-time diagnostics of `#[pooled]`.

#[test]
fn pooled_diagnostics() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/pooled/*.rs");
}
