//! The fencing counters of the memory backend's locks: one per lock key ever taken,
//! kept for the life of the store (never reclaimed, not even by `clear`), so that a
//! key's tokens never repeat.

use std::collections::HashMap;

use parking_lot::Mutex;

#[derive(Default)]
pub(super) struct Fences {
    counters: Mutex<HashMap<String, u64>>,
}

impl Fences {
    /// The next fencing token of `key`: one more than its last, from 1.
    pub(super) fn next(&self, key: &str) -> u64 {
        let mut counters = self.counters.lock();
        match counters.get_mut(key) {
            Some(last) => {
                // 2^64 acquisitions never happen; saturating spares a panic path.
                *last = last.saturating_add(1);
                *last
            }
            None => {
                counters.insert(key.to_owned(), 1);
                1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_counts_from_one() {
        let fences = Fences::default();
        assert_eq!(fences.next("a"), 1);
        assert_eq!(fences.next("a"), 2);
        assert_eq!(fences.next("b"), 1);
    }
}
