//! `MemoryClient`: the embedded in-process backend, and the default one.
//!
//! Guarantees:
//! - `set(nx = true)`, compare-and-delete, extend-if-owner and the pool operations each
//!   run under their key's shard lock: atomic among all threads and tasks of the process.
//! - Reads take no lock: entries live in one lock-free map ([`papaya`]) that writers
//!   update under their shard lock, so readers of one key (or of many) never write
//!   shared memory and scale with the cores, while writes stay serialised per shard.
//! - Expiry is checked on every read, so an expired value is never returned.
//! - Expired entries are *reclaimed*, not only hidden: every shard keeps its deadlines in
//!   a min-heap; writes pop a few due entries, and a background reaper thread (one per
//!   process, shared by all clients, gone with the last client) sweeps every shard, so
//!   memory stays bounded under churn even for keys that are never read again.
//! - Releases (compare-and-delete, delete, pool release, expiry) wake waiters in the
//!   same process through a [`ReleaseHub`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{AsyncClient, ReleaseHub, ReleaseWatch, SyncClient};
use crate::error::BackendError;

const SHARDS: usize = 64;
/// Due entries a write reclaims on its way out: enough to outpace any insertion rate.
const RECLAIM_PER_WRITE: usize = 2;
/// Due entries the reaper reclaims per shard per lock hold, so writers never wait long.
const RECLAIM_PER_SWEEP: usize = 4096;
const REAPER_PERIOD: Duration = Duration::from_millis(100);

type Hasher = foldhash::fast::RandomState;
type FastMap<V> = HashMap<String, V, Hasher>;
type Entries = papaya::HashMap<String, Entry, Hasher>;

/// An in-process store implementing both [`SyncClient`] and [`AsyncClient`].
///
/// Clones share one store, which is how the sync and async sides of a `Cachify` built
/// without clients see the same entries.
///
/// # Examples
///
/// ```
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
}

struct Store {
    entries: Entries,
    /// Writers of a key hold its shard's lock; readers never take it.
    shards: Box<[Padded<Mutex<Shard>>]>,
    hasher: Hasher,
    hub: ReleaseHub,
}

/// One shard per cache-line pair, so writers on different shards do not contend.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// What a shard lock guards besides the right to write its keys in the map.
#[derive(Default)]
struct Shard {
    /// Deadlines of this shard's entries, soonest first. May hold stale items for keys
    /// that were overwritten or deleted since; they are checked against the entry when
    /// popped.
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
}

#[derive(Clone)]
struct Entry {
    value: Value,
    deadline: Option<Instant>,
}

#[derive(Clone)]
enum Value {
    Bytes(Box<[u8]>),
    /// A pool: slot token → its own deadline.
    Slots(FastMap<Option<Instant>>),
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|deadline| deadline > now)
    }
}

fn wrong_type(key: &str) -> BackendError {
    BackendError::new(format!("WRONGTYPE: {key} holds a pool, not a plain value"))
}

/// A shard held for writing: its heap, and the entries of the keys it owns.
struct Writing<'a> {
    shard: &'a mut Shard,
    entries: papaya::HashMapRef<'a, String, Entry, Hasher, papaya::LocalGuard<'a>>,
}

