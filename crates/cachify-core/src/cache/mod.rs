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
//! - Concurrent misses on one key of one instance run the function once
//!   ([`crate::flight`]); when that run stores nothing (an `Err`), the callers that
//!   waited for it run the function at once, side by side, never one after another.
//! - A call on the key whose function is running around it (recursion, two functions
//!   sharing a key) runs its function instead of waiting for itself.
//! - It talks to the backend traits only, so it works unchanged on any backend.
//!
//! What generated code calls is in [`for_macros`]; this module is the engine. The sync
//! hit path renders the key into a per-thread buffer and reads the value into another
//! ([`SyncClient::get_into`]), so a hit on the memory backend allocates nothing.

pub mod for_macros;
mod key_part;
mod value;

use std::future::Future;
use std::sync::Arc;

use value::{Shape, ValueCodec};

use crate::backend::{AsyncClient, SyncClient};
use crate::error::BackendError;
use crate::events;
use crate::expiry::Expiry;
use crate::flight::{Caller, Join, Leader, Outcome};
use crate::instance::Cachify;
use crate::stats::{Event, FnStats, Tally};

/// One key of one instance: what a miss, an async lookup and `reset` work on.
#[derive(Debug)]
pub struct Entry {
    cachify: Cachify,
    key: String,
}

/// What a miss does next.
enum Turn<R> {
    /// Run the function as the key's leader.
    Lead(Leader),
    /// Run the function without a flight (re-entry, or the leader stored nothing).
    RunAlone,
    /// A leader stored this value meanwhile.
    Found(R),
}

impl Entry {
    fn store_sync(&self, tally: Tally<'_>, bytes: &[u8], ttl: Expiry) {
        let ttl = ttl.resolve(self.cachify.default_cache_ttl());
        let stored = self.cachify.sync_client().set(&self.key, bytes, ttl, false);
        self.stored(tally, stored);
    }

    async fn store_async(&self, tally: Tally<'_>, bytes: &[u8], ttl: Expiry) {
        let ttl = ttl.resolve(self.cachify.default_cache_ttl());
        let client = self.cachify.async_client();
        let stored = client.set(&self.key, bytes, ttl, false).await;
        self.stored(tally, stored);
    }

    /// Counts a store, or logs and counts its failure (the call fails open).
    fn stored<T>(&self, tally: Tally<'_>, outcome: Result<T, BackendError>) {
        match outcome {
            Ok(_) => tally.count(Event::Store),
            Err(error) => {
                tally.count(Event::Error);
                tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot store a cached value");
            }
        }
    }

    /// Runs `body` for a missed key (as its leader, or alone), stores what is cacheable
    /// and returns the result; or returns a leader's value.
    fn run_sync<S, R, C>(
        &self,
        function: &'static FnStats,
        codec: &C,
        ttl: Expiry,
        body: impl FnOnce() -> R,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let tally = self.cachify.tally(Some(function));
        let leader = match self.turn_sync::<S, R, C>(tally, codec) {
            Turn::Found(value) => return value,
            Turn::Lead(leader) => Some(leader),
            Turn::RunAlone => None,
        };
        let timer = tally.body_started();
        let result = match &leader {
            Some(leader) => leader.run_sync(body),
            None => body(),
        };
        tally.body_done(timer);
        let stored = encode::<S, R, C>(tally, &self.key, codec, &result);
        if let Some(bytes) = &stored {
            self.store_sync(tally, bytes, ttl);
        }
        if let Some(leader) = leader {
            leader.finish(stored);
        }
        result
    }

    /// The async twin of [`Entry::run_sync`].
    async fn run_async<S, R, C>(
        &self,
        function: &'static FnStats,
        codec: &C,
        ttl: Expiry,
        body: impl Future<Output = R>,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let tally = self.cachify.tally(Some(function));
        let leader = match self.turn_async::<S, R, C>(tally, codec).await {
            Turn::Found(value) => return value,
            Turn::Lead(leader) => Some(leader),
            Turn::RunAlone => None,
        };
        let timer = tally.body_started();
        let result = match &leader {
            Some(leader) => leader.run_async(body).await,
            None => body.await,
        };
        tally.body_done(timer);
        let stored = encode::<S, R, C>(tally, &self.key, codec, &result);
        if let Some(bytes) = &stored {
            self.store_async(tally, bytes, ttl).await;
        }
        if let Some(leader) = leader {
            leader.finish(stored);
        }
        result
    }

