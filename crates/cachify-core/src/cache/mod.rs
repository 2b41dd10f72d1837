//! The cache engine behind `#[cached]`: look a key up, run the function on a miss, store
//! its result.
//!
//! Guarantees:
//! - A hit is "an entry exists and decodes": `None`, `()`, `0` and `""` are hits.
//! - Only what the [`Shape`] calls cacheable is stored (`Ok` values of a `Result`).
//! - The cache is an optimisation: a backend that fails, or a stored value that no longer
//!   decodes, is logged (`tracing::warn!`) and treated as a miss; the function runs and
//!   its result is returned (and overwrites the bad entry). `#[cached]` never fails or
//!   panics because of the cache, except when the global instance is used before
//!   `cachify::init_cachify()`, a programming error that panics saying so.
//! - Concurrent misses on one key of one instance run the function once ([`flight`]).
//! - It talks to the backend traits only, so it works unchanged on any backend.
//!
//! The sync hit path renders the key into a per-thread buffer and reads the value into
//! another ([`SyncClient::get_into`]), so a hit on the memory backend allocates nothing.

mod flight;
mod key_part;
mod scratch;
mod value;

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

pub(crate) use flight::Flights;
pub use key_part::{Direct, DirectKey, KeyPart, ViaDisplay};
pub use value::{
    enc_dec, enc_dec_for, shaped, AnyShape, EncDec, OkOnly, Plain, Serde, Shape, ShapeOf,
    ValueCodec,
};

use crate::backend::{AsyncClient, SyncClient};
use crate::error::Error;
use crate::events;
use crate::expiry::Expiry;
use crate::instance::Cachify;
use flight::{Join, Leader};

/// Which instance a function caches on.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The global instance (`cachify::init_cachify()`).
    Global,
    /// `cachify = PATH`.
    Instance(&'a Cachify),
}

impl Source<'_> {
    /// Runs `f` on the instance; the global is borrowed, not cloned.
    fn with<R>(self, f: impl FnOnce(&Cachify) -> R) -> Result<R, Error> {
        match self {
            Source::Global => Cachify::with_global(f),
            Source::Instance(cachify) => Ok(f(cachify)),
        }
    }
}

/// One `#[cached]` attribute's options, built by the generated code on every call.
#[derive(Debug)]
pub struct CacheSpec<'a, C> {
    /// The instance.
    pub source: Source<'a>,
    /// `ttl`.
    pub ttl: Expiry,
    /// [`Serde`] or `enc_dec`.
    pub codec: C,
}

impl<C> CacheSpec<'_, C> {
    /// The entry for the key `render` writes. Panics when the global instance is used
    /// before `cachify::init_cachify()`.
    pub fn entry(&self, render: impl FnOnce(&mut String)) -> Entry {
        Entry::new(self.source, render).unwrap_or_else(|error| panic!("{error}"))
    }
}

/// One key of one instance: what a miss, an async lookup and `reset` work on.
#[derive(Debug)]
pub struct Entry {
    cachify: Cachify,
    key: String,
}

/// The outcome of a lookup.
#[derive(Debug)]
pub enum Lookup<S, R> {
    /// The stored value.
    Hit(R),
    /// Run the function through [`Miss::run_sync`] / [`Miss::run_async`].
    Miss(Miss<S>),
}

/// A miss, ready to run the function once for its key.
#[derive(Debug)]
pub struct Miss<S> {
    entry: Entry,
    shape: PhantomData<fn() -> S>,
}

/// Looks the key up on the sync backend. Panics when the global instance is used before
/// `cachify::init_cachify()`.
pub fn lookup_sync<S, R, C>(
    spec: &CacheSpec<'_, C>,
    render: impl FnOnce(&mut String),
) -> Lookup<S, R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    let found = scratch::with(spec.source, |cachify, key, value| {
        key.push_str(cachify.prefix());
        render(key);
        match read_sync::<S, R, C>(cachify.sync_client(), key, &spec.codec, value) {
            Some(hit) => {
                events::cache_hit(cachify.prefix(), key);
                Lookup::Hit(hit)
            }
            None => {
                events::cache_miss(cachify.prefix(), key);
                Lookup::Miss(Miss::new(Entry {
                    cachify: cachify.clone(),
                    key: key.clone(),
                }))
            }
        }
    });
    found.unwrap_or_else(|error| panic!("{error}"))
}

impl Entry {
    /// The entry for the key `render` writes, on `source`.
    pub fn new(source: Source<'_>, render: impl FnOnce(&mut String)) -> Result<Self, Error> {
        source.with(|cachify| {
            let mut key = String::from(cachify.prefix());
            render(&mut key);
            Entry {
                cachify: cachify.clone(),
                key,
            }
        })
    }