impl Writing<'_> {
    fn live(&self, key: &str, now: Instant) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.is_live(now))
    }

    fn insert(&mut self, key: &str, value: Value, deadline: Option<Instant>) {
        if let Some(deadline) = deadline {
            self.shard
                .deadlines
                .push(Reverse((deadline, key.to_owned())));
        }
        self.entries
            .insert(key.to_owned(), Entry { value, deadline });
    }

    /// Replaces the entry of `key` without queueing a deadline (it is queued already).
    fn replace(&mut self, key: &str, entry: Entry) {
        self.entries.insert(key.to_owned(), entry);
    }

    /// Removes `key`; returns whether it held a live entry.
    fn remove(&mut self, key: &str, now: Instant) -> bool {
        self.entries
            .remove(key)
            .is_some_and(|entry| entry.is_live(now))
    }

    /// Pops up to `budget` due deadlines, removing the entries that really expired and
    /// collecting their keys; returns whether due deadlines remain.
    fn reclaim(&mut self, now: Instant, budget: usize, reclaimed: &mut Vec<String>) -> bool {
        for _ in 0..budget {
            if !self.has_due(now) {
                break;
            }
            let Some(Reverse((_, key))) = self.shard.deadlines.pop() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|entry| !entry.is_live(now))
            {
                self.entries.remove(&key);
                reclaimed.push(key);
            }
        }
        self.drop_stale_deadlines();
        self.has_due(now)
    }

    /// Overwrites and deletes leave heap items behind; past a threshold, keep only the
    /// items that are still some entry's deadline, so the heap stays bounded.
    fn drop_stale_deadlines(&mut self) {
        let threshold = 2 * self.entries.len() / SHARDS + 1024;
        if self.shard.deadlines.len() <= threshold {
            return;
        }
        let entries = &self.entries;
        self.shard.deadlines.retain(|Reverse((deadline, key))| {
            entries
                .get(key)
                .is_some_and(|entry| entry.deadline == Some(*deadline))
        });
    }

    fn has_due(&self, now: Instant) -> bool {
        matches!(self.shard.deadlines.peek(), Some(Reverse((deadline, _))) if *deadline <= now)
    }
}

impl MemoryClient {
    /// A new, empty store.
    ///
    /// ```
    /// let store = cachify::MemoryClient::new();
    /// let cachify = cachify::Cachify::builder().sync_client(store.clone()).build();
    /// # let _ = cachify;
    /// assert!(store.is_empty());
    /// ```
    pub fn new() -> Self {
        let hasher = Hasher::default();
        let store = Arc::new(Store {
            entries: Entries::with_hasher(hasher.clone()),
            shards: (0..SHARDS).map(|_| Padded(Mutex::default())).collect(),
            hasher,
            hub: ReleaseHub::new(),
        });
        reaper::register(&store);
        Self { store }
    }

