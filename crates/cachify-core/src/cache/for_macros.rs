//! What `#[cached]`'s generated code calls, re-exported as `cachify::__private::cache`.
//! Not a public API.
//!
//! The generated function builds a [`CacheSpec`] from its options, looks its key up
//! ([`lookup_sync`], or [`CacheSpec::entry`] then [`Entry::lookup_async`]), returns a
//! [`Lookup::Hit`], and on a [`Lookup::Miss`] hands its body to [`Miss::run_sync`] /
//! [`Miss::run_async`]. Its `reset` companion deletes the [`Entry`].

use std::future::Future;
use std::marker::PhantomData;

pub use super::key_part::{Direct, DirectKey, KeyPart, ViaDisplay};
pub use super::value::{
    enc_dec, enc_dec_for, shaped, AnyShape, EncDec, OkOnly, Plain, Serde, Shape, ShapeOf,
    ValueCodec,
};
pub use super::Entry;
use super::{read_async, read_sync};
use crate::error::Error;
use crate::events;
use crate::expiry::Expiry;
use crate::stats::FnStats;

pub use crate::instance::selector::Source;

/// One `#[cached]` attribute's options, built by the generated code on every call.
#[derive(Debug)]
pub struct CacheSpec<'a, C> {
    /// The instance.
    pub source: Source<'a>,
    /// `ttl`.
    pub ttl: Expiry,
    /// [`Serde`] or `enc_dec`.
    pub codec: C,
    /// The function's counters.
    pub stats: &'static FnStats,
}

impl<C> CacheSpec<'_, C> {
    /// The entry for the key `render` writes. Panics when the global instance is used
    /// before `cachify::init_cachify()`.
    pub fn entry(&self, render: impl FnOnce(&mut String)) -> Entry {
        Entry::new(self.source, render).unwrap_or_else(|error| panic!("{error}"))
    }
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
    let found = spec.source.with_buffers(|cachify, key, value| {
        key.push_str(cachify.prefix());
        render(key);
        let tally = cachify.tally(Some(spec.stats));
        match read_sync::<S, R, C>(tally, cachify.sync_client(), key, &spec.codec, value) {
            Some(hit) => {
                events::cache_hit(tally, cachify.prefix(), key);
                Lookup::Hit(hit)
            }
            None => {
                events::cache_miss(tally, cachify.prefix(), key);
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
        let tally = self.cachify.tally(Some(spec.stats));
        let client = self.cachify.async_client();
        match read_async::<S, R, C>(tally, client, &self.key, &spec.codec).await {
            Some(hit) => {
                events::cache_hit(tally, self.cachify.prefix(), &self.key);
                Lookup::Hit(hit)
            }
            None => {
                events::cache_miss(tally, self.cachify.prefix(), &self.key);
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
}

impl<S> Miss<S> {
    fn new(entry: Entry) -> Self {
        Self {
            entry,
            shape: PhantomData,
        }
    }

    /// Runs `body` as this key's leader (or alone), or waits for the running leader's
    /// value.
    pub fn run_sync<R, C>(self, spec: &CacheSpec<'_, C>, body: impl FnOnce() -> R) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        self.entry
            .run_sync::<S, R, C>(spec.stats, &spec.codec, spec.ttl, body)
    }

    /// Runs `body` as this key's leader (or alone), or waits for the running leader's
    /// value.
    pub async fn run_async<R, C>(self, spec: &CacheSpec<'_, C>, body: impl Future<Output = R>) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        self.entry
            .run_async::<S, R, C>(spec.stats, &spec.codec, spec.ttl, body)
            .await
    }
}