    /// Looks the entry up on the async backend.
    pub async fn lookup_async<S, R, C>(self, spec: &CacheSpec<'_, C>) -> Lookup<S, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        match read_async::<S, R, C>(self.cachify.async_client(), &self.key, &spec.codec).await {
            Some(hit) => {
                events::cache_hit(self.cachify.prefix(), &self.key);
                Lookup::Hit(hit)
            }
            None => {
                events::cache_miss(self.cachify.prefix(), &self.key);
                Lookup::Miss(Miss::new(self))
            }
        }
    }

    /// Deletes the entry through the sync backend (`f::reset`).
    pub fn reset_sync(&self) -> Result<(), Error> {
        self.cachify.sync_client().delete(&[&self.key])?;
        Ok(())
    }

    /// Deletes the entry through the async backend (`f::reset(..).await`).
    pub async fn reset_async(&self) -> Result<(), Error> {
        self.cachify.async_client().delete(&[&self.key]).await?;
        Ok(())
    }

    fn store_sync(&self, bytes: &[u8], ttl: Expiry) {
        let ttl = ttl.resolve(self.cachify.default_cache_ttl());
        if let Err(error) = self.cachify.sync_client().set(&self.key, bytes, ttl, false) {
            tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot store a cached value");
        }
    }

    async fn store_async(&self, bytes: &[u8], ttl: Expiry) {
        let ttl = ttl.resolve(self.cachify.default_cache_ttl());
        if let Err(error) = self
            .cachify
            .async_client()
            .set(&self.key, bytes, ttl, false)
            .await
        {
            tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot store a cached value");
        }
    }
}

impl<S> Miss<S> {
    fn new(entry: Entry) -> Self {
        Self {
            entry,
            shape: PhantomData,
        }
    }

    /// Runs `body` as this key's leader, or waits for the running leader's value.
    pub fn run_sync<R, C>(self, spec: &CacheSpec<'_, C>, body: impl FnOnce() -> R) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let leader = match self.lead_sync::<R, C>(spec) {
            Ok(leader) => leader,
            Err(value) => return value,
        };
        let result = body();
        let stored = encode::<S, R, C>(&self.entry.key, &spec.codec, &result);
        if let Some(bytes) = &stored {
            self.entry.store_sync(bytes, spec.ttl);
        }
        leader.finish(stored);
        result
    }

    /// Runs `body` as this key's leader, or waits for the running leader's value.
    pub async fn run_async<R, C>(self, spec: &CacheSpec<'_, C>, body: impl Future<Output = R>) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let leader = match self.lead_async::<R, C>(spec).await {
            Ok(leader) => leader,
            Err(value) => return value,
        };
        let result = body.await;
        let stored = encode::<S, R, C>(&self.entry.key, &spec.codec, &result);
        if let Some(bytes) = &stored {
            self.entry.store_async(bytes, spec.ttl).await;
        }
        leader.finish(stored);
        result
    }

    /// Becomes the leader (`Ok`), or returns the value of a leader that finished first
    /// (`Err`). A leader that settles without a value sends us round again.
    fn lead_sync<R, C>(&self, spec: &CacheSpec<'_, C>) -> Result<Leader, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.entry.cachify, &self.entry.key);
        loop {
            match cachify.cache_flights().join(key) {
                Join::Leader(leader) => {
                    // A flight that settled between our miss and our join has stored
                    // its value: look once more rather than run the function again.
                    let mut buf = Vec::new();
                    return match read_sync::<S, R, C>(
                        cachify.sync_client(),
                        key,
                        &spec.codec,
                        &mut buf,
                    ) {
                        Some(value) => Err(value),
                        None => Ok(leader),
                    };
                }
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(bytes) = flight.wait_blocking() {
                        if let Some(value) = decode::<S, R, C>(key, &spec.codec, &bytes) {
                            return Err(value);
                        }
                    }
                }
            }
        }
    }

    /// The async twin of [`Miss::lead_sync`].
    async fn lead_async<R, C>(&self, spec: &CacheSpec<'_, C>) -> Result<Leader, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.entry.cachify, &self.entry.key);
        loop {
            let joined = cachify.cache_flights().join(key);
            match joined {
                Join::Leader(leader) => {
                    let found =
                        read_async::<S, R, C>(cachify.async_client(), key, &spec.codec).await;
                    return match found {
                        Some(value) => Err(value),
                        None => Ok(leader),
                    };
                }
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(bytes) = flight.wait().await {
                        if let Some(value) = decode::<S, R, C>(key, &spec.codec, &bytes) {
                            return Err(value);
                        }
                    }
                }
            }
        }
    }
}

fn read_sync<S, R, C>(client: &dyn SyncClient, key: &str, codec: &C, buf: &mut Vec<u8>) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match client.get_into(key, buf) {
        Ok(true) => decode::<S, R, C>(key, codec, buf),
        Ok(false) => None,
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache read failed; running the function");
            None
        }
    }
}

async fn read_async<S, R, C>(client: &dyn AsyncClient, key: &str, codec: &C) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match client.get(key).await {
        Ok(Some(bytes)) => decode::<S, R, C>(key, codec, &bytes),
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache read failed; running the function");
            None
        }
    }
}

fn decode<S, R, C>(key: &str, codec: &C, bytes: &[u8]) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match codec.decode(bytes) {
        Ok(value) => Some(S::from_value(value)),
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "stored value does not decode; recomputing it");
            None
        }
    }
}

/// The bytes to store for `result`, or `None` when it is not cacheable (or does not
/// encode, which is logged).
fn encode<S, R, C>(key: &str, codec: &C, result: &R) -> Option<Arc<[u8]>>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    let value = S::cacheable(result)?;
    match codec.encode(value) {
        Ok(bytes) => Some(Arc::from(bytes)),
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "result does not encode; not caching it");
            None
        }
    }
}
