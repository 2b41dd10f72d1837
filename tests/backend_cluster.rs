mod support;
fn backend() -> support::Backend {
    support::Backend::RedisCluster
}
include!("suites/backend.rs");
