//! What a near cache needs from the Redis backend it sits in front of: reads that also
//! tell the key's remaining lifetime, and a tracking subscription that reports every
//! change of the instance's keys.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{BackendError, Error};

/// A value read for the near cache: its bytes and the key's remaining lifetime on the
/// server (`None`: the key never expires).
pub(crate) type ValueWithTtl = (Vec<u8>, Option<Duration>);

/// Where invalidations go: the tracking connections call these from their own tasks, in
/// the order the server sent them.
pub(crate) trait Invalidations: Send + Sync + 'static {
    /// Tracking is established on every node: near reads and fills may start (again).
    fn tracking_ready(&self);
    /// A tracking connection was lost, hung or refused: forget everything and read
    /// through to the server until [`tracking_ready`](Self::tracking_ready).
    fn tracking_lost(&self);
    /// These storage keys (prefix included) were written, deleted or expired.
    fn invalidate(&self, keys: &[&[u8]]);
    /// Every key may have changed (`FLUSHALL`, `FLUSHDB`: an invalidation without keys).
    fn invalidate_all(&self);
}

/// Stops the tracking tasks and closes their connections when dropped.
pub(crate) type TrackingHandle = Box<dyn Send + Sync>;

/// A Redis backend that can serve a near cache ([`RedisClient`](crate::RedisClient),
/// and the cluster client).
#[async_trait::async_trait]
pub(crate) trait NearSource: Send + Sync + 'static {
    /// `GET` and `PTTL` of `key` in one round trip, from a sync caller; `None` when the
    /// key is absent.
    fn get_with_ttl_blocking(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError>;

    /// The async twin of [`get_with_ttl_blocking`](Self::get_with_ttl_blocking).
    async fn get_with_ttl(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError>;

    /// Starts tracking every key under `prefix` (on every master of a cluster, following
    /// its topology), reporting to `sink` until the handle is dropped; each tracking
    /// connection is pinged every `check_interval`. Errors only for what can never work
    /// (a server without RESP3 is reported later, through [`Invalidations::tracking_lost`]
    /// and a warning, like any other refusal).
    ///
    /// The tracking tasks hold `sink` weakly, so a sink that owns the handle makes no
    /// cycle: keep the sink alive as long as the handle, tracking ends with either.
    fn start_tracking(
        &self,
        prefix: &str,
        check_interval: Duration,
        sink: Arc<dyn Invalidations>,
    ) -> Result<TrackingHandle, Error>;
}
