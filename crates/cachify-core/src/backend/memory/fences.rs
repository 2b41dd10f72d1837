//! The fencing tokens of the memory backend's locks: one counter for the whole store,
//! so that tokens take no memory per lock key and no lock beyond the key's shard lock.
//!
//! A key's tokens strictly increase (each is drawn under the key's shard lock as the
//! lock is taken, so a later holder draws later), but they are not consecutive: the
//! holders of other keys draw from the same counter in between.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(super) struct Fences {
    last: AtomicU64,
}

impl Fences {
    /// The next fencing token, from 1. Call it under the shard lock of the lock's key.
    pub(super) fn next(&self) -> u64 {
        // ordering: Relaxed suffices. The shard lock orders two holders of one key, and
        // the counter's modification order agrees with that order, so the later holder
        // reads a larger value. 2^64 acquisitions never happen, so it never wraps.
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_count_from_one_and_increase() {
        let fences = Fences::default();
        assert_eq!(fences.next(), 1);
        assert_eq!(fences.next(), 2);
        assert_eq!(fences.next(), 3);
    }
}