    /// Joins the key's flight until this caller leads it, must run alone, or gets a
    /// value. An abandoned flight (panic, cancellation) sends us round again.
    fn turn_sync<S, R, C>(&self, tally: Tally<'_>, codec: &C) -> Turn<R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.cachify, &self.key);
        loop {
            match cachify.cache_flights().join(key, Caller::Sync) {
                Join::Leader(leader) => {
                    // A flight that settled between our miss and our join has stored
                    // its value: look once more rather than run the function again.
                    let mut buf = Vec::new();
                    return match read_sync::<S, R, C>(
                        tally,
                        cachify.sync_client(),
                        key,
                        codec,
                        &mut buf,
                    ) {
                        Some(value) => Turn::Found(value),
                        None => Turn::Lead(leader),
                    };
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) = self.after::<S, R, C>(tally, codec, flight.wait_blocking())
                    {
                        return turn;
                    }
                }
            }
        }
    }

    /// The async twin of [`Entry::turn_sync`].
    async fn turn_async<S, R, C>(&self, tally: Tally<'_>, codec: &C) -> Turn<R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.cachify, &self.key);
        loop {
            let joined = cachify.cache_flights().join(key, Caller::Async);
            match joined {
                Join::Leader(leader) => {
                    let found =
                        read_async::<S, R, C>(tally, cachify.async_client(), key, codec).await;
                    return match found {
                        Some(value) => Turn::Found(value),
                        None => Turn::Lead(leader),
                    };
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) = self.after::<S, R, C>(tally, codec, flight.wait().await) {
                        return turn;
                    }
                }
            }
        }
    }

    /// What a follower does once its leader settled; `None`: join again.
    fn after<S, R, C>(&self, tally: Tally<'_>, codec: &C, outcome: Outcome) -> Option<Turn<R>>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        match outcome {
            // A value that does not decode here will not decode for anyone: run alone.
            Outcome::Stored(bytes) => Some(
                decode::<S, R, C>(tally, &self.key, codec, &bytes)
                    .map_or(Turn::RunAlone, Turn::Found),
            ),
            Outcome::NotStored => Some(Turn::RunAlone),
            Outcome::Abandoned => None,
        }
    }
}

fn read_sync<S, R, C>(
    tally: Tally<'_>,
    client: &dyn SyncClient,
    key: &str,
    codec: &C,
    buf: &mut Vec<u8>,
) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match client.get_into(key, buf) {
        Ok(true) => decode::<S, R, C>(tally, key, codec, buf),
        Ok(false) => None,
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache read failed; running the function");
            None
        }
    }
}

async fn read_async<S, R, C>(
    tally: Tally<'_>,
    client: &dyn AsyncClient,
    key: &str,
    codec: &C,
) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match client.get(key).await {
        Ok(Some(bytes)) => decode::<S, R, C>(tally, key, codec, &bytes),
        Ok(None) => None,
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache read failed; running the function");
            None
        }
    }
}

fn decode<S, R, C>(tally: Tally<'_>, key: &str, codec: &C, bytes: &[u8]) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match codec.decode(bytes) {
        Ok(value) => Some(S::from_value(value)),
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "stored value does not decode; recomputing it");
            None
        }
    }
}

/// The bytes to store for `result`, or `None` when it is not cacheable (or does not
/// encode, which is logged).
fn encode<S, R, C>(tally: Tally<'_>, key: &str, codec: &C, result: &R) -> Option<Arc<[u8]>>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    let value = S::cacheable(result)?;
    match codec.encode(value) {
        Ok(bytes) => Some(Arc::from(bytes)),
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "result does not encode; not caching it");
            None
        }
    }
}
