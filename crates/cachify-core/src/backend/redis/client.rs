//! [`SyncClient`] and [`AsyncClient`] for both Redis clients, written once over their
//! shared [`Core`]: each operation is a [`commands`] call, run by the sync side (a
//! blocking connection, or blocking on the private runtime for a cluster) or by the
//! async side, behind the circuit breaker, with failures that name the server and what
//! timed out.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

#[cfg(feature = "sentinel")]
use redis::ServerErrorKind;
use redis::{ErrorKind, RedisError};

use super::blocking::{BlockingConnections, Phase};
use super::breaker::{Breaker, Route};
use super::commands::{self, Call};
use super::connection::{AsyncConnections, Connection};
use super::explain::{refused_credentials, Explanations};
#[cfg(feature = "redis-cluster")]
use super::hash_slots::{self, SlotOwners};
use super::idle;
use super::options::RedisOptions;
use super::releases::Releases;
use super::runtime;
use super::scan;
use crate::backend::{AsyncClient, MissClaim, ReleaseWatch, SyncClient};
use crate::error::BackendError;
use crate::glob::KeySelection;
use crate::near::ValueWithTtl;

/// How sync calls reach the server.
#[allow(
    clippy::large_enum_variant,
    reason = "one per client, inside its shared `Core`"
)]
pub(crate) enum SyncSide {
    /// Blocking connections of their own (standalone).
    Blocking(BlockingConnections),
    /// Blocking the calling thread on the async cluster connection: a pool of sync
    /// cluster connections would hold a socket to every node per pooled connection.
    #[cfg(feature = "redis-cluster")]
    BlockOnAsync,
}

/// Everything one client (and its clones) shares.
///
/// Public only to name it in [`RedisBacked`]; unreachable from outside the crate.
#[doc(hidden)]
pub struct Core {
    pub(crate) connections: AsyncConnections,
    pub(crate) sync_side: SyncSide,
    pub(crate) releases: Releases,
    pub(crate) breaker: Breaker,
    pub(crate) options: RedisOptions,
    /// Names the server (or the cluster's seed nodes) in error messages.
    pub(crate) server: Arc<str>,
    /// The node of each cluster slot, for the breaker's routes.
    #[cfg(feature = "redis-cluster")]
    pub(crate) owners: SlotOwners,
    /// The sentinels of a Sentinel-managed master.
    #[cfg(feature = "sentinel")]
    pub(crate) sentinel: super::sentinel::SentinelSlot,
    /// Why cluster calls reached no node, asked once per probe interval.
    explanations: Explanations,
}

/// The clients built on a [`Core`]: implementing it implements both client traits.
///
/// Public only for the blanket impls below; it lives in a private module, so no type
/// outside this crate can implement it.
#[doc(hidden)]
pub trait RedisBacked: Send + Sync + 'static {
    /// The shared state of this client.
    fn core(&self) -> &Arc<Core>;
}

impl Core {
    pub(crate) fn new(
        connections: AsyncConnections,
        sync_side: SyncSide,
        releases: Releases,
        options: RedisOptions,
        server: Arc<str>,
    ) -> Arc<Self> {
        Arc::new(Self {
            connections,
            sync_side,
            releases,
            breaker: Breaker::new(options.circuit_breaker),
            options,
            server,
            #[cfg(feature = "redis-cluster")]
            owners: SlotOwners::default(),
            #[cfg(feature = "sentinel")]
            sentinel: super::sentinel::SentinelSlot::new(),
            explanations: Explanations::default(),
        })
    }

    #[inline]
    fn route(&self, key: &str) -> Route {
        match &self.connections {
            AsyncConnections::Server(_) => {
                let _ = key;
                Route::Server
            }
            #[cfg(feature = "sentinel")]
            AsyncConnections::Failover(_) => Route::Server,
            #[cfg(feature = "redis-cluster")]
            AsyncConnections::Cluster(_) => {
                let slot = hash_slots::slot_of(key.as_bytes());
                self.owners
                    .node_of(slot)
                    .map_or(Route::Slot(slot), Route::Node)
            }
        }
    }

