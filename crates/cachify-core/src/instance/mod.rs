//! `Cachify` instances, their builder, and the process-wide global instance.
//!
//! An instance is a prefix, the defaults of py-cachify's `init_cachify()`, and a pair of
//! backend clients (one for sync code, one for async code). It is cheap to clone (one
//! `Arc`) and lives happily in a `static`, across tokio runtimes and plain threads.
//!
//! # Examples
//!
//! ```
//! use cachify::instance::{DEFAULT_LOCK_EXPIRATION, DEFAULT_PREFIX};
//!
//! let global = cachify::init_cachify(); // every default, in memory
//! assert_eq!(global.prefix(), DEFAULT_PREFIX);
//! assert_eq!(global.default_lock_expiration(), Some(DEFAULT_LOCK_EXPIRATION));
//!
//! let reports = cachify::Cachify::builder().prefix("REPORTS-").build(); // not global
//! assert!(!reports.same_instance(&global));
//! ```

#[cfg(feature = "redis")]
mod redis;

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::backend::{AsyncClient, MemoryClient, SyncClient};
use crate::cache::Flights;
use crate::error::Error;

/// The prefix put in front of every key when none is configured.
///
/// ```
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.prefix(), cachify::instance::DEFAULT_PREFIX);
/// assert_eq!(cachify.cache_key("k"), "CACHIFY-k");
/// ```
pub const DEFAULT_PREFIX: &str = "CACHIFY-";
/// How long a lock lives when its holder never releases it, unless configured.
///
/// ```
/// use cachify::instance::DEFAULT_LOCK_EXPIRATION;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.default_lock_expiration(), Some(DEFAULT_LOCK_EXPIRATION));
/// ```
pub const DEFAULT_LOCK_EXPIRATION: Duration = Duration::from_secs(30);
/// How long a pool slot lives when its holder never releases it, unless configured.
///
/// ```
/// use cachify::instance::DEFAULT_POOL_SLOT_EXPIRATION;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.default_pool_slot_expiration(), Some(DEFAULT_POOL_SLOT_EXPIRATION));
/// ```
pub const DEFAULT_POOL_SLOT_EXPIRATION: Duration = Duration::from_secs(600);
/// How often a waiting lock retries when no release wakes it first, unless configured.
///
/// ```
/// use cachify::instance::DEFAULT_LOCK_POLL_INTERVAL;
/// let cachify = cachify::Cachify::builder().build();
/// assert_eq!(cachify.lock_poll_interval(), DEFAULT_LOCK_POLL_INTERVAL);
/// ```
pub const DEFAULT_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest poll interval accepted; shorter ones are raised to it.
///
/// ```
/// use std::time::Duration;
/// use cachify::instance::MIN_LOCK_POLL_INTERVAL;
/// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::ZERO).build();
/// assert_eq!(cachify.lock_poll_interval(), MIN_LOCK_POLL_INTERVAL);
/// ```
pub const MIN_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(1);

static GLOBAL: ArcSwapOption<Cachify> = ArcSwapOption::const_empty();
/// Bumped (after the store) every time the global is replaced, so per-thread copies of
/// the global can be checked with one load of a line nobody writes on the hit path.
static GLOBAL_GENERATION: AtomicU64 = AtomicU64::new(0);

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
}

#[derive(Debug, Clone)]
struct Config {
    prefix: String,
    default_cache_ttl: Option<Duration>,
    default_lock_expiration: Option<Duration>,
    default_pool_slot_expiration: Option<Duration>,
    lock_poll_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            default_cache_ttl: None,
            default_lock_expiration: Some(DEFAULT_LOCK_EXPIRATION),
            default_pool_slot_expiration: Some(DEFAULT_POOL_SLOT_EXPIRATION),
            lock_poll_interval: DEFAULT_LOCK_POLL_INTERVAL,
        }
    }
}

impl Cachify {
    /// Starts configuring an instance; every option has py-cachify's default.
    ///
    /// ```
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
    /// cachify::init_cachify();
    /// assert!(cachify::Cachify::global().is_ok());
    /// ```
    pub fn global() -> Result<Cachify, Error> {
        GLOBAL
            .load()
            .as_deref()
            .cloned()
            .ok_or(Error::NotInitialized)
    }

