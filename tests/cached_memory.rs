//! `#[cached]` on the in-memory backend.

mod support;

fn backend() -> support::Backend {
    support::Backend::Memory
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
