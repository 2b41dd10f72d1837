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
//!   runtimes, in turn or at once. Its connections live on a private I/O thread, so a
//!   `Cachify` in a `static` survives the runtimes of the tests or tasks that use it.
//!   Async calls share one multiplexed connection (pipelined, never taking turns); sync
//!   calls use blocking connections from a small pool, one per concurrently calling
//!   thread, so they cost one round trip on the calling thread and no thread hand-over
//!   (the faster of the two designs measured in `benches/redis.rs`; see `blocking`).
//! - A lost connection is replaced on the next call: calls fail with
//!   [`BackendError`] while the server is away and work again once it is back, without
//!   building a new client.
//!
//! # Examples
//!
//! ```no_run
//! # fn main() -> Result<(), cachify::Error> {
//! // Needs a Redis server on localhost.
//! let cachify = cachify::Cachify::builder().redis("redis://127.0.0.1:6379/0")?.build();
//! let guard = cachify.lock("nightly-import").acquire()?; // excludes every process
//! guard.release()?;
//! # Ok(())
//! # }
//! ```

pub(crate) mod io;

mod blocking;
#[cfg(feature = "redis-cluster")]
mod cluster;
mod engine;
mod releases;
mod scripts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

#[cfg(feature = "redis-cluster")]
pub use cluster::RedisClusterClient;

use engine::{impl_async_client, Connector, Engine};
use releases::Releases;

use crate::error::{BackendError, Error};
use crate::instance::CachifyBuilder;

/// How long a command may wait for its reply before it fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take before it fails.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis backend implementing both [`SyncClient`](crate::SyncClient) and
/// [`AsyncClient`](crate::AsyncClient) over one multiplexed connection.
///
/// Clones share the connection, so the sync and async side of a `Cachify` built with
/// [`CachifyBuilder::redis`] use one connection and one pub/sub subscription.
///
/// # Examples
///
/// ```no_run
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
    inner: Arc<Engine<Manager>>,
    blocking: Arc<blocking::Pool>,
    server: Arc<str>,
}

/// Commands go over a `ConnectionManager`: multiplexed, and reconnecting by itself.
pub(crate) struct Manager(ConnectionManager);

impl Connector for Manager {
    type Conn = ConnectionManager;

    async fn connection(&self) -> Result<ConnectionManager, BackendError> {
        Ok(self.0.clone())
    }
}

/// The manager settings of the backend: fail fast while the server is away (one quick
/// retry, not redis-rs's six with back-off), so a call reports the outage promptly and
/// the next call after the restart reconnects.
pub(crate) fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(100))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
}

impl RedisClient {
    /// A client for the server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS where redis-rs is built with it, `redis+unix:///path`).
    ///
    /// Connects lazily: a server that is down now is not an error here, only for the
    /// calls made while it is. A malformed URL is.
    ///
    /// ```
    /// use cachify::backend::RedisClient;
    ///
    /// assert!(RedisClient::open("redis://127.0.0.1:6379/0").is_ok());
    /// assert!(RedisClient::open("not a url").is_err());
    /// ```
    pub fn open(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(BackendError::new)?;
        Self::from_client(client)
    }

    /// A client over the application's own `redis::Client` (its address, credentials,
    /// database and protocol settings).
    ///
    /// ```
    /// let client = redis::Client::open("redis://127.0.0.1:6379/2").unwrap();
    /// let redis = cachify::backend::RedisClient::from_client(client).unwrap();
    /// ```
    pub fn from_client(client: redis::Client) -> Result<Self, Error> {
        let manager = {
            let _context = io::handle()?.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), manager_config())
                .map_err(BackendError::new)?
        };
        Self::from_manager(manager, &client)
    }

    /// A client whose commands go over the application's own `ConnectionManager`
    /// (sharing its connection); `client` names the server for the sync side's blocking
    /// connections and for the pub/sub connection that release wake-ups use.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
    /// let manager = client.get_connection_manager().await?;
    /// let redis = cachify::backend::RedisClient::from_manager(manager, &client)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_manager(manager: ConnectionManager, client: &redis::Client) -> Result<Self, Error> {
        let releases = Releases::open(client, manager_config())?;
        Ok(Self {
            inner: Arc::new(Engine {
                connector: Manager(manager),
                releases: Some(releases),
            }),
            blocking: Arc::new(blocking::Pool::new(client.clone())),
            server: client.get_connection_info().addr().to_string().into(),
        })
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl_async_client!(RedisClient);

impl CachifyBuilder {
    /// Uses the Redis server at `url` for both the sync and the async side (one
    /// [`RedisClient`] shared by both). A malformed URL is an error; a server that is
    /// down is not (it is needed only when the instance is used).
    ///
    /// ```
    /// let builder = cachify::Cachify::builder().redis("redis://127.0.0.1:6379/0");
    /// assert!(builder.is_ok());
    /// assert!(cachify::Cachify::builder().redis("http://nope").is_err());
    /// ```
    pub fn redis(self, url: &str) -> Result<Self, Error> {
        Ok(self.redis_client(RedisClient::open(url)?))
    }

    /// Uses `client` for both the sync and the async side.
    ///
    /// ```
    /// let redis = cachify::backend::RedisClient::open("redis://127.0.0.1:6379").unwrap();
    /// let cachify = cachify::Cachify::builder().redis_client(redis).build();
    /// ```
    pub fn redis_client(self, client: RedisClient) -> Self {
        self.sync_client(client.clone()).async_client(client)
    }
}
