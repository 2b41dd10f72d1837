//! `RedisClusterClient`: the Redis backend on Redis Cluster.
//!
//! The same commands, scripts and wake-ups as [`RedisClient`](super::RedisClient): each
//! script touches a single key, so it runs whole on the node owning that key's slot, and
//! the entry of one lock or one pool is one key. Release channels use classic pub/sub,
//! which the cluster bus forwards to every node, so the pub/sub connection may be to any
//! node: it starts on the first seed node and moves to the next when its node is lost.
//! The circuit breaker is per node, so a hung node costs one timeout and does not cut
//! off the others.

use std::fmt;
use std::sync::Arc;

use redis::cluster::{ClusterClient, ClusterConfig};

use super::client::{Core, RedisBacked, SyncSide};
use super::connection::{AsyncConnections, OnIo};
use super::options::RedisOptions;
use super::releases::Releases;
use super::runtime;
use super::tls;
use crate::error::{BackendError, Error};

/// How often the cluster connection retries a command (redirections included) before
/// the call fails; redis-rs's default of 16, with back-off, turns a hung node into
/// seconds per call.
const RETRIES: u32 = 3;

/// A Redis Cluster backend implementing both [`SyncClient`](crate::SyncClient) and
/// [`AsyncClient`](crate::AsyncClient) (cargo feature `redis-cluster`).
///
/// # Examples
///
/// ```no_run
/// # use cachify_core as cachify;
/// use cachify::{backend::RedisClusterClient, Cachify};
///
/// # fn main() -> Result<(), cachify::Error> {
/// let cluster = RedisClusterClient::open(&[
///     "redis://10.0.0.1:7000",
///     "redis://10.0.0.2:7000",
///     "redis://10.0.0.3:7000",
/// ])?;
/// let cachify = Cachify::builder().redis_cluster_client(cluster).build();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisClusterClient {
    core: Arc<Core>,
    nodes: usize,
}

impl RedisBacked for RedisClusterClient {
    fn core(&self) -> &Arc<Core> {
        &self.core
    }
}

impl RedisClusterClient {
    /// A client for the cluster reachable through `nodes` (URLs of one or more nodes;
    /// the rest of the topology is discovered), with the default [`RedisOptions`].
    /// Connects lazily; a malformed URL is an error. Release wake-ups subscribe on one
    /// of these nodes and move to another when it is lost: list more than one.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::backend::RedisClusterClient;
    ///
    /// assert!(RedisClusterClient::open(&["redis://127.0.0.1:7000"]).is_ok());
    /// assert!(RedisClusterClient::open(&["not a url"]).is_err());
    /// assert!(RedisClusterClient::open(&[]).is_err());
    /// ```
    pub fn open(nodes: &[&str]) -> Result<Self, Error> {
        Self::open_with(nodes, RedisOptions::default())
    }

    /// [`open`](Self::open) with `options` (timeouts, circuit breaker, TLS certificates
    /// for `rediss://` nodes).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::backend::{redis::RedisOptions, RedisClusterClient};
    ///
    /// let options = RedisOptions::new().response_timeout(Duration::from_millis(300));
    /// assert!(RedisClusterClient::open_with(&["redis://127.0.0.1:7000"], options).is_ok());
    /// ```
    pub fn open_with(nodes: &[&str], options: RedisOptions) -> Result<Self, Error> {
        let seeds = nodes
            .iter()
            .map(|url| tls::client(url, &options))
            .collect::<Result<Vec<_>, _>>()?;
        if seeds.is_empty() {
            return Err(BackendError::new("a cluster needs at least one node URL").into());
        }
        let builder = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(options.connect_timeout)
            .response_timeout(options.response_timeout)
            .retries(RETRIES);
        #[cfg(feature = "tls")]
        let builder = match tls::certificates(&options)? {
            Some(certificates) => builder.certs(certificates),
            None => builder,
        };
        let cluster = builder.build().map_err(BackendError::new)?;
        Self::build(cluster, &seeds, options)
    }

    /// A client over the application's own `ClusterClient` (its retries and settings;
    /// the timeouts of the default [`RedisOptions`]); `node` is any one node of the
    /// cluster, for the pub/sub connection that release wake-ups use.
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// let cluster = redis::cluster::ClusterClient::new(vec!["redis://127.0.0.1:7000"]).unwrap();
    /// let node = redis::Client::open("redis://127.0.0.1:7000").unwrap();
    /// let client = cachify::backend::RedisClusterClient::from_client(cluster, &node).unwrap();
    /// ```
    pub fn from_client(cluster: ClusterClient, node: &redis::Client) -> Result<Self, Error> {
        Self::build(cluster, std::slice::from_ref(node), RedisOptions::default())
    }

    fn build(
        cluster: ClusterClient,
        seeds: &[redis::Client],
        options: RedisOptions,
    ) -> Result<Self, Error> {
        let config = ClusterConfig::new()
            .set_connection_timeout(options.connect_timeout)
            .set_response_timeout(options.response_timeout);
        tls::install_crypto_provider(seeds);
        let runtime = runtime::handle()?;
        let connection = {
            // The pending connection starts its router task on the current runtime:
            // make that the private runtime, which outlives every caller's.
            let _context = runtime.enter();
            cluster.get_pending_async_connection_with_config(config)
        };
        let releases = Releases::open(seeds, options.manager_config())?;
        let server = seeds
            .iter()
            .map(|seed| seed.get_connection_info().addr().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let connections = AsyncConnections::Cluster(OnIo {
            connection,
            runtime,
        });
        let core = Core::new(
            connections,
            SyncSide::BlockOnAsync,
            releases,
            options,
            format!("cluster {server}").into(),
        );
        core.refresh_owners();
        Ok(Self {
            core,
            nodes: seeds.len(),
        })
    }
}

impl fmt::Debug for RedisClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClusterClient")
            .field("seed_nodes", &self.nodes)
            .field("options", &self.core.options)
            .finish_non_exhaustive()
    }
}
