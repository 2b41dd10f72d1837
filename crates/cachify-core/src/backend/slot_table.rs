//! A pool's slots as a table of token → deadline: admission, release and counting.
//!
//! The one algorithm behind every pool that is not a server-side script: the memory
//! store keeps a table of `Instant` deadlines per pool key; the provided methods of the
//! backend traits keep a table of wall-clock milliseconds (shared by every process) in
//! one encoded value ([`super::default_pool`]). Pure: no clock, no storage, no I/O; the
//! caller passes `now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The slots of one pool: token → deadline (`None`: never expires).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SlotTable<D> {
    slots: BTreeMap<String, Option<D>>,
    /// Whether the table changed since it was read; a refusal that dropped nothing
    /// saves the write.
    #[serde(skip)]
    changed: bool,
}

impl<D> Default for SlotTable<D> {
    fn default() -> Self {
        Self {
            slots: BTreeMap::new(),
            changed: false,
        }
    }
}

fn is_live<D: Ord>(deadline: &Option<D>, now: &D) -> bool {
    deadline.as_ref().is_none_or(|deadline| deadline > now)
}

impl<D: Ord + Copy> SlotTable<D> {
    /// Drops expired slots, then admits `token` (expiring at `deadline`) if fewer than
    /// `max_size` remain; returns whether it did.
    pub(crate) fn admit(
        &mut self,
        token: &str,
        max_size: usize,
        deadline: Option<D>,
        now: D,
    ) -> bool {
        let before = self.slots.len();
        self.slots.retain(|_, deadline| is_live(deadline, &now));
        self.changed |= self.slots.len() != before;
        if self.slots.len() >= max_size {
            return false;
        }
        self.slots.insert(token.to_owned(), deadline);
        self.changed = true;
        true
    }

    /// Removes `token`; returns whether it was there and still counted (a slot past its
    /// deadline frees nothing).
    pub(crate) fn remove(&mut self, token: &str, now: D) -> bool {
        let Some(deadline) = self.slots.remove(token) else {
            return false;
        };
        self.changed = true;
        is_live(&deadline, &now)
    }

    /// Whether `token` holds a slot, live or not.
    pub(crate) fn contains(&self, token: &str) -> bool {
        self.slots.contains_key(token)
    }

    /// The number of live slots.
    pub(crate) fn live_count(&self, now: D) -> usize {
        self.slots
            .values()
            .filter(|deadline| is_live(deadline, &now))
            .count()
    }

    /// When the soonest live slot expires, letting a waiter in; `None` when no live
    /// slot ever expires.
    pub(crate) fn soonest_expiry(&self, now: D) -> Option<D> {
        self.slots
            .values()
            .flatten()
            .filter(|deadline| **deadline > now)
            .min()
            .copied()
    }

    /// How long the whole table must be kept: until its last slot expires (`Some`), or
    /// forever (`None`) when a slot never expires. An empty table needs no keeping.
    pub(crate) fn last_expiry(&self) -> Option<D> {
        let mut deadlines = self.slots.values();
        let first = (*deadlines.next()?)?;
        deadlines.try_fold(first, |last, deadline| deadline.map(|d| last.max(d)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(crate) fn changed(&self) -> bool {
        self.changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_max_size_and_drops_expired_slots_first() {
        let mut table = SlotTable::default();
        assert!(table.admit("a", 2, Some(10), 0));
        assert!(table.admit("b", 2, None, 0));
        assert!(!table.admit("c", 2, None, 5), "full");
        assert!(table.admit("c", 2, None, 10), "a expired at 10");
        assert_eq!(table.live_count(10), 2);
    }

    #[test]
    fn a_removed_expired_slot_frees_nothing() {
        let mut table = SlotTable::default();
        table.admit("a", 1, Some(10), 0);
        assert!(!table.remove("a", 10));
        assert!(!table.remove("a", 0), "already gone");
        table.admit("b", 1, Some(10), 0);
        assert!(table.remove("b", 5));
    }

    #[test]
    fn expiries() {
        let mut table = SlotTable::default();
        assert_eq!(table.last_expiry(), None::<u64>);
        table.admit("a", 3, Some(10), 0);
        table.admit("b", 3, Some(20), 0);
        assert_eq!(table.soonest_expiry(0), Some(10));
        assert_eq!(table.soonest_expiry(10), Some(20));
        assert_eq!(table.last_expiry(), Some(20));
        table.admit("c", 3, None, 0);
        assert_eq!(table.last_expiry(), None, "a slot that never expires");
    }
}
