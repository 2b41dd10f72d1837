//! The cached suite on Redis Cluster (servers this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::RedisCluster
}

include!("suites/cached.rs");

include!("suites/single_flight.rs");
include!("suites/shapes.rs");

include!("suites/invalidation.rs");
include!("suites/fleet_flight.rs");
include!("suites/refresh.rs");
include!("suites/stats.rs");
include!("suites/near_cache.rs");
include!("suites/near_cache_coherence.rs");
include!("suites/near_cache_faults.rs");
