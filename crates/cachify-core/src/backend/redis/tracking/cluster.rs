//! Tracking on Redis Cluster: one tracking connection per master, following the
//! topology.
//!
//! A master only reports the keys it holds, so every master needs its own tracking
//! connection, and tracking is ready only once all of them track. The masters come
//! from `CLUSTER SLOTS`, read again every check interval: when the set changes (a
//! failover, a node added or emptied), the loss is reported at once, connections to
//! nodes that left are dropped, new ones are made, and tracking is ready again once
//! the new set tracks. Each node's connection is made from a seed node's settings
//! (credentials, TLS) with the master's address.
//!
//! A master that is not tracked yet is only seen at the next `CLUSTER SLOTS` read: a
//! node that keys are migrated to before it serves a slot (reads reach it through
//! `ASK`), or a replica promoted while the old master's connection stays up. redis-rs
//! follows `MOVED` and `ASK` by itself and tells nobody, so there is no earlier signal:
//! a copy filled from such a node can be stale until that read (see the backends
//! chapter).

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::time::Duration;

use redis::ConnectionAddr;

use super::node::{self, Target};
use super::readiness::Readiness;
use super::{spawn, AbortOnDrop, Settings};
use crate::backend::redis::client::{Core, RedisBacked};
use crate::backend::redis::RedisClusterClient;
use crate::error::{BackendError, Error};
use crate::near::{Invalidations, NearSource, TrackingHandle, ValueWithTtl};

impl RedisClusterClient {
    /// This client as the source of a near cache.
    pub(crate) fn near_source(&self) -> Arc<dyn NearSource> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl NearSource for RedisClusterClient {
    fn get_with_ttl_blocking(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        self.core().get_with_ttl_blocking(key)
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        self.core().get_with_ttl(key).await
    }

    fn start_tracking(
        &self,
        prefix: &str,
        check_interval: Duration,
        sink: Arc<dyn Invalidations>,
    ) -> Result<TrackingHandle, Error> {
        let settings = Settings::new(prefix, check_interval, &self.core().options);
        let readiness = Readiness::new(&sink);
        let seed = self.core().releases.nodes().first().cloned();
        let seed = seed.ok_or_else(|| BackendError::new("no cluster node to track"))?;
        let core = Arc::clone(self.core());
        Ok(Box::new(spawn(follow(core, seed, settings, readiness))?))
    }
}

/// Keeps one tracking connection per master of the cluster, re-reading the masters
/// every check interval, until aborted (which drops every node's task). It holds the
/// client's state: tracking outlives the client's handles until its own is dropped.
async fn follow(
    core: Arc<Core>,
    seed: redis::Client,
    settings: Arc<Settings>,
    readiness: Arc<Readiness>,
) {
    // `None`: a master that cannot be addressed, so tracking is never ready (and the
    // near cache never serves) until the masters change.
    let mut tracked: HashMap<Arc<str>, Option<AbortOnDrop>> = HashMap::new();
    loop {
        if let Some(masters) = masters(&core, settings.response_timeout).await {
            let unchanged = masters.len() == tracked.len()
                && masters.iter().all(|master| tracked.contains_key(master));
            if !unchanged {
                readiness.set_nodes(&masters);
                tracked.retain(|node, _| masters.contains(node));
                for master in masters {
                    if let Entry::Vacant(entry) = tracked.entry(master) {
                        let task = track(entry.key(), &seed, &settings, &readiness);
                        entry.insert(task);
                    }
                }
            }
        }
        tokio::time::sleep(settings.check_interval).await;
    }
}

/// Starts tracking `master`, on the current runtime.
fn track(
    master: &Arc<str>,
    seed: &redis::Client,
    settings: &Arc<Settings>,
    readiness: &Arc<Readiness>,
) -> Option<AbortOnDrop> {
    let Some(client) = node_client(seed, master) else {
        tracing::warn!(target: crate::events::TARGET, node = %master,
            "CLUSTER SLOTS names a master without a usable address (set its \
             cluster-announce-ip): near cache tracking stays off, and the near cache \
             bypassed, until the masters change");
        return None;
    };
    let task = node::track(
        Arc::clone(master),
        Target::Server(Box::new(client)),
        Arc::clone(settings),
        Arc::clone(readiness),
    );
    Some(AbortOnDrop(tokio::spawn(task).abort_handle()))
}

/// The masters serving every slot, as `CLUSTER SLOTS` says now; `None` when it cannot
/// be asked or leaves a slot without a master.
async fn masters(core: &Core, patience: Duration) -> Option<Vec<Arc<str>>> {
    let mut connection = core.connections.on_io();
    match tokio::time::timeout(patience, core.owners.refresh(&mut connection)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::debug!(target: crate::events::TARGET, %error, "CLUSTER SLOTS failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(target: crate::events::TARGET, "CLUSTER SLOTS timed out");
            return None;
        }
    }
    let Some(masters) = core.owners.masters() else {
        tracing::debug!(target: crate::events::TARGET, "CLUSTER SLOTS leaves slots without a master");
        return None;
    };
    Some(masters.into_iter().map(|(_, address)| address).collect())
}

/// A client for the node at `address` (`host:port`) with `seed`'s settings: its
/// credentials, protocol and TLS.
fn node_client(seed: &redis::Client, address: &str) -> Option<redis::Client> {
    let (host, port) = address.rsplit_once(':')?;
    if host.is_empty() || host == "?" {
        return None; // the node does not know its own address
    }
    let (host, port) = (host.to_owned(), port.parse().ok()?);
    let info = seed.get_connection_info().clone();
    let addr = match info.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host, port),
    };
    redis::Client::open(info.set_addr(addr)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_client_keeps_the_seeds_credentials_and_protocol() {
        let seed =
            redis::Client::open("redis://user:secret@10.0.0.1:7000/0?protocol=resp3").unwrap();
        let node = node_client(&seed, "10.0.0.2:7001").unwrap();
        let info = node.get_connection_info();
        assert_eq!(*info.addr(), ConnectionAddr::Tcp("10.0.0.2".into(), 7001));
        assert_eq!(info.redis_settings().password(), Some("secret"));
        assert_eq!(
            info.redis_settings().protocol(),
            redis::ProtocolVersion::RESP3
        );
        assert!(node_client(&seed, "no port").is_none());
        assert!(node_client(&seed, ":7001").is_none(), "an unknown endpoint");
    }
}
