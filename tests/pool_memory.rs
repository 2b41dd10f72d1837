//! The pool suite on the in-memory backend.

mod support;

fn backend() -> support::Backend {
    support::Backend::Memory
}

include!("suites/pool.rs");
