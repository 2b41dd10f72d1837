//! Typed reads: the cache engine reads a cached value together with its decoded slot, so
//! a hit clones the value decoded once instead of copying and decoding the bytes; and a
//! near cache fills entries with the value already decoded.

#[cfg(feature = "redis")]
use std::time::Instant;

use super::store::Value;
use super::MemoryClient;
#[cfg(feature = "redis")]
use crate::decoded::Decoded;
use crate::decoded::DecodedSlot;

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

    /// Whether `other` is a handle on the same store.
    pub(crate) fn same_store(&self, other: &MemoryClient) -> bool {
        std::sync::Arc::ptr_eq(&self.store, &other.store)
    }
}

/// What only a near cache uses: fills checked against its coherence, removals, usage.
#[cfg(feature = "redis")]
impl MemoryClient {
    /// Stores a cached value (evictable) with the value it decodes to, if known, living
    /// until `deadline`, if `still_valid()`, asked under the key's shard lock (which
    /// [`forget`](Self::forget) takes too).
    pub(crate) fn fill_if(
        &self,
        key: &str,
        bytes: &[u8],
        decoded: Option<Decoded>,
        deadline: Option<Instant>,
        still_valid: impl FnOnce() -> bool,
    ) {
        self.store.write(key, |shard, now| {
            if still_valid() {
                shard.insert_cached(key, bytes, decoded, deadline, now);
            }
        });
    }

    /// Removes the entry of `key`, if any.
    pub(crate) fn forget(&self, key: &str) {
        self.store.write(key, |shard, now| shard.remove(key, now));
    }

    /// How many cached values the store holds, and the bytes they are charged.
    pub(crate) fn usage(&self) -> (usize, usize) {
        self.store.usage()
    }
}
