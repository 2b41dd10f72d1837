// Over 500 lines: the two client traits, each method with its contract and a tested example.
//! The backend traits: what cachify needs from a store, and the built-in stores.
//!
//! A backend implements three required methods, exactly py-cachify's client protocol:
//! `get`, `set(key, value, ttl, nx)` and `delete`. `set` with `nx = true` must be an
//! atomic set-if-absent: locks and `#[once]` are only as exclusive as it is.
//!
//! Everything else locks and pools need is a *provided* method with a default built on
//! those three, so a custom client that implements only them works for caching, locks and
//! pools. The defaults are correct but not all atomic (each says where it is not); the
//! built-in [`MemoryClient`] and the Redis client override them with atomic versions.
//!
//! # Examples
//!
//! An instance over a store the application keeps a handle to:
//!
//! ```
//! # use cachify_core as cachify;
//! use cachify::{backend::MemoryClient, Cachify};
//!
//! let store = MemoryClient::new();
//! let cachify = Cachify::builder().sync_client(store.clone()).build();
//! let _guard = cachify.lock("job").acquire()?;
//! assert_eq!(store.len(), 1, "the lock is one entry of the store");
//! # Ok::<(), cachify::Error>(())
//! ```

mod default_pool;
pub(crate) mod hash_tag;
mod memory;
mod miss_claim;
mod notify;
#[cfg(feature = "redis")]
pub mod redis;
mod slot_table;

use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "redis")]
pub use self::redis::RedisClient;
#[cfg(feature = "redis-cluster")]
pub use self::redis::RedisClusterClient;
pub use memory::{MemoryCapacity, MemoryClient};
pub use miss_claim::MissClaim;
pub use notify::{ReleaseHub, ReleaseWatch};

use crate::error::BackendError;
use crate::glob::KeySelection;

