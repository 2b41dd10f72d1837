//! Sentinel-managed masters: a [`RedisClient`] whose connections follow the master that
//! the sentinels name, across failovers, without being built again.
//!
//! redis-rs's `SentinelClient` finds the master (it asks the sentinels in turn and checks
//! with `ROLE` that the node it names is a master) but gives a `Client` for one address:
//! its connections, `ConnectionManager`'s reconnects included, stay on that address
//! after a failover. So the client asks again itself:
//!
//! - when it is built (unreachable sentinels are an error then), and
//! - after every call that found the master unreachable or read-only (`READONLY`: the
//!   old master came back as a replica), and on every failed probe of the circuit
//!   breaker, so that recovery needs no caller: at most one question is in flight, and
//!   at most one is asked per probe interval.
//!
//! When the answer is another node, every connection moves there: the async side (the
//! shared connection and those of each runtime), the sync side's blocking connections
//! and the pub/sub connection of release wake-ups, whose waiters poll at once and then
//! subscribe on the new master. A failover is therefore seen within one breaker probe
//! interval of the sentinels' promotion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::sentinel::{SentinelClient, SentinelServerType};

use super::client::{Core, SyncSide};
use super::connection::{AsyncConnections, ServerConnections};
use super::options::RedisOptions;
use super::runtime;
use super::RedisClient;
use crate::error::{BackendError, Error};

/// The sentinels of a client, and the master its connections go to.
pub(crate) struct Sentinel {
    client: tokio::sync::Mutex<SentinelClient>,
    /// The address of the master the connections go to.
    master: Mutex<String>,
    /// A question to the sentinels is in flight.
    asking: AtomicBool,
    /// When the last question was asked: at most one per probe interval, so a master
    /// that is down while no failover happens costs the sentinels little.
    asked_at: Mutex<Option<Instant>>,
    /// How long one question may take: the sentinel, then the master's `ROLE`.
    patience: Duration,
    /// Woken whenever the connections moved (or tried to): near cache tracking compares
    /// the master it tracks at once.
    moved: tokio::sync::Notify,
}

impl RedisClient {
    /// A client for the master that the sentinels at `sentinels` (`redis://host:port`
    /// URLs of Sentinel processes) know as `master_name`, following it across failovers
    /// (cargo feature `sentinel`).
    ///
    /// Asks the sentinels for the master now: a malformed URL, sentinels that do not
    /// answer, or a name none of them knows is an error here. For a master that needs a
    /// password, a database or TLS, build redis-rs's `SentinelClient` with them and use
    /// [`from_sentinel_client`](Self::from_sentinel_client): `rediss://` sentinel URLs
    /// and the TLS options of `options` are refused here with
    /// [`Error::InvalidOption`], rather than dialling the master in plaintext.
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// use cachify::backend::{redis::RedisOptions, RedisClient};
    ///
    /// let sentinels = ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"];
    /// let redis = RedisClient::open_sentinel(&sentinels, "mymaster", RedisOptions::new())?;
    /// let cachify = cachify::Cachify::builder().redis_client(redis).build();
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn open_sentinel(
        sentinels: &[&str],
        master_name: &str,
        options: RedisOptions,
    ) -> Result<Self, Error> {
        if sentinels.is_empty() {
            return Err(BackendError::new("a Sentinel-managed master needs a sentinel URL").into());
        }
        refuse_tls(sentinels, &options)?;
        #[allow(
            clippy::unnecessary_to_owned,
            reason = "redis-rs takes a `String` without its TLS features"
        )]
        let client = SentinelClient::build(
            sentinels.to_vec(),
            master_name.to_owned(),
            None,
            SentinelServerType::Master,
        )
        .map_err(BackendError::new)?;
        let label = format!("sentinel master '{master_name}'");
        Self::following(client, options, label, false)
    }

    /// [`open_sentinel`](Self::open_sentinel) over the application's own redis-rs
    /// `SentinelClient` (its master's credentials, database and TLS settings); it must
    /// be built for the master (`SentinelServerType::Master`).
    ///
    /// ```no_run
    /// # use cachify_core as cachify;
    /// use redis::sentinel::{SentinelClient, SentinelServerType};
    /// use cachify::backend::{redis::RedisOptions, RedisClient};
    ///
    /// let sentinels = vec!["redis://127.0.0.1:26379"];
    /// let client = SentinelClient::build(sentinels, "mymaster".to_owned(), None, SentinelServerType::Master)?;
    /// let redis = RedisClient::from_sentinel_client(client, RedisOptions::new())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_sentinel_client(
        client: SentinelClient,
        options: RedisOptions,
    ) -> Result<Self, Error> {
        Self::following(client, options, "sentinel-managed master".to_owned(), true)
    }

    /// A client on the master `client` names; `label` names it in error messages;
    /// `own_client`: `client` is the application's, TLS settings unknown.
    fn following(
        client: SentinelClient,
        options: RedisOptions,
        label: String,
        own_client: bool,
    ) -> Result<Self, Error> {
        // The application's `SentinelClient` may speak TLS to the sentinels, and
        // nothing says so before it connects: install for it (`open_sentinel` refuses
        // TLS, and new_core installs for a `rediss://` master).
        if own_client {
            super::tls::install_crypto_provider_now();
        }
        let sentinel = Sentinel {
            client: tokio::sync::Mutex::new(client),
            master: Mutex::new(String::new()),
            asking: AtomicBool::new(false),
            asked_at: Mutex::new(None),
            moved: tokio::sync::Notify::new(),
            patience: options
                .connect_timeout
                .saturating_add(options.response_timeout)
                .saturating_mul(2),
        };
        let master = runtime::block_on(sentinel.master())??;
        let address = address_of(&master);
        *sentinel.master.lock() = address.clone();
        let connections = ServerConnections::open(&master, &options)?;
        let connections = AsyncConnections::Failover(ArcSwap::from_pointee(connections));
        let core = Self::new_core(connections, &master, options, label.into())?;
        let _ = core.sentinel.set(sentinel);
        Ok(Self { core })
    }
}

