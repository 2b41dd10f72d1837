//! Deleting by pattern: `SCAN` with `MATCH` and `COUNT`, then `UNLINK` of each batch of
//! matches, on the server or on every master of a cluster; never `KEYS`, which blocks the
//! server for its whole keyspace. Between two batches the server serves everyone else,
//! and `UNLINK` frees the values' memory off its main thread.

use std::sync::Arc;

use redis::aio::ConnectionLike;
use redis::{Cmd, RedisResult};

use super::blocking::Phase;
use super::breaker::Route;
use super::client::Core;
use super::connection::Connection;
use super::idle;
use crate::error::BackendError;
use crate::glob::KeySelection;

/// How many keys one `SCAN` step asks the server to look at: a few milliseconds of its
/// time at most, and few round trips over a large keyspace.
const SCAN_COUNT: usize = 1000;

/// Deletes the keys `selection` selects, over `connection`; returns how many it deleted.
pub(super) async fn delete_matching(
    core: &Arc<Core>,
    mut connection: Connection,
    selection: &KeySelection<'_>,
) -> Result<u64, BackendError> {
    #[cfg(feature = "redis-cluster")]
    if let Connection::Cluster(cluster) = connection {
        return cluster::delete_matching(core, cluster, selection).await;
    }
    let pattern = selection.pattern();
    core.breaker.check(Route::Server)?;
    let mut deleted = 0;
    let mut cursor = 0;
    loop {
        let step = scan_step(&mut connection, cursor, pattern).await;
        let (next, keys) = step.map_err(|error| core.fail("", Phase::Response, error))?;
        connection.touch();
        let keys = kept(selection, keys);
        if !keys.is_empty() {
            let unlinked = unlink_on(&mut connection, &keys).await;
            deleted += unlinked.map_err(|error| core.fail("", Phase::Response, error))?;
            connection.touch();
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// The keys of a `SCAN ... MATCH` step that `selection` selects (the server matched the
/// glob already).
fn kept(selection: &KeySelection<'_>, mut keys: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    keys.retain(|key| selection.admits(key));
    keys
}

/// `SCAN cursor MATCH pattern COUNT n`, answered with the next cursor (0: done) and keys.
fn scan(cursor: u64, pattern: &str) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// One `SCAN` step on a standalone connection, sent once more when it finds its
/// connection lost (the server closed it while idle; the manager reconnects): a `SCAN`
/// may be repeated. The `UNLINK` after it goes out on a connection that just answered.
async fn scan_step(
    connection: &mut Connection,
    cursor: u64,
    pattern: &str,
) -> RedisResult<(u64, Vec<Vec<u8>>)> {
    let step = scan(cursor, pattern);
    match step.query_async(connection).await {
        Err(error) if connection.reconnects_on_loss() && idle::is_lost_connection(&error) => {
            step.query_async(connection).await
        }
        result => result,
    }
}

/// `UNLINK keys..`: how many existed. On a cluster connection redis-rs splits it per
/// slot and adds the answers up.
async fn unlink_on<C: ConnectionLike + Send>(
    connection: &mut C,
    keys: &[Vec<u8>],
) -> RedisResult<u64> {
    let mut cmd = redis::cmd("UNLINK");
    for key in keys {
        cmd.arg(key);
    }
    cmd.query_async(connection).await
}

#[cfg(feature = "redis-cluster")]
mod cluster {
    use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

    use super::*;
    use crate::backend::redis::connection::OnIo;
    use crate::backend::redis::runtime;

    type ClusterConnection = OnIo<redis::cluster_async::ClusterConnection>;

    /// Every master in turn, from a slot map asked for now: a master that does not
    /// answer is an error, never a count that silently left its keys out. The map is
    /// asked again at the end: a slot that moved meanwhile (a resharding, a failover)
    /// may have taken keys past the scan, which is an error too.
    pub(super) async fn delete_matching(
        core: &Arc<Core>,
        mut cluster: ClusterConnection,
        selection: &KeySelection<'_>,
    ) -> Result<u64, BackendError> {
        let masters = current_masters(core, &mut cluster).await?;
        let before = core.owners.ranges();
        let mut deleted = 0;
        for (node, address) in masters {
            core.breaker.check(Route::Node(node))?;
            deleted += delete_on_node(&mut cluster, &address, selection).await?;
        }
        current_masters(core, &mut cluster).await?;
        if core.owners.ranges() != before {
            return Err(BackendError::new(format!(
                "hash slots moved during the pattern deletion ({}): {deleted} keys \
                 deleted, some matching keys may remain; call it again",
                core.server
            )));
        }
        Ok(deleted)
    }

    /// The masters serving every slot, from `CLUSTER SLOTS` asked now.
    async fn current_masters(
        core: &Arc<Core>,
        cluster: &mut ClusterConnection,
    ) -> Result<Vec<(u32, Arc<str>)>, BackendError> {
        core.owners
            .refresh(cluster)
            .await
            .map_err(|error| named(&core.server, "CLUSTER SLOTS", error))?;
        core.owners.masters().ok_or_else(|| {
            BackendError::new(format!(
                "not every hash slot is served ({}): nothing deleted",
                core.server
            ))
        })
    }

    async fn delete_on_node(
        cluster: &mut ClusterConnection,
        address: &str,
        selection: &KeySelection<'_>,
    ) -> Result<u64, BackendError> {
        let routing = by_address(address)?;
        let mut deleted = 0;
        let mut cursor = 0;
        loop {
            let step = runtime::within(
                cluster.runtime,
                cluster
                    .connection
                    .route_command(scan(cursor, selection.pattern()), routing.clone()),
            )
            .await
            .and_then(|reply| Ok(redis::from_redis_value::<(u64, Vec<Vec<u8>>)>(reply)?));
            let (next, keys) = step.map_err(|error| named(address, "SCAN", error))?;
            let keys = kept(selection, keys);
            if !keys.is_empty() {
                let unlinked = unlink_on(cluster, &keys).await;
                deleted += unlinked.map_err(|error| named(address, "UNLINK", error))?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Routing to the node at `host:port`.
    fn by_address(address: &str) -> Result<RoutingInfo, BackendError> {
        let bad = || BackendError::new(format!("unreadable cluster node address {address}"));
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        Ok(RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: host.to_owned(),
            port,
        }))
    }

    fn named(node: &str, command: &str, error: redis::RedisError) -> BackendError {
        BackendError::new(format!(
            "{command} failed on {node}: {error} (keys deleted before it stay deleted)"
        ))
    }
}