    /// Asks the cluster, in the background, which node serves each slot (nothing for a
    /// standalone server).
    pub(crate) fn refresh_owners(self: &Arc<Self>) {
        #[cfg(feature = "redis-cluster")]
        if let (AsyncConnections::Cluster(_), Ok(handle)) = (&self.connections, runtime::handle()) {
            let core: Weak<Self> = Arc::downgrade(self);
            let patience = self.options.response_timeout;
            handle.spawn(async move {
                let Some(core) = core.upgrade() else {
                    return;
                };
                let mut connection = core.connections.on_io();
                let refresh = core.owners.refresh(&mut connection);
                if let Ok(Err(error)) = tokio::time::timeout(patience, refresh).await {
                    tracing::debug!(target: crate::events::TARGET, %error, "CLUSTER SLOTS failed");
                }
            });
        }
    }

    /// A near cache's read: `GET` and `PTTL` of `key` in one round trip, from a sync
    /// caller (see [`commands::get_with_ttl`]).
    pub(super) fn get_with_ttl_blocking(
        self: &Arc<Self>,
        key: &str,
    ) -> Result<Option<ValueWithTtl>, BackendError> {
        self.run_blocking(commands::get_with_ttl(key))
    }

    /// The async twin of [`get_with_ttl_blocking`](Self::get_with_ttl_blocking).
    pub(super) async fn get_with_ttl(
        self: &Arc<Self>,
        key: &str,
    ) -> Result<Option<ValueWithTtl>, BackendError> {
        self.run(commands::get_with_ttl(key)).await
    }

    /// Runs `call` on the calling thread.
    fn run_blocking<T>(self: &Arc<Self>, call: Call<'_, T>) -> Result<T, BackendError> {
        match &self.sync_side {
            SyncSide::Blocking(connections) => {
                self.breaker.check(self.route(call.key))?;
                connections
                    .with(call.is_retry_safe(), |conn| call.run(conn))
                    .map_err(|(phase, error)| self.fail(call.key, phase, error))
            }
            #[cfg(feature = "redis-cluster")]
            SyncSide::BlockOnAsync => runtime::block_on(self.run(call))?,
        }
    }

    /// Runs `call` on the caller's task.
    async fn run<T>(self: &Arc<Self>, call: Call<'_, T>) -> Result<T, BackendError> {
        self.breaker.check(self.route(call.key))?;
        let mut connection = self.connections.for_caller();
        match Self::run_on(&mut connection, &call).await {
            Ok(reply) => {
                connection.touch();
                Ok(reply)
            }
            Err(error) => {
                let error = self.explain(error).await;
                Err(self.fail(call.key, Phase::Response, error))
            }
        }
    }

    /// `error`, or the credential refusal behind it (see [`explain`](super::explain)).
    async fn explain(&self, error: RedisError) -> RedisError {
        let node = self.releases.first_node();
        let (connect_timeout, fresh_for) =
            (self.options.connect_timeout, self.options.probe_interval);
        self.explanations
            .explain(error, node, connect_timeout, fresh_for)
            .await
    }

    /// Runs `call` on `connection` following the rule of [`idle`]: a standalone
    /// connection reconnects by itself after a lost connection, failing the request
    /// that found it lost.
    async fn run_on<T>(connection: &mut Connection, call: &Call<'_, T>) -> redis::RedisResult<T> {
        if !connection.reconnects_on_loss() {
            return call.run_async(connection).await;
        }
        if !call.is_retry_safe() && connection.is_stale() {
            // Either answered, or lost (the manager reconnects) and then sent once more.
            let ping = redis::cmd("PING");
            if let Err(error) = ping.query_async::<()>(connection).await {
                if !idle::is_lost_connection(&error) {
                    return Err(error);
                }
                ping.query_async::<()>(connection).await?;
            }
        }
        match call.run_async(connection).await {
            Err(error) if call.is_retry_safe() && idle::is_lost_connection(&error) => {
                call.run_async(connection).await
            }
            result => result,
        }
    }