/// TLS is not mapped onto redis-rs's `SentinelClient` here: refuse it, so that a master
/// the caller meant to reach over TLS is never dialled in plaintext.
fn refuse_tls(sentinels: &[&str], options: &RedisOptions) -> Result<(), Error> {
    #[cfg(feature = "tls")]
    let certificates = options.tls.root_cert.is_some() || options.tls.client_tls.is_some();
    #[cfg(not(feature = "tls"))]
    let certificates = {
        let _ = options;
        false
    };
    let tls_url = sentinels.iter().any(|url| url.starts_with("rediss://"));
    if certificates || tls_url {
        return Err(Error::InvalidOption {
            option: "open_sentinel",
            reason: "TLS is not applied to a Sentinel-managed master here: build redis-rs's \
                     SentinelClient with it and use RedisClient::from_sentinel_client",
        });
    }
    Ok(())
}

impl Sentinel {
    /// Asks the sentinels for the master.
    pub(super) async fn master(&self) -> Result<redis::Client, BackendError> {
        let mut client = self.client.lock().await;
        match tokio::time::timeout(self.patience, client.async_get_client()).await {
            Ok(Ok(master)) => Ok(master),
            Ok(Err(error)) => Err(BackendError::new(format!(
                "the sentinels name no reachable master: {error}"
            ))),
            Err(_) => Err(BackendError::new(format!(
                "the sentinels did not name a master within {:?}",
                self.patience
            ))),
        }
    }
}

impl Core {
    /// Asks the sentinels, in the background, whether the master moved, and moves every
    /// connection to the new one if it did (nothing for other clients, or while a
    /// question is already in flight).
    pub(crate) fn follow_master(self: &Arc<Self>) {
        let Some(sentinel) = self.sentinel.get() else {
            return;
        };
        if sentinel.asking.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut asked_at = sentinel.asked_at.lock();
            if asked_at.is_some_and(|at| at.elapsed() < self.options.probe_interval) {
                sentinel.asking.store(false, Ordering::Release);
                return;
            }
            *asked_at = Some(Instant::now());
        }
        let Ok(handle) = runtime::handle() else {
            sentinel.asking.store(false, Ordering::Release);
            return;
        };
        let core = Arc::downgrade(self);
        handle.spawn(async move {
            let Some(core) = core.upgrade() else {
                return;
            };
            let Some(sentinel) = core.sentinel.get() else {
                return;
            };
            let _asked = Asked(&sentinel.asking);
            match sentinel.master().await {
                Ok(master) => core.move_to(sentinel, &master),
                Err(error) => {
                    tracing::debug!(target: crate::events::TARGET, %error, "cannot ask the sentinels for the master");
                }
            }
        });
    }

    /// The address of the master every connection goes to, for a Sentinel-managed
    /// client. `move_to` changes it and moves the connections in one step without an
    /// await, on the private runtime (a current-thread one): a task there never sees
    /// the new address before the connections moved.
    pub(crate) fn sentinel_master(&self) -> Option<String> {
        let sentinel = self.sentinel.get()?;
        let master = sentinel.master.lock().clone();
        Some(master)
    }

    /// Waits until the connections move to another master (never without sentinels).
    pub(crate) async fn sentinel_moved(&self) {
        match self.sentinel.get() {
            Some(sentinel) => sentinel.moved.notified().await,
            None => std::future::pending().await,
        }
    }

    /// Moves every connection to `master` unless they are there already.
    fn move_to(&self, sentinel: &Sentinel, master: &redis::Client) {
        let address = address_of(master);
        let previous = std::mem::replace(&mut *sentinel.master.lock(), address.clone());
        if previous == address {
            return;
        }
        let moved = match &self.connections {
            AsyncConnections::Failover(current) => ServerConnections::open(master, &self.options)
                .map(|connections| current.store(Arc::new(connections))),
            _ => Ok(()),
        };
        #[allow(
            irrefutable_let_patterns,
            reason = "refutable with the feature redis-cluster"
        )]
        if let SyncSide::Blocking(connections) = &self.sync_side {
            connections.retarget(master);
        }
        let moved = moved.and_then(|()| self.releases.retarget(master));
        match moved {
            Ok(()) => {
                tracing::warn!(target: crate::events::TARGET, from = %previous, to = %address, "the redis master failed over: connections follow it");
            }
            Err(error) => {
                // Asked again on the next failure.
                *sentinel.master.lock() = previous;
                tracing::warn!(target: crate::events::TARGET, %error, "cannot follow the redis master");
            }
        }
        sentinel.moved.notify_waiters();
    }
}

/// Clears the in-flight flag however the question ends.
struct Asked<'a>(&'a AtomicBool);

impl Drop for Asked<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How a master's address is compared: `host:port`.
pub(super) fn address_of(client: &redis::Client) -> String {
    client.get_connection_info().addr().to_string()
}

/// Where a client keeps its sentinels: set once, on a Sentinel-managed client.
pub(crate) type SentinelSlot = OnceLock<Sentinel>;
