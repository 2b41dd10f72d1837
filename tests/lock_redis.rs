//! The lock suite on Redis (a server this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::Redis
}

include!("suites/lock.rs");
include!("suites/lifecycle.rs");
