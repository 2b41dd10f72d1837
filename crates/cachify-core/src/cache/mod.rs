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
//! - With `refresh`, a hit past the refresh age also starts one background call that
//!   replaces the value ([`refresh`]); values then carry their write time ([`stamp`]).
//!   `ttl_jitter` shortens each value's lifetime by a random part of it ([`storing`]).
//! - It talks to the backend traits only, so it works unchanged on any backend.
//!
//! What generated code calls is in [`for_macros`]; this module is the engine. The sync
//! hit path renders the key into a per-thread buffer and reads the value into another
//! ([`SyncClient::get_into`]), so a hit on the memory backend allocates nothing.

pub mod for_macros;
mod key_part;
mod refresh;
mod stamp;
mod storing;
mod value;

use std::future::Future;
use std::sync::Arc;

use storing::Storing;
use value::{Shape, ValueCodec};

use crate::backend::{AsyncClient, SyncClient};
use crate::events;
use crate::flight::{Caller, Join, Leader, Outcome};
use crate::instance::Cachify;

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
    /// Stores `bytes`; a failure is logged, and is `false`.
    fn store_sync(&self, bytes: &[u8], storing: &Storing) -> bool {
        let stored = self
            .cachify
            .sync_client()
            .set(&self.key, bytes, storing.lifetime(), false);
        self.stored(stored)
    }

    /// The async twin of [`Entry::store_sync`].
    async fn store_async(&self, bytes: &[u8], storing: &Storing) -> bool {
        let stored = self
            .cachify
            .async_client()
            .set(&self.key, bytes, storing.lifetime(), false)
            .await;
        self.stored(stored)
    }

    fn stored<T>(&self, outcome: Result<T, crate::error::BackendError>) -> bool {
        outcome
            .inspect_err(|error| {
                tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot store a cached value");
            })
            .is_ok()
    }

    /// Runs `body` for a missed key (as its leader, or alone), stores what is cacheable
    /// and returns the result; or returns a leader's value.
    fn run_sync<S, R, C>(&self, codec: &C, storing: Storing, body: impl FnOnce() -> R) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let leader = match self.turn_sync::<S, R, C>(codec) {
            Turn::Found(value) => return value,
            Turn::Lead(leader) => Some(leader),
            Turn::RunAlone => None,
        };
        let result = match &leader {
            Some(leader) => leader.run_sync(body),
            None => body(),
        };
        let stored = encode::<S, R, C>(&self.key, codec, &storing, &result);
        if let Some(bytes) = &stored {
            self.store_sync(bytes, &storing);
        }
        if let Some(leader) = leader {
            leader.finish(stored);
        }
        result
    }

    /// The async twin of [`Entry::run_sync`].
    async fn run_async<S, R, C>(
        &self,
        codec: &C,
        storing: Storing,
        body: impl Future<Output = R>,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let leader = match self.turn_async::<S, R, C>(codec).await {
            Turn::Found(value) => return value,
            Turn::Lead(leader) => Some(leader),
            Turn::RunAlone => None,
        };
        let result = match &leader {
            Some(leader) => leader.run_async(body).await,
            None => body.await,
        };
        let stored = encode::<S, R, C>(&self.key, codec, &storing, &result);
        if let Some(bytes) = &stored {
            self.store_async(bytes, &storing).await;
        }
        if let Some(leader) = leader {
            leader.finish(stored);
        }
        result
    }

    /// Joins the key's flight until this caller leads it, must run alone, or gets a
    /// value. An abandoned flight (panic, cancellation) sends us round again.
    fn turn_sync<S, R, C>(&self, codec: &C) -> Turn<R>
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
                    return match read_sync::<S, R, C>(cachify.sync_client(), key, codec, &mut buf) {
                        Some(value) => Turn::Found(value),
                        None => Turn::Lead(leader),
                    };
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) = self.after::<S, R, C>(codec, flight.wait_blocking()) {
                        return turn;
                    }
                }
            }
        }
    }

    /// The async twin of [`Entry::turn_sync`].
    async fn turn_async<S, R, C>(&self, codec: &C) -> Turn<R>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.cachify, &self.key);
        loop {
            let joined = cachify.cache_flights().join(key, Caller::Async);
            match joined {
                Join::Leader(leader) => {
                    let found = read_async::<S, R, C>(cachify.async_client(), key, codec).await;
                    return match found {
                        Some(value) => Turn::Found(value),
                        None => Turn::Lead(leader),
                    };
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) = self.after::<S, R, C>(codec, flight.wait().await) {
                        return turn;
                    }
                }
            }
        }
    }

    /// What a follower does once its leader settled; `None`: join again.
    fn after<S, R, C>(&self, codec: &C, outcome: Outcome) -> Option<Turn<R>>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        match outcome {
            // A value that does not decode here will not decode for anyone: run alone.
            Outcome::Stored(bytes) => Some(
                decode::<S, R, C>(&self.key, codec, &bytes).map_or(Turn::RunAlone, Turn::Found),
            ),
            Outcome::NotStored => Some(Turn::RunAlone),
            Outcome::Abandoned => None,
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
    read_async_then::<S, R, C>(client, key, codec, |_| {}).await
}

/// [`read_async`], calling `on_hit` with the stored bytes of a value found.
async fn read_async_then<S, R, C>(
    client: &dyn AsyncClient,
    key: &str,
    codec: &C,
    on_hit: impl FnOnce(&[u8]),
) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    match client.get(key).await {
        Ok(Some(bytes)) => decode::<S, R, C>(key, codec, &bytes).inspect(|_| on_hit(&bytes)),
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
    match codec.decode(stamp::payload(bytes)) {
        Ok(value) => Some(S::from_value(value)),
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "stored value does not decode; recomputing it");
            None
        }
    }
}

/// The bytes to store for `result`, or `None` when it is not cacheable (or does not
/// encode, which is logged).
fn encode<S, R, C>(key: &str, codec: &C, storing: &Storing, result: &R) -> Option<Arc<[u8]>>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    let value = S::cacheable(result)?;
    match codec.encode(value) {
        Ok(bytes) => Some(storing.seal(bytes)),
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "result does not encode; not caching it");
            None
        }
    }
}