/// A blocking backend, used by sync functions and the blocking lock and pool methods.
///
/// # Examples
///
/// A custom client needs only the three required methods:
///
/// ```
/// # use cachify_core as cachify;
/// use std::collections::HashMap;
/// use std::time::Duration;
/// use cachify::{BackendError, SyncClient};
/// use parking_lot::Mutex;
///
/// #[derive(Default)]
/// struct NoExpiryMap(Mutex<HashMap<String, Vec<u8>>>);
///
/// impl SyncClient for NoExpiryMap {
///     fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
///         Ok(self.0.lock().get(key).cloned())
///     }
///     fn set(&self, key: &str, value: &[u8], _ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
///         let mut map = self.0.lock();
///         if nx && map.contains_key(key) {
///             return Ok(false);
///         }
///         map.insert(key.to_owned(), value.to_vec());
///         Ok(true)
///     }
///     fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
///         let mut map = self.0.lock();
///         Ok(keys.iter().filter(|key| map.remove(**key).is_some()).count() as u64)
///     }
/// }
///
/// let client = NoExpiryMap::default();
/// assert!(client.set("k", b"v", None, true).unwrap());
/// assert!(!client.set("k", b"w", None, true).unwrap());
/// assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"v"[..]));
/// ```
pub trait SyncClient: Send + Sync + 'static {
    /// The value stored under `key`, or `None` when there is none (or it expired).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.set("k", b"v", None, false)?;
    /// assert_eq!(client.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(client.get("absent")?, None);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;

    /// Stores `value` under `key`, expiring after `ttl` (`None`: never).
    ///
    /// With `nx = false` it always overwrites and returns `true`. With `nx = true` it
    /// must atomically store only if no live value exists, and return whether it stored.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// assert!(client.set("lock:job", b"token-1", Some(Duration::from_secs(30)), true)?);
    /// assert!(!client.set("lock:job", b"token-2", None, true)?, "nx keeps the live value");
    /// assert!(client.set("lock:job", b"token-3", None, false)?, "without nx it overwrites");
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError>;

    /// Stores `value` under `key` like `set` without `nx`, as state that must never be
    /// evicted: a pool's state, which a backend with a capacity would otherwise treat as
    /// a cached value and drop under a flood, letting the pool admit anew.
    ///
    /// The default calls [`set`](Self::set); a backend that evicts cached values keeps
    /// these apart (the memory backend pins them, as it does locks).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.set_pinned("pool:api-state", b"state", None)?;
    /// assert_eq!(client.get("pool:api-state")?.as_deref(), Some(&b"state"[..]));
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn set_pinned(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.set(key, value, ttl, false).map(drop)
    }

    /// Deletes `keys`, returning how many existed.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.set("a", b"1", None, false)?;
    /// assert_eq!(client.delete(&["a", "absent"])?, 1);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError>;

    /// Reads the value under `key` into `buf` (replacing its contents); returns whether
    /// there is one.
    ///
    /// The hot path of `#[cached]` reuses one buffer per thread, so a backend that can
    /// copy straight into it saves an allocation per hit. The default calls
    /// [`get`](Self::get).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{MemoryClient, SyncClient};
    ///
    /// let client = MemoryClient::new();
    /// client.set("k", b"v", None, false).unwrap();
    /// let mut buf = Vec::new();
    /// assert!(client.get_into("k", &mut buf).unwrap());
    /// assert_eq!(buf, b"v");
    /// assert!(!client.get_into("absent", &mut buf).unwrap());
    /// ```
    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool, BackendError> {
        match self.get(key)? {
            Some(value) => {
                *buf = value;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes `key` only if it holds `expected`; returns whether it deleted.
    ///
    /// This is how a lock guard releases only its own lock. The default is a `get`
    /// followed by a `delete`, **not atomic**: if the key expires and is taken by another
    /// owner between the two calls, that owner's lock is deleted.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.set("lock:job", b"mine", None, false)?;
    /// assert!(!client.delete_if_equals("lock:job", b"theirs")?);
    /// assert!(client.delete_if_equals("lock:job", b"mine")?);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        if self.get(key)?.as_deref() != Some(expected) {
            return Ok(false);
        }
        Ok(self.delete(&[key])? > 0)
    }

    /// Resets the expiry of `key` to `ttl` only if it holds `expected`; returns whether
    /// it did. Used to extend a lock's lease while its guard lives.
    ///
    /// The default is a `get` followed by a `set`, **not atomic**: a key that expires and
    /// is taken in between is overwritten.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// client.set("lock:job", b"mine", Some(Duration::from_secs(5)), false)?;
    /// assert!(client.expire_if_equals("lock:job", b"mine", Some(Duration::from_secs(60)))?);
    /// assert!(!client.expire_if_equals("lock:job", b"theirs", None)?);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        if self.get(key)?.as_deref() != Some(expected) {
            return Ok(false);
        }
        self.set(key, expected, ttl, false)
    }

    /// Takes the lock at `key` for `token` if nobody holds it, expiring after `ttl`
    /// (`None`: never), and returns its **fencing token**: a number larger than the one
    /// of every earlier holder of `key`. `None` when the lock is held.
    ///
    /// A resource that remembers the largest token it has seen can refuse a holder whose
    /// lock expired while it stalled: that holder's token is smaller than its successor's
    /// (see the locks chapter, "Fencing tokens"). The count is per key and lives in the
    /// backend, apart from the lock: the built-in backends keep it for as long as they
    /// live, so tokens never repeat.
    ///
    /// The default takes the lock with `set(nx)` and returns `Some(0)`: a backend that
    /// only has `get` / `set` / `delete` cannot count holders atomically, and 0, which no
    /// real token is, tells a resource that this holder is not fenced.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// let first = client.lock_acquire("lock:job", b"token-1", None)?.expect("free");
    /// assert_eq!(client.lock_acquire("lock:job", b"token-2", None)?, None, "held");
    /// client.delete_if_equals("lock:job", b"token-1")?;
    /// let second = client.lock_acquire("lock:job", b"token-2", None)?.expect("free again");
    /// assert!(second > first);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        Ok(self.set(key, token, ttl, true)?.then_some(0))
    }

    /// How long `key` has left to live; `None` when it does not exist, never expires,
    /// or the backend cannot tell (the default). Waiters use it to sleep no longer than
    /// a dead holder's lock can last. For a pool key, backends that can should answer
    /// with the time until its *soonest* live slot expires, when a waiter could get in.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// client.set("k", b"v", Some(Duration::from_secs(60)), false)?;
    /// assert!(client.remaining_ttl("k")?.is_some_and(|left| left <= Duration::from_secs(60)));
    /// assert_eq!(client.remaining_ttl("absent")?, None);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        let _ = key;
        Ok(None)
    }

    /// Admits `token` into the pool at `key` if fewer than `max_size` live slots exist;
    /// the slot expires after `slot_ttl` (`None`: never). Returns whether it was admitted.
    ///
    /// The default keeps the slot set as one encoded value and guards its
    /// read-modify-write with a `set(nx)` meta-lock (`{key}:guard`): correct when `set(nx)`
    /// is atomic, but it polls under contention and takes several round trips.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// let ttl = Some(Duration::from_secs(60));
    /// assert!(client.pool_acquire("pool:api", "token-1", 1, ttl)?);
    /// assert!(!client.pool_acquire("pool:api", "token-2", 1, ttl)?, "full");
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        default_pool::with_guard_blocking(self, key, |slots| {
            let now = default_pool::unix_millis();
            let deadline = default_pool::deadline(now, slot_ttl);
            Ok(slots.admit(token, max_size, deadline, now))
        })
    }

    /// Removes `token` from the pool at `key`; returns whether it was there and still
    /// counted (not past its own expiry). A backend that can wake waiters notifies `key`.
    /// The default uses the same meta-lock as [`pool_acquire`](Self::pool_acquire).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.pool_acquire("pool:api", "token-1", 2, None)?;
    /// assert!(client.pool_release("pool:api", "token-1")?);
    /// assert!(!client.pool_release("pool:api", "token-1")?, "already gone");
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        default_pool::with_guard_blocking(self, key, |slots| {
            Ok(slots.remove(token, default_pool::unix_millis()))
        })
    }

    /// The number of live (unexpired) slots in the pool at `key`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.pool_acquire("pool:api", "token-1", 2, None)?;
    /// assert_eq!(client.pool_size("pool:api")?, 1);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        let slots = default_pool::read(self.get(key)?.as_deref())?;
        Ok(slots.live_count(default_pool::unix_millis()))
    }

    /// Deletes every key that `selection` selects (a Redis glob, see [`crate::glob`], a
    /// required suffix and protected markers); returns how many live keys it deleted.
    ///
    /// This is what [`Cachify::delete_matching`](crate::Cachify::delete_matching) calls,
    /// with the instance's prefix escaped in front of the pattern and the namespaces of
    /// locks and pools protected. Built-in backends scan the store in bounded batches
    /// (`SCAN` and `UNLINK` on Redis, on every master of a cluster), so other callers are
    /// never held up for long; keys written while it runs may or may not be deleted. A
    /// failure part-way returns the error after some keys may already have been deleted.
    ///
    /// The default fails with a [`BackendError`] saying this backend cannot delete by
    /// pattern: a store that can list its keys implements it, deleting the keys
    /// [`KeySelection::selects`](crate::glob::KeySelection::selects) accepts.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// use cachify::glob::KeySelection;
    ///
    /// let client = MemoryClient::new();
    /// for key in ["user-7-name", "user-7-mail", "user-70-name", "user-7-lock:job"] {
    ///     client.set(key, b"v", None, false)?;
    /// }
    /// let selection = KeySelection::new("user-7-*").protecting(&["lock:"]);
    /// assert_eq!(client.delete_matching(&selection)?, 2);
    /// assert!(client.get("user-70-name")?.is_some());
    /// assert!(client.get("user-7-lock:job")?.is_some());
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        let _ = selection;
        Err(unsupported_pattern_deletion())
    }

    /// On a miss, one call that reads `key` once more and, when it is still missing,
    /// tries to take the lease `lease_key` for `token` for `lease`; `None` (the
    /// default): this backend does not share misses across processes, and `#[cached]`
    /// coordinates concurrent misses within each process only.
    ///
    /// This is how processes sharing a backend compute a missing value once between
    /// them: the caller that gets [`MissClaim::Leased`] computes it and ends with
    /// [`set_and_release`](Self::set_and_release); the others wait for the lease's
    /// release ([`watch`](Self::watch) on `lease_key`). A backend that implements it
    /// must read and take atomically, or at least take the lease before it reads the
    /// value: a value stored before a lease is freed is then never missed. The lease is
    /// renewed with [`expire_if_equals`](Self::expire_if_equals), which should be atomic
    /// too (a late renewal must not bring a released lease back). The lease key carries
    /// the value's cluster hash tag, so both keys live in one slot.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// use std::time::Duration;
    /// let client = MemoryClient::new();
    /// let claim = client.claim_miss("k", "k:computing", b"token", Duration::from_secs(3))?;
    /// assert_eq!(claim, None, "the memory backend coordinates misses within one process");
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn claim_miss(
        &self,
        key: &str,
        lease_key: &str,
        token: &[u8],
        lease: Duration,
    ) -> Result<Option<MissClaim>, BackendError> {
        let _ = (key, lease_key, token, lease);
        Ok(None)
    }

    /// Stores `value` under `key` (expiring after `ttl`), then frees the lease
    /// `lease_key` if it still holds `token` and wakes its watchers; returns whether the
    /// lease was still held. How the holder of a [`MissClaim::Leased`] ends.
    ///
    /// The default is a [`set`](Self::set) then a
    /// [`delete_if_equals`](Self::delete_if_equals): two round trips, in the order that
    /// matters (a watcher woken by the release finds the value).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// client.set("k:computing", b"token", None, true)?;
    /// assert!(client.set_and_release("k", b"value", None, "k:computing", b"token")?);
    /// assert_eq!(client.get("k")?.as_deref(), Some(&b"value"[..]));
    /// assert_eq!(client.get("k:computing")?, None);
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn set_and_release(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        lease_key: &str,
        token: &[u8],
    ) -> Result<bool, BackendError> {
        self.set(key, value, ttl, false)?;
        self.delete_if_equals(lease_key, token)
    }

    /// Starts watching `key` for releases, so a waiter wakes when it is freed rather than
    /// at its next poll. `None` (the default): this backend cannot notify; waiters poll.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # use cachify::{MemoryClient, SyncClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// client.set("lock:job", b"mine", None, false)?;
    /// let mut watch = client.watch("lock:job").expect("the memory backend notifies");
    /// client.delete_if_equals("lock:job", b"mine")?;
    /// assert!(watch.wait_blocking(Duration::from_secs(5)));
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        let _ = key;
        None
    }
}

