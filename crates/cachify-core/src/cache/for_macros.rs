//! What `#[cached]`'s generated code calls, re-exported as `cachify::__private::cache`.
//! Not a public API.
//!
//! The generated function builds a [`CacheSpec`] from its options, looks its key up
//! ([`lookup_sync`], or [`CacheSpec::lookup_now`] then, for what only the backend can tell,
//! [`Entry::lookup_async`]), returns a
//! [`Lookup::Hit`], and on a [`Lookup::Miss`] hands its body to [`Miss::run_sync`] /
//! [`Miss::run_async`]. Its `reset` companion deletes the [`Entry`]; its `clear`
//! companion calls [`clear_sync`] / [`clear_async`]. With `refresh`, it looks up through
//! [`lookup_sync_refreshing`] / [`Entry::lookup_async_refreshing`], which also take a
//! function making the background call (the arguments cloned into it); the async one
//! hands back a [`DueRefresh`] that the generated code starts after its await.

use std::future::Future;
use std::marker::PhantomData;

pub use super::keep::{keep_of, Keep, KeepOf, Kept, NotKept, ViaBytes, ViaClone};
pub use super::key_part::{Direct, DirectKey, KeyPart, ViaDisplay};
use super::read::Read;
use super::refresh::{self, Refresh};
use super::storing::Options;
pub use super::value::{
    enc_dec, enc_dec_for, shaped, shaped_now, AnyShape, EncDec, OkOnly, Plain, Serde, Shape,
    ShapeOf, ValueCodec,
};
pub use super::Entry;
use crate::error::Error;
use crate::events;
use crate::expiry::Expiry;
use crate::glob;
use crate::instance::{Cachify, Operation};
use crate::stats::{FnStats, Tally};

pub use crate::instance::selector::Source;

/// One `#[cached]` attribute's options, built by the generated code on every call.
#[derive(Debug)]
pub struct CacheSpec<'a, C, K = NotKept> {
    /// The instance.
    pub source: Source<'a>,
    /// `ttl`.
    pub ttl: Expiry,
    /// `ttl_jitter` (`Expiry::Default` when omitted: none).
    pub ttl_jitter: Expiry,
    /// `refresh` (`Expiry::Default` when omitted: none).
    pub refresh: Expiry,
    /// [`Serde`] or `enc_dec`.
    pub codec: C,
    /// The function's counters.
    pub stats: &'static FnStats,
    /// Whether decoded values are kept beside their bytes: [`Kept`] when the stored type
    /// is `Clone + Send + Sync + 'static` (picked by [`keep_of`]), else [`NotKept`].
    pub keep: K,
}

impl<C, K> CacheSpec<'_, C, K> {
    fn options(&self) -> Options {
        Options {
            ttl: self.ttl,
            ttl_jitter: self.ttl_jitter,
            refresh: self.refresh,
        }
    }
}

impl<C: Clone, K> CacheSpec<'_, C, K> {
    /// The refresh to start for a hit on `stored`: `None` when it is not due, or a refresh
    /// or a miss of the key already runs.
    fn due_refresh(&self, cachify: &Cachify, key: &str, stored: &[u8]) -> Option<Refresh<C>> {
        let options = self.options();
        let default_ttl = cachify.default_cache_ttl();
        let after = options.refresh_after(default_ttl)?;
        if !refresh::is_due(stored, after) {
            return None;
        }
        let storing = options.storing(default_ttl);
        Refresh::claim(
            cachify,
            key,
            (storing, after),
            self.codec.clone(),
            self.stats,
        )
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
    /// Boxed, so that a [`Lookup`] of a small value is returned in registers: the hit
    /// path then never writes its result to memory and reads it back (one allocation
    /// more per miss, which allocates its key anyway).
    entry: Box<Entry>,
    shape: PhantomData<fn() -> S>,
}

/// Looks the key up on the sync backend. Panics when the global instance is used before
/// `cachify::init_cachify()`.
#[inline]
pub fn lookup_sync<S, R, C, K>(
    spec: &CacheSpec<'_, C, K>,
    render: impl FnOnce(&mut String),
) -> Lookup<S, R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
    K: Keep<S::Value>,
{
    lookup_sync_then(spec, render, |_, _, _| {})
}

/// [`lookup_sync`] for a function with `refresh`: a hit on a value due for a refresh
/// starts `call()` on cachify's refresh pool, unless a refresh of the key already runs.
pub fn lookup_sync_refreshing<S, R, C, K, F>(
    spec: &CacheSpec<'_, C, K>,
    render: impl FnOnce(&mut String),
    call: impl FnOnce() -> F,
) -> Lookup<S, R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value> + Clone + Send + 'static,
    K: Keep<S::Value>,
    F: FnOnce() -> R + Send + 'static,
{
    lookup_sync_then(spec, render, |cachify, key, stored| {
        if let Some(refresh) = spec.due_refresh(cachify, key, stored) {
            refresh.start_sync::<S, R>(call());
        }
    })
}

