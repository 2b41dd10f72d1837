//! [`MemoryCapacity`]: how much a memory store may hold; and the budget that holds a
//! store to it.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Error;

/// How much a [`MemoryClient`](super::MemoryClient) may hold: at most so many cached
/// values, and/or at most so many bytes of their keys, values and bookkeeping
/// ([`ENTRY_OVERHEAD`](Self::ENTRY_OVERHEAD) each).
///
/// Past either bound, writing a new value evicts others: expired values first, then by
/// SIEVE (values not read lately before those read often). Locks and pools are never
/// evicted and not counted. The default is [`DEFAULT_MAX_ENTRIES`](Self::DEFAULT_MAX_ENTRIES) values and no byte
/// bound; [`unbounded`](Self::unbounded) removes both.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::{MemoryCapacity, MemoryClient};
///
/// let capacity = MemoryCapacity::default().max_entries(10_000).max_bytes(64 << 20);
/// let client = MemoryClient::with_capacity(capacity)?;
/// assert_eq!(client.capacity().entry_limit(), Some(10_000));
/// assert!(MemoryClient::with_capacity(MemoryCapacity::default().max_entries(0)).is_err());
/// # Ok::<(), cachify::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct MemoryCapacity {
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
}

impl Default for MemoryCapacity {
    fn default() -> Self {
        Self {
            max_entries: Some(Self::DEFAULT_MAX_ENTRIES),
            max_bytes: None,
        }
    }
}

impl MemoryCapacity {
    /// How many cached values a memory store holds by default.
    ///
    /// Generous on purpose: it stops a cache of unbounded keys (user ids, URLs) from
    /// growing until the process runs out of memory; it is not a size tuned for any
    /// workload.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::MemoryCapacity;
    /// assert_eq!(MemoryCapacity::default().entry_limit(), Some(MemoryCapacity::DEFAULT_MAX_ENTRIES));
    /// ```
    pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

    /// The bytes each cached value is charged against [`max_bytes`](Self::max_bytes)
    /// besides its key (counted twice: the map and the eviction queue each hold a copy)
    /// and its value (counted twice too: the bytes, and the decoded copy that typed reads
    /// keep beside them, taken to be of the same size): what the store spends on it, so
    /// that `max_bytes` bounds the memory resident, not only the payload. Measured by
    /// `benches/eviction.rs`: 367 bytes resident per entry of a 13-byte key and a 100-byte
    /// value, before any decoded copy.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::MemoryCapacity;
    /// // 1 000 values of 100 bytes under 16-byte keys:
    /// let bytes = 1_000 * (MemoryCapacity::ENTRY_OVERHEAD + 2 * 16 + 2 * 100);
    /// let capacity = MemoryCapacity::unbounded().max_bytes(bytes);
    /// # let _ = capacity;
    /// ```
    pub const ENTRY_OVERHEAD: usize = 241;

    /// What a cached value under `key_len` bytes of key with `value_len` bytes is
    /// charged against the byte bound.
    pub(super) const fn weight_of(key_len: usize, value_len: usize) -> usize {
        Self::ENTRY_OVERHEAD
            .saturating_add(key_len.saturating_mul(2))
            .saturating_add(value_len.saturating_mul(2))
    }

    /// No bound at all, as py-cachify's memory backend: the store holds every value until
    /// it expires or is deleted.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let capacity = cachify::MemoryCapacity::unbounded();
    /// assert_eq!(capacity.entry_limit(), None);
    /// ```
    pub const fn unbounded() -> Self {
        Self {
            max_entries: None,
            max_bytes: None,
        }
    }

    /// At most `max_entries` cached values (`None`: no bound on their number). Zero is
    /// refused when the capacity is applied.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let capacity = cachify::MemoryCapacity::default().max_entries(500);
    /// assert_eq!(capacity.entry_limit(), Some(500));
    /// ```
    pub fn max_entries(mut self, max_entries: impl Into<Option<usize>>) -> Self {
        self.max_entries = max_entries.into();
        self
    }

    /// At most `max_bytes` bytes of cached values, each charged its key twice, its
    /// value and [`ENTRY_OVERHEAD`](Self::ENTRY_OVERHEAD) (`None`: no bound on bytes). A
    /// value whose charge alone exceeds it is not kept. Zero is refused when the
    /// capacity is applied.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let capacity = cachify::MemoryCapacity::unbounded().max_bytes(256 << 20);
    /// assert_eq!(capacity.byte_limit(), Some(256 << 20));
    /// ```
    pub fn max_bytes(mut self, max_bytes: impl Into<Option<usize>>) -> Self {
        self.max_bytes = max_bytes.into();
        self
    }

    /// The bound on the number of cached values, if any.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::MemoryCapacity::default().entry_limit(), Some(1_000_000));
    /// ```
    pub fn entry_limit(&self) -> Option<usize> {
        self.max_entries
    }

    /// The bound on the bytes of cached keys and values, if any.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::MemoryCapacity::default().byte_limit(), None);
    /// ```
    pub fn byte_limit(&self) -> Option<usize> {
        self.max_bytes
    }

    /// `self` if every bound is above zero; otherwise [`Error::InvalidOption`].
    pub(crate) fn validate(self) -> Result<Self, Error> {
        let refuse = |option| Error::InvalidOption {
            option,
            reason: "must be more than zero (None: no bound)",
        };
        match (self.max_entries, self.max_bytes) {
            (Some(0), _) => Err(refuse("max_entries")),
            (_, Some(0)) => Err(refuse("max_bytes")),
            _ => Ok(self),
        }
    }
}

/// What a bounded store holds now against its capacity.
///
/// The counts are reserved before an entry is inserted and released when it leaves, so
/// writers on different shards never both take the last place unseen: each one, after
/// reserving, evicts until the store is within bounds again.
// ordering: Relaxed throughout. Each counter is one atomic whose read-modify-writes are
// totally ordered; nothing else is published through it.
pub(super) struct Budget {
    max_entries: usize,
    max_bytes: usize,
    entries: AtomicUsize,
    bytes: AtomicUsize,
}

impl Budget {
    /// The budget of `capacity`; `None` for an unbounded one.
    pub(super) fn of(capacity: MemoryCapacity) -> Option<Self> {
        if capacity == MemoryCapacity::unbounded() {
            return None;
        }
        Some(Self {
            max_entries: capacity.max_entries.unwrap_or(usize::MAX),
            max_bytes: capacity.max_bytes.unwrap_or(usize::MAX),
            entries: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        })
    }

    /// Whether one entry weighing `weight` bytes can ever be held.
    pub(super) fn admits(&self, weight: usize) -> bool {
        weight <= self.max_bytes
    }

    pub(super) fn reserve(&self, weight: usize) {
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(weight, Ordering::Relaxed);
    }

    pub(super) fn release(&self, weight: usize) {
        self.entries.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(weight, Ordering::Relaxed);
    }

    /// The entries and bytes held now.
    #[cfg(feature = "redis")]
    pub(super) fn usage(&self) -> (usize, usize) {
        (
            self.entries.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    pub(super) fn is_over(&self) -> bool {
        self.entries.load(Ordering::Relaxed) > self.max_entries
            || self.bytes.load(Ordering::Relaxed) > self.max_bytes
    }
}
