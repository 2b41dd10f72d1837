//! The builder's Redis methods: a [`RedisClient`] or [`RedisClusterClient`] serving both
//! the sync and the async side of an instance.

use crate::backend::redis::RedisOptions;
use crate::backend::RedisClient;
#[cfg(feature = "redis-cluster")]
use crate::backend::RedisClusterClient;
use crate::error::Error;

use super::CachifyBuilder;

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
        self.sync_client(client.clone()).async_client(client)
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
        self.sync_client(client.clone()).async_client(client)
    }
}
