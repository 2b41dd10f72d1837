//! The engine room of [cachify](https://docs.rs/cachify): backend traits and the built-in
//! backends, the codec of cached values, `Cachify` instances and the global one, and
//! the cache, lock and pool engines.
//!
//! Applications depend on the `cachify` facade, which re-exports everything here
//! together with the attribute macros; this crate's API is the same.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod codec;
pub mod error;
pub mod glob;
pub mod instance;
mod lock;

mod cache;
mod decoded;
mod detached;
mod events;
mod expiry;
mod flight;
mod wait;

#[cfg(feature = "redis")]
mod near;
mod pool;
mod stats;
#[cfg(feature = "metrics")]
mod stats_metrics;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "redis")]
pub use backend::redis::RedisOptions;
#[cfg(feature = "redis")]
pub use backend::RedisClient;
#[cfg(feature = "redis-cluster")]
pub use backend::RedisClusterClient;
pub use backend::{AsyncClient, MemoryCapacity, MemoryClient, SyncClient};
pub use codec::CodecError;
pub use detached::{flush_releases, flush_releases_async};
pub use error::{BackendError, Error};
pub use instance::{init_cachify, try_init_cachify, Cachify, CachifyBuilder};
#[cfg(feature = "redis")]
pub use near::{NearCache, NearCacheStatus};
pub use stats::Stats;

/// The attribute for implementing [`AsyncClient`] on a custom backend, re-exported so
/// that the backend needs no dependency of its own on `async-trait`.
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::{async_trait, AsyncClient, BackendError};
///
/// struct Nothing;
///
/// #[async_trait]
/// impl AsyncClient for Nothing {
///     async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
///         Ok(None)
///     }
///     async fn set(&self, _: &str, _: &[u8], _: Option<Duration>, _: bool) -> Result<bool, BackendError> {
///         Ok(false)
///     }
///     async fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
///         Ok(0)
///     }
/// }
/// ```
pub use async_trait::async_trait;

pub use lock::{lock, AsyncLockGuard, Lock, LockGuard};
pub use pool::{pool, AsyncPoolSlot, Pool, PoolSlot};
