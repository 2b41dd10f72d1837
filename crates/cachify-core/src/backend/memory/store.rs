//! The memory store's data: entries in one lock-free map, writers serialised per shard,
//! each shard's deadlines in a min-heap.
//!
//! Readers never take a lock: entries live in a [`papaya`] map that writers update under
//! their key's shard lock, so readers of one key (or of many) write no shared memory and
//! scale with the cores, while every write of one key is serialised: what makes
//! `set(nx)`, compare-and-delete and the pool operations atomic.
//!
//! A bounded store ([`Budget`]) also queues each shard's cached values for eviction
//! ([`Sieve`]); reads only mark their entry visited. Which entries leave when a write
//! goes past the bound is [`eviction`](super::eviction)'s business.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::backend::slot_table::SlotTable;
use crate::backend::ReleaseHub;
use crate::decoded::{Decoded, DecodedSlot};
use crate::error::BackendError;

use super::capacity::{Budget, MemoryCapacity};
use super::sieve::{Sieve, Slot, UNQUEUED};

pub(super) const SHARDS: usize = 64;
/// Due entries a write reclaims on its way out: enough to outpace any insertion rate.
const RECLAIM_PER_WRITE: usize = 2;
/// Due entries the reaper reclaims per shard per lock hold, so writers never wait long.
const RECLAIM_PER_SWEEP: usize = 4096;

type Hasher = foldhash::fast::RandomState;
type Entries = papaya::HashMap<String, Entry, Hasher>;

pub(super) struct Store {
    entries: Entries,
    /// Writers of a key hold its shard's lock; readers never take it.
    shards: Box<[Padded<Mutex<Shard>>]>,
    hasher: Hasher,
    pub(super) hub: ReleaseHub,
    capacity: MemoryCapacity,
    /// `None`: unbounded, nothing is queued or counted.
    pub(super) budget: Option<Budget>,
    /// Each shard's soonest deadline in nanoseconds after `epoch` (`u64::MAX`: none),
    /// published by its writers, so an eviction finds expired entries in any shard
    /// without locking them all.
    pub(super) next_due: Box<[AtomicU64]>,
    pub(super) epoch: Instant,
    /// Where the next eviction from other shards starts, so they share the evictions.
    pub(super) next_victim_shard: AtomicUsize,
}

/// One shard per cache-line pair, so writers on different shards do not contend.
#[repr(align(128))]
struct Padded<T>(T);

/// What a shard lock guards besides the right to write its keys in the map.
#[derive(Default)]
pub(super) struct Shard {
    /// Deadlines of this shard's entries, soonest first. May hold stale items for keys
    /// that were overwritten or deleted since; they are checked against the entry when
    /// popped.
    pub(super) deadlines: BinaryHeap<Reverse<(Instant, String)>>,
    /// This shard's cached values in eviction order (bounded stores only).
    pub(super) sieve: Sieve,
}

pub(super) struct Entry {
    pub(super) value: Value,
    pub(super) deadline: Option<Instant>,
    /// Read since the eviction hand last passed it.
    visited: AtomicBool,
    /// Its place in its shard's eviction queue; [`UNQUEUED`] when pinned or unbounded.
    slot: Slot,
    /// The value decoded by its first typed read (cached values only).
    pub(super) decoded: DecodedSlot,
}

#[derive(Clone)]
pub(super) enum Value {
    Bytes(Box<[u8]>),
    /// A pool.
    Slots(SlotTable<Instant>),
}

impl Entry {
    /// An entry that is never evicted.
    pub(super) fn pinned(value: Value, deadline: Option<Instant>) -> Self {
        Self {
            value,
            deadline,
            visited: AtomicBool::new(false),
            slot: UNQUEUED,
            decoded: DecodedSlot::new(),
        }
    }

    /// A cached value, in eviction queue slot `slot`, with what it decodes to if known.
    fn with_decoded(
        bytes: &[u8],
        decoded: Option<Decoded>,
        deadline: Option<Instant>,
        slot: Slot,
    ) -> Self {
        let entry = Self {
            slot,
            ..Self::pinned(Value::Bytes(bytes.into()), deadline)
        };
        if let Some(decoded) = decoded {
            let _fresh = entry.decoded.set(decoded);
        }
        entry
    }

