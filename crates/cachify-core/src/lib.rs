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
pub mod instance;
mod lock;

mod cache;
mod detached;
mod events;
mod expiry;
mod wait;

mod pool;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "redis")]
pub use backend::RedisClient;
#[cfg(feature = "redis-cluster")]
pub use backend::RedisClusterClient;
pub use backend::{AsyncClient, MemoryClient, SyncClient};
pub use error::{BackendError, CodecError, Error};
pub use instance::{init_cachify, Cachify, CachifyBuilder};

pub use lock::{lock, AsyncLockGuard, Lock, LockGuard};
pub use pool::{pool, AsyncPoolSlot, Pool, PoolSlot};
