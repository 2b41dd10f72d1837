mod support;
fn backend() -> support::Backend {
    support::Backend::Memory
}
include!("suites/lock.rs");
include!("suites/lifecycle.rs");
