//! `Cachify` instances, their builder, and the process-wide global instance.
//!
//! An instance is a prefix, the defaults of py-cachify's `init_cachify()`, and a pair of
//! backend clients (one for sync code, one for async code). It is cheap to clone (one
//! `Arc`) and lives happily in a `static`, across tokio runtimes and plain threads.
//!
//! [`CachifyBuilder`] configures one; `global` keeps the process-wide instance (`init`,
//! `try_init`) and each thread's copy of it; `selector` says which instance a cached
//! function, a lock or a pool uses: the global one, looked up when used, or a given one.
//!
//! # Examples
//!
//! ```
//! # use cachify_core as cachify;
//! use cachify::instance::{DEFAULT_LOCK_EXPIRATION, DEFAULT_PREFIX};
//!
//! let global = cachify::init_cachify(); // every default, in memory
//! assert_eq!(global.prefix(), DEFAULT_PREFIX);
//! assert_eq!(global.default_lock_expiration(), Some(DEFAULT_LOCK_EXPIRATION));
//!
//! let reports = cachify::Cachify::builder().prefix("REPORTS-").build(); // not global
//! assert!(!reports.same_instance(&global));
//! ```

mod builder;
mod decoded_store;
mod global;
mod invalidate;
mod layout;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod selector;
mod single_flight;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use builder::CachifyBuilder;
pub(crate) use decoded_store::DecodedStore;
pub use layout::{Layout, Operation};
pub(crate) use selector::Selector;
pub use single_flight::{SingleFlight, DEFAULT_FLEET_LEASE, DEFAULT_FLEET_WAIT};

use crate::backend::{AsyncClient, SyncClient};
use crate::error::Error;
use crate::flight::Flights;
use crate::stats::{Counters, FnStats, Stats, Tally};

/// The prefix put in front of every key when none is configured.
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.prefix(), cachify::instance::DEFAULT_PREFIX);
/// assert_eq!(cachify.cache_key("k"), "CACHIFY-k");
/// ```
pub const DEFAULT_PREFIX: &str = "CACHIFY-";
/// How long a lock lives when its holder never releases it, unless configured.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::DEFAULT_LOCK_EXPIRATION;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.default_lock_expiration(), Some(DEFAULT_LOCK_EXPIRATION));
/// ```
pub const DEFAULT_LOCK_EXPIRATION: Duration = Duration::from_secs(30);
/// How long a pool slot lives when its holder never releases it, unless configured.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::DEFAULT_POOL_SLOT_EXPIRATION;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.default_pool_slot_expiration(), Some(DEFAULT_POOL_SLOT_EXPIRATION));
/// ```
pub const DEFAULT_POOL_SLOT_EXPIRATION: Duration = Duration::from_secs(600);
/// How often a waiting lock retries when no release wakes it first, unless configured.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::DEFAULT_LOCK_POLL_INTERVAL;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.lock_poll_interval(), DEFAULT_LOCK_POLL_INTERVAL);
/// ```
pub const DEFAULT_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest poll interval accepted; shorter ones are raised to it.
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::instance::MIN_LOCK_POLL_INTERVAL;
/// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::ZERO).build();
/// assert_eq!(cachify.lock_poll_interval(), MIN_LOCK_POLL_INTERVAL);
/// ```
pub const MIN_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// A configured cachify: key prefix, defaults, and the backends behind them.
///
/// Build one with [`Cachify::builder`]. [`CachifyBuilder::init`] also makes it the
/// global instance used by the attribute macros and by [`crate::lock()`]-style free
/// functions; [`CachifyBuilder::build`] leaves the global alone (py-cachify's
/// `init_cachify(is_global=False)`).
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::sync::LazyLock;
/// use std::time::Duration;
/// use cachify::Cachify;
///
/// static METRICS: LazyLock<Cachify> = LazyLock::new(|| {
///     Cachify::builder()
///         .prefix("METRICS-")
///         .default_cache_ttl(Duration::from_secs(60))
///         .build()
/// });
///
/// assert_eq!(METRICS.prefix(), "METRICS-");
/// assert_eq!(METRICS.default_cache_ttl(), Some(Duration::from_secs(60)));
/// ```
#[derive(Clone)]
pub struct Cachify {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    sync_client: Arc<dyn SyncClient>,
    async_client: Arc<dyn AsyncClient>,
    cache_flights: Flights,
    counters: Counters,
    decoded: Option<DecodedStore>,
}

