//! The eviction queue of one shard: which cached value leaves a full memory store, by
//! SIEVE (Zhang et al., NSDI '24).
//!
//! Each shard queues its cached values oldest to newest. A read marks its entry visited
//! (one relaxed atomic, see [`Entry::touch`](super::store::Entry::touch)); to evict, a
//! hand walks from where it last stopped towards the newest, clearing the marks of
//! visited entries and stopping at the first entry that was not visited since the hand
//! last passed (or that expired). Unlike LRU, a hit moves nothing, so the read path
//! stays lock-free; unlike FIFO, popular values survive. On a Zipf trace it keeps
//! within a few points of moka's W-TinyLFU (`benches/eviction.rs`).
//!
//! Only cached values are queued: locks and pools are pinned and never evicted.

/// A position in a shard's queue, stored in the entry it belongs to.
pub(super) type Slot = u32;

/// The slot of an entry that is not queued: a pinned entry, or any entry of an
/// unbounded store.
pub(super) const UNQUEUED: Slot = Slot::MAX;

/// One shard's queue of cached values: a doubly linked list in a slab, so an entry
/// deleted or overwritten by a writer leaves it in O(1).
#[derive(Default)]
pub(super) struct Sieve {
    nodes: Vec<Node>,
    free: Vec<Slot>,
    /// The newest node.
    newest: Option<Slot>,
    /// The oldest node.
    oldest: Option<Slot>,
    /// Where the next search for a victim starts; `None`: at the oldest.
    hand: Option<Slot>,
    len: usize,
}

struct Node {
    key: String,
    /// False once removed (the slot is free).
    queued: bool,
    /// Towards the newest end.
    newer: Option<Slot>,
    /// Towards the oldest end.
    older: Option<Slot>,
}

impl Sieve {
    /// Queues `key` as the newest entry; returns its slot.
    pub(super) fn push(&mut self, key: &str) -> Slot {
        let node = Node {
            key: key.to_owned(),
            queued: true,
            newer: None,
            older: self.newest,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                // A shard never holds 4 billion entries: the map would not fit in memory.
                Slot::try_from(self.nodes.len() - 1).unwrap_or(UNQUEUED - 1)
            }
        };
        match self.newest {
            Some(newest) => self.nodes[newest as usize].newer = Some(slot),
            None => self.oldest = Some(slot),
        }
        self.newest = Some(slot);
        self.len += 1;
        slot
    }

    /// Takes `slot` out of the queue (its entry was deleted, overwritten or evicted);
    /// returns whether it was queued.
    pub(super) fn remove(&mut self, slot: Slot) -> bool {
        let Some(node) = self.nodes.get_mut(slot as usize).filter(|node| node.queued) else {
            return false;
        };
        let (newer, older) = (node.newer, node.older);
        node.key = String::new();
        node.queued = false;
        match newer {
            Some(newer) => self.nodes[newer as usize].older = older,
            None => self.newest = older,
        }
        match older {
            Some(older) => self.nodes[older as usize].newer = newer,
            None => self.oldest = newer,
        }
        if self.hand == Some(slot) {
            self.hand = newer;
        }
        self.free.push(slot);
        self.len -= 1;
        true
    }

    /// The key the hand stops at: the first, from the hand towards the newest (wrapping
    /// to the oldest), for which `spare` returns `false`. `spare` clears the visited mark
    /// of the entries it spares, so a round over the queue always ends; because readers
    /// may mark entries again meanwhile, the search gives up sparing after two rounds.
    /// The caller evicts the key it returns (and [`remove`](Self::remove)s its slot).
    pub(super) fn victim(&mut self, mut spare: impl FnMut(&str) -> bool) -> Option<&str> {
        let mut at = self.hand.or(self.oldest)?;
        for _ in 0..2 * self.len {
            if !spare(&self.nodes[at as usize].key) {
                break;
            }
            at = self.nodes[at as usize].newer.or(self.oldest)?;
        }
        self.hand = Some(at);
        Some(&self.nodes[at as usize].key)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn keys_oldest_first(sieve: &Sieve) -> Vec<String> {
        let mut keys = Vec::new();
        let mut at = sieve.oldest;
        while let Some(slot) = at {
            keys.push(sieve.nodes[slot as usize].key.clone());
            at = sieve.nodes[slot as usize].newer;
        }
        keys
    }

    #[test]
    fn the_victim_is_the_oldest_entry_not_visited() {
        let mut sieve = Sieve::default();
        for key in ["a", "b", "c", "d"] {
            sieve.push(key);
        }
        let mut visited: HashSet<&str> = ["a", "b"].into();
        let victim = sieve.victim(|key| visited.remove(key)).map(str::to_owned);
        assert_eq!(victim.as_deref(), Some("c"));
        assert!(visited.is_empty(), "the hand cleared the marks it passed");
    }

    #[test]
    fn the_hand_resumes_where_it_stopped_and_wraps() {
        let mut sieve = Sieve::default();
        let slots: Vec<Slot> = ["a", "b", "c"].iter().map(|key| sieve.push(key)).collect();
        let mut visited: HashSet<&str> = ["a"].into();
        assert_eq!(sieve.victim(|key| visited.remove(key)), Some("b"));
        assert!(sieve.remove(slots[1]));
        // The hand moved on to "c"; a visited "c" sends it round to "a" (no longer visited).
        visited.insert("c");
        assert_eq!(sieve.victim(|key| visited.remove(key)), Some("a"));
    }

    #[test]
    fn a_queue_whose_entries_stay_visited_still_yields_a_victim() {
        let mut sieve = Sieve::default();
        sieve.push("a");
        sieve.push("b");
        assert!(sieve.victim(|_| true).is_some());
    }

    #[test]
    fn removed_slots_are_reused_and_the_order_kept() {
        let mut sieve = Sieve::default();
        let a = sieve.push("a");
        sieve.push("b");
        assert!(sieve.remove(a));
        assert!(!sieve.remove(a), "removing twice is a no-op");
        assert_eq!(sieve.push("c"), a, "the freed slot is reused");
        assert_eq!(keys_oldest_first(&sieve), ["b", "c"]);
        assert!(sieve.victim(|_| false).is_some());
        assert!(Sieve::default().victim(|_| false).is_none());
    }
}
