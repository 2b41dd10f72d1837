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

use std::collections::HashMap;
use std::sync::{Arc, Weak};
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
        let core = Arc::downgrade(self.core());
        Ok(Box::new(spawn(follow(core, seed, settings, readiness))?))
    }
}

/// Keeps one tracking connection per master of the cluster, re-reading the masters
/// every check interval, until aborted (which drops every node's task).
async fn follow(
    core: Weak<Core>,
    seed: redis::Client,
    settings: Arc<Settings>,
    readiness: Arc<Readiness>,
) {
    let mut tracked: HashMap<Arc<str>, AbortOnDrop> = HashMap::new();
    loop {
        if let Some(masters) = masters(&core, settings.response_timeout).await {
            let unchanged = masters.len() == tracked.len()
                && masters.iter().all(|master| tracked.contains_key(master));
            if !unchanged {
                readiness.set_nodes(&masters);
                tracked.retain(|node, _| masters.contains(node));
                for master in masters {
                    if tracked.contains_key(&master) {
                        continue;
                    }
                    let Some(client) = node_client(&seed, &master) else {
                        tracing::debug!(target: crate::events::TARGET, node = %master, "cannot address a cluster master for tracking");
                        continue;
                    };
                    let task = node::track(
                        Arc::clone(&master),
                        Target::Server(client),
                        Arc::clone(&settings),
                        Arc::clone(&readiness),
                    );
                    tracked.insert(master, AbortOnDrop(tokio::spawn(task).abort_handle()));
                }
            }
        }
        tokio::time::sleep(settings.check_interval).await;
    }
}

/// The masters serving every slot, as `CLUSTER SLOTS` says now; `None` when it cannot
/// be asked or leaves a slot without a master.
async fn masters(core: &Weak<Core>, patience: Duration) -> Option<Vec<Arc<str>>> {
    let core = core.upgrade()?;
    let mut connection = core.connections.on_io();
    match tokio::time::timeout(patience, core.owners.refresh(&mut connection)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::debug!(target: crate::events::TARGET, %error, "CLUSTER SLOTS failed");
            return None;
        }
        Err(_) => return None,
    }
    let masters = core.owners.masters()?;
    Some(masters.into_iter().map(|(_, address)| address).collect())
}

/// A client for the node at `address` (`host:port`) with `seed`'s settings: its
/// credentials, protocol and TLS.
fn node_client(seed: &redis::Client, address: &str) -> Option<redis::Client> {
    let (host, port) = address.rsplit_once(':')?;
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
    }
}
