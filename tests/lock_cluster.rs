//! The lock suite on Redis Cluster (servers this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::RedisCluster
}

include!("suites/lock.rs");
include!("suites/lifecycle.rs");
