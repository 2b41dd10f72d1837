//! The Redis side of the near cache: its reads (`GET` and `PTTL` in one round trip,
//! through the client's own connections, breaker and timeouts) and its tracking
//! connections, which report every change of the instance's keys.
//!
//! Guarantees:
//! - One dedicated RESP3 connection per node (the server; each master of a cluster, see
//!   `cluster`; the current master of a Sentinel-managed set, asked of the sentinels
//!   before each connection), with the client's credentials, TLS and timeouts, sends
//!   `CLIENT TRACKING ON BCAST PREFIX <prefix>`: the server then pushes the name of every
//!   key under the prefix that is written, deleted, evicted or expired, by anybody
//!   (`invalidate`), and a key-less `invalidate` when it is flushed.
//! - Invalidations reach the sink in the order the server sent them, from the
//!   connection's own driver: no queue in between.
//! - `tracking_ready` is reported once every node tracks; `tracking_lost` at once when
//!   a connection closes, a `PING` (every check interval) is not answered within the
//!   response timeout, tracking is refused, or a cluster's masters change. Each node
//!   then connects again, backing off from 50 ms to 2 s (see `node`), and tracking is
//!   reported ready again once every node is back (see `readiness`). Any reply to the
//!   check, an error reply included, proves the connection alive.
//! - On a Sentinel-managed master, a node tracks only while the client's data
//!   connections go to the master it tracks: reads and pushes come from one server.
//! - Every task runs on the private I/O runtime, never the caller's; dropping the
//!   handle aborts them, which drops (closes) their connections.

#[cfg(feature = "redis-cluster")]
mod cluster;
mod node;
pub mod probe;
mod readiness;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::options::RedisOptions;
use super::runtime;
use super::RedisClient;
use crate::error::{BackendError, Error};
use crate::near::{Invalidations, NearSource, TrackingHandle, ValueWithTtl};
use node::Target;
use readiness::Readiness;

/// What every tracking connection of one near cache is set up with.
pub(super) struct Settings {
    prefix: Vec<u8>,
    check_interval: Duration,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Settings {
    fn new(prefix: &str, check_interval: Duration, options: &RedisOptions) -> Arc<Self> {
        Arc::new(Self {
            prefix: prefix.as_bytes().to_vec(),
            // Zero (refused by the builder) would ping in a loop.
            check_interval: check_interval.max(Duration::from_millis(1)),
            connect_timeout: options.connect_timeout,
            response_timeout: options.response_timeout,
        })
    }

    /// `CLIENT TRACKING ON BCAST [PREFIX prefix]`: an empty prefix tracks every key.
    fn tracking_on(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("TRACKING").arg("ON").arg("BCAST");
        if !self.prefix.is_empty() {
            cmd.arg("PREFIX").arg(&self.prefix);
        }
        cmd
    }
}

/// Aborts a task when dropped: the tracking handle, and a cluster's per-node tasks.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the private I/O runtime until the returned handle is dropped.
fn spawn(
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<AbortOnDrop, BackendError> {
    Ok(AbortOnDrop(runtime::handle()?.spawn(work).abort_handle()))
}

impl RedisClient {
    /// This client as the source of a near cache.
    pub(crate) fn near_source(&self) -> Arc<dyn NearSource> {
        Arc::new(self.clone())
    }

    /// Where the tracking connection goes: the server, or the master the sentinels name.
    fn tracking_target(&self) -> Result<Target, BackendError> {
        #[cfg(feature = "sentinel")]
        if self.core.sentinel.get().is_some() {
            return Ok(Target::Sentinel(Arc::clone(&self.core)));
        }
        let server = self.core.releases.nodes().first().cloned();
        server
            .map(|server| Target::Server(Box::new(server)))
            .ok_or_else(|| BackendError::new("no server to track"))
    }
}

#[async_trait::async_trait]
impl NearSource for RedisClient {
    fn get_with_ttl_blocking(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        self.core.get_with_ttl_blocking(key)
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        self.core.get_with_ttl(key).await
    }

    fn start_tracking(
        &self,
        prefix: &str,
        check_interval: Duration,
        sink: Arc<dyn Invalidations>,
    ) -> Result<TrackingHandle, Error> {
        let settings = Settings::new(prefix, check_interval, &self.core.options);
        let readiness = Readiness::new(&sink);
        let node = Arc::clone(&self.core.server);
        readiness.set_nodes(std::slice::from_ref(&node));
        let target = self.tracking_target()?;
        let task = spawn(node::track(node, target, settings, readiness))?;
        Ok(Box::new(task))
    }
}
