mod support;
fn backend() -> support::Backend {
    support::Backend::RedisCluster
}
include!("suites/backend.rs");
include!("suites/near_tracking.rs");