/// [`lookup_sync`], calling `on_hit` with the stored bytes of a hit.
// `#[inline]`, with the miss and the failure out of line: the hit is what must be short.
#[inline]
fn lookup_sync_then<S, R, C, K>(
    spec: &CacheSpec<'_, C, K>,
    render: impl FnOnce(&mut String),
    on_hit: impl FnOnce(&Cachify, &str, &[u8]),
) -> Lookup<S, R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
    K: Keep<S::Value>,
{
    let found = spec.source.with_buffers(|cachify, key, value| {
        let prefix = cachify.prefix();
        key.push_str(prefix);
        render(key);
        cachify.layout().push_postfix(Operation::Cached, key);
        let tally = cachify.tally(Some(spec.stats));
        let read = Read {
            tally,
            cachify,
            key,
            codec: &spec.codec,
            keep: &spec.keep,
        };
        match read.sync(value, |stored| on_hit(cachify, key, stored)) {
            Some(hit) => {
                events::cache_hit(tally, prefix, key);
                Lookup::Hit(S::from_value(hit))
            }
            None => Lookup::Miss(Miss::sync(tally, cachify, key)),
        }
    });
    match found {
        Ok(found) => found,
        Err(error) => not_initialized(&error),
    }
}

/// The global instance was used before `cachify::init_cachify()`.
#[cold]
#[inline(never)]
fn not_initialized(error: &Error) -> ! {
    panic!("{error}")
}

impl<C, K> CacheSpec<'_, C, K> {
    /// An async lookup's first step, without I/O or allocation: the decoded store's
    /// answer (the memory backend's hit or miss, a near cache's hit), or the entry to look
    /// up through the backend ([`Entry::lookup_async`]). Panics when the global instance
    /// is used before `cachify::init_cachify()`.
    pub fn lookup_now<S, R>(&self, render: impl FnOnce(&mut String)) -> Result<Lookup<S, R>, Entry>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
        K: Keep<S::Value>,
    {
        self.lookup_now_then(render, |_, _, _| {})
    }

    /// [`CacheSpec::lookup_now`] for a function with `refresh`: a hit on a value due for a
    /// refresh also reserves it in `due` (see [`Entry::lookup_async_refreshing`]).
    pub fn lookup_now_refreshing<S, R>(
        &self,
        render: impl FnOnce(&mut String),
        due: &mut DueRefresh<S, R, C>,
    ) -> Result<Lookup<S, R>, Entry>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value> + Clone + Send + Sync + 'static,
        K: Keep<S::Value>,
    {
        self.lookup_now_then(render, |cachify, key, stored| {
            due.refresh = self.due_refresh(cachify, key, stored);
        })
    }

    /// [`CacheSpec::lookup_now`], calling `on_hit` with the stored bytes of a hit.
    fn lookup_now_then<S, R>(
        &self,
        render: impl FnOnce(&mut String),
        on_hit: impl FnOnce(&Cachify, &str, &[u8]),
    ) -> Result<Lookup<S, R>, Entry>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
        K: Keep<S::Value>,
    {
        let found = self.source.with_buffers(|cachify, key, _| {
            key.push_str(cachify.prefix());
            render(key);
            cachify.layout().push_postfix(Operation::Cached, key);
            let entry = |key: &str| Entry {
                cachify: cachify.clone(),
                key: key.to_owned(),
            };
            let tally = cachify.tally(Some(self.stats));
            let read = Read {
                tally,
                cachify,
                key,
                codec: &self.codec,
                keep: &self.keep,
            };
            match read.now(|stored| on_hit(cachify, key, stored)) {
                Some(Some(hit)) => {
                    events::cache_hit(tally, cachify.prefix(), key);
                    Ok(Lookup::Hit(S::from_value(hit)))
                }
                Some(None) => {
                    events::cache_miss(tally, cachify.prefix(), key);
                    Ok(Lookup::Miss(Miss::new(entry(key))))
                }
                None => Err(entry(key)),
            }
        });
        found.unwrap_or_else(|error| panic!("{error}"))
    }
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
    pub async fn lookup_async<S, R, C, K>(self, spec: &CacheSpec<'_, C, K>) -> Lookup<S, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
        K: Keep<S::Value>,
    {
        self.lookup_async_then(spec, |_, _, _| {}).await
    }

    /// [`Entry::lookup_async`] for a function with `refresh`: a hit on a value due for a
    /// refresh also reserves it in `due`, which the caller then starts with
    /// [`DueRefresh::start_async`], once this future is done: the arguments are cloned
    /// into the refresh after the await, so they need not be `Sync` for the caller's
    /// future to be `Send`.
    pub async fn lookup_async_refreshing<S, R, C, K>(
        self,
        spec: &CacheSpec<'_, C, K>,
        due: &mut DueRefresh<S, R, C>,
    ) -> Lookup<S, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value> + Clone + Send + Sync + 'static,
        K: Keep<S::Value>,
    {
        self.lookup_async_then(spec, |cachify, key, stored| {
            due.refresh = spec.due_refresh(cachify, key, stored);
        })
        .await
    }

    /// [`Entry::lookup_async`], calling `on_hit` with the stored bytes of a hit.
    async fn lookup_async_then<S, R, C, K>(
        self,
        spec: &CacheSpec<'_, C, K>,
        on_hit: impl FnOnce(&Cachify, &str, &[u8]),
    ) -> Lookup<S, R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
        K: Keep<S::Value>,
    {
        let on_hit = |stored: &[u8]| on_hit(&self.cachify, &self.key, stored);
        let tally = self.cachify.tally(Some(spec.stats));
        let read = Read {
            tally,
            cachify: &self.cachify,
            key: &self.key,
            codec: &spec.codec,
            keep: &spec.keep,
        };
        match read.async_(on_hit).await {
            Some(hit) => {
                events::cache_hit(tally, self.cachify.prefix(), &self.key);
                Lookup::Hit(S::from_value(hit))
            }
            None => {
                events::cache_miss(tally, self.cachify.prefix(), &self.key);
                Lookup::Miss(Miss::new(self))
            }
        }
    }

    /// Deletes the entry through the sync backend (`f::reset`). A refresh of the key
    /// running in this process stores nothing, and callers waiting for it look again.
    pub fn reset_sync(&self) -> Result<(), Error> {
        // Before the delete: a refresh that checks after it would store its old value.
        self.cachify.cache_flights().reset(&self.key);
        let deleted = self.cachify.sync_client().delete(&[&self.key]);
        self.cachify.wrote(&self.key);
        deleted?;
        Ok(())
    }

    /// Deletes the entry through the async backend (`f::reset(..).await`).
    pub async fn reset_async(&self) -> Result<(), Error> {
        self.cachify.cache_flights().reset(&self.key);
        let _wrote = self.cachify.wrote_on_drop(&self.key);
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
            entry: Box::new(entry),
            shape: PhantomData,
        }
    }

    /// A sync lookup's miss of `key` (counted and logged here), out of the hit's way.
    #[cold]
    #[inline(never)]
    fn sync(tally: Tally<'_>, cachify: &Cachify, key: &str) -> Self {
        events::cache_miss(tally, cachify.prefix(), key);
        Self::new(Entry {
            cachify: cachify.clone(),
            key: key.to_owned(),
        })
    }

    /// Runs `body` as this key's leader (or alone), or waits for the running leader's
    /// value.
    pub fn run_sync<R, C, K>(self, spec: &CacheSpec<'_, C, K>, body: impl FnOnce() -> R) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let storing = spec
            .options()
            .storing(self.entry.cachify.default_cache_ttl());
        (*self.entry).run_sync::<S, R, C>(spec.stats, &spec.codec, storing, body)
    }

    /// Runs `body` as this key's leader (or alone), or waits for the running leader's
    /// value.
    pub async fn run_async<R, C, K>(
        self,
        spec: &CacheSpec<'_, C, K>,
        body: impl Future<Output = R>,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let storing = spec
            .options()
            .storing(self.entry.cachify.default_cache_ttl());
        (*self.entry)
            .run_async::<S, R, C>(spec.stats, &spec.codec, storing, body)
            .await
    }
}

