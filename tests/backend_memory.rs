mod support;
fn backend() -> support::Backend {
    support::Backend::Memory
}
include!("suites/backend.rs");
