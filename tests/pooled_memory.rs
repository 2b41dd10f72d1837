//! The `#[pooled]` suite on the in-memory backend.

mod support;

fn backend() -> support::Backend {
    support::Backend::Memory
}

include!("suites/pooled.rs");
include!("suites/py_layout.rs");
