//! [`NearCache`]: how big an instance's near cache may grow, and how fast a hung
//! tracking connection is noticed.

use std::time::Duration;

use crate::backend::MemoryCapacity;
use crate::error::Error;

/// The options of a near cache (see [`CachifyBuilder::near_cache`](crate::CachifyBuilder::near_cache)):
/// at most so many values and/or bytes in the process, and how often each tracking
/// connection is checked.
///
/// The default holds [`DEFAULT_MAX_ENTRIES`](Self::DEFAULT_MAX_ENTRIES) values and
/// [`DEFAULT_MAX_BYTES`](Self::DEFAULT_MAX_BYTES) bytes, charged as a
/// [`MemoryCapacity`] charges them, and checks the tracking connections every
/// [`DEFAULT_CHECK_INTERVAL`](Self::DEFAULT_CHECK_INTERVAL).
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::NearCache;
///
/// let near = NearCache::default()
///     .max_entries(50_000)
///     .max_bytes(128 << 20)
///     .check_interval(Duration::from_millis(500));
/// assert_eq!(near.entry_limit(), Some(50_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct NearCache {
    capacity: MemoryCapacity,
    check_interval: Duration,
}

impl Default for NearCache {
    fn default() -> Self {
        Self {
            capacity: MemoryCapacity::unbounded()
                .max_entries(Self::DEFAULT_MAX_ENTRIES)
                .max_bytes(Self::DEFAULT_MAX_BYTES),
            check_interval: Self::DEFAULT_CHECK_INTERVAL,
        }
    }
}

impl NearCache {
    /// How many values a near cache holds by default.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::default().entry_limit(), Some(100_000));
    /// ```
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// How many bytes a near cache holds by default (keys, values and bookkeeping, see
    /// [`MemoryCapacity::ENTRY_OVERHEAD`]).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::default().byte_limit(), Some(256 << 20));
    /// ```
    pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

    /// How often each tracking connection is pinged by default: a connection that does
    /// not answer within the instance's response timeout is taken as lost.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// assert_eq!(cachify::NearCache::DEFAULT_CHECK_INTERVAL, Duration::from_secs(1));
    /// ```
    pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

    /// The shortest check interval the builder takes.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// assert_eq!(cachify::NearCache::MIN_CHECK_INTERVAL, Duration::from_millis(10));
    /// ```
    pub const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(10);

    /// The default options.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new(), cachify::NearCache::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds at most `entries` values (0 is refused when the builder takes it).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new().max_entries(10).entry_limit(), Some(10));
    /// ```
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.capacity = self.capacity.max_entries(entries);
        self
    }

    /// Holds at most `bytes` of keys, values and bookkeeping (0 is refused when the
    /// builder takes it).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new().max_bytes(1 << 20).byte_limit(), Some(1 << 20));
    /// ```
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.capacity = self.capacity.max_bytes(bytes);
        self
    }

    /// Pings each tracking connection this often; one that does not answer within the
    /// response timeout ([`RedisOptions::response_timeout`](crate::RedisOptions::response_timeout))
    /// is taken as lost: the near cache is flushed and bypassed until tracking is back.
    /// An interval below [`MIN_CHECK_INTERVAL`](Self::MIN_CHECK_INTERVAL) is refused when
    /// the builder takes it.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let near = cachify::NearCache::new().check_interval(Duration::from_millis(250));
    /// assert_eq!(near.interval(), Duration::from_millis(250));
    /// ```
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }

    /// The bound on values, if any.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new().max_entries(7).entry_limit(), Some(7));
    /// ```
    pub fn entry_limit(&self) -> Option<usize> {
        self.capacity.entry_limit()
    }

    /// The bound on bytes, if any.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new().max_bytes(7 << 10).byte_limit(), Some(7 << 10));
    /// ```
    pub fn byte_limit(&self) -> Option<usize> {
        self.capacity.byte_limit()
    }

    /// How often each tracking connection is pinged.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::NearCache::new().interval(), cachify::NearCache::DEFAULT_CHECK_INTERVAL);
    /// ```
    pub fn interval(&self) -> Duration {
        self.check_interval
    }

    /// The options, or [`Error::InvalidOption`] for a zero bound or an interval below
    /// [`MIN_CHECK_INTERVAL`](Self::MIN_CHECK_INTERVAL).
    pub(crate) fn validate(self) -> Result<Self, Error> {
        let refuse = |option, reason| Err(Error::InvalidOption { option, reason });
        if self.entry_limit() == Some(0) {
            return refuse("near_cache.max_entries", "must be above zero");
        }
        if self.byte_limit() == Some(0) {
            return refuse("near_cache.max_bytes", "must be above zero");
        }
        if self.check_interval < Self::MIN_CHECK_INTERVAL {
            return refuse(
                "near_cache.check_interval",
                "must be at least 10 ms: each check is a round trip on every tracking connection",
            );
        }
        Ok(self)
    }

    pub(crate) fn capacity(&self) -> MemoryCapacity {
        self.capacity
    }
}