    /// How many entries the store holds, counting expired ones not reclaimed yet.
    ///
    /// ```
    /// let client = cachify::MemoryClient::new();
    /// assert_eq!(client.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.store.entries.len()
    }

    /// Whether the store holds no entry at all.
    ///
    /// ```
    /// assert!(cachify::MemoryClient::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry, waking anyone waiting on a lock or pool.
    ///
    /// ```
    /// use cachify::SyncClient;
    /// let client = cachify::MemoryClient::new();
    /// client.set("k", b"v", None, false).unwrap();
    /// client.clear();
    /// assert!(client.is_empty());
    /// ```
    pub fn clear(&self) {
        let keys: Vec<String> = self.store.entries.pin().keys().cloned().collect();
        for key in &keys {
            self.write(key, |shard, now| shard.remove(key, now));
        }
        self.notify_all(&keys);
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        let hash = self.store.hasher.hash_one(key);
        // High bits: the map's own table uses the low ones.
        &self.store.shards[(hash >> 58) as usize % SHARDS].0
    }

    fn notify_all(&self, keys: &[String]) {
        for key in keys {
            self.store.hub.notify(key);
        }
    }

    /// Runs `write` holding the shard lock of `key`, then reclaims a few due entries and
    /// wakes the waiters of whatever was reclaimed, outside the lock.
    fn write<R>(&self, key: &str, write: impl FnOnce(&mut Writing<'_>, Instant) -> R) -> R {
        let now = Instant::now();
        let mut reclaimed = Vec::new();
        let result = {
            let mut shard = self.shard(key).lock();
            let mut writing = Writing {
                shard: &mut shard,
                entries: self.store.entries.pin(),
            };
            let result = write(&mut writing, now);
            let _more_due = writing.reclaim(now, RECLAIM_PER_WRITE, &mut reclaimed);
            result
        };
        self.notify_all(&reclaimed);
        result
    }

    /// Runs `read` on the entry of `key` if it is live. The clock is read only for
    /// entries that can expire: on the hit path of a never-expiring entry it would be
    /// the most expensive step.
    fn read<R>(&self, key: &str, read: impl FnOnce(&Entry) -> R) -> Option<R> {
        let entries = self.store.entries.pin();
        let entry = entries.get(key)?;
        if entry
            .deadline
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            return None;
        }
        Some(read(entry))
    }

    fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        match self.read(key, |entry| match &entry.value {
            Value::Bytes(bytes) => Some(bytes.to_vec()),
            Value::Slots(_) => None,
        }) {
            None => Ok(None),
            Some(Some(bytes)) => Ok(Some(bytes)),
            Some(None) => Err(wrong_type(key)),
        }
    }

    /// `get` into the caller's buffer.
    fn get_bytes_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool, BackendError> {
        let copied = self.read(key, |entry| match &entry.value {
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

    fn set_bytes(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> bool {
        self.write(key, |shard, now| {
            if nx && shard.live(key, now).is_some() {
                return false;
            }
            let deadline = ttl.map(|ttl| now + ttl);
            shard.insert(key, Value::Bytes(value.into()), deadline);
            true
        })
    }

    fn delete_keys(&self, keys: &[&str]) -> u64 {
        let mut deleted = 0;
        for key in keys {
            if self.write(key, |shard, now| shard.remove(key, now)) {
                deleted += 1;
                self.store.hub.notify(key);
            }
        }
        deleted
    }

    fn delete_if_bytes_equal(&self, key: &str, expected: &[u8]) -> bool {
        let deleted = self.write(key, |shard, now| {
            let owned = matches!(
                shard.live(key, now).map(|entry| &entry.value),
                Some(Value::Bytes(bytes)) if **bytes == *expected
            );
            if owned {
                shard.remove(key, now);
            }
            owned
        });
        if deleted {
            self.store.hub.notify(key);
        }
        deleted
    }

    fn expire_if_bytes_equal(&self, key: &str, expected: &[u8], ttl: Option<Duration>) -> bool {
        self.write(key, |shard, now| {
            let owned = matches!(
                shard.live(key, now).map(|entry| &entry.value),
                Some(Value::Bytes(bytes)) if **bytes == *expected
            );
            if owned {
                let value = Value::Bytes(expected.into());
                shard.insert(key, value, ttl.map(|ttl| now + ttl));
            }
            owned
        })
    }

    fn ttl_left(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.store.entries.pin();
        let entry = entries.get(key).filter(|entry| entry.is_live(now))?;
        let deadline = match &entry.value {
            Value::Bytes(_) => entry.deadline,
            // A pool waiter gets in when the *first* slot expires; the entry itself
            // lives until the last one does.
            Value::Slots(slots) => slots
                .values()
                .flatten()
                .filter(|deadline| **deadline > now)
                .min()
                .copied(),
        };
        deadline.map(|deadline| deadline - now)
    }

    fn admit_slot(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.write(key, |shard, now| {
            // Entries are shared with lock-free readers: a pool changes by replacement.
            let (mut slots, previous) = match shard.entries.get(key) {
                Some(Entry {
                    value: Value::Slots(slots),
                    deadline,
                }) => (slots.clone(), *deadline),
                Some(entry) if entry.is_live(now) => return Err(wrong_type(key)),
                _ => (FastMap::default(), None),
            };
            slots.retain(|_, deadline| deadline.is_none_or(|deadline| deadline > now));
            let admitted = slots.len() < max_size;
            if admitted {
                slots.insert(token.to_owned(), slot_ttl.map(|ttl| now + ttl));
            }
            if slots.is_empty() {
                shard.remove(key, now);
                return Ok(admitted);
            }
            // The pool entry lives as long as its longest slot, so a pool whose
            // holders all crashed is reclaimed like any expired value.
            let deadline = slots
                .values()
                .try_fold(now, |last, deadline| deadline.map(|d| last.max(d)));
            if deadline.is_some() && deadline == previous {
                // Its heap item is still queued (it is popped only once due, and a due
                // entry is gone): refusals on a full pool must not grow the heap.
                let value = Value::Slots(slots);
                shard.replace(key, Entry { value, deadline });
            } else {
                shard.insert(key, Value::Slots(slots), deadline);
            }
            Ok(admitted)
        })
    }

    fn release_slot(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        let released = self.write(key, |shard, now| {
            let Some(entry) = shard.live(key, now) else {
                return Ok(false);
            };
            let Value::Slots(slots) = &entry.value else {
                return Err(wrong_type(key));
            };
            let Some(&slot) = slots.get(token) else {
                return Ok(false);
            };
            // A slot past its own deadline no longer counted: nothing is freed.
            let released = slot.is_none_or(|deadline| deadline > now);
            let mut slots = slots.clone();
            slots.remove(token);
            if slots.is_empty() {
                shard.remove(key, now);
            } else {
                let deadline = entry.deadline;
                shard.replace(
                    key,
                    Entry {
                        value: Value::Slots(slots),
                        deadline,
                    },
                );
            }
            Ok(released)
        })?;
        if released {
            self.store.hub.notify(key);
        }
        Ok(released)
    }

    fn live_slots(&self, key: &str) -> Result<usize, BackendError> {
        let now = Instant::now();
        let entries = self.store.entries.pin();
        match entries
            .get(key)
            .filter(|entry| entry.is_live(now))
            .map(|entry| &entry.value)
        {
            None => Ok(0),
            Some(Value::Slots(slots)) => Ok(slots
                .values()
                .filter(|deadline| deadline.is_none_or(|deadline| deadline > now))
                .count()),
            Some(Value::Bytes(_)) => Err(wrong_type(key)),
        }
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
        self.get_bytes(key)
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool, BackendError> {
        self.get_bytes_into(key, buf)
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.set_bytes(key, value, ttl, nx))
    }

    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        Ok(self.delete_keys(keys))
    }

    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        Ok(self.delete_if_bytes_equal(key, expected))
    }

    fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        Ok(self.expire_if_bytes_equal(key, expected, ttl))
    }

    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        Ok(self.ttl_left(key))
    }

    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.admit_slot(key, token, max_size, slot_ttl)
    }

    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.release_slot(key, token)
    }

    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.live_slots(key)
    }

    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        Some(self.store.hub.watch(key))
    }
}

