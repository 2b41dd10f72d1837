//! [`CachifyBuilder`]: an instance's options and clients, with py-cachify's defaults.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{
    global, Cachify, Config, DecodedStore, Inner, Layout, SingleFlight, MIN_LOCK_POLL_INTERVAL,
};
use crate::backend::{AsyncClient, MemoryCapacity, MemoryClient, SyncClient};
use crate::error::Error;
use crate::flight::Flights;
use crate::stats::Counters;

/// Configures a [`Cachify`]; from [`Cachify::builder`].
///
/// Client defaulting follows py-cachify: with no client at all, one [`MemoryClient`]
/// serves both sides; a [`MemoryClient`] given for one side is shared with the other;
/// any other client given for one side leaves the other side on a fresh in-memory store.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
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
    /// The clients given, when they are memory stores.
    sync_memory: Option<MemoryClient>,
    async_memory: Option<MemoryClient>,
    memory_capacity: MemoryCapacity,
    /// The Redis backend given through a Redis method, which a near cache can sit on.
    #[cfg(feature = "redis")]
    pub(super) near_source: Option<Arc<dyn crate::near::NearSource>>,
    #[cfg(feature = "redis")]
    pub(super) near_cache: Option<crate::near::NearCache>,
    /// Whether [`prefix`](Self::prefix) was called: `Layout::PyCachify` defaults to
    /// py-cachify's prefix instead.
    prefix_given: bool,
}