#[derive(Debug, Clone)]
struct Config {
    prefix: String,
    default_cache_ttl: Option<Duration>,
    default_lock_expiration: Option<Duration>,
    default_pool_slot_expiration: Option<Duration>,
    lock_poll_interval: Duration,
    layout: Layout,
    single_flight: SingleFlight,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            default_cache_ttl: None,
            default_lock_expiration: Some(DEFAULT_LOCK_EXPIRATION),
            default_pool_slot_expiration: Some(DEFAULT_POOL_SLOT_EXPIRATION),
            lock_poll_interval: DEFAULT_LOCK_POLL_INTERVAL,
            layout: Layout::Cachify,
            single_flight: SingleFlight::default(),
        }
    }
}

/// Calls [`Cachify::wrote`] when dropped (see [`Cachify::wrote_on_drop`]).
pub(crate) struct WroteOnDrop<'a> {
    cachify: &'a Cachify,
    key: &'a str,
}

/// Calls [`Cachify::wrote_many`] when dropped.
struct WroteManyOnDrop<'a>(&'a Cachify);

impl Drop for WroteManyOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wrote_many();
    }
}

impl Drop for WroteOnDrop<'_> {
    fn drop(&mut self) {
        self.cachify.wrote(self.key);
    }
}

impl Cachify {
    /// Starts configuring an instance; every option has py-cachify's default.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert_eq!(cachify.prefix(), cachify::instance::DEFAULT_PREFIX);
    /// ```
    pub fn builder() -> CachifyBuilder {
        CachifyBuilder::default()
    }

    /// The global instance registered by [`crate::init_cachify`] or
    /// [`CachifyBuilder::init`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// cachify::init_cachify();
    /// assert!(cachify::Cachify::global().is_ok());
    /// ```
    pub fn global() -> Result<Cachify, Error> {
        global::load()
    }

    /// Runs `f` on the global instance without cloning it: the fast path of the macros.
    #[doc(hidden)]
    pub fn with_global<R>(f: impl FnOnce(&Cachify) -> R) -> Result<R, Error> {
        Selector::<Cachify>::Global.with(f)
    }

    /// The prefix put in front of every key of this instance.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.prefix(), "APP-");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    /// The ttl of cached values whose `#[cached]` omits `ttl` (`None`: never expire).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert_eq!(cachify.default_cache_ttl(), None);
    /// let cachify = cachify::Cachify::builder().default_cache_ttl(Duration::from_secs(60)).build();
    /// assert_eq!(cachify.default_cache_ttl(), Some(Duration::from_secs(60)));
    /// ```
    pub fn default_cache_ttl(&self) -> Option<Duration> {
        self.inner.config.default_cache_ttl
    }

    /// The expiry of locks that do not set `exp` (`None`: never expire).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().default_lock_expiration(None).build();
    /// assert_eq!(cachify.default_lock_expiration(), None);
    /// ```
    pub fn default_lock_expiration(&self) -> Option<Duration> {
        self.inner.config.default_lock_expiration
    }

    /// The expiry of pool slots whose pool does not set `slot_exp` (`None`: never).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder()
    ///     .default_pool_slot_expiration(Duration::from_secs(120))
    ///     .build();
    /// assert_eq!(cachify.default_pool_slot_expiration(), Some(Duration::from_secs(120)));
    /// ```
    pub fn default_pool_slot_expiration(&self) -> Option<Duration> {
        self.inner.config.default_pool_slot_expiration
    }

