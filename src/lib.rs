#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use cachify_core::{
    async_trait, backend, codec, error, flush_releases, flush_releases_async, glob, init_cachify,
    instance, try_init_cachify, AsyncClient, BackendError, Cachify, CachifyBuilder, CodecError,
    Error, MemoryCapacity, MemoryClient, Stats, SyncClient,
};
pub use cachify_core::{lock, AsyncLockGuard, Lock, LockGuard};
pub use cachify_core::{pool, AsyncPoolSlot, Pool, PoolSlot};

#[cfg(feature = "redis-cluster")]
pub use cachify_core::RedisClusterClient;
#[cfg(feature = "redis")]
pub use cachify_core::{NearCache, NearCacheStatus, RedisClient, RedisOptions};

#[cfg(feature = "macros")]
pub use cachify_macros::{cached, companions, lock, once, pooled};

#[doc(hidden)]
pub mod __private {
    pub use cachify_core::__private::*;
}

/// The user's guide in `docs/`, compiled: `cargo test` runs every chapter's code.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../docs/src/quick-start.md")]
    struct QuickStart;
    #[doc = include_str!("../docs/src/caching.md")]
    struct Caching;
    #[doc = include_str!("../docs/src/backends.md")]
    struct Backends;
    #[cfg(feature = "redis")]
    #[doc = include_str!("../docs/src/near-cache.md")]
    struct NearCache;
    #[doc = include_str!("../docs/src/initialization.md")]
    struct Initialization;
    #[doc = include_str!("../docs/src/pools.md")]
    struct Pools;
    #[doc = include_str!("../docs/src/locks.md")]
    struct Locks;
    #[doc = include_str!("../docs/src/once.md")]
    struct Once;
    #[doc = include_str!("../docs/src/observability.md")]
    struct Observability;
    #[cfg_attr(feature = "py-cachify", doc = include_str!("../docs/src/migration.md"))]
    struct Migration;
}