impl CachifyBuilder {
    /// The prefix of every key (default [`DEFAULT_PREFIX`](super::DEFAULT_PREFIX)). Instances with different
    /// prefixes never see each other's entries, even on one backend.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("BILLING-").build();
    /// assert_eq!(cachify.lock_key("invoice"), "BILLING-lock:invoice");
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self.prefix_given = true;
        self
    }

    /// The ttl of cached values whose `#[cached]` omits `ttl` (default `None`: never
    /// expire). Accepts a `Duration` or an `Option<Duration>`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().default_cache_ttl(Duration::from_secs(300)).build();
    /// assert_eq!(cachify.default_cache_ttl(), Some(Duration::from_secs(300)));
    /// ```
    pub fn default_cache_ttl(mut self, ttl: impl Into<Option<Duration>>) -> Self {
        self.config.default_cache_ttl = ttl.into();
        self
    }

    /// The expiry of locks that omit `exp` (default [`DEFAULT_LOCK_EXPIRATION`](super::DEFAULT_LOCK_EXPIRATION), 30 s;
    /// `None`: locks never expire by themselves). `Duration::ZERO` is accepted here, but
    /// every acquire that uses it fails with [`Error::InvalidOption`](crate::Error::InvalidOption).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().default_lock_expiration(Duration::from_secs(90)).build();
    /// assert_eq!(cachify.default_lock_expiration(), Some(Duration::from_secs(90)));
    /// ```
    pub fn default_lock_expiration(mut self, exp: impl Into<Option<Duration>>) -> Self {
        self.config.default_lock_expiration = exp.into();
        self
    }

    /// The expiry of pool slots whose pool omits `slot_exp` (default
    /// [`DEFAULT_POOL_SLOT_EXPIRATION`](super::DEFAULT_POOL_SLOT_EXPIRATION), 600 s; `None`: slots never expire).
    /// `Duration::ZERO` is accepted here, but every acquire that uses it fails with
    /// [`Error::InvalidOption`](crate::Error::InvalidOption).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().default_pool_slot_expiration(None).build();
    /// assert_eq!(cachify.default_pool_slot_expiration(), None);
    /// ```
    pub fn default_pool_slot_expiration(mut self, exp: impl Into<Option<Duration>>) -> Self {
        self.config.default_pool_slot_expiration = exp.into();
        self
    }

    /// How keys and values are laid out in the store; `Layout::PyCachify` (cargo
    /// feature `py-cachify`) shares them with py-cachify 3.1 processes, and without a
    /// [`prefix`](Self::prefix) takes py-cachify's default, `PYC-`, so that both
    /// fleets meet by default.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::Layout;
    /// let cachify = cachify::Cachify::builder().layout(Layout::Cachify).build();
    /// assert_eq!(cachify.layout(), Layout::Cachify);
    /// ```
    pub fn layout(mut self, layout: Layout) -> Self {
        self.config.layout = layout;
        self
    }

    /// How often a waiting lock or pool retries when no release wakes it first (default
    /// [`DEFAULT_LOCK_POLL_INTERVAL`](super::DEFAULT_LOCK_POLL_INTERVAL), 100 ms; raised to [`MIN_LOCK_POLL_INTERVAL`]).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().lock_poll_interval(Duration::from_millis(10)).build();
    /// assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(10));
    /// ```
    pub fn lock_poll_interval(mut self, interval: Duration) -> Self {
        self.config.lock_poll_interval = interval.max(MIN_LOCK_POLL_INTERVAL);
        self
    }

    /// The capacity of the in-memory store the builder creates for the sides that get no
    /// client (default [`MemoryCapacity::default`]: [`MemoryCapacity::DEFAULT_MAX_ENTRIES`]
    /// cached values); a [`MemoryClient`] given as a client keeps its own. A zero bound
    /// is [`Error::InvalidOption`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{Cachify, MemoryCapacity};
    ///
    /// let cachify = Cachify::builder()
    ///     .memory_capacity(MemoryCapacity::default().max_entries(10_000).max_bytes(64 << 20))?
    ///     .build();
    /// assert!(Cachify::builder().memory_capacity(MemoryCapacity::default().max_bytes(0)).is_err());
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn memory_capacity(mut self, capacity: MemoryCapacity) -> Result<Self, Error> {
        self.memory_capacity = capacity.validate()?;
        Ok(self)
    }

    /// How concurrent misses of one `#[cached]` key are shared: across the processes on
    /// the backend ([`SingleFlight::fleet`], the default) or within each process
    /// ([`SingleFlight::per_process`]).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::SingleFlight;
    /// let cachify = cachify::Cachify::builder().single_flight(SingleFlight::per_process()).build();
    /// assert_eq!(cachify.single_flight(), SingleFlight::per_process());
    /// ```
    pub fn single_flight(mut self, single_flight: SingleFlight) -> Self {
        self.config.single_flight = single_flight;
        self
    }

    /// The backend of sync code. A [`MemoryClient`] given here also serves the async
    /// side unless that gets a client of its own.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{Cachify, MemoryClient, SyncClient};
    ///
    /// let store = MemoryClient::new();
    /// let cachify = Cachify::builder().sync_client(store.clone()).build();
    /// cachify.sync_client().set("k", b"v", None, false)?;
    /// assert_eq!(store.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), cachify::BackendError>(())
    /// ```
    pub fn sync_client(mut self, client: impl SyncClient) -> Self {
        self.sync_memory = as_memory(&client);
        self.shared_memory = self.sync_memory.clone().or(self.shared_memory);
        self.sync_client = Some(Arc::new(client));
        #[cfg(feature = "redis")]
        self.forget_near_source();
        self
    }

    /// The backend of async code. A [`MemoryClient`] given here also serves the sync
    /// side unless that gets a client of its own.
    ///
    /// ```
    /// # use cachify_core as cachify;
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
        self.async_memory = as_memory(&client);
        self.shared_memory = self.async_memory.clone().or(self.shared_memory);
        self.async_client = Some(Arc::new(client));
        #[cfg(feature = "redis")]
        self.forget_near_source();
        self
    }

    /// Builds an independent instance; the global one is left alone.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let reports = cachify::Cachify::builder().prefix("REPORTS-").build();
    /// assert_eq!(reports.prefix(), "REPORTS-");
    /// ```
    #[cfg_attr(not(feature = "py-cachify"), allow(unused_mut))]
    pub fn build(mut self) -> Cachify {
        self.warn_about_a_lone_client();
        #[cfg(feature = "py-cachify")]
        if self.config.layout == Layout::PyCachify && !self.prefix_given {
            self.config.prefix = super::layout::PY_CACHIFY_PREFIX.to_owned();
        }
        let memory = self
            .shared_memory
            .clone()
            .unwrap_or_else(|| MemoryClient::with_valid_capacity(self.memory_capacity));
        let decoded = self.decoded_store(&memory);
        let sync_client = self.sync_client.unwrap_or_else(|| Arc::new(memory.clone()));
        let async_client = self.async_client.unwrap_or_else(|| Arc::new(memory));
        Cachify {
            inner: Arc::new(Inner {
                config: self.config,
                sync_client,
                async_client,
                cache_flights: Flights::default(),
                counters: Counters::new(),
                decoded,
            }),
        }
    }

    /// Builds the instance and registers it as the global one, replacing any previous
    /// global (as py-cachify's `init_cachify()` does; a replacement is logged as a
    /// warning); returns it. [`try_init`](Self::try_init) never replaces.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder()
    ///     .default_cache_ttl(Duration::from_secs(60))
    ///     .init();
    /// assert!(cachify.same_instance(&cachify::Cachify::global()?));
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn init(self) -> Cachify {
        let cachify = self.build();
        global::replace(&cachify);
        cachify
    }

    /// Builds the instance and registers it as the global one if none is set yet;
    /// otherwise [`Error::AlreadyInitialized`], and the global is left alone.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let first = cachify::Cachify::builder().prefix("FIRST-").try_init()?;
    /// let second = cachify::Cachify::builder().prefix("SECOND-").try_init();
    /// assert!(matches!(second, Err(cachify::Error::AlreadyInitialized)));
    /// assert_eq!(cachify::Cachify::global()?.prefix(), "FIRST-");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn try_init(self) -> Result<Cachify, Error> {
        let cachify = self.build();
        global::set_if_unset(&cachify)?;
        Ok(cachify)
    }

    /// Where the instance keeps decoded values: its near cache, or the memory store both
    /// sides share (`memory` serves the sides given no client).
    fn decoded_store(&self, memory: &MemoryClient) -> Option<DecodedStore> {
        #[cfg(feature = "redis")]
        if let Some(near) = self.start_near_cache(&self.config.prefix) {
            return Some(near);
        }
        let side = |given: bool, memory_given: &Option<MemoryClient>| match given {
            true => memory_given.clone(),
            false => Some(memory.clone()),
        };
        let sync = side(self.sync_client.is_some(), &self.sync_memory);
        let async_ = side(self.async_client.is_some(), &self.async_memory);
        DecodedStore::of_memory(sync.as_ref(), async_.as_ref())
    }

    /// A client given for one side only, when it is not a [`MemoryClient`], leaves the
    /// other side on a fresh in-memory store of its own: functions of that side would
    /// cache, lock and count apart from the configured backend without a word.
    fn warn_about_a_lone_client(&self) {
        let lone = match (&self.sync_client, &self.async_client) {
            (Some(_), None) => "sync",
            (None, Some(_)) => "async",
            _ => return,
        };
        if self.shared_memory.is_some() {
            return;
        }
        let other = if lone == "sync" { "async" } else { "sync" };
        tracing::warn!(
            target: crate::events::TARGET,
            prefix = %self.config.prefix,
            "only a {lone} client was given: {other} functions, locks and pools of this \
             instance use a separate in-memory store; give a {other} client too \
             (`.{other}_client(..)`) to share the backend"
        );
    }
}

impl fmt::Debug for CachifyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachifyBuilder")
            .field("config", &self.config)
            .field("memory_capacity", &self.memory_capacity)
            .field("sync_client", &self.sync_client.is_some())
            .field("async_client", &self.async_client.is_some())
            .finish()
    }
}

fn as_memory<C: Any>(client: &C) -> Option<MemoryClient> {
    (client as &dyn Any).downcast_ref::<MemoryClient>().cloned()
}
