//! Typed reads: the cache engine reads a cached value together with its decoded slot, so
//! a hit clones the value decoded once instead of copying and decoding the bytes; and a
//! near cache fills entries with the value already decoded.

use std::time::Instant;

use super::store::Value;
use super::MemoryClient;
use crate::decoded::{Decoded, DecodedSlot};

impl MemoryClient {
    /// Runs `read` on the live cached value of `key`, its bytes and its decoded slot;
    /// `None` when the key holds nothing live, or a pool.
    #[inline]
    pub(crate) fn read_decoded<T>(
        &self,
        key: &str,
        read: impl FnOnce(&[u8], &DecodedSlot) -> T,
    ) -> Option<T> {
        self.store
            .read(key, |entry| match &entry.value {
                Value::Bytes(bytes) => Some(read(bytes, &entry.decoded)),
                Value::Slots(_) => None,
            })
            .flatten()
    }

    /// Stores a cached value (evictable) with the value it decodes to, if known, living
    /// until `deadline`.
    pub(crate) fn fill(
        &self,
        key: &str,
        bytes: &[u8],
        decoded: Option<Decoded>,
        deadline: Option<Instant>,
    ) {
        self.store.write(key, |shard, now| {
            shard.insert_cached(key, bytes, decoded, deadline, now);
        });
    }

    /// Removes the entry of `key`, if any.
    pub(crate) fn forget(&self, key: &str) {
        self.store.write(key, |shard, now| shard.remove(key, now));
    }

    /// Whether `other` is a handle on the same store.
    pub(crate) fn same_store(&self, other: &MemoryClient) -> bool {
        std::sync::Arc::ptr_eq(&self.store, &other.store)
    }

    /// How many cached values the store holds, and the bytes they are charged.
    pub(crate) fn usage(&self) -> (usize, usize) {
        self.store.usage()
    }
}
