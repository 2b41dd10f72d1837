//! The pooled suite on Redis (a server this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::Redis
}

include!("suites/pooled.rs");
include!("suites/py_layout.rs");