// The store never blocks for long (shard locks are held for one map operation), so the
// async side runs the same code inline instead of paying for spawn_blocking.
#[async_trait]
impl AsyncClient for MemoryClient {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.get_bytes(key)
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.set_bytes(key, value, ttl, nx))
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        Ok(self.delete_keys(keys))
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        Ok(self.delete_if_bytes_equal(key, expected))
    }

    async fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        Ok(self.expire_if_bytes_equal(key, expected, ttl))
    }

    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        Ok(self.ttl_left(key))
    }

    async fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.admit_slot(key, token, max_size, slot_ttl)
    }

    async fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.release_slot(key, token)
    }

    async fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.live_slots(key)
    }

    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        Some(self.store.hub.watch(key))
    }
}

/// The one background thread that reclaims expired entries of every live store.
mod reaper {
    use super::*;

    static STORES: OnceLock<Mutex<Vec<Weak<Store>>>> = OnceLock::new();

    pub(super) fn register(store: &Arc<Store>) {
        let mut started = false;
        let stores = STORES.get_or_init(|| {
            started = true;
            Mutex::new(Vec::new())
        });
        stores.lock().push(Arc::downgrade(store));
        if started {
            let spawned = std::thread::Builder::new()
                .name("cachify-memory-reaper".into())
                .spawn(|| run(stores));
            if let Err(error) = spawned {
                // Reads still hide expired entries and writes still reclaim some;
                // only the sweep of never-touched keys is lost.
                tracing::warn!(target: crate::events::TARGET, %error, "cannot start the memory reaper thread");
            }
        }
    }

    fn run(stores: &'static Mutex<Vec<Weak<Store>>>) {
        loop {
            std::thread::sleep(REAPER_PERIOD);
            let live: Vec<Arc<Store>> = {
                let mut stores = stores.lock();
                stores.retain(|store| store.strong_count() > 0);
                stores.iter().filter_map(Weak::upgrade).collect()
            };
            for store in live {
                sweep(&store);
            }
        }
    }

    fn sweep(store: &Store) {
        let mut reclaimed = Vec::new();
        for shard in store.shards.iter() {
            // The lock is released between rounds so writers are never held up for long.
            loop {
                let mut writing = Writing {
                    shard: &mut shard.lock(),
                    entries: store.entries.pin(),
                };
                if !writing.reclaim(Instant::now(), RECLAIM_PER_SWEEP, &mut reclaimed) {
                    break;
                }
            }
        }
        for key in &reclaimed {
            store.hub.notify(key);
        }
    }
}
