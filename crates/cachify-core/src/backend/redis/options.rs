//! [`RedisOptions`]: every timeout and size of the Redis backends, in one place.

use std::time::Duration;

/// Timeouts, the circuit breaker and connection limits of a Redis or Redis Cluster
/// client, in the style of redis-rs's `ConnectionManagerConfig`: start from
/// [`RedisOptions::new`] (the defaults below) and change what you need.
///
/// The timeouts apply to every connection of the client: the async connections, the sync
/// side's blocking connections, the pub/sub connection of release wake-ups and the
/// cluster connection.
///
/// | option | default |
/// |---|---|
/// | [`connect_timeout`](Self::connect_timeout) | [`DEFAULT_CONNECT_TIMEOUT`] (500 ms) |
/// | [`response_timeout`](Self::response_timeout) | [`DEFAULT_RESPONSE_TIMEOUT`] (1 s) |
/// | [`circuit_breaker`](Self::circuit_breaker) | on |
/// | [`probe_interval`](Self::probe_interval) | [`DEFAULT_PROBE_INTERVAL`] (100 ms) |
/// | [`max_idle_connections`](Self::max_idle_connections) | 32 |
/// | [`max_runtime_connections`](Self::max_runtime_connections) | 16 |
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::backend::redis::RedisOptions;
///
/// let options = RedisOptions::new()
///     .connect_timeout(Duration::from_millis(200))
///     .response_timeout(Duration::from_millis(250));
/// let cachify = cachify::Cachify::builder()
///     .redis_with("redis://127.0.0.1:6379/0", options)?
///     .build();
/// # Ok::<(), cachify::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) circuit_breaker: bool,
    pub(crate) probe_interval: Duration,
    pub(crate) max_idle_connections: usize,
    pub(crate) max_runtime_connections: usize,
}

/// How long connecting (TCP, TLS and the handshake) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a command may wait for its reply by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often, by default, the breaker's probe asks a server that stopped answering.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(100);

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            circuit_breaker: true,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            max_idle_connections: 32,
            max_runtime_connections: 16,
        }
    }
}

impl RedisOptions {
    /// The defaults (see the table above).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let options = cachify::backend::redis::RedisOptions::new();
    /// let client = cachify::backend::RedisClient::open_with("redis://127.0.0.1:6379", options)?;
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How long connecting may take before the call fails (default 500 ms; raised to at
    /// least 1 ms).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let options = cachify::backend::redis::RedisOptions::new().connect_timeout(Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a command may wait for its reply before the call fails (default 1 s;
    /// raised to at least 1 ms). A hung server costs a caller at most this once: then
    /// the circuit breaker skips it (see [`circuit_breaker`](Self::circuit_breaker)).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let options = cachify::backend::redis::RedisOptions::new().response_timeout(Duration::from_millis(300));
    /// ```
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Whether a server that timed out or refused a connection is skipped until it
    /// answers again (default on).
    ///
    /// While the breaker is open, calls to that server fail at once with a
    /// [`BackendError`](crate::BackendError) instead of waiting for a timeout each:
    /// `#[cached]` runs the body at once (fails open), locks and pools return
    /// [`Error::Backend`](crate::Error::Backend) at once. One probe per server asks it
    /// every [`probe_interval`](Self::probe_interval); its first answer closes the
    /// breaker. On Redis Cluster the breaker is per node, so a hung node costs one
    /// timeout and does not cut off the slots of the others.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let options = cachify::backend::redis::RedisOptions::new().circuit_breaker(false);
    /// ```
    pub fn circuit_breaker(mut self, enabled: bool) -> Self {
        self.circuit_breaker = enabled;
        self
    }

    /// How often the breaker's probe asks a server that stopped answering (default
    /// 100 ms; raised to at least 1 ms). A probe waits at most the response timeout.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let options = cachify::backend::redis::RedisOptions::new().probe_interval(Duration::from_millis(50));
    /// ```
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many idle blocking connections the sync side of a [`RedisClient`] keeps for
    /// reuse (default 32). More threads at once open more, then close them.
    ///
    /// [`RedisClient`]: super::RedisClient
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let options = cachify::backend::redis::RedisOptions::new().max_idle_connections(4);
    /// ```
    pub fn max_idle_connections(mut self, count: usize) -> Self {
        self.max_idle_connections = count;
        self
    }

    /// How many tokio runtimes get an async connection of their own, driven on that
    /// runtime (default 16); async callers on further runtimes share the backend's I/O
    /// thread.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let options = cachify::backend::redis::RedisOptions::new().max_runtime_connections(0);
    /// ```
    pub fn max_runtime_connections(mut self, count: usize) -> Self {
        self.max_runtime_connections = count;
        self
    }

    /// The settings of every `ConnectionManager` of the backend: these timeouts, and fail
    /// fast while the server is away (one quick retry, not redis-rs's six with back-off),
    /// so a call reports the outage promptly and the next call after a restart
    /// reconnects.
    pub(crate) fn manager_config(&self) -> redis::aio::ConnectionManagerConfig {
        redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100))
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.connect_timeout))
    }
}
