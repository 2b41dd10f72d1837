//! The builder's Redis methods: a [`RedisClient`] or [`RedisClusterClient`] serving both
//! the sync and the async side of an instance.

use std::sync::Arc;

use crate::backend::redis::RedisOptions;
use crate::backend::RedisClient;
#[cfg(feature = "redis-cluster")]
use crate::backend::RedisClusterClient;
use crate::error::Error;
use crate::near::{Near, NearCache, NearSource};

use super::{CachifyBuilder, DecodedStore};

impl CachifyBuilder {
    /// Uses the Redis server at `url` for both the sync and the async side (one
    /// [`RedisClient`] shared by both), with the default [`RedisOptions`]. A malformed
    /// URL is an error; a server that is down is not (it is needed only when the
    /// instance is used).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let builder = cachify::Cachify::builder().redis("redis://127.0.0.1:6379/0");
    /// assert!(builder.is_ok());
    /// assert!(cachify::Cachify::builder().redis("http://nope").is_err());
    /// ```
    pub fn redis(self, url: &str) -> Result<Self, Error> {
        self.redis_with(url, RedisOptions::default())
    }

    /// [`redis`](Self::redis) with `options`: connect and response timeouts, the circuit
    /// breaker, connection limits, TLS certificates for a `rediss://` URL.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::backend::redis::RedisOptions;
    ///
    /// let options = RedisOptions::new()
    ///     .connect_timeout(Duration::from_millis(250))
    ///     .response_timeout(Duration::from_millis(500));
    /// let builder = cachify::Cachify::builder().redis_with("redis://127.0.0.1:6379/0", options);
    /// assert!(builder.is_ok());
    /// ```
    pub fn redis_with(self, url: &str, options: RedisOptions) -> Result<Self, Error> {
        Ok(self.redis_client(RedisClient::open_with(url, options)?))
    }

    /// Uses `client` for both the sync and the async side.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let redis = cachify::backend::RedisClient::open("redis://127.0.0.1:6379").unwrap();
    /// let cachify = cachify::Cachify::builder().redis_client(redis).build();
    /// ```
    pub fn redis_client(self, client: RedisClient) -> Self {
        let near_source = client.near_source();
        self.sync_client(client.clone())
            .async_client(client)
            .with_near_source(near_source)
    }

    /// Uses the master that the sentinels at `sentinels` know as `master_name`, for both
    /// the sync and the async side, following it across failovers (cargo feature
    /// `sentinel`; see [`RedisClient::open_sentinel`]). Asks the sentinels now: sentinels
    /// that do not answer, or that know no such master, are an error here.
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// let sentinels = ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"];
    /// let cachify = cachify::Cachify::builder().redis_sentinel(&sentinels, "mymaster")?.build();
    /// # Ok::<(), cachify::Error>(())
    /// ```
    #[cfg(feature = "sentinel")]
    pub fn redis_sentinel(self, sentinels: &[&str], master_name: &str) -> Result<Self, Error> {
        self.redis_sentinel_with(sentinels, master_name, RedisOptions::default())
    }

    /// [`redis_sentinel`](Self::redis_sentinel) with `options` (timeouts, circuit breaker,
    /// [`wait_for_replicas`](RedisOptions::wait_for_replicas), ...).
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::backend::redis::RedisOptions;
    ///
    /// let options = RedisOptions::new().wait_for_replicas(1, Duration::from_millis(50));
    /// let cachify = cachify::Cachify::builder()
    ///     .redis_sentinel_with(&["redis://127.0.0.1:26379"], "mymaster", options)?
    ///     .build();
    /// # Ok::<(), cachify::Error>(())
    /// ```
    #[cfg(feature = "sentinel")]
    pub fn redis_sentinel_with(
        self,
        sentinels: &[&str],
        master_name: &str,
        options: RedisOptions,
    ) -> Result<Self, Error> {
        let client = RedisClient::open_sentinel(sentinels, master_name, options)?;
        Ok(self.redis_client(client))
    }

