//! A server or cluster of one test's own, on the backend of the suite: for a test that
//! flushes, kills connections of or restarts its servers, which would disturb the other
//! tests of its binary on the shared ones.

use cachify::CachifyBuilder;

use super::redis::{command, RedisCluster, RedisServer};
use super::{unique_prefix, Backend};

/// Servers started for one test: a standalone server or a 3-master cluster.
pub enum Deployment {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl Deployment {
    /// A deployment like `backend`'s shared one, or `None` for [`Backend::Memory`].
    pub fn start(backend: Backend) -> Option<Deployment> {
        match backend {
            Backend::Memory => None,
            Backend::Redis => Some(Deployment::Server(RedisServer::start(false))),
            Backend::RedisCluster => Some(Deployment::Cluster(RedisCluster::start())),
        }
    }

    /// Its nodes (one for a server).
    pub fn nodes(&self) -> Vec<&RedisServer> {
        match self {
            Deployment::Server(server) => vec![server],
            Deployment::Cluster(cluster) => cluster.nodes.iter().collect(),
        }
    }

    /// A builder on these servers with a prefix no other test uses.
    pub fn builder(&self, test: &str) -> CachifyBuilder {
        self.builder_with_prefix(&unique_prefix(test))
    }

    /// A builder on these servers with `prefix`: another instance on the same keys.
    pub fn builder_with_prefix(&self, prefix: &str) -> CachifyBuilder {
        let builder = cachify::Cachify::builder().prefix(prefix);
        match self {
            Deployment::Server(server) => builder.redis(&server.url()).expect("a valid URL"),
            Deployment::Cluster(cluster) => {
                let urls = cluster.urls();
                let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                builder.redis_cluster(&urls).expect("valid URLs")
            }
        }
    }

    /// Sends `args` to every node over a fresh connection; their raw replies.
    pub fn on_every_node(&self, args: &[&str]) -> Vec<String> {
        self.nodes()
            .iter()
            .map(|node| command(node.port(), args).expect("the node answers"))
            .collect()
    }
}
