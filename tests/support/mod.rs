//! Test fixtures shared by the integration suites.
//!
//! A suite in `tests/suites/` is written once against [`Backend`] and included by one
//! small test binary per backend (`tests/lock_memory.rs`, `tests/lock_redis.rs`, ...),
//! each defining `fn backend() -> support::Backend`. Every test takes its own instance
//! with a unique prefix, so tests of one binary run in parallel without seeing each
//! other's keys.

#![allow(dead_code)]

pub mod deployment;
pub mod down;
pub mod examples;
pub mod logs;
pub mod redis;
pub mod sentinel;
pub mod tls;

use std::sync::atomic::{AtomicUsize, Ordering};

use cachify::{Cachify, CachifyBuilder};

/// Where a suite's instances keep their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh `MemoryClient` per instance.
    Memory,
    /// A `RedisClient` per instance, on this test binary's own `redis-server`.
    Redis,
    /// A `RedisClusterClient` per instance, on this test binary's own 3-master cluster.
    RedisCluster,
}

impl Backend {
    /// A builder on this backend with a prefix no other test uses.
    pub fn builder(self, test: &str) -> CachifyBuilder {
        let builder = Cachify::builder().prefix(unique_prefix(test));
        match self {
            Backend::Memory => builder,
            Backend::Redis => builder
                .redis(&redis::server().url())
                .expect("the test server's URL is valid"),
            Backend::RedisCluster => {
                let urls = redis::cluster().urls();
                let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                builder
                    .redis_cluster(&urls)
                    .expect("the test cluster's URLs are valid")
            }
        }
    }

    /// An instance on this backend with a prefix no other test uses.
    pub fn instance(self, test: &str) -> Cachify {
        self.builder(test).build()
    }
}

/// `"{test}-{n}-{pid}:"`: unique within the process and across processes sharing a server.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{test}-{n}-{}:", std::process::id())
}
