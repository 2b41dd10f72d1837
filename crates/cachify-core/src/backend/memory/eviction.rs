//! Making room in a full store: which entries leave, and from which shard.
//!
//! Past its [`Budget`](super::capacity::Budget), a write evicts expired entries first,
//! from any shard (each shard publishes its soonest deadline, so a writer finds them
//! without locking every shard), then its own shard's [SIEVE](super::sieve) victim, or
//! when its own shard has none, the other shards' in turn. It evicts from its own shard
//! under the lock it already holds; anything else happens after that lock is released,
//! one shard lock at a time, so evictions never deadlock with writers.

use std::cmp::Reverse;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::capacity::Budget;
use super::store::{Store, Writing, SHARDS};

impl Writing<'_> {
    /// Evicts from this shard until the store is within its budget: expired entries
    /// first, then SIEVE victims, unless another shard holds expired entries (those go
    /// first; [`Store::shrink`] takes them once this lock is released) or this shard
    /// has nothing left to evict.
    pub(super) fn make_room(&mut self, now: Instant) {
        let Some(budget) = self.budget else { return };
        while budget.is_over() {
            if self.has_due(now) {
                self.reclaim(now, 1);
            } else if self.store.due_elsewhere(self.index, now) || !self.evict_one(now) {
                return;
            }
        }
    }

    /// Evicts this shard's SIEVE victim; returns whether there was one.
    fn evict_one(&mut self, now: Instant) -> bool {
        let entries = &self.entries;
        let spare = |key: &str| entries.get(key).is_some_and(|entry| entry.spare(now));
        let Some(victim) = self.shard.sieve.victim(spare).map(str::to_owned) else {
            return false;
        };
        self.remove(&victim, now);
        self.gone.push(victim);
        true
    }
}

impl Store {
    /// Publishes the soonest deadline of shard `index` (under its lock).
    // ordering: Relaxed; a stale value only makes an eviction look in a shard with
    // nothing due (and find nothing), or leave an expired entry to the reaper.
    pub(super) fn publish_next_due(&self, index: usize, writing: &Writing<'_>) {
        let next = writing
            .shard
            .deadlines
            .peek()
            .map_or(u64::MAX, |Reverse((deadline, _))| {
                self.nanos_since_epoch(*deadline)
            });
        // Written only when it changes: evictions read these slots, and most writes
        // (no ttl, or a later deadline) leave the soonest one as it was.
        if self.next_due[index].load(Ordering::Relaxed) != next {
            self.next_due[index].store(next, Ordering::Relaxed);
        }
    }

    fn nanos_since_epoch(&self, instant: Instant) -> u64 {
        let nanos = instant.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Whether a shard other than `index` has a deadline that is due.
    fn due_elsewhere(&self, index: usize, now: Instant) -> bool {
        let now = self.nanos_since_epoch(now);
        self.next_due
            .iter()
            .enumerate()
            .any(|(other, next)| other != index && next.load(Ordering::Relaxed) <= now)
    }

    /// Brings an over-capacity store back within bounds: expired entries of every shard
    /// first, then SIEVE victims, from the writer's shard `from` on, then from the other
    /// shards in turn. One shard lock at a time, so it cannot deadlock with writers.
    pub(super) fn shrink(&self, from: usize, now: Instant) {
        let Some(budget) = &self.budget else { return };
        let now_nanos = self.nanos_since_epoch(now);
        let due =
            (0..SHARDS).filter(|&index| self.next_due[index].load(Ordering::Relaxed) <= now_nanos);
        for index in due {
            self.shrink_shard(index, budget, |writing| writing.reclaim(now, 1));
        }
        let start = self.next_victim_shard.fetch_add(1, Ordering::Relaxed);
        let others = (0..SHARDS).map(|offset| (start + offset) % SHARDS);
        for index in std::iter::once(from).chain(others) {
            self.shrink_shard(index, budget, |writing| writing.evict_one(now));
        }
    }

    /// Repeats `step` on shard `index` while the store is over `budget` and `step` says
    /// it can go on; wakes the waiters of what left.
    fn shrink_shard(
        &self,
        index: usize,
        budget: &Budget,
        mut step: impl FnMut(&mut Writing<'_>) -> bool,
    ) {
        if !budget.is_over() {
            return;
        }
        let ((), gone) = self.hold(index, |writing| while budget.is_over() && step(writing) {});
        self.notify_all(&gone);
    }
}
