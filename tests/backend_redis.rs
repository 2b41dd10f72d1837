mod support;
fn backend() -> support::Backend {
    support::Backend::Redis
}
include!("suites/backend.rs");
include!("suites/near_tracking.rs");