/// A non-blocking backend, used by async functions and the async lock and pool methods.
///
/// The same contract as [`SyncClient`], method for method.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::collections::HashMap;
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use cachify::{AsyncClient, BackendError};
/// use parking_lot::Mutex;
///
/// #[derive(Default)]
/// struct NoExpiryMap(Mutex<HashMap<String, Vec<u8>>>);
///
/// #[async_trait]
/// impl AsyncClient for NoExpiryMap {
///     async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
///         Ok(self.0.lock().get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: &[u8], _ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
///         let mut map = self.0.lock();
///         if nx && map.contains_key(key) {
///             return Ok(false);
///         }
///         map.insert(key.to_owned(), value.to_vec());
///         Ok(true)
///     }
///     async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
///         let mut map = self.0.lock();
///         Ok(keys.iter().filter(|key| map.remove(**key).is_some()).count() as u64)
///     }
/// }
/// ```
#[async_trait]
pub trait AsyncClient: Send + Sync + 'static {
    /// The value stored under `key`, or `None` when there is none (or it expired).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.set("k", b"v", None, false).await?;
    /// assert_eq!(client.get("k").await?.as_deref(), Some(&b"v"[..]));
    /// # Ok(())
    /// # }
    /// ```
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;

    /// Stores `value` under `key`; see [`SyncClient::set`] for the `nx` contract.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// assert!(client.set("lock:job", b"token-1", None, true).await?);
    /// assert!(!client.set("lock:job", b"token-2", None, true).await?);
    /// # Ok(())
    /// # }
    /// ```
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError>;

    /// Stores `value` under `key` like `set` without `nx`, as state that must never be
    /// evicted (a pool's state); see [`SyncClient::set_pinned`]. The default calls
    /// [`set`](Self::set).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.set_pinned("pool:api-state", b"state", None).await?;
    /// assert_eq!(client.get("pool:api-state").await?.as_deref(), Some(&b"state"[..]));
    /// # Ok(())
    /// # }
    /// ```
    async fn set_pinned(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.set(key, value, ttl, false).await.map(drop)
    }

    /// Deletes `keys`, returning how many existed.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.set("a", b"1", None, false).await?;
    /// assert_eq!(client.delete(&["a", "absent"]).await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError>;

    /// Deletes `key` only if it holds `expected`; see [`SyncClient::delete_if_equals`]
    /// (the default is likewise not atomic).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.set("lock:job", b"mine", None, false).await?;
    /// assert!(!client.delete_if_equals("lock:job", b"theirs").await?);
    /// assert!(client.delete_if_equals("lock:job", b"mine").await?);
    /// # Ok(())
    /// # }
    /// ```
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        if self.get(key).await?.as_deref() != Some(expected) {
            return Ok(false);
        }
        Ok(self.delete(&[key]).await? > 0)
    }

    /// Resets the expiry of `key` only if it holds `expected`; see
    /// [`SyncClient::expire_if_equals`] (the default is likewise not atomic).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// client.set("lock:job", b"mine", Some(Duration::from_secs(5)), false).await?;
    /// assert!(client.expire_if_equals("lock:job", b"mine", Some(Duration::from_secs(60))).await?);
    /// # Ok(())
    /// # }
    /// ```
    async fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        if self.get(key).await?.as_deref() != Some(expected) {
            return Ok(false);
        }
        self.set(key, expected, ttl, false).await
    }

    /// Takes the lock at `key` for `token` if nobody holds it; its fencing token, or
    /// `None` when held. See [`SyncClient::lock_acquire`] (the default likewise returns
    /// `Some(0)`: not fenced).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// let first = client.lock_acquire("lock:job", b"token-1", None).await?.expect("free");
    /// client.delete_if_equals("lock:job", b"token-1").await?;
    /// let second = client.lock_acquire("lock:job", b"token-2", None).await?.expect("free");
    /// assert!(second > first);
    /// # Ok(())
    /// # }
    /// ```
    async fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        Ok(self.set(key, token, ttl, true).await?.then_some(0))
    }

    /// How long `key` has left to live; see [`SyncClient::remaining_ttl`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// client.set("k", b"v", Some(Duration::from_secs(60)), false).await?;
    /// assert!(client.remaining_ttl("k").await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        let _ = key;
        Ok(None)
    }

    /// Admits `token` into the pool at `key` if it has room; see
    /// [`SyncClient::pool_acquire`] (the default uses the same `set(nx)` meta-lock).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// assert!(client.pool_acquire("pool:api", "token-1", 1, None).await?);
    /// assert!(!client.pool_acquire("pool:api", "token-2", 1, None).await?, "full");
    /// # Ok(())
    /// # }
    /// ```
    async fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        default_pool::with_guard_async(self, key, |slots| {
            let now = default_pool::unix_millis();
            let deadline = default_pool::deadline(now, slot_ttl);
            Ok(slots.admit(token, max_size, deadline, now))
        })
        .await
    }

    /// Removes `token` from the pool at `key`; see [`SyncClient::pool_release`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.pool_acquire("pool:api", "token-1", 2, None).await?;
    /// assert!(client.pool_release("pool:api", "token-1").await?);
    /// # Ok(())
    /// # }
    /// ```
    async fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        default_pool::with_guard_async(self, key, |slots| {
            Ok(slots.remove(token, default_pool::unix_millis()))
        })
        .await
    }

    /// The number of live slots in the pool at `key`; see [`SyncClient::pool_size`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.pool_acquire("pool:api", "token-1", 2, None).await?;
    /// assert_eq!(client.pool_size("pool:api").await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    async fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        let slots = default_pool::read(self.get(key).await?.as_deref())?;
        Ok(slots.live_count(default_pool::unix_millis()))
    }

    /// Deletes every key that `selection` selects; see [`SyncClient::delete_matching`]
    /// (the default likewise fails with an "unsupported" [`BackendError`]).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// use cachify::glob::KeySelection;
    ///
    /// let client = MemoryClient::new();
    /// client.set("user-7-name", b"v", None, false).await?;
    /// client.set("user-8-name", b"v", None, false).await?;
    /// assert_eq!(client.delete_matching(&KeySelection::new("user-7-*")).await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    async fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        let _ = selection;
        Err(unsupported_pattern_deletion())
    }

    /// On a miss, reads `key` once more and, when it is still missing, tries to take
    /// the lease `lease_key`; see [`SyncClient::claim_miss`] (`None`, the default: misses
    /// are coordinated within each process only).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// use std::time::Duration;
    /// let client = MemoryClient::new();
    /// let claim = client.claim_miss("k", "k:computing", b"token", Duration::from_secs(3)).await?;
    /// assert_eq!(claim, None);
    /// # Ok(())
    /// # }
    /// ```
    async fn claim_miss(
        &self,
        key: &str,
        lease_key: &str,
        token: &[u8],
        lease: Duration,
    ) -> Result<Option<MissClaim>, BackendError> {
        let _ = (key, lease_key, token, lease);
        Ok(None)
    }

    /// Stores `value`, then frees the lease if it still holds `token`; see
    /// [`SyncClient::set_and_release`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// client.set("k:computing", b"token", None, true).await?;
    /// assert!(client.set_and_release("k", b"value", None, "k:computing", b"token").await?);
    /// assert_eq!(client.get("k:computing").await?, None);
    /// # Ok(())
    /// # }
    /// ```
    async fn set_and_release(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        lease_key: &str,
        token: &[u8],
    ) -> Result<bool, BackendError> {
        self.set(key, value, ttl, false).await?;
        self.delete_if_equals(lease_key, token).await
    }

    /// Starts watching `key` for releases; see [`SyncClient::watch`]. Async so that a
    /// backend can finish subscribing before the waiter's next attempt.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// # use cachify::{AsyncClient, MemoryClient};
    /// let client = MemoryClient::new();
    /// use std::time::Duration;
    /// let mut watch = client.watch("lock:job").await.expect("the memory backend notifies");
    /// client.set("lock:job", b"mine", None, false).await?;
    /// client.delete(&["lock:job"]).await?;
    /// assert!(watch.wait(Duration::from_secs(5)).await);
    /// # Ok(())
    /// # }
    /// ```
    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        let _ = key;
        None
    }
}

/// What the default [`SyncClient::delete_matching`] and [`AsyncClient::delete_matching`]
/// answer.
fn unsupported_pattern_deletion() -> BackendError {
    BackendError::new(
        "this backend cannot delete by pattern: its client does not implement delete_matching",
    )
}