    /// How often a waiting lock or pool retries when no release wakes it first.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::from_millis(20)).build();
    /// assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(20));
    /// ```
    pub fn lock_poll_interval(&self) -> Duration {
        self.inner.config.lock_poll_interval
    }

    /// How this instance names its keys and encodes its values.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert_eq!(cachify.layout(), cachify::instance::Layout::Cachify);
    /// ```
    pub fn layout(&self) -> Layout {
        self.inner.config.layout
    }

    /// How concurrent misses of one `#[cached]` key are shared (default: across the
    /// processes on the backend); see [`SingleFlight`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert!(cachify.single_flight().is_fleet_wide());
    /// ```
    pub fn single_flight(&self) -> SingleFlight {
        self.inner.config.single_flight
    }

    /// The identity of this instance's backend client, shared by its clones: releases in
    /// flight are waited for per client.
    pub(crate) fn client_id(&self) -> usize {
        Arc::as_ptr(&self.inner.sync_client).cast::<()>() as usize
    }

    /// The backend used by sync code.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// let key = cachify.cache_key("greeting");
    /// cachify.sync_client().set(&key, b"hello", None, false)?;
    /// assert_eq!(cachify.sync_client().get(&key)?.as_deref(), Some(&b"hello"[..]));
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    pub fn sync_client(&self) -> &dyn SyncClient {
        &*self.inner.sync_client
    }

