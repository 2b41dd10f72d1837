//! `MemoryClient`: the embedded in-process backend, and the default one.
//!
//! Guarantees:
//! - `set(nx = true)`, compare-and-delete, extend-if-owner and the pool operations each
//!   run under their key's shard lock: atomic among all threads and tasks of the process.
//! - Reads take no lock ([`store`]).
//! - Expiry is checked on every read, so an expired value is never returned.
//! - Expired entries are *reclaimed*, not only hidden: every shard keeps its deadlines in
//!   a min-heap; writes pop a few due entries, and a background thread ([`reaper`], one
//!   per process, shared by all clients, gone with the last client) sweeps every shard,
//!   so memory stays bounded under churn even for keys that are never read again.
//! - An expiry beyond what the clock can represent (`Duration::MAX`) never expires.
//! - Releases (compare-and-delete, delete, pool release, expiry) wake waiters in the
//!   same process through a [`ReleaseHub`](super::ReleaseHub).
//! - A store holds at most its [`MemoryCapacity`] of cached values: values written by
//!   `set` without `nx` are cached values, evicted past the bound ([`eviction`]); entries
//!   written by `set(nx = true)`, `set_pinned`, `expire_if_equals` and the pool
//!   operations (locks, pools, py-cachify's pool state) are pinned: never evicted, never counted.
//! - Deleting by pattern ([`scan`]) walks the keys without a lock and removes each match
//!   under its own shard lock; the async form runs on tokio's blocking pool.
//! - A lock's fencing token is drawn under the key's shard lock as the lock is taken,
//!   from one counter per store ([`fences`]): a key's tokens increase, nothing is kept
//!   per key.

mod capacity;
mod eviction;
mod fences;
mod reaper;
mod scan;
mod sieve;
mod store;
mod typed;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::slot_table::SlotTable;
use super::{AsyncClient, ReleaseWatch, SyncClient};
use crate::error::{BackendError, Error};
use crate::glob::KeySelection;
pub use capacity::MemoryCapacity;
use fences::Fences;
use store::{deadline_after, wrong_type, Entry, Store, Value};

/// An in-process store implementing both [`SyncClient`] and [`AsyncClient`].
///
/// Clones share one store, which is how the sync and async sides of a `Cachify` built
/// without clients see the same entries.
///
/// It holds at most its [`MemoryCapacity`] of cached values
/// ([`MemoryCapacity::DEFAULT_MAX_ENTRIES`] by default), evicting the least useful past
/// it; locks and pools are never evicted.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::{MemoryClient, SyncClient};
///
/// let client = MemoryClient::new();
/// assert!(client.set("k", b"v", Some(Duration::from_secs(60)), true).unwrap());
/// assert!(!client.set("k", b"w", None, true).unwrap(), "nx keeps the live value");
/// assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"v"[..]));
/// assert_eq!(client.delete(&["k", "absent"]).unwrap(), 1);
/// ```
#[derive(Clone)]
pub struct MemoryClient {
    store: Arc<Store>,
    fences: Arc<Fences>,
}

impl MemoryClient {
    /// A new, empty store of the default capacity
    /// ([`MemoryCapacity::DEFAULT_MAX_ENTRIES`] cached values).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let store = cachify::MemoryClient::new();
    /// let cachify = cachify::Cachify::builder().sync_client(store.clone()).build();
    /// # let _ = cachify;
    /// assert!(store.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_valid_capacity(MemoryCapacity::default())
    }

    /// A new, empty store holding at most `capacity`; past it, writing a cached value
    /// evicts others. A zero bound is [`Error::InvalidOption`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{MemoryCapacity, MemoryClient, SyncClient};
    ///
    /// let client = MemoryClient::with_capacity(MemoryCapacity::default().max_entries(2))?;
    /// for key in ["a", "b", "c"] {
    ///     client.set(key, b"v", None, false)?;
    /// }
    /// assert_eq!(client.len(), 2);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn with_capacity(capacity: MemoryCapacity) -> Result<Self, Error> {
        Ok(Self::with_valid_capacity(capacity.validate()?))
    }

    pub(crate) fn with_valid_capacity(capacity: MemoryCapacity) -> Self {
        let store = Arc::new(Store::new(capacity));
        reaper::REAPER.register(&store);
        Self {
            store,
            fences: Arc::default(),
        }
    }

    /// The capacity the store was made with.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{MemoryCapacity, MemoryClient};
    /// assert_eq!(MemoryClient::new().capacity(), MemoryCapacity::default());
    /// ```
    pub fn capacity(&self) -> MemoryCapacity {
        self.store.capacity()
    }

    /// How many entries the store holds, counting expired ones not reclaimed yet.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let client = cachify::MemoryClient::new();
    /// assert_eq!(client.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether the store holds no entry at all.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(cachify::MemoryClient::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry, waking anyone waiting on a lock or pool.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::SyncClient;
    /// let client = cachify::MemoryClient::new();
    /// client.set("k", b"v", None, false).unwrap();
    /// client.clear();
    /// assert!(client.is_empty());
    /// ```
    pub fn clear(&self) {
        let keys = self.store.keys();
        for key in &keys {
            self.store.write(key, |shard, now| shard.remove(key, now));
        }
        self.store.notify_all(&keys);
    }

    /// Whether `key` holds `expected` bytes, live: what the owner checks share.
    fn owns(entry: Option<&Entry>, expected: &[u8]) -> bool {
        matches!(entry.map(|entry| &entry.value), Some(Value::Bytes(bytes)) if **bytes == *expected)
    }
}

impl Default for MemoryClient {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryClient")
            .field("entries", &self.len())
            .finish()
    }
}