    /// Names the failure, and trips the breaker when the server did not answer.
    pub(super) fn fail(
        self: &Arc<Self>,
        key: &str,
        phase: Phase,
        error: RedisError,
    ) -> BackendError {
        #[cfg(feature = "sentinel")]
        if unreachable(&error) || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) {
            self.follow_master();
        }
        let failure = Failure::new(phase, error, &self.server, &self.options);
        let route = self.route(key);
        if failure.unreachable && self.breaker.trip(route, &failure) {
            tracing::warn!(target: crate::events::TARGET, error = %failure, "redis is not answering: calls skip it until it does");
            self.probe(route, key.to_owned());
            self.refresh_owners();
        }
        BackendError::new(failure)
    }

    /// Starts the one probe of a trip: asks the server, on the private runtime, until it
    /// answers, then closes the route. Holds the client only while asking, so a dropped
    /// client ends it.
    fn probe(self: &Arc<Self>, route: Route, key: String) {
        let Ok(handle) = runtime::handle() else {
            self.breaker.close(route);
            return;
        };
        let core: Weak<Self> = Arc::downgrade(self);
        let interval = self.options.probe_interval;
        let patience = self
            .options
            .connect_timeout
            .saturating_add(self.options.response_timeout);
        handle.spawn(async move {
            loop {
                let Some(core) = core.upgrade() else {
                    return;
                };
                if core.route(&key) != route {
                    // The slot's node was a stale guess, or not known yet, or a failover
                    // moved the slot: the next failure trips the node serving it now.
                    core.breaker.close(route);
                    return;
                }
                let mut connection = core.connections.on_io();
                let call = commands::probe(&key);
                let answer = tokio::time::timeout(patience, call.run_async(&mut connection)).await;
                // Any reply, a server error included (an ACL that denies the probe's
                // command, `LOADING`), means the server answers again.
                let answered = match answer {
                    Ok(Ok(_)) => true,
                    // A refusal of the credentials is an answer too.
                    Ok(Err(error)) => !unreachable(&core.explain(error).await),
                    Err(_) => false,
                };
                if answered {
                    core.breaker.close(route);
                    core.refresh_owners();
                    tracing::info!(target: crate::events::TARGET, server = %core.server, "redis answers again");
                    return;
                }
                #[cfg(feature = "sentinel")]
                core.follow_master();
                drop(core);
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// `SET`; an acquire (`NX`) waits for replicas when the options ask for it.
    fn set<'k>(
        &self,
        key: &'k str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Call<'k, bool> {
        let call = commands::set(key, value, ttl, nx);
        if nx {
            self.replica_acked(call, key, value)
        } else {
            call
        }
    }

    /// `call`, an acquire of `key` for `token`, made to wait for replicas when the options
    /// ask for it; when too few acknowledge, the acquire is undone.
    fn replica_acked<'k, T>(&self, call: Call<'k, T>, key: &'k str, token: &[u8]) -> Call<'k, T> {
        match self.options.replica_acks() {
            Some(acks) => call.acknowledged(acks, commands::delete_if_equals(key, token)),
            None => call,
        }
    }

    /// The pool's acquire, waiting for replicas when the options ask for it.
    fn pool_acquire<'k>(
        &self,
        key: &'k str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Call<'k, bool> {
        let call = commands::pool_acquire(key, token, max_size, slot_ttl);
        match self.options.replica_acks() {
            Some(acks) => call.acknowledged(acks, commands::pool_release(key, token)),
            None => call,
        }
    }

    /// Takes the lock at `key` for `token` and counts its holder: its fencing token, or
    /// `None` when the lock is held.
    ///
    /// A server runs one script. A cluster takes three single-key steps, so that a lock
    /// can be taken while its slot migrates: `SET NX`, then `INCR` of the counter (each
    /// waited for by replicas when the options ask), then a check that the lock still
    /// holds `token`. ordering: a holder counts after its own
    /// `SET` and, having found its token still there, before the next holder's `SET`,
    /// which counts after; so tokens increase in the order the holders held the lock. A
    /// lock lost between the steps (expired, force-released) is answered as held.
    async fn lock_acquire(
        self: &Arc<Self>,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        if !self.is_cluster() {
            let call = commands::lock_acquire(key, token, ttl);
            let taken = self.run(self.replica_acked(call, key, token)).await;
            return self.acquire_outcome(taken);
        }
        let taken = self.cluster_lock_acquire(key, token, ttl).await;
        self.acquire_outcome(taken)
    }

    /// [`lock_acquire`](Self::lock_acquire) on a cluster, in single-key steps.
    async fn cluster_lock_acquire(
        self: &Arc<Self>,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        if !self.run(self.set(key, token, ttl, true)).await? && !self.holds(key, token).await? {
            return Ok(None);
        }
        let fence = commands::fence_key(key);
        // Waited for like the `SET NX`: a failover must not lose the count either, or the
        // next holder could be handed the same token; a shortfall releases the lock.
        let count = self.replica_acked(commands::incr(&fence), key, token);
        let fencing_token = self.run(count).await?;
        Ok(self.holds(key, token).await?.then_some(fencing_token))
    }

    /// Whether the lock at `key` holds `token`. On a cluster it also tells a `SET NX`
    /// answered "taken" by our own first attempt: redis-rs sends a command again by
    /// itself after a lost reply, and that lock is ours.
    async fn holds(self: &Arc<Self>, key: &str, token: &[u8]) -> Result<bool, BackendError> {
        Ok(self.run(commands::get(key)).await?.as_deref() == Some(token))
    }

    /// The blocking [`lock_acquire`](Self::lock_acquire).
    fn lock_acquire_blocking(
        self: &Arc<Self>,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        match &self.sync_side {
            SyncSide::Blocking(_) => {
                let call = commands::lock_acquire(key, token, ttl);
                let taken = self.run_blocking(self.replica_acked(call, key, token));
                self.acquire_outcome(taken)
            }
            #[cfg(feature = "redis-cluster")]
            SyncSide::BlockOnAsync => runtime::block_on(self.lock_acquire(key, token, ttl))?,
        }
    }

    /// The outcome of an acquisition, whose failure counts as unsent (nothing to give
    /// back) only when it was one request we sent once: not on a cluster, whose client
    /// retries by itself (a refused retry says nothing of the first attempt), and not
    /// with replica acknowledgements, where a `WAIT` or an undo follows the write.
    fn acquire_outcome<T>(&self, outcome: Result<T, BackendError>) -> Result<T, BackendError> {
        if self.is_cluster() || self.options.replica_acks.is_some() {
            return outcome.map_err(BackendError::may_have_run);
        }
        outcome
    }

    fn is_cluster(&self) -> bool {
        match &self.connections {
            AsyncConnections::Server { .. } => false,
            #[cfg(feature = "sentinel")]
            AsyncConnections::Failover(_) => false,
            #[cfg(feature = "redis-cluster")]
            AsyncConnections::Cluster(_) => true,
        }
    }

    /// A watch on `key`'s releases; while the breaker is open it does not subscribe (the
    /// waiter polls).
    async fn watch(self: &Arc<Self>, key: &str) -> ReleaseWatch {
        let subscribe = self.breaker.check(self.route(key)).is_ok();
        self.releases.watch(key, subscribe).await
    }
}

/// Whether `error` says the server did not answer (rather than answering with an error).
/// A cluster call that reached no node counts, once [`explain`](super::explain) found no
/// credential refusal behind it.
fn unreachable(error: &RedisError) -> bool {
    error.kind() == ErrorKind::ClusterConnectionNotFound
        || error.is_timeout()
        || error.is_connection_refusal()
        || error.is_io_error()
        || error.is_connection_dropped()
}

/// A failed call, saying what failed against which server.
#[derive(Debug)]
struct Failure {
    what: String,
    server: Arc<str>,
    /// The server did not answer (timeout, refused or lost connection): trips the breaker.
    unreachable: bool,
    source: RedisError,
}

impl Failure {
    fn new(phase: Phase, error: RedisError, server: &Arc<str>, options: &RedisOptions) -> Self {
        let (what, unreachable) = if error.is_timeout() {
            let what = match phase {
                Phase::Connect => format!(
                    "redis connect timed out after {:?}",
                    options.connect_timeout
                ),
                Phase::Response => {
                    format!(
                        "redis response timed out after {:?}",
                        options.response_timeout
                    )
                }
            };
            (what, true)
        } else if refused_credentials(&error) {
            // The server answers: the breaker stays closed and every call says why.
            (format!("redis authentication failed: {error}"), false)
        } else if error.is_connection_refusal() {
            ("redis refused the connection".to_owned(), true)
        } else if unreachable(&error) {
            // A lost connection alone says nothing of the server: the next call's
            // connect does (see `idle`).
            let lost = phase == Phase::Response && idle::is_lost_connection(&error);
            (format!("redis connection failed: {error}"), !lost)
        } else {
            (error.to_string(), false)
        };
        Self {
            what,
            server: Arc::clone(server),
            unreachable,
            source: error,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.what, self.server)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl<C: RedisBacked> SyncClient for C {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.core().run_blocking(commands::get(key))
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        self.core()
            .run_blocking(self.core().set(key, value, ttl, nx))
    }

    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        keys.iter().try_fold(0, |deleted, key| {
            Ok(deleted + self.core().run_blocking(commands::delete(key))?)
        })
    }

    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.core()
            .run_blocking(commands::delete_if_equals(key, expected))
    }

    fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.core()
            .run_blocking(commands::expire_if_equals(key, expected, ttl))
    }

    fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        self.core().lock_acquire_blocking(key, token, ttl)
    }

    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.core().run_blocking(commands::remaining_ttl(key))
    }

    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let core = self.core();
        let admitted = core.run_blocking(core.pool_acquire(key, token, max_size, slot_ttl));
        core.acquire_outcome(admitted)
    }

    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.core().run_blocking(commands::pool_release(key, token))
    }

    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.core().run_blocking(commands::pool_size(key))
    }

    fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        let core = self.core();
        let connection = core.connections.on_io();
        runtime::block_on(scan::delete_matching(core, connection, selection))?
    }

    fn claim_miss(
        &self,
        key: &str,
        lease_key: &str,
        token: &[u8],
        lease: Duration,
    ) -> Result<Option<MissClaim>, BackendError> {
        let call = commands::claim_miss(key, lease_key, token, lease);
        self.core().run_blocking(call).map(Some)
    }

    fn set_and_release(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        lease_key: &str,
        token: &[u8],
    ) -> Result<bool, BackendError> {
        let call = commands::set_and_release(key, value, ttl, lease_key, token);
        self.core().run_blocking(call)
    }

    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        // Subscribing happens on the pub/sub connection of the private runtime.
        runtime::block_on(self.core().watch(key)).ok()
    }
}

