//! Where an async call's command goes: the caller's runtime's own connection, the shared
//! one driven by the private runtime, or the cluster connection; for a Sentinel-managed
//! master, those of the current master.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::runtime::Handle;

use std::sync::Arc;

use super::idle::LastUse;
use super::options::RedisOptions;
use super::per_runtime::PerRuntime;
use super::runtime;
use crate::error::BackendError;

/// A connection whose commands run with the private runtime as their tokio context, for
/// connections created there: whatever a command spawns (a lazy connect's driver, a
/// reconnect) and every timer it arms (the response timeout) belong to the private
/// runtime, which outlives every caller's (see [`runtime`]).
#[derive(Clone)]
pub(crate) struct OnIo<C> {
    pub(crate) connection: C,
    pub(crate) runtime: &'static Handle,
}

impl<C: ConnectionLike + Send> ConnectionLike for OnIo<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(runtime::within(
            self.runtime,
            self.connection.req_packed_command(cmd),
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(runtime::within(
            self.runtime,
            self.connection.req_packed_commands(pipeline, offset, count),
        ))
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}

/// The async connections to one standalone server: a `ConnectionManager` (multiplexed,
/// reconnecting by itself) of the caller's runtime when it has one, else the shared one.
pub(crate) struct ServerConnections {
    pub(crate) shared: OnIo<ConnectionManager>,
    /// When `shared` last answered.
    pub(crate) shared_use: Arc<LastUse>,
    /// `None` for the application's own manager, which is always the one used.
    pub(crate) per_runtime: Option<PerRuntime>,
}

impl ServerConnections {
    /// Lazy connections to the server of `client`: nothing connects until a call.
    pub(crate) fn open(
        client: &redis::Client,
        options: &RedisOptions,
    ) -> Result<Self, BackendError> {
        let runtime = runtime::handle()?;
        let shared = {
            // The manager spawns its helper task on the current runtime: make that ours.
            let _context = runtime.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), options.manager_config())
                .map_err(BackendError::new)?
        };
        let per_runtime = PerRuntime::new(client.clone(), options);
        Ok(Self::over(shared, runtime, Some(per_runtime)))
    }

    /// Over `shared`, a manager created on `runtime` (or the application's own).
    pub(crate) fn over(
        shared: ConnectionManager,
        runtime: &'static Handle,
        per_runtime: Option<PerRuntime>,
    ) -> Self {
        Self {
            shared: OnIo {
                connection: shared,
                runtime,
            },
            shared_use: Arc::default(),
            per_runtime,
        }
    }

    fn for_caller(&self) -> Connection {
        match self.per_runtime.as_ref().and_then(PerRuntime::manager) {
            Some((manager, last_use)) => Connection::Local(manager, last_use),
            None => self.on_io(),
        }
    }

    fn on_io(&self) -> Connection {
        Connection::Shared(self.shared.clone(), Arc::clone(&self.shared_use))
    }
}

/// The async connections of one client.
#[allow(
    clippy::large_enum_variant,
    reason = "one per client, inside its shared `Core`"
)]
pub(crate) enum AsyncConnections {
    /// A standalone server.
    Server(ServerConnections),
    /// The current master of a Sentinel-managed set, replaced when it fails over.
    #[cfg(feature = "sentinel")]
    Failover(arc_swap::ArcSwap<ServerConnections>),
    /// A cluster connection: it routes each command by its key's slot, follows `MOVED` /
    /// `ASK` redirections and reconnects to nodes by itself. Its router lives on the
    /// private runtime, and so do its commands.
    #[cfg(feature = "redis-cluster")]
    Cluster(OnIo<redis::cluster_async::ClusterConnection>),
}

impl AsyncConnections {
    /// The connection for the caller's next command.
    pub(crate) fn for_caller(&self) -> Connection {
        match self {
            Self::Server(server) => server.for_caller(),
            #[cfg(feature = "sentinel")]
            Self::Failover(master) => master.load().for_caller(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => Connection::Cluster(cluster.clone()),
        }
    }

    /// A connection driven by the private runtime, for work that runs there (the
    /// breaker's probe), never binding a manager to that runtime.
    pub(crate) fn on_io(&self) -> Connection {
        match self {
            Self::Server(server) => server.on_io(),
            #[cfg(feature = "sentinel")]
            Self::Failover(master) => master.load().on_io(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => Connection::Cluster(cluster.clone()),
        }
    }
}

/// The connection one command goes over.
pub(crate) enum Connection {
    /// Driven by the caller's runtime: no thread hop.
    Local(ConnectionManager, Arc<LastUse>),
    /// Driven by the private runtime.
    Shared(OnIo<ConnectionManager>, Arc<LastUse>),
    #[cfg(feature = "redis-cluster")]
    Cluster(OnIo<redis::cluster_async::ClusterConnection>),
}

impl Connection {
    /// Whether it is a standalone connection, which reconnects by itself after a lost
    /// connection and fails the request that found it lost (a cluster connection
    /// retries by itself).
    pub(crate) fn reconnects_on_loss(&self) -> bool {
        self.last_use().is_some()
    }

    /// Whether it has not answered for a while, so the server may have closed it.
    pub(crate) fn is_stale(&self) -> bool {
        self.last_use().is_some_and(|last_use| last_use.is_stale())
    }

    /// Records an answer.
    pub(crate) fn touch(&self) {
        if let Some(last_use) = self.last_use() {
            last_use.touch();
        }
    }

    fn last_use(&self) -> Option<&LastUse> {
        match self {
            Self::Local(_, last_use) | Self::Shared(_, last_use) => Some(last_use),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(_) => None,
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Local(manager, _) => manager.req_packed_command(cmd),
            Self::Shared(manager, _) => manager.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Local(manager, _) => manager.req_packed_commands(pipeline, offset, count),
            Self::Shared(manager, _) => manager.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Local(manager, _) => manager.get_db(),
            Self::Shared(manager, _) => manager.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.get_db(),
        }
    }
}