    /// The backend used by async code.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// let cachify = cachify::Cachify::builder().build();
    /// cachify.async_client().set("k", b"v", None, false).await?;
    /// assert!(cachify.async_client().get("k").await?.is_some());
    /// // Built without clients, both sides share one in-memory store:
    /// assert!(cachify.sync_client().get("k")?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn async_client(&self) -> &dyn AsyncClient {
        &*self.inner.async_client
    }

    /// The storage key of a `#[cached]` value: the prefix, then the rendered key (with
    /// `-cached` after it under `Layout::PyCachify`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.cache_key("sum-1-2"), "APP-sum-1-2");
    /// ```
    pub fn cache_key(&self, key: &str) -> String {
        let mut full = self.namespaced(Operation::Cached, key);
        self.layout().push_postfix(Operation::Cached, &mut full);
        full
    }

    /// The storage key of a lock (also used by `#[once]`); under `Layout::PyCachify`,
    /// the prefix and the key as given (py-cachify's `lock(key)`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.lock_key("job"), "APP-lock:job");
    /// ```
    pub fn lock_key(&self, key: &str) -> String {
        self.namespaced(Operation::Lock, key)
    }

    /// The storage key of a pool's slot set; under `Layout::PyCachify`, the prefix and
    /// the key as given (py-cachify's `pool(key)`, whose state is at `{this}-state`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.pool_key("api"), "APP-pool:api");
    /// ```
    pub fn pool_key(&self, key: &str) -> String {
        self.namespaced(Operation::Pool, key)
    }

    fn namespaced(&self, operation: Operation, key: &str) -> String {
        let prefix = self.prefix();
        let kind = self.layout().namespace(operation);
        let mut full = String::with_capacity(prefix.len() + kind.len() + key.len());
        full.push_str(prefix);
        full.push_str(kind);
        full.push_str(key);
        full
    }

    /// The totals of every cache, lock and pool call made through this instance
    /// (decorated functions and direct [`Cachify::lock`] / [`Cachify::pool`] calls alike),
    /// since it was built.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("job").acquire().unwrap();
    /// assert!(cachify.lock("job").acquire().is_err());
    /// drop(guard);
    /// let stats = cachify.stats();
    /// assert_eq!((stats.lock_acquisitions, stats.lock_refusals), (1, 1));
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Where an event of this instance is counted (`function`: the decorated function
    /// that made the call).
    pub(crate) fn tally(&self, function: Option<&'static FnStats>) -> Tally<'_> {
        Tally::new(function, &self.inner.counters, self.prefix())
    }

    /// Where `#[cached]` reads find decoded values, if anywhere.
    #[inline]
    pub(crate) fn decoded_store(&self) -> Option<&DecodedStore> {
        self.inner.decoded.as_ref()
    }

    /// The near cache, if the instance has one.
    #[cfg(feature = "redis")]
    pub(crate) fn near(&self) -> Option<&crate::near::Near> {
        self.decoded_store()?.near()
    }

    /// After this instance wrote or deleted the cached value of `key`: its near copy goes
    /// at once, so this process's next read goes to the server without waiting for the
    /// server's invalidation; reads in flight keep nothing they read before.
    #[inline]
    pub(crate) fn wrote(&self, key: &str) {
        #[cfg(feature = "redis")]
        if let Some(near) = self.near() {
            near.invalidate(key);
        }
        #[cfg(not(feature = "redis"))]
        let _ = key;
    }

    /// [`wrote`](Self::wrote) when the returned guard drops: around an async write, so
    /// that a future dropped while its write is in flight (it may have reached the
    /// server) still forgets the near copy.
    pub(crate) fn wrote_on_drop<'a>(&'a self, key: &'a str) -> WroteOnDrop<'a> {
        WroteOnDrop { cachify: self, key }
    }

    /// [`wrote_many`](Self::wrote_many) when the returned guard drops: around an async
    /// deletion by pattern, which a dropped future leaves partly done.
    pub(crate) fn wrote_many_on_drop(&self) -> impl Drop + '_ {
        WroteManyOnDrop(self)
    }

    /// After this instance deleted cached values by pattern: the near cache forgets
    /// everything.
    pub(crate) fn wrote_many(&self) {
        #[cfg(feature = "redis")]
        if let Some(near) = self.near() {
            near.flush();
        }
    }

    /// The state of the near cache (see [`CachifyBuilder::near_cache`]); `None` when the
    /// instance has none.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(cachify::Cachify::builder().build().near_cache_status().is_none());
    /// ```
    #[cfg(feature = "redis")]
    pub fn near_cache_status(&self) -> Option<crate::near::NearCacheStatus> {
        Some(self.near()?.status())
    }

    /// The `#[cached]` computations in progress on this instance (single-flight).
    pub(crate) fn cache_flights(&self) -> &Flights {
        &self.inner.cache_flights
    }

    /// Whether two handles are the same instance (clones of one another).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let a = cachify::Cachify::builder().build();
    /// let b = cachify::Cachify::builder().build();
    /// assert!(a.same_instance(&a.clone()));
    /// assert!(!a.same_instance(&b));
    /// ```
    pub fn same_instance(&self, other: &Cachify) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Cachify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cachify")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Registers a global instance with every default, on the in-memory backend
/// (py-cachify's `init_cachify()`); returns it. Calling it again replaces the global, as
/// in py-cachify, and logs a warning; [`try_init_cachify`] keeps the first one.
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::init_cachify();
/// assert!(cachify.same_instance(&cachify::Cachify::global().unwrap()));
/// ```
pub fn init_cachify() -> Cachify {
    Cachify::builder().init()
}

/// [`init_cachify`] unless a global is already set: then [`Error::AlreadyInitialized`],
/// and the global is left alone.
///
/// For code that may run more than once (a test, a library's setup) and must not wipe
/// the cache or hide the locks of the instance already in use.
///
/// ```
/// # use cachify_core as cachify;
/// let first = cachify::try_init_cachify()?;
/// assert!(matches!(cachify::try_init_cachify(), Err(cachify::Error::AlreadyInitialized)));
/// assert!(first.same_instance(&cachify::Cachify::global()?));
/// # Ok::<(), cachify::Error>(())
/// ```
pub fn try_init_cachify() -> Result<Cachify, Error> {
    Cachify::builder().try_init()
}