    pub(super) fn is_live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|deadline| deadline > now)
    }

    /// Marks the entry visited for the eviction hand. Only the first read after the hand
    /// passed writes, so readers of a hot key share its cache line instead of bouncing it.
    // ordering: Relaxed; the mark orders nothing, and a mark lost to a race with the
    // hand only makes that entry a candidate one round early.
    #[inline]
    pub(super) fn touch(&self) {
        if !self.visited.load(Ordering::Relaxed) {
            self.visited.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the hand spares this entry this round: live and visited. Clears the mark.
    pub(super) fn spare(&self, now: Instant) -> bool {
        self.visited.swap(false, Ordering::Relaxed) && self.is_live(now)
    }

    /// What it counts against the byte bound: its key and value.
    fn weight(&self, key: &str) -> usize {
        match &self.value {
            Value::Bytes(bytes) => MemoryCapacity::weight_of(key.len(), bytes.len()),
            Value::Slots(_) => key.len(),
        }
    }
}

/// When something stored now for `ttl` expires; `None` (never) for no ttl, and for a ttl
/// beyond what the clock can represent.
pub(super) fn deadline_after(now: Instant, ttl: Option<Duration>) -> Option<Instant> {
    now.checked_add(ttl?)
}

pub(super) fn wrong_type(key: &str) -> BackendError {
    BackendError::new(format!("WRONGTYPE: {key} holds a pool, not a plain value"))
}

/// A shard held for writing: its heap, and the entries of the keys it owns.
pub(super) struct Writing<'a> {
    pub(super) shard: &'a mut Shard,
    pub(super) entries: papaya::HashMapRef<'a, String, Entry, Hasher, papaya::LocalGuard<'a>>,
    pub(super) store: &'a Store,
    /// The shard's index in `store`.
    pub(super) index: usize,
    pub(super) budget: Option<&'a Budget>,
    /// Keys of the entries reclaimed or evicted under this hold, whose waiters are woken
    /// once the lock is released.
    pub(super) gone: Vec<String>,
}

impl Writing<'_> {
    /// The entry of `key`, live or expired (not reclaimed yet).
    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub(super) fn live(&self, key: &str, now: Instant) -> Option<&Entry> {
        self.get(key).filter(|entry| entry.is_live(now))
    }

    /// Stores a pinned entry (a lock, a pool): never evicted.
    pub(super) fn insert(&mut self, key: &str, value: Value, deadline: Option<Instant>) {
        self.queue_deadline(key, deadline);
        self.put(key, Entry::pinned(value, deadline));
    }

    /// Stores a cached value: in a bounded store, it may be evicted, and storing it may
    /// evict others.
    pub(super) fn insert_cached(
        &mut self,
        key: &str,
        bytes: &[u8],
        decoded: Option<Decoded>,
        deadline: Option<Instant>,
        now: Instant,
    ) {
        let Some(budget) = self.budget else {
            self.queue_deadline(key, deadline);
            return self.put(key, Entry::with_decoded(bytes, decoded, deadline, UNQUEUED));
        };
        let weight = MemoryCapacity::weight_of(key.len(), bytes.len());
        if !budget.admits(weight) {
            // Stored and evicted at once: the old value is gone either way.
            self.remove(key, now);
            return;
        }
        // The old entry leaves the queue first, so it cannot be chosen to make room for
        // its own replacement; an expired one leaves the map too, so that making room
        // cannot reclaim it once unqueued.
        match self.entries.get(key) {
            Some(old) if old.is_live(now) => {
                let (slot, old_weight) = (old.slot, old.weight(key));
                self.unqueue(slot, old_weight);
            }
            Some(_) => {
                self.remove(key, now);
            }
            None => {}
        }
        budget.reserve(weight);
        self.make_room(now);
        self.queue_deadline(key, deadline);
        let slot = self.shard.sieve.push(key);
        let entry = Entry::with_decoded(bytes, decoded, deadline, slot);
        // The old entry was unqueued above; the map's replacement is the only change.
        self.entries.insert(key.to_owned(), entry);
    }

    /// Replaces the pinned entry of `key` without queueing a deadline (it is queued
    /// already).
    pub(super) fn replace(&mut self, key: &str, value: Value, deadline: Option<Instant>) {
        self.put(key, Entry::pinned(value, deadline));
    }

    /// Removes `key`; returns whether it held a live entry.
    pub(super) fn remove(&mut self, key: &str, now: Instant) -> bool {
        let Some(old) = self.entries.remove(key) else {
            return false;
        };
        let (live, slot, weight) = (old.is_live(now), old.slot, old.weight(key));
        self.unqueue(slot, weight);
        live
    }

    fn put(&mut self, key: &str, entry: Entry) {
        if let Some(old) = self.entries.insert(key.to_owned(), entry) {
            let (slot, weight) = (old.slot, old.weight(key));
            self.unqueue(slot, weight);
        }
    }

    fn queue_deadline(&mut self, key: &str, deadline: Option<Instant>) {
        if let Some(deadline) = deadline {
            self.shard
                .deadlines
                .push(Reverse((deadline, key.to_owned())));
        }
    }

    /// Takes a departing entry out of the eviction queue and the budget.
    fn unqueue(&mut self, slot: Slot, weight: usize) {
        if slot == UNQUEUED || !self.shard.sieve.remove(slot) {
            return;
        }
        if let Some(budget) = self.budget {
            budget.release(weight);
        }
    }

    /// Pops up to `budget` due deadlines, removing the entries that really expired;
    /// returns whether due deadlines remain.
    pub(super) fn reclaim(&mut self, now: Instant, budget: usize) -> bool {
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
                self.remove(&key, now);
                self.gone.push(key);
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

    pub(super) fn has_due(&self, now: Instant) -> bool {
        matches!(self.shard.deadlines.peek(), Some(Reverse((deadline, _))) if *deadline <= now)
    }
}

