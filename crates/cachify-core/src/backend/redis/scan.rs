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

/// `UNLINK keys..` on a standalone server: how many existed.
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
    use std::collections::BTreeMap;

    use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
    use redis::Value;

    use super::*;
    use crate::backend::redis::connection::OnIo;
    use crate::backend::redis::hash_slots::slot_of;
    use crate::backend::redis::runtime;

    type ClusterConnection = OnIo<redis::cluster_async::ClusterConnection>;

    /// Every master in turn: a master that does not answer is an error, never a count
    /// that silently left its keys out. `CLUSTER SLOTS` says that every slot is served
    /// (and is asked again at the end: a slot that moved meanwhile, by a resharding or a
    /// failover, may have taken keys past the scan, which is an error too); the masters'
    /// addresses are redis-rs's own, which replaces the empty or wildcard hosts some
    /// deployments announce by the address of the node that announced them.
    pub(super) async fn delete_matching(
        core: &Arc<Core>,
        mut cluster: ClusterConnection,
        selection: &KeySelection<'_>,
    ) -> Result<u64, BackendError> {
        let announced = slot_masters(core, &mut cluster).await?;
        let before = slot_owners(core, &mut cluster).await?;
        for (node, _) in &announced {
            core.breaker.check(Route::Node(*node))?;
        }
        let masters = client_masters(core, &mut cluster, &announced).await?;
        let mut deleted = 0;
        for address in masters {
            deleted += delete_on_node(&mut cluster, &address, selection).await?;
        }
        if slot_owners(core, &mut cluster).await? != before {
            return Err(BackendError::new(format!(
                "hash slots moved during the pattern deletion ({}): {deleted} keys \
                 deleted, some matching keys may remain; call it again",
                core.server
            )));
        }
        Ok(deleted)
    }

    /// The masters serving every slot, from `CLUSTER SLOTS` asked now.
    async fn slot_masters(
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

    /// Each slot range and the id of the node serving it, from `CLUSTER SLOTS` asked now:
    /// ids, unlike announced addresses, are the same whichever node answers.
    async fn slot_owners(
        core: &Arc<Core>,
        cluster: &mut ClusterConnection,
    ) -> Result<Vec<(i64, i64, Value)>, BackendError> {
        let reply = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(cluster)
            .await;
        let reply: Value = reply.map_err(|error| named(&core.server, "CLUSTER SLOTS", error))?;
        let Value::Array(entries) = reply else {
            return Ok(Vec::new());
        };
        let mut owners: Vec<(i64, i64, Value)> = entries
            .into_iter()
            .filter_map(|entry| match entry {
                Value::Array(fields) => match fields.as_slice() {
                    [Value::Int(first), Value::Int(last), Value::Array(primary), ..] => {
                        Some((*first, *last, primary.get(2)?.clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        owners.sort_by_key(|(first, _, _)| *first);
        Ok(owners)
    }

    /// The masters' addresses as redis-rs routes to them: the keys of its answer to a
    /// `PING` sent to every master. When that fails, each master `CLUSTER SLOTS`
    /// announced is pinged alone, so the error names the one that does not answer.
    async fn client_masters(
        core: &Arc<Core>,
        cluster: &mut ClusterConnection,
        announced: &[(u32, Arc<str>)],
    ) -> Result<Vec<String>, BackendError> {
        let every_master = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let pinged = runtime::within(
            cluster.runtime,
            cluster
                .connection
                .route_command(redis::cmd("PING"), every_master),
        )
        .await;
        let answers = match pinged {
            Ok(Value::Map(answers)) => answers,
            Ok(other) => {
                return Err(BackendError::new(format!(
                    "unexpected answer of the masters to PING ({}): {other:?}",
                    core.server
                )))
            }
            Err(error) => return Err(unreachable_master(cluster, announced, error).await),
        };
        let mut masters = Vec::with_capacity(answers.len());
        for (address, answer) in answers {
            let address: String = redis::from_redis_value(address)
                .map_err(|error| named(&core.server, "PING", error.into()))?;
            if let Value::ServerError(error) = answer {
                return Err(named(&address, "PING", error.into()));
            }
            masters.push(address);
        }
        if masters.len() != announced.len() {
            return Err(BackendError::new(format!(
                "the cluster announces {} masters and the client knows {} ({}): nothing \
                 deleted; call it again once the cluster settles",
                announced.len(),
                masters.len(),
                core.server
            )));
        }
        Ok(masters)
    }

    /// The error of a master that does not answer, found by pinging each in turn.
    async fn unreachable_master(
        cluster: &mut ClusterConnection,
        announced: &[(u32, Arc<str>)],
        error: redis::RedisError,
    ) -> BackendError {
        for (_, address) in announced {
            let Ok(routing) = by_address(address) else {
                continue;
            };
            let ping = cluster
                .connection
                .route_command(redis::cmd("PING"), RoutingInfo::SingleNode(routing));
            if let Err(error) = runtime::within(cluster.runtime, ping).await {
                return named(address, "PING", error);
            }
        }
        named("a master", "PING", error)
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
            let scan = scan(cursor, selection.pattern());
            let step = runtime::within(
                cluster.runtime,
                cluster
                    .connection
                    .route_command(scan, RoutingInfo::SingleNode(routing.clone())),
            )
            .await
            .and_then(|reply| Ok(redis::from_redis_value::<(u64, Vec<Vec<u8>>)>(reply)?));
            let (next, keys) = step.map_err(|error| named(address, "SCAN", error))?;
            let keys = kept(selection, keys);
            if !keys.is_empty() {
                let unlinked = unlink_by_slot(cluster, &routing, keys).await;
                deleted += unlinked.map_err(|error| named(address, "UNLINK", error))?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// `UNLINK`s a batch of one node's keys: one command per hash slot (a cluster
    /// refuses keys of several slots in one), all in one pipeline to that node, so a
    /// batch costs one round trip, not one per slot.
    async fn unlink_by_slot(
        cluster: &mut ClusterConnection,
        node: &SingleNodeRoutingInfo,
        keys: Vec<Vec<u8>>,
    ) -> RedisResult<u64> {
        let mut by_slot: BTreeMap<u16, Vec<Vec<u8>>> = BTreeMap::new();
        for key in keys {
            by_slot.entry(slot_of(&key)).or_default().push(key);
        }
        let mut pipeline = redis::pipe();
        for keys in by_slot.values() {
            pipeline.cmd("UNLINK");
            for key in keys {
                pipeline.arg(key);
            }
        }
        let sent = cluster
            .connection
            .route_pipeline(pipeline, 0, by_slot.len(), node.clone());
        let replies = runtime::within(cluster.runtime, sent).await?;
        let mut unlinked = 0;
        for reply in replies {
            unlinked += redis::from_redis_value::<u64>(reply)?;
        }
        Ok(unlinked)
    }

    /// Routing to the node at `host:port`.
    fn by_address(address: &str) -> Result<SingleNodeRoutingInfo, BackendError> {
        let bad = || BackendError::new(format!("unreadable cluster node address {address}"));
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        Ok(SingleNodeRoutingInfo::ByAddress {
            host: host.to_owned(),
            port,
        })
    }

    fn named(node: &str, command: &str, error: redis::RedisError) -> BackendError {
        BackendError::new(format!(
            "{command} failed on {node}: {error} (keys deleted before it stay deleted)"
        ))
    }
}
