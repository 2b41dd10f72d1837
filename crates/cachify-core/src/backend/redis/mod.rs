//! `RedisClient`: the Redis backend (also Valkey, DragonflyDB, and anything else that
//! speaks the Redis protocol with Lua scripting and pub/sub).
//!
//! Guarantees:
//! - Every operation that must be atomic is one Lua script touching one key:
//!   compare-and-delete, extend-if-owner, and pool acquire / release / size over a sorted
//!   set. Scripts read the server's clock, never the caller's.
//! - Releases publish on the key's channel inside the same script, and waiters subscribe
//!   over one shared pub/sub connection per client, so a release in one process wakes a
//!   waiter in another within a round trip.
//! - One client serves sync and async code, from any number of threads and tokio
//!   runtimes, in turn or at once, and a `Cachify` in a `static` survives the runtimes
//!   of the tests or tasks that use it. Async calls from a runtime that keeps calling go
//!   over a multiplexed connection driven by that same runtime (pipelined, never taking
//!   turns, no thread hop), replaced when the runtime shuts down (see `per_runtime`);
//!   other async calls share one driven by a private runtime thread (see `runtime`).
//!   Sync calls use blocking connections kept for reuse, one per concurrently calling
//!   thread, so they cost one round trip on the calling thread and no thread hand-over
//!   (the faster of the two designs measured in `benches/redis.rs`; see `blocking`).
//! - A hung or unreachable server costs one timeout ([`RedisOptions`]), not one per
//!   call: a circuit breaker then fails calls at once while one probe waits for the
//!   server to answer again (see `breaker`). Errors name the server and what timed out.
//! - A lost connection is replaced on the next call: calls fail with
//!   [`BackendError`](crate::BackendError) while the server is away and work again once it is back, without
//!   building a new client.
//!
//! The layout: `commands` builds every operation once; `client` runs them for both
//! clients and both sides (`blocking` connections for sync calls, `connection` for async
//! ones); `scripts` holds the Lua; `releases` the pub/sub wake-ups; `runtime` the private
//! runtime; `options` every timeout and size; `tls` the certificates of `rediss://`;
//! `sentinel` a Sentinel-managed master followed across failovers; `tracking` the near
//! cache's reads and tracking connections.
//!
//! # Examples
//!
//! ```no_run
//! # use cachify_core as cachify;
//! # fn main() -> Result<(), cachify::Error> {
//! // Needs a Redis server on localhost.
//! let cachify = cachify::Cachify::builder().redis("redis://127.0.0.1:6379/0")?.build();
//! let guard = cachify.lock("nightly-import").acquire()?; // excludes every process
//! guard.release()?;
//! # Ok(())
//! # }
//! ```

mod blocking;
mod breaker;
mod client;
#[cfg(feature = "redis-cluster")]
mod cluster;
mod commands;
mod connection;
mod explain;
#[cfg(feature = "redis-cluster")]
mod hash_slots;
mod idle;
mod options;
mod per_runtime;
mod releases;
pub(crate) mod runtime;
mod scan;
mod scripts;
#[cfg(feature = "sentinel")]
mod sentinel;
mod tls;
pub(crate) mod tracking;

use std::fmt;
use std::sync::Arc;

use redis::aio::ConnectionManager;
use tokio::runtime::Handle;

#[cfg(feature = "redis-cluster")]
pub use cluster::RedisClusterClient;
pub use options::{
    RedisOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PROBE_INTERVAL, DEFAULT_RESPONSE_TIMEOUT,
};

use blocking::BlockingConnections;
use client::{Core, RedisBacked, SyncSide};
use connection::{AsyncConnections, ServerConnections};
use releases::Releases;

use crate::error::Error;

/// A Redis backend implementing both [`SyncClient`](crate::SyncClient) and
/// [`AsyncClient`](crate::AsyncClient) over multiplexed connections.
///
/// Clones share the connections, so the sync and async side of a `Cachify` built with
/// [`CachifyBuilder::redis`](crate::CachifyBuilder::redis) use the same ones and one
/// pub/sub subscription. Timeouts and the circuit breaker are set with [`RedisOptions`].
///
/// # Examples
///
/// ```no_run
/// # use cachify_core as cachify;
/// use cachify::{backend::RedisClient, Cachify};
///
/// # fn main() -> Result<(), cachify::Error> {
/// // From a URL (nothing connects until the first command):
/// let cachify = Cachify::builder().redis("redis://127.0.0.1:6379/0")?.build();
///
/// // Or from the application's own redis-rs client:
/// let client = redis::Client::open("redis://127.0.0.1:6379/0").expect("valid URL");
/// let redis = RedisClient::from_client(client)?;
/// let cachify = Cachify::builder().redis_client(redis).build();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisClient {
    core: Arc<Core>,
}

