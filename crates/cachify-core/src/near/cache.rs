//! [`Near`]: one instance's near cache, its values and what keeps them coherent.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};

use super::coherence::{Coherence, Ticket};
use super::config::NearCache;
use super::source::{Invalidations, NearSource, TrackingHandle};
use crate::backend::MemoryClient;
use crate::decoded::Decoded;
use crate::error::Error;

/// An instance's near cache: decoded values in front of a Redis backend.
pub(crate) struct Near {
    shared: Arc<Shared>,
    source: Arc<dyn NearSource>,
    /// Dropped with the instance: stops the tracking tasks, which hold `shared`.
    _tracking: TrackingHandle,
}

/// What the tracking tasks and the instance share.
struct Shared {
    /// Swapped whole for an empty store by a flush: constant time on the thread that
    /// handles the push (the one that drives every Redis connection of the process).
    values: ArcSwap<MemoryClient>,
    options: NearCache,
    coherence: Coherence,
}

/// A near cache's state, from [`Cachify::near_cache_status`](crate::Cachify::near_cache_status).
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::Cachify::builder().build();
/// assert!(cachify.near_cache_status().is_none(), "no near cache on the memory backend");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearCacheStatus {
    /// Whether every tracking connection is up: only then are near copies served.
    pub tracking: bool,
    /// How many values it holds and may serve (0 while tracking is down).
    pub entries: usize,
    /// The bytes they are charged (see [`NearCache::max_bytes`]).
    pub bytes: usize,
}

impl Near {
    /// The near cache of an instance with `prefix` on `source`, tracking from now on.
    pub(crate) fn start(
        options: NearCache,
        source: Arc<dyn NearSource>,
        prefix: &str,
    ) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            values: ArcSwap::from_pointee(MemoryClient::with_valid_capacity(options.capacity())),
            options,
            coherence: Coherence::new(),
        });
        let tracking = source.start_tracking(prefix, options.interval(), shared.clone())?;
        Ok(Self {
            shared,
            source,
            _tracking: tracking,
        })
    }

    /// The values, when they may be served: `None` while tracking is down.
    #[inline]
    pub(crate) fn serving(&self) -> Option<Guard<Arc<MemoryClient>>> {
        let shared = &*self.shared;
        shared.coherence.is_tracking().then(|| shared.values.load())
    }

    /// Where reads go through to.
    pub(crate) fn source(&self) -> &dyn NearSource {
        &*self.source
    }

    /// A ticket for a read of `key` about to be sent (see [`Coherence`]).
    pub(crate) fn ticket(&self, key: &str) -> Option<Ticket> {
        self.shared.coherence.ticket(key.as_bytes())
    }

    /// Keeps a value read with `ticket`, expiring when its key does on the server (`ttl`
    /// as the read's reply gave it, counted from `sent`, before the read was sent), unless
    /// an invalidation overtook the read.
    pub(crate) fn fill(
        &self,
        ticket: Ticket,
        key: &str,
        bytes: &[u8],
        decoded: Option<Decoded>,
        (sent, ttl): (Instant, Option<Duration>),
    ) {
        let shared = &*self.shared;
        // A lifetime beyond what the clock can represent is taken as none.
        let deadline = ttl.and_then(|ttl| sent.checked_add(ttl));
        // The check runs under the key's shard lock, which an invalidation takes after
        // counting itself: either the check sees the count, or the removal follows the
        // insert. A store swapped out meanwhile takes the value with it.
        let values = shared.values.load();
        values.fill_if(key, bytes, decoded, deadline, || {
            shared.coherence.holds(&ticket)
        });
    }

    /// Forgets `key` after this instance wrote or deleted it: its own next read goes to
    /// the server, without waiting for the invalidation push.
    pub(crate) fn invalidate(&self, key: &str) {
        self.shared.invalidate(&[key.as_bytes()]);
    }

    /// Forgets everything (after a deletion by pattern).
    pub(crate) fn flush(&self) {
        self.shared.invalidate_all();
    }

    /// Its state now.
    pub(crate) fn status(&self) -> NearCacheStatus {
        let tracking = self.shared.coherence.is_tracking();
        // While tracking is down nothing is served, and what was held is being dropped.
        let (entries, bytes) = match tracking {
            true => self.shared.values.load().usage(),
            false => (0, 0),
        };
        NearCacheStatus {
            tracking,
            entries,
            bytes,
        }
    }
}

impl Shared {
    /// Empties the near cache in constant time: the full store is dropped on a thread
    /// of its own, not on the caller's (a Redis connection driver, or a user's task).
    fn forget_all(&self) {
        let empty = MemoryClient::with_valid_capacity(self.options.capacity());
        // Always a swap, even of an empty store: a fill that passed its check just before
        // the flush may be inserting into the store being replaced.
        let full = self.values.swap(Arc::new(empty));
        if full.is_empty() {
            return;
        }
        let dropped = std::thread::Builder::new()
            .name("cachify-near-flush".into())
            .spawn(move || drop(full));
        if let Err(error) = dropped {
            tracing::debug!(target: crate::events::TARGET, %error, "dropping a flushed near cache where it was flushed");
        }
    }
}

impl Invalidations for Shared {
    fn tracking_ready(&self) {
        // Anything filled while the loss was being handled is dropped with the epoch.
        self.forget_all();
        self.coherence.ready();
    }

    fn tracking_lost(&self) {
        self.coherence.lost();
        self.forget_all();
    }

    fn invalidate(&self, keys: &[&[u8]]) {
        for key in keys {
            self.coherence.invalidated(key);
            if let Ok(key) = std::str::from_utf8(key) {
                self.values.load().forget(key);
            }
        }
    }

    fn invalidate_all(&self) {
        self.coherence.flushed();
        self.forget_all();
    }
}

impl fmt::Debug for Near {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Near")
            .field("status", &self.status())
            .finish()
    }
}
