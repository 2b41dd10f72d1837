//! The cached suite on Redis (a server this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::Redis
}

include!("suites/cached.rs");

include!("suites/single_flight.rs");
include!("suites/shapes.rs");
include!("suites/stats.rs");