impl SyncClient for MemoryClient {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut buf = Vec::new();
        Ok(self.get_into(key, &mut buf)?.then_some(buf))
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool, BackendError> {
        let copied = self.store.read(key, |entry| match &entry.value {
            Value::Bytes(bytes) => {
                buf.clear();
                buf.extend_from_slice(bytes);
                true
            }
            Value::Slots(_) => false,
        });
        match copied {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(wrong_type(key)),
        }
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.store.write(key, |shard, now| {
            let deadline = deadline_after(now, ttl);
            if !nx {
                shard.insert_cached(key, value, None, deadline, now);
            } else if shard.live(key, now).is_some() {
                return false;
            } else {
                // Set-if-absent is how locks are taken: pinned.
                shard.insert(key, Value::Bytes(value.into()), deadline);
            }
            true
        }))
    }

    fn set_pinned(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.store.write(key, |shard, now| {
            shard.insert(key, Value::Bytes(value.into()), deadline_after(now, ttl));
        });
        Ok(())
    }

    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut deleted = 0;
        for key in keys {
            if self.store.write(key, |shard, now| shard.remove(key, now)) {
                deleted += 1;
                self.store.hub.notify(key);
            }
        }
        Ok(deleted)
    }

    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        let deleted = self.store.write(key, |shard, now| {
            let owned = Self::owns(shard.live(key, now), expected);
            if owned {
                shard.remove(key, now);
            }
            owned
        });
        if deleted {
            self.store.hub.notify(key);
        }
        Ok(deleted)
    }

    fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        Ok(self.store.write(key, |shard, now| {
            let owned = Self::owns(shard.live(key, now), expected);
            if owned {
                let value = Value::Bytes(expected.into());
                shard.insert(key, value, deadline_after(now, ttl));
            }
            owned
        }))
    }

    fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        Ok(self.store.write(key, |shard, now| {
            if shard.live(key, now).is_some() {
                return None;
            }
            shard.insert(key, Value::Bytes(token.into()), deadline_after(now, ttl));
            // ordering: counted under the key's shard lock, so the holders of one key
            // count in the order they took it.
            Some(self.fences.next())
        }))
    }

    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        let now = Instant::now();
        let deadline = self.store.read(key, |entry| match &entry.value {
            Value::Bytes(_) => entry.deadline,
            // A pool waiter gets in when the *first* slot expires; the entry itself
            // lives until the last one does.
            Value::Slots(slots) => slots.soonest_expiry(now),
        });
        Ok(deadline
            .flatten()
            .map(|deadline| deadline.saturating_duration_since(now)))
    }

    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.store.write(key, |shard, now| {
            // Entries are shared with lock-free readers: a pool changes by replacement.
            let (mut slots, previous) = match shard.get(key) {
                Some(Entry {
                    value: Value::Slots(slots),
                    deadline,
                    ..
                }) => (slots.clone(), *deadline),
                Some(entry) if entry.is_live(now) => return Err(wrong_type(key)),
                _ => (SlotTable::default(), None),
            };
            let admitted = slots.admit(token, max_size, deadline_after(now, slot_ttl), now);
            if slots.is_empty() {
                shard.remove(key, now);
                return Ok(admitted);
            }
            // The pool entry lives as long as its longest slot, so a pool whose
            // holders all crashed is reclaimed like any expired value.
            let deadline = slots.last_expiry();
            if deadline.is_some() && deadline == previous {
                // Its heap item is still queued (it is popped only once due, and a due
                // entry is gone): refusals on a full pool must not grow the heap.
                shard.replace(key, Value::Slots(slots), deadline);
            } else {
                shard.insert(key, Value::Slots(slots), deadline);
            }
            Ok(admitted)
        })
    }

    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        let released = self.store.write(key, |shard, now| {
            let Some(entry) = shard.live(key, now) else {
                return Ok(false);
            };
            let Value::Slots(slots) = &entry.value else {
                return Err(wrong_type(key));
            };
            if !slots.contains(token) {
                return Ok(false);
            }
            let mut slots = slots.clone();
            let released = slots.remove(token, now);
            if slots.is_empty() {
                shard.remove(key, now);
            } else {
                let deadline = entry.deadline;
                shard.replace(key, Value::Slots(slots), deadline);
            }
            Ok(released)
        })?;
        if released {
            self.store.hub.notify(key);
        }
        Ok(released)
    }

    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        let now = Instant::now();
        match self.store.read(key, |entry| match &entry.value {
            Value::Slots(slots) => Some(slots.live_count(now)),
            Value::Bytes(_) => None,
        }) {
            None => Ok(0),
            Some(Some(live)) => Ok(live),
            Some(None) => Err(wrong_type(key)),
        }
    }

    fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        Ok(scan::delete_matching(&self.store, selection))
    }

    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        Some(self.store.hub.watch(key))
    }
}

// The store never blocks for long (shard locks are held for one map operation), so the
// async side runs the sync code inline instead of paying for spawn_blocking.
#[async_trait]
impl AsyncClient for MemoryClient {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        SyncClient::get(self, key)
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        SyncClient::set(self, key, value, ttl, nx)
    }

    async fn set_pinned(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        SyncClient::set_pinned(self, key, value, ttl)
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        SyncClient::delete(self, keys)
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        SyncClient::delete_if_equals(self, key, expected)
    }

    async fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        SyncClient::expire_if_equals(self, key, expected, ttl)
    }

    async fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        SyncClient::lock_acquire(self, key, token, ttl)
    }

    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        SyncClient::remaining_ttl(self, key)
    }

    async fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        SyncClient::pool_acquire(self, key, token, max_size, slot_ttl)
    }

    async fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        SyncClient::pool_release(self, key, token)
    }

    async fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        SyncClient::pool_size(self, key)
    }

    async fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        scan::delete_matching_async(&self.store, selection).await
    }

    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        SyncClient::watch(self, key)
    }
}
