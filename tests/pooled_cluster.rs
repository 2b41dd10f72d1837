//! The pooled suite on Redis Cluster (a server this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::RedisCluster
}

include!("suites/pooled.rs");
include!("suites/py_layout.rs");