    /// Runs `f` on the global instance without cloning it: the fast path of the macros.
    #[doc(hidden)]
    ///
    /// Each thread keeps an `arc_swap::Cache` of the global: a hit costs one acquire load
    /// of the global pointer instead of arc-swap's debt-slot protocol (two full-barrier
    /// atomics), and the `Arc` count is never touched, so threads do not contend.
    /// A nested call on the same thread (and a thread being torn down) falls back to
    /// a plain load.
    pub fn with_global<R>(f: impl FnOnce(&Cachify) -> R) -> Result<R, Error> {
        type GlobalCache = arc_swap::Cache<&'static ArcSwapOption<Cachify>, Option<Arc<Cachify>>>;
        thread_local! {
            static CACHE: std::cell::RefCell<GlobalCache> =
                std::cell::RefCell::new(arc_swap::Cache::new(&GLOBAL));
        }
        let mut f = Some(f);
        let cached = CACHE.try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            let f = f.take()?;
            Some(cache.load().as_deref().map(f))
        });
        let result = match (cached, f) {
            (Ok(Some(result)), _) => result,
            (_, Some(f)) => GLOBAL.load().as_deref().map(f),
            (_, None) => unreachable!("`f` ran inside the cache and returned"),
        };
        result.ok_or(Error::NotInitialized)
    }

    /// How many times the global has been replaced; a copy of the global taken after
    /// reading generation `g` is current as long as this still returns `g`.
    pub(crate) fn global_generation() -> u64 {
        GLOBAL_GENERATION.load(Ordering::Acquire)
    }

    /// The prefix put in front of every key of this instance.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.prefix(), "APP-");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    /// The ttl of cached values whose `#[cached]` omits `ttl` (`None`: never expire).
    ///
    /// ```
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
    /// let cachify = cachify::Cachify::builder().default_lock_expiration(None).build();
    /// assert_eq!(cachify.default_lock_expiration(), None);
    /// ```
    pub fn default_lock_expiration(&self) -> Option<Duration> {
        self.inner.config.default_lock_expiration
    }

    /// The expiry of pool slots whose pool does not set `slot_exp` (`None`: never).
    ///
    /// ```
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
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::from_millis(20)).build();
    /// assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(20));
    /// ```
    pub fn lock_poll_interval(&self) -> Duration {
        self.inner.config.lock_poll_interval
    }

    /// The backend used by sync code.
    ///
    /// ```
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

    /// The storage key of a cached value: the prefix, then the rendered key.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.cache_key("sum-1-2"), "APP-sum-1-2");
    /// ```
    pub fn cache_key(&self, key: &str) -> String {
        self.namespaced("", key)
    }

    /// The storage key of a lock (also used by `#[once]`).
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.lock_key("job"), "APP-lock:job");
    /// ```
    pub fn lock_key(&self, key: &str) -> String {
        self.namespaced("lock:", key)
    }

    /// The storage key of a pool's slot set.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.pool_key("api"), "APP-pool:api");
    /// ```
    pub fn pool_key(&self, key: &str) -> String {
        self.namespaced("pool:", key)
    }

    fn namespaced(&self, kind: &str, key: &str) -> String {
        let prefix = self.prefix();
        let mut full = String::with_capacity(prefix.len() + kind.len() + key.len());
        full.push_str(prefix);
        full.push_str(kind);
        full.push_str(key);
        full
    }

    /// The `#[cached]` computations in progress on this instance (single-flight).
    pub(crate) fn cache_flights(&self) -> &Flights {
        &self.inner.cache_flights
    }

    /// Whether two handles are the same instance (clones of one another).
    ///
    /// ```
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

/// Configures a [`Cachify`]; from [`Cachify::builder`].
///
/// Client defaulting follows py-cachify: with no client at all, one [`MemoryClient`]
/// serves both sides; a [`MemoryClient`] given for one side is shared with the other;
/// any other client given for one side leaves the other side on a fresh in-memory store.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cachify::{Cachify, MemoryClient};
///
/// let store = MemoryClient::new();
/// let cachify = Cachify::builder()
///     .prefix("APP-")
///     .default_cache_ttl(Duration::from_secs(300))
///     .default_lock_expiration(Duration::from_secs(60))
///     .default_pool_slot_expiration(None)
///     .lock_poll_interval(Duration::from_millis(50))
///     .sync_client(store.clone())
///     .build();
/// assert_eq!(cachify.default_pool_slot_expiration(), None);
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until .build() or .init()"]
pub struct CachifyBuilder {
    config: Config,
    sync_client: Option<Arc<dyn SyncClient>>,
    async_client: Option<Arc<dyn AsyncClient>>,
    shared_memory: Option<MemoryClient>,
}

impl CachifyBuilder {
    /// The prefix of every key (default [`DEFAULT_PREFIX`]). Instances with different
    /// prefixes never see each other's entries, even on one backend.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().prefix("BILLING-").build();
    /// assert_eq!(cachify.lock_key("invoice"), "BILLING-lock:invoice");
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// The ttl of cached values whose `#[cached]` omits `ttl` (default `None`: never
    /// expire). Accepts a `Duration` or an `Option<Duration>`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().default_cache_ttl(Duration::from_secs(300)).build();
    /// assert_eq!(cachify.default_cache_ttl(), Some(Duration::from_secs(300)));
    /// ```
    pub fn default_cache_ttl(mut self, ttl: impl Into<Option<Duration>>) -> Self {
        self.config.default_cache_ttl = ttl.into();
        self
    }

