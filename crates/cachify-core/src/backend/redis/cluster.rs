//! `RedisClusterClient`: the Redis backend on Redis Cluster.
//!
//! The same scripts and wake-ups as [`RedisClient`](super::RedisClient): each script
//! touches a single key, so it runs whole on the node owning that key's slot, and the
//! entry of one lock or one pool is one key. Release channels use classic pub/sub, which
//! the cluster bus forwards to every node, so the pub/sub connection may be to any node.

use std::fmt;
use std::sync::Arc;

use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;

use super::engine::{impl_async_client, impl_blocking_sync_client, Connector, Engine, OnIo};
use super::releases::Releases;
use super::{io, manager_config, CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};
use crate::error::{BackendError, Error};
use crate::instance::CachifyBuilder;

/// A Redis Cluster backend implementing both [`SyncClient`](crate::SyncClient) and
/// [`AsyncClient`](crate::AsyncClient) (cargo feature `redis-cluster`).
///
/// # Examples
///
/// ```no_run
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
    inner: Arc<Engine<Cluster>>,
    nodes: usize,
}

/// Commands go over a cluster connection: it routes each command by its key's slot,
/// follows `MOVED` / `ASK` redirections and reconnects to nodes by itself.
/// Its router lives on the I/O runtime, and so do its commands (see [`OnIo`]).
pub(crate) struct Cluster(OnIo<ClusterConnection>);

impl Connector for Cluster {
    type Conn = OnIo<ClusterConnection>;

    async fn connection(&self) -> Result<OnIo<ClusterConnection>, BackendError> {
        Ok(self.0.clone())
    }
}

impl RedisClusterClient {
    /// A client for the cluster reachable through `nodes` (URLs of one or more nodes;
    /// the rest of the topology is discovered). Connects lazily; a malformed URL is an
    /// error.
    ///
    /// ```
    /// use cachify::backend::RedisClusterClient;
    ///
    /// assert!(RedisClusterClient::open(&["redis://127.0.0.1:7000"]).is_ok());
    /// assert!(RedisClusterClient::open(&["not a url"]).is_err());
    /// assert!(RedisClusterClient::open(&[]).is_err());
    /// ```
    pub fn open(nodes: &[&str]) -> Result<Self, Error> {
        let first = nodes
            .first()
            .ok_or_else(|| BackendError::new("a cluster needs at least one node URL"))?;
        let node = redis::Client::open(*first).map_err(BackendError::new)?;
        let cluster = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(CONNECTION_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .map_err(BackendError::new)?;
        Self::from_client(cluster, &node).map(|client| Self {
            nodes: nodes.len(),
            ..client
        })
    }

    /// A client over the application's own `ClusterClient`; `node` is any one node of
    /// the cluster, for the pub/sub connection that release wake-ups use.
    ///
    /// ```no_run
    /// let cluster = redis::cluster::ClusterClient::new(vec!["redis://127.0.0.1:7000"]).unwrap();
    /// let node = redis::Client::open("redis://127.0.0.1:7000").unwrap();
    /// let client = cachify::backend::RedisClusterClient::from_client(cluster, &node).unwrap();
    /// ```
    pub fn from_client(cluster: ClusterClient, node: &redis::Client) -> Result<Self, Error> {
        let config = ClusterConfig::new()
            .set_connection_timeout(CONNECTION_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let runtime = io::handle()?;
        let connection = {
            // The pending connection starts its router task on the current runtime:
            // make that the I/O runtime, which outlives every caller's.
            let _context = runtime.enter();
            cluster.get_pending_async_connection_with_config(config)
        };
        let releases = Releases::open(node, manager_config())?;
        Ok(Self {
            inner: Arc::new(Engine {
                connector: Cluster(OnIo {
                    connection,
                    runtime,
                }),
                releases: Some(releases),
            }),
            nodes: 1,
        })
    }
}

impl fmt::Debug for RedisClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClusterClient")
            .field("seed_nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

// Sync calls block on the async cluster connection: a pool of sync cluster connections
// would hold a socket to every node per pooled connection.
impl_blocking_sync_client!(RedisClusterClient);
impl_async_client!(RedisClusterClient);

impl CachifyBuilder {
    /// Uses the Redis Cluster reachable through `nodes` for both the sync and the async
    /// side. A malformed URL is an error; an unreachable cluster is not (yet).
    ///
    /// ```
    /// let builder = cachify::Cachify::builder().redis_cluster(&["redis://127.0.0.1:7000"]);
    /// assert!(builder.is_ok());
    /// ```
    pub fn redis_cluster(self, nodes: &[&str]) -> Result<Self, Error> {
        Ok(self.redis_cluster_client(RedisClusterClient::open(nodes)?))
    }

    /// Uses `client` for both the sync and the async side.
    ///
    /// ```
    /// let cluster = cachify::backend::RedisClusterClient::open(&["redis://127.0.0.1:7000"]).unwrap();
    /// let cachify = cachify::Cachify::builder().redis_cluster_client(cluster).build();
    /// ```
    pub fn redis_cluster_client(self, client: RedisClusterClient) -> Self {
        self.sync_client(client.clone()).async_client(client)
    }
}