    /// Uses the Redis Cluster reachable through `nodes` for both the sync and the async
    /// side, with the default [`RedisOptions`]. A malformed URL is an error; an
    /// unreachable cluster is not (yet).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let builder = cachify::Cachify::builder().redis_cluster(&["redis://127.0.0.1:7000"]);
    /// assert!(builder.is_ok());
    /// ```
    #[cfg(feature = "redis-cluster")]
    pub fn redis_cluster(self, nodes: &[&str]) -> Result<Self, Error> {
        self.redis_cluster_with(nodes, RedisOptions::default())
    }

    /// [`redis_cluster`](Self::redis_cluster) with `options`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::backend::redis::RedisOptions;
    ///
    /// let options = RedisOptions::new().response_timeout(Duration::from_millis(500));
    /// let builder = cachify::Cachify::builder()
    ///     .redis_cluster_with(&["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"], options);
    /// assert!(builder.is_ok());
    /// ```
    #[cfg(feature = "redis-cluster")]
    pub fn redis_cluster_with(self, nodes: &[&str], options: RedisOptions) -> Result<Self, Error> {
        Ok(self.redis_cluster_client(RedisClusterClient::open_with(nodes, options)?))
    }

    /// Uses `client` for both the sync and the async side.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cluster = cachify::backend::RedisClusterClient::open(&["redis://127.0.0.1:7000"]).unwrap();
    /// let cachify = cachify::Cachify::builder().redis_cluster_client(cluster).build();
    /// ```
    #[cfg(feature = "redis-cluster")]
    pub fn redis_cluster_client(self, client: RedisClusterClient) -> Self {
        let near_source = client.near_source();
        self.sync_client(client.clone())
            .async_client(client)
            .with_near_source(near_source)
    }

    /// Keeps the decoded values of this instance's `#[cached]` functions in the process,
    /// in front of its Redis or Redis Cluster backend: a hit served from there touches no
    /// socket and costs about as much as a memory-backend hit, and the server keeps it
    /// coherent (see the guide's "Near cache" chapter).
    ///
    /// Every write, `reset` or expiry of a key, by this process or any other, removes its
    /// near copy: the server pushes an invalidation over a tracking connection (RESP3
    /// `CLIENT TRACKING`, Redis 6 or later) as soon as the key changes. While a tracking
    /// connection is down, nothing is served from the near cache. Call it after the
    /// method that sets the Redis backend (`redis`, `redis_with`, `redis_client`,
    /// `redis_cluster`, ...): without one, or with a zero bound, it is
    /// [`Error::InvalidOption`].
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// use cachify::{Cachify, NearCache};
    ///
    /// let cachify = Cachify::builder()
    ///     .redis("redis://127.0.0.1:6379/0")?
    ///     .near_cache(NearCache::new().max_entries(50_000))?
    ///     .build();
    /// assert!(Cachify::builder().near_cache(NearCache::new()).is_err(), "no Redis backend");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn near_cache(mut self, options: NearCache) -> Result<Self, Error> {
        let options = options.validate()?;
        if self.near_source.is_none() {
            return Err(Error::InvalidOption {
                option: "near_cache",
                reason: "a near cache needs a Redis or Redis Cluster backend: call it after \
                         `.redis(..)`, `.redis_cluster(..)` or another Redis method",
            });
        }
        self.near_cache = Some(options);
        Ok(self)
    }

    fn with_near_source(mut self, source: Arc<dyn NearSource>) -> Self {
        self.near_source = Some(source);
        self
    }

    /// A client given for a side after the Redis backend replaces it there: a near cache
    /// tracking the Redis backend would no longer see that side's writes.
    pub(super) fn forget_near_source(&mut self) {
        self.near_source = None;
    }

    /// The near cache asked for, tracking from now on; `None` when none was asked for,
    /// or the Redis backend was replaced since (which is logged).
    pub(super) fn start_near_cache(&self, prefix: &str) -> Option<DecodedStore> {
        let options = self.near_cache?;
        let Some(source) = &self.near_source else {
            tracing::warn!(
                target: crate::events::TARGET,
                %prefix,
                "no near cache: a client given after the Redis backend replaced it"
            );
            return None;
        };
        match Near::start(options, source.clone(), prefix) {
            Ok(near) => Some(DecodedStore::Near(near)),
            Err(error) => {
                tracing::error!(target: crate::events::TARGET, %prefix, %error, "no near cache");
                None
            }
        }
    }
}