impl RedisBacked for RedisClient {
    fn core(&self) -> &Arc<Core> {
        &self.core
    }
}

impl RedisClient {
    /// A client for the server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS with the cargo feature `tls`, `redis+unix:///path`), with
    /// the default [`RedisOptions`].
    ///
    /// Connects lazily: a server that is down now is not an error here, only for the
    /// calls made while it is. A malformed URL is.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::backend::RedisClient;
    ///
    /// assert!(RedisClient::open("redis://127.0.0.1:6379/0").is_ok());
    /// assert!(RedisClient::open("not a url").is_err());
    /// ```
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, RedisOptions::default())
    }

    /// [`open`](Self::open) with `options` (timeouts, circuit breaker, sizes, TLS
    /// certificates).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::backend::{redis::RedisOptions, RedisClient};
    ///
    /// let options = RedisOptions::new().response_timeout(Duration::from_millis(200));
    /// assert!(RedisClient::open_with("redis://127.0.0.1:6379/0", options).is_ok());
    /// ```
    pub fn open_with(url: &str, options: RedisOptions) -> Result<Self, Error> {
        Self::from_client_with(tls::client(url, &options)?, options)
    }

    /// A client over the application's own `redis::Client` (its address, credentials,
    /// database and protocol settings), with the default [`RedisOptions`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let client = redis::Client::open("redis://127.0.0.1:6379/2").unwrap();
    /// let redis = cachify::backend::RedisClient::from_client(client).unwrap();
    /// ```
    pub fn from_client(client: redis::Client) -> Result<Self, Error> {
        Self::from_client_with(client, RedisOptions::default())
    }

    /// [`from_client`](Self::from_client) with `options`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::backend::{redis::RedisOptions, RedisClient};
    ///
    /// let client = redis::Client::open("redis://127.0.0.1:6379/2").unwrap();
    /// let options = RedisOptions::new().circuit_breaker(false);
    /// let redis = RedisClient::from_client_with(client, options).unwrap();
    /// ```
    pub fn from_client_with(client: redis::Client, options: RedisOptions) -> Result<Self, Error> {
        let connections = ServerConnections::open(&client, &options)?;
        Self::build(AsyncConnections::Server(connections), &client, options)
    }

    /// A client whose async commands go over the application's own `ConnectionManager`
    /// (sharing its connection, with its timeouts); `client` names the server for the
    /// sync side's blocking connections and for the pub/sub connection that release
    /// wake-ups use, which take the default [`RedisOptions`].
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
    /// let manager = client.get_connection_manager().await?;
    /// let redis = cachify::backend::RedisClient::from_manager(manager, &client)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_manager(manager: ConnectionManager, client: &redis::Client) -> Result<Self, Error> {
        let runtime: &'static Handle = runtime::handle()?;
        let connections = ServerConnections::over(manager, runtime, None);
        Self::build(
            AsyncConnections::Server(connections),
            client,
            RedisOptions::default(),
        )
    }

    /// The client over `connections` to the server of `client`.
    fn build(
        connections: AsyncConnections,
        client: &redis::Client,
        options: RedisOptions,
    ) -> Result<Self, Error> {
        let server = client.get_connection_info().addr().to_string().into();
        Ok(Self {
            core: Self::new_core(connections, client, options, server)?,
        })
    }

    /// The shared state of a client whose async side is `connections`, and whose other
    /// connections go to the server of `client`.
    fn new_core(
        connections: AsyncConnections,
        client: &redis::Client,
        options: RedisOptions,
        server: Arc<str>,
    ) -> Result<Arc<Core>, Error> {
        tls::install_crypto_provider(std::slice::from_ref(client));
        let releases = Releases::open(std::slice::from_ref(client), options.manager_config())?;
        let sync_side = SyncSide::Blocking(BlockingConnections::new(client, &options));
        Ok(Core::new(connections, sync_side, releases, options, server))
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("server", &self.core.server)
            .field("options", &self.core.options)
            .finish_non_exhaustive()
    }
}
