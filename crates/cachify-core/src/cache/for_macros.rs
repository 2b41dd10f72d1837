//! What `#[cached]`'s generated code calls, re-exported as `cachify::__private::cache`.
//! Not a public API.
//!
//! The generated function builds a [`CacheSpec`] from its options, looks its key up
//! ([`lookup_sync`], or [`CacheSpec::entry`] then [`Entry::lookup_async`]), returns a
//! [`Lookup::Hit`], and on a [`Lookup::Miss`] hands its body to [`Miss::run_sync`] /
//! [`Miss::run_async`]. Its `reset` companion deletes the [`Entry`]; its `clear`
//! companion calls [`clear_sync`] / [`clear_async`].

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
use crate::glob;
use crate::instance::Cachify;
use crate::instance::Operation;

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
        cachify.layout().push_postfix(Operation::Cached, key);
        match read_sync::<S, R, C>(cachify, key, &spec.codec, value) {
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
            cachify.layout().push_postfix(Operation::Cached, &mut key);
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
        match read_async::<S, R, C>(&self.cachify, &self.key, &spec.codec).await {
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
}

/// Deletes every value a key template starting with `literal` renders, through the
/// sync backend (`f::clear`); returns how many.
pub fn clear_sync(source: Source<'_>, literal: &str, has_placeholders: bool) -> Result<u64, Error> {
    let cachify = source.with(Cachify::clone)?;
    cachify.delete_matching(&template_pattern(literal, has_placeholders))
}

/// [`clear_sync`] through the async backend (`f::clear().await`).
pub async fn clear_async(
    source: Source<'_>,
    literal: &str,
    has_placeholders: bool,
) -> Result<u64, Error> {
    let cachify = source.with(Cachify::clone)?;
    let pattern = template_pattern(literal, has_placeholders);
    cachify.delete_matching_async(&pattern).await
}

/// What a `clear` companion that cannot be called would answer (its bound is never met).
pub fn clear_refused() -> Result<u64, Error> {
    Err(Error::InvalidOption {
        option: "key",
        reason: "clear needs a key template that starts with literal text",
    })
}

/// The bound of a refused `clear` companion: never implemented, so a call is a compile
/// error with this message.
#[diagnostic::on_unimplemented(
    message = "this `#[cached]` function has no `clear`: its key template starts with a placeholder",
    label = "`clear` deletes by the literal text a key starts with, and this key has none",
    note = "give the key a literal start of its own, e.g. `key = \"user-profile-{{id}}\"`, or delete with `Cachify::delete_matching`"
)]
pub trait ClearNeedsLiteralKeyStart {}

/// The glob of the keys a template renders: its literal start, escaped, then `*` when
/// placeholders follow it (a template without any renders exactly its text).
fn template_pattern(literal: &str, has_placeholders: bool) -> String {
    let mut pattern = glob::escape(literal);
    if has_placeholders {
        pattern.push('*');
    }
    pattern
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
        self.entry.run_sync::<S, R, C>(&spec.codec, spec.ttl, body)
    }

    /// Runs `body` as this key's leader (or alone), or waits for the running leader's
    /// value.
    pub async fn run_async<R, C>(self, spec: &CacheSpec<'_, C>, body: impl Future<Output = R>) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        self.entry
            .run_async::<S, R, C>(&spec.codec, spec.ttl, body)
            .await
    }
}
