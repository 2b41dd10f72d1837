//! The memory store's data: entries in one lock-free map, writers serialised per shard,
//! each shard's deadlines in a min-heap.
//!
//! Readers never take a lock: entries live in a [`papaya`] map that writers update under
//! their key's shard lock, so readers of one key (or of many) write no shared memory and
//! scale with the cores, while every write of one key is serialised: what makes
//! `set(nx)`, compare-and-delete and the pool operations atomic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::backend::slot_table::SlotTable;
use crate::backend::ReleaseHub;
use crate::error::BackendError;

const SHARDS: usize = 64;
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
}

/// One shard per cache-line pair, so writers on different shards do not contend.
#[repr(align(128))]
struct Padded<T>(T);

/// What a shard lock guards besides the right to write its keys in the map.
#[derive(Default)]
struct Shard {
    /// Deadlines of this shard's entries, soonest first. May hold stale items for keys
    /// that were overwritten or deleted since; they are checked against the entry when
    /// popped.
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
}

#[derive(Clone)]
pub(super) struct Entry {
    pub(super) value: Value,
    pub(super) deadline: Option<Instant>,
}

#[derive(Clone)]
pub(super) enum Value {
    Bytes(Box<[u8]>),
    /// A pool.
    Slots(SlotTable<Instant>),
}

impl Entry {
    pub(super) fn is_live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|deadline| deadline > now)
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
    shard: &'a mut Shard,
    entries: papaya::HashMapRef<'a, String, Entry, Hasher, papaya::LocalGuard<'a>>,
}

impl Writing<'_> {
    /// The entry of `key`, live or expired (not reclaimed yet).
    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub(super) fn live(&self, key: &str, now: Instant) -> Option<&Entry> {
        self.get(key).filter(|entry| entry.is_live(now))
    }

    pub(super) fn insert(&mut self, key: &str, value: Value, deadline: Option<Instant>) {
        if let Some(deadline) = deadline {
            self.shard
                .deadlines
                .push(Reverse((deadline, key.to_owned())));
        }
        self.entries
            .insert(key.to_owned(), Entry { value, deadline });
    }

    /// Replaces the entry of `key` without queueing a deadline (it is queued already).
    pub(super) fn replace(&mut self, key: &str, entry: Entry) {
        self.entries.insert(key.to_owned(), entry);
    }

    /// Removes `key`; returns whether it held a live entry.
    pub(super) fn remove(&mut self, key: &str, now: Instant) -> bool {
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

impl Store {
    pub(super) fn new() -> Self {
        let hasher = Hasher::default();
        Self {
            entries: Entries::with_hasher(hasher.clone()),
            shards: (0..SHARDS).map(|_| Padded(Mutex::default())).collect(),
            hasher,
            hub: ReleaseHub::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
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

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        let hash = self.hasher.hash_one(key);
        // High bits: the map's own table uses the low ones.
        &self.shards[(hash >> 58) as usize % SHARDS].0
    }

    /// Runs `write` holding the shard lock of `key`, then reclaims a few due entries and
    /// wakes the waiters of whatever was reclaimed, outside the lock.
    pub(super) fn write<R>(
        &self,
        key: &str,
        write: impl FnOnce(&mut Writing<'_>, Instant) -> R,
    ) -> R {
        let now = Instant::now();
        let mut reclaimed = Vec::new();
        let result = {
            let mut shard = self.shard(key).lock();
            let mut writing = Writing {
                shard: &mut shard,
                entries: self.entries.pin(),
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
    pub(super) fn read<R>(&self, key: &str, read: impl FnOnce(&Entry) -> R) -> Option<R> {
        let entries = self.entries.pin();
        let entry = entries.get(key)?;
        if entry
            .deadline
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            return None;
        }
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
        let mut reclaimed = Vec::new();
        for shard in self.shards.iter() {
            loop {
                let mut writing = Writing {
                    shard: &mut shard.0.lock(),
                    entries: self.entries.pin(),
                };
                if !writing.reclaim(Instant::now(), RECLAIM_PER_SWEEP, &mut reclaimed) {
                    break;
                }
            }
        }
        self.notify_all(&reclaimed);
    }
}