/// A refresh an async lookup found due, to start once the lookup is done.
pub struct DueRefresh<S, R, C> {
    refresh: Option<Refresh<C>>,
    shape: PhantomData<fn() -> (S, R)>,
}

impl<S, R, C> Default for DueRefresh<S, R, C> {
    fn default() -> Self {
        Self {
            refresh: None,
            shape: PhantomData,
        }
    }
}

impl<S, R, C> DueRefresh<S, R, C>
where
    S: Shape<R>,
    C: ValueCodec<S::Value> + Clone + Send + Sync + 'static,
{
    /// Starts the refresh, if one is due, as a task on cachify's refresh runtime (not
    /// the caller's): `call()` makes the background call, with the arguments cloned.
    pub fn start_async<F>(self, call: impl FnOnce() -> F)
    where
        F: Future<Output = R> + Send + 'static,
    {
        if let Some(refresh) = self.refresh {
            refresh.start_async::<S, R>(call());
        }
    }
}

/// An argument of a function with `refresh`: its clone goes into the background call.
#[diagnostic::on_unimplemented(
    message = "`refresh` needs every argument to be `Clone + Send + 'static`; `{Self}` is not",
    label = "this argument is cloned into a background refresh, which runs on another thread after the call returned",
    note = "take owned, shareable arguments (e.g. `String`, `Arc<T>`), or drop `refresh`"
)]
pub trait RefreshArg: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> RefreshArg for T {}

/// The clone of `arg` a background refresh takes.
///
/// ```
/// # use cachify_core as cachify;
/// let name = String::from("ann");
/// assert_eq!(cachify::__private::cache::refresh_arg(&name), "ann");
/// ```
pub fn refresh_arg<T: RefreshArg>(arg: &T) -> T {
    arg.clone()
}