#[async_trait::async_trait]
impl<C: RedisBacked> AsyncClient for C {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.core().run(commands::get(key)).await
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        self.core().run(self.core().set(key, value, ttl, nx)).await
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut deleted = 0;
        for key in keys {
            deleted += self.core().run(commands::delete(key)).await?;
        }
        Ok(deleted)
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.core()
            .run(commands::delete_if_equals(key, expected))
            .await
    }

    async fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.core()
            .run(commands::expire_if_equals(key, expected, ttl))
            .await
    }

    async fn lock_acquire(
        &self,
        key: &str,
        token: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<u64>, BackendError> {
        self.core().lock_acquire(key, token, ttl).await
    }

    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.core().run(commands::remaining_ttl(key)).await
    }

    async fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let core = self.core();
        let admitted = core
            .run(core.pool_acquire(key, token, max_size, slot_ttl))
            .await;
        core.acquire_outcome(admitted)
    }

    async fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.core().run(commands::pool_release(key, token)).await
    }

    async fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.core().run(commands::pool_size(key)).await
    }

    async fn delete_matching(&self, selection: &KeySelection<'_>) -> Result<u64, BackendError> {
        let core = self.core();
        let connection = core.connections.for_caller();
        scan::delete_matching(core, connection, selection).await
    }

    async fn claim_miss(
        &self,
        key: &str,
        lease_key: &str,
        token: &[u8],
        lease: Duration,
    ) -> Result<Option<MissClaim>, BackendError> {
        let call = commands::claim_miss(key, lease_key, token, lease);
        self.core().run(call).await.map(Some)
    }

    async fn set_and_release(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        lease_key: &str,
        token: &[u8],
    ) -> Result<bool, BackendError> {
        let call = commands::set_and_release(key, value, ttl, lease_key, token);
        self.core().run(call).await
    }

    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        // Subscribing always happens in the private runtime's context.
        runtime::on_io(self.core().watch(key)).await.ok()
    }
}