    /// The expiry of locks that omit `exp` (default [`DEFAULT_LOCK_EXPIRATION`], 30 s;
    /// `None`: locks never expire by themselves).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().default_lock_expiration(Duration::from_secs(90)).build();
    /// assert_eq!(cachify.default_lock_expiration(), Some(Duration::from_secs(90)));
    /// ```
    pub fn default_lock_expiration(mut self, exp: impl Into<Option<Duration>>) -> Self {
        self.config.default_lock_expiration = exp.into();
        self
    }

    /// The expiry of pool slots whose pool omits `slot_exp` (default
    /// [`DEFAULT_POOL_SLOT_EXPIRATION`], 600 s; `None`: slots never expire).
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().default_pool_slot_expiration(None).build();
    /// assert_eq!(cachify.default_pool_slot_expiration(), None);
    /// ```
    pub fn default_pool_slot_expiration(mut self, exp: impl Into<Option<Duration>>) -> Self {
        self.config.default_pool_slot_expiration = exp.into();
        self
    }

    /// How often a waiting lock or pool retries when no release wakes it first (default
    /// [`DEFAULT_LOCK_POLL_INTERVAL`], 100 ms; raised to [`MIN_LOCK_POLL_INTERVAL`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::from_millis(10)).build();
    /// assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(10));
    /// ```
    pub fn lock_poll_interval(mut self, interval: Duration) -> Self {
        self.config.lock_poll_interval = interval.max(MIN_LOCK_POLL_INTERVAL);
        self
    }

    /// The backend of sync code. A [`MemoryClient`] given here also serves the async
    /// side unless that gets a client of its own.
    ///
    /// ```
    /// use cachify::{Cachify, MemoryClient, SyncClient};
    ///
    /// let store = MemoryClient::new();
    /// let cachify = Cachify::builder().sync_client(store.clone()).build();
    /// cachify.sync_client().set("k", b"v", None, false)?;
    /// assert_eq!(store.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    pub fn sync_client(mut self, client: impl SyncClient) -> Self {
        self.shared_memory = as_memory(&client).or(self.shared_memory);
        self.sync_client = Some(Arc::new(client));
        self
    }

    /// The backend of async code. A [`MemoryClient`] given here also serves the sync
    /// side unless that gets a client of its own.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::BackendError> {
    /// use cachify::{AsyncClient, Cachify, MemoryClient};
    ///
    /// let store = MemoryClient::new();
    /// let cachify = Cachify::builder().async_client(store.clone()).build();
    /// cachify.async_client().set("k", b"v", None, false).await?;
    /// assert!(AsyncClient::get(&store, "k").await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn async_client(mut self, client: impl AsyncClient) -> Self {
        self.shared_memory = as_memory(&client).or(self.shared_memory);
        self.async_client = Some(Arc::new(client));
        self
    }

    /// Builds an independent instance; the global one is left alone.
    ///
    /// ```
    /// let reports = cachify::Cachify::builder().prefix("REPORTS-").build();
    /// assert_eq!(reports.prefix(), "REPORTS-");
    /// ```
    pub fn build(self) -> Cachify {
        let memory = self.shared_memory.unwrap_or_default();
        let sync_client = self.sync_client.unwrap_or_else(|| Arc::new(memory.clone()));
        let async_client = self.async_client.unwrap_or_else(|| Arc::new(memory));
        Cachify {
            inner: Arc::new(Inner {
                config: self.config,
                sync_client,
                async_client,
                cache_flights: Flights::default(),
            }),
        }
    }

    /// Builds the instance and registers it as the global one, replacing any previous
    /// global; returns it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder()
    ///     .default_cache_ttl(Duration::from_secs(60))
    ///     .init();
    /// assert!(cachify.same_instance(&cachify::Cachify::global()?));
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn init(self) -> Cachify {
        let cachify = self.build();
        GLOBAL.store(Some(Arc::new(cachify.clone())));
        GLOBAL_GENERATION.fetch_add(1, Ordering::Release);
        cachify
    }
}

impl fmt::Debug for CachifyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachifyBuilder")
            .field("config", &self.config)
            .field("sync_client", &self.sync_client.is_some())
            .field("async_client", &self.async_client.is_some())
            .finish()
    }
}

fn as_memory<C: Any>(client: &C) -> Option<MemoryClient> {
    (client as &dyn Any).downcast_ref::<MemoryClient>().cloned()
}

/// Registers a global instance with every default, on the in-memory backend
/// (py-cachify's `init_cachify()`); returns it. Calling it again replaces the global.
///
/// ```
/// let cachify = cachify::init_cachify();
/// assert!(cachify.same_instance(&cachify::Cachify::global().unwrap()));
/// ```
pub fn init_cachify() -> Cachify {
    Cachify::builder().init()
}
