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
/// | [`wait_for_replicas`](Self::wait_for_replicas) | off |
/// | [`tls_root_certificates`](Self::tls_root_certificates) (feature `tls`) | the system's roots |
/// | [`tls_client_certificate`](Self::tls_client_certificate) (feature `tls`) | none |
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
    pub(crate) replica_acks: Option<ReplicaAcks>,
    /// The CA and the client certificate of `rediss://` connections.
    #[cfg(feature = "tls")]
    pub(crate) tls: redis::TlsCertificates,
}

/// How many replicas must acknowledge an acquire, and how long to wait for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplicaAcks {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
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
            replica_acks: None,
            #[cfg(feature = "tls")]
            tls: redis::TlsCertificates {
                client_tls: None,
                root_cert: None,
            },
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

    /// Makes every lock, `once` and pool-slot acquire wait until `replicas` replicas have
    /// acknowledged it (`WAIT replicas timeout`, sent with the acquire in one round trip
    /// on the same connection), so that a failover to one of them keeps the lock.
    ///
    /// An acquire that is not acknowledged within `timeout` is released at once and the
    /// call fails with [`Error::Backend`](crate::Error::Backend) naming the shortfall:
    /// nobody holds a lock that a failover could lose, and the caller decides whether to
    /// retry. Off by default: with asynchronous replication a failover can lose a lock
    /// acquired just before it (see the backends chapter, "Sentinel"). On Redis Cluster
    /// the `WAIT` runs on the node that owns the key. `timeout` is raised to at least
    /// 1 ms (`WAIT 0` would wait forever) and `replicas` to at least 1.
    ///
    /// The acquire and its `WAIT` share one [`response_timeout`](Self::response_timeout),
    /// so `timeout` is capped at half of it: a lagging replica then answers as a
    /// shortfall (released, the server still counted as up) rather than as a server
    /// that stopped answering (which would skip the release and trip the breaker).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let options = cachify::backend::redis::RedisOptions::new()
    ///     .wait_for_replicas(1, Duration::from_millis(100));
    /// ```
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replica_acks = Some(ReplicaAcks {
            replicas: replicas.max(1),
            timeout: timeout.max(Duration::from_millis(1)),
        });
        self
    }

    /// Trusts the CA certificates in `pem` (one or more PEM certificates) for
    /// `rediss://` connections, instead of the system's root certificates (or
    /// Mozilla's, with the feature `tls-webpki-roots`). Cargo feature `tls`.
    ///
    /// A malformed PEM is an error when the client is built; a server whose certificate
    /// this CA did not sign fails the first call that connects, with an error naming
    /// the certificate (then the circuit breaker skips the server as if it were down).
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// let ca = std::fs::read("/etc/redis/ca.crt")?;
    /// let options = cachify::backend::redis::RedisOptions::new().tls_root_certificates(ca);
    /// let cachify = cachify::Cachify::builder()
    ///     .redis_with("rediss://redis.internal:6380/0", options)?
    ///     .build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root_cert = Some(pem.into());
        self
    }

    /// Presents `certificate` (a PEM chain) and its private `key` (PEM) to servers that
    /// require client certificates (`tls-auth-clients yes`): mutual TLS. Cargo feature
    /// `tls`.
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// let options = cachify::backend::redis::RedisOptions::new()
    ///     .tls_root_certificates(std::fs::read("ca.crt")?)
    ///     .tls_client_certificate(std::fs::read("client.crt")?, std::fs::read("client.key")?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_client_certificate(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client_tls = Some(redis::ClientTlsConfig {
            client_cert: certificate.into(),
            client_key: key.into(),
        });
        self
    }

    /// What acquires wait for: [`wait_for_replicas`](Self::wait_for_replicas), its
    /// timeout capped at half the response timeout (the acquire and its `WAIT` share it).
    pub(crate) fn replica_acks(&self) -> Option<ReplicaAcks> {
        let ceiling = (self.response_timeout / 2).max(Duration::from_millis(1));
        self.replica_acks.map(|acks| ReplicaAcks {
            timeout: acks.timeout.min(ceiling),
            ..acks
        })
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