impl Store {
    pub(super) fn new(capacity: MemoryCapacity) -> Self {
        let hasher = Hasher::default();
        Self {
            entries: Entries::with_hasher(hasher.clone()),
            shards: (0..SHARDS).map(|_| Padded(Mutex::default())).collect(),
            hasher,
            hub: ReleaseHub::new(),
            capacity,
            budget: Budget::of(capacity),
            next_due: (0..SHARDS).map(|_| AtomicU64::new(u64::MAX)).collect(),
            epoch: Instant::now(),
            next_victim_shard: AtomicUsize::new(0),
        }
    }

    pub(super) fn capacity(&self) -> MemoryCapacity {
        self.capacity
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The cached values held and the bytes they are charged (in an unbounded store,
    /// every entry, uncharged).
    #[cfg(feature = "redis")]
    pub(super) fn usage(&self) -> (usize, usize) {
        match &self.budget {
            Some(budget) => budget.usage(),
            None => (self.len(), 0),
        }
    }

    pub(super) fn keys(&self) -> Vec<String> {
        self.entries.pin().keys().cloned().collect()
    }

    /// Calls `visit` with every key, live or expired, taking no lock: keys written
    /// meanwhile may or may not be visited.
    pub(super) fn for_each_key(&self, mut visit: impl FnMut(&str)) {
        for key in self.entries.pin().keys() {
            visit(key);
        }
    }

    fn shard_index(&self, key: &str) -> usize {
        let hash = self.hasher.hash_one(key);
        // High bits: the map's own table uses the low ones.
        (hash >> 58) as usize % SHARDS
    }

    /// Runs `write` holding the shard lock of `key`, then reclaims a few due entries and
    /// wakes the waiters of whatever was reclaimed or evicted, outside the lock. If the
    /// write left the store over its capacity (its shard had nothing left to evict, or
    /// other shards hold expired entries), evicts from the other shards too.
    pub(super) fn write<R>(
        &self,
        key: &str,
        write: impl FnOnce(&mut Writing<'_>, Instant) -> R,
    ) -> R {
        let now = Instant::now();
        let index = self.shard_index(key);
        let (result, gone) = self.hold(index, |writing| {
            let result = write(writing, now);
            let _more_due = writing.reclaim(now, RECLAIM_PER_WRITE);
            result
        });
        self.notify_all(&gone);
        if self.budget.as_ref().is_some_and(Budget::is_over) {
            self.shrink(index, now);
        }
        result
    }

    /// Runs `hold` on shard `index`, locked; returns its result and the keys that left.
    pub(super) fn hold<R>(
        &self,
        index: usize,
        hold: impl FnOnce(&mut Writing<'_>) -> R,
    ) -> (R, Vec<String>) {
        let mut shard = self.shards[index].0.lock();
        let mut writing = Writing {
            shard: &mut shard,
            entries: self.entries.pin(),
            store: self,
            index,
            budget: self.budget.as_ref(),
            gone: Vec::new(),
        };
        let result = hold(&mut writing);
        self.publish_next_due(index, &writing);
        (result, writing.gone)
    }

    /// Runs `read` on the entry of `key` if it is live, marking it visited. The clock
    /// is read only for entries that can expire: on the hit path of a never-expiring
    /// entry it would be the most expensive step.
    #[inline]
    pub(super) fn read<R>(&self, key: &str, read: impl FnOnce(&Entry) -> R) -> Option<R> {
        let entries = self.entries.pin();
        let entry = entries.get(key)?;
        if entry
            .deadline
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            return None;
        }
        entry.touch();
        Some(read(entry))
    }

    pub(super) fn notify_all(&self, keys: &[String]) {
        for key in keys {
            self.hub.notify(key);
        }
    }

    /// Reclaims every due entry of every shard, releasing each shard's lock between
    /// rounds so writers are never held up for long; wakes the waiters of what it
    /// reclaimed.
    pub(super) fn sweep(&self) {
        for index in 0..SHARDS {
            loop {
                let (more_due, gone) = self.hold(index, |writing| {
                    writing.reclaim(Instant::now(), RECLAIM_PER_SWEEP)
                });
                self.notify_all(&gone);
                if !more_due {
                    break;
                }
            }
        }
    }
}
