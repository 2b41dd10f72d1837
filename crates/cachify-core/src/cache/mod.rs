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
//!   On a backend that can ([`SyncClient::claim_miss`]), the processes sharing it do
//!   the same between them ([`fleet`]).
//! - A call on the key whose function is running around it (recursion, two functions
//!   sharing a key) runs its function instead of waiting for itself.
//! - With `refresh`, a hit past the refresh age also starts one background call that
//!   replaces the value ([`refresh`]); values then carry their write time ([`stamp`]).
//!   `ttl_jitter` shortens each value's lifetime by a random part of it ([`storing`]).
//! - It talks to the backend traits only, so it works unchanged on any backend.
//!
//! What generated code calls is in [`for_macros`]; this module is the engine. The sync
//! hit path renders the key into a per-thread buffer and reads the value into another
//! ([`SyncClient::get_into`](crate::SyncClient::get_into)), so a hit on the memory backend allocates nothing.

mod fleet;
pub mod for_macros;
mod keep;
mod key_part;
mod read;
mod refresh;
mod stamp;
mod storing;
mod value;

use std::future::Future;
use std::sync::Arc;

use storing::Storing;
use value::{Shape, ValueCodec};

use crate::codec::Format;
use crate::detached::{Async, Blocking, Side};
use crate::events;
use crate::flight::{Caller, Join, Leader, Outcome};
use crate::instance::Cachify;
use crate::stats::{Event, FnStats, Tally};
use fleet::{Claimed, FleetLease};

/// One key of one instance: what a miss, an async lookup and `reset` work on.
#[derive(Debug)]
pub struct Entry {
    cachify: Cachify,
    key: String,
}

/// What a miss does next.
enum Turn<R, S: Side> {
    /// Run the function as the key's leader, for the fleet too when it holds its lease.
    Lead(Leader, Option<FleetLease<S>>),
    /// Run the function without a flight (re-entry, or the leader stored nothing).
    RunAlone,
    /// A leader stored this value meanwhile.
    Found(R),
}

impl Entry {
    fn format(&self) -> Format {
        self.cachify.layout().format()
    }

    /// Stores `bytes`; a failure is logged, and is `false`.
    fn store_sync(&self, tally: Tally<'_>, bytes: &[u8], storing: &Storing) -> bool {
        let stored = self
            .cachify
            .sync_client()
            .set(&self.key, bytes, storing.lifetime(), false);
        // Even a failed write may have reached the server.
        self.cachify.wrote(&self.key);
        self.stored(tally, stored)
    }

    /// The async twin of [`Entry::store_sync`].
    async fn store_async(&self, tally: Tally<'_>, bytes: &[u8], storing: &Storing) -> bool {
        // After the write, or when the future is dropped while it may have been sent.
        let _wrote = self.cachify.wrote_on_drop(&self.key);
        let stored = self
            .cachify
            .async_client()
            .set(&self.key, bytes, storing.lifetime(), false)
            .await;
        self.stored(tally, stored)
    }

    /// After taking back a store that a reset overtook: the near copy goes, a failure is
    /// logged (the value then stays until its ttl).
    fn undone(&self, undone: Result<bool, crate::error::BackendError>) {
        self.cachify.wrote(&self.key);
        if let Err(error) = undone {
            tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot take back a value stored across a reset");
        }
    }

    /// Counts a store, or logs and counts its failure (the call fails open).
    fn stored<T>(&self, tally: Tally<'_>, outcome: Result<T, crate::error::BackendError>) -> bool {
        match outcome {
            Ok(_) => {
                tally.count(Event::Store);
                true
            }
            Err(error) => {
                tally.count(Event::Error);
                tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cannot store a cached value");
                false
            }
        }
    }

    /// Runs `body` for a missed key (as its leader, or alone), stores what is cacheable
    /// and returns the result; or returns a leader's value.
    fn run_sync<S, R, C>(
        &self,
        function: &'static FnStats,
        codec: &C,
        storing: Storing,
        body: impl FnOnce() -> R,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let tally = self.cachify.tally(Some(function));
        let (leader, lease) = match self.turn_sync::<S, R, C>(tally, codec) {
            Turn::Found(value) => return value,
            Turn::Lead(leader, lease) => (Some(leader), lease),
            Turn::RunAlone => (None, None),
        };
        let timer = tally.body_started();
        let result = match &leader {
            Some(leader) => leader.run_sync(body),
            None => body(),
        };
        tally.body_done(timer);
        let stored = encode::<S, R, C>(tally, &self.key, codec, self.format(), &storing, &result);
        let stored = unless_reset(leader.as_ref(), stored);
        match lease {
            Some(lease) => {
                let finished = lease.finish_blocking(stored.as_deref(), storing.lifetime());
                count_store(tally, &stored, finished);
            }
            None => {
                if let Some(bytes) = &stored {
                    self.store_sync(tally, bytes, &storing);
                }
            }
        }
        if let Some(bytes) = reset_meanwhile(leader.as_ref(), &stored) {
            let undone = self
                .cachify
                .sync_client()
                .delete_if_equals(&self.key, bytes);
            self.undone(undone);
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
        storing: Storing,
        body: impl Future<Output = R>,
    ) -> R
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let tally = self.cachify.tally(Some(function));
        let (leader, lease) = match self.turn_async::<S, R, C>(tally, codec).await {
            Turn::Found(value) => return value,
            Turn::Lead(leader, lease) => (Some(leader), lease),
            Turn::RunAlone => (None, None),
        };
        let timer = tally.body_started();
        let result = match &leader {
            Some(leader) => leader.run_async(body).await,
            None => body.await,
        };
        tally.body_done(timer);
        let stored = encode::<S, R, C>(tally, &self.key, codec, self.format(), &storing, &result);
        let stored = unless_reset(leader.as_ref(), stored);
        match lease {
            Some(lease) => {
                let finish = lease.finish_async(stored.as_deref(), storing.lifetime());
                count_store(tally, &stored, finish.await);
            }
            None => {
                if let Some(bytes) = &stored {
                    self.store_async(tally, bytes, &storing).await;
                }
            }
        }
        if let Some(bytes) = reset_meanwhile(leader.as_ref(), &stored) {
            let _wrote = self.cachify.wrote_on_drop(&self.key);
            let undone = self
                .cachify
                .async_client()
                .delete_if_equals(&self.key, bytes);
            self.undone(undone.await);
        }
        if let Some(leader) = leader {
            leader.finish(stored);
        }
        result
    }

    /// Joins the key's flight until this caller leads it, must run alone, or gets a
    /// value. An abandoned flight (panic, cancellation) sends us round again.
    fn turn_sync<S, R, C>(&self, tally: Tally<'_>, codec: &C) -> Turn<R, Blocking>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.cachify, &self.key);
        loop {
            match cachify.cache_flights().join(key, Caller::Sync) {
                Join::Leader(leader) => {
                    let claimed = fleet::claim_blocking(tally, cachify, key);
                    return self.lead::<S, R, C, _>(tally, codec, leader, claimed);
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) =
                        self.after::<S, R, C, _>(tally, codec, flight.wait_blocking())
                    {
                        return turn;
                    }
                }
            }
        }
    }

    /// The async twin of [`Entry::turn_sync`].
    async fn turn_async<S, R, C>(&self, tally: Tally<'_>, codec: &C) -> Turn<R, Async>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let (cachify, key) = (&self.cachify, &self.key);
        loop {
            let joined = cachify.cache_flights().join(key, Caller::Async);
            match joined {
                Join::Leader(leader) => {
                    let claimed = fleet::claim_async(tally, cachify, key).await;
                    return self.lead::<S, R, C, _>(tally, codec, leader, claimed);
                }
                Join::RunAlone => return Turn::RunAlone,
                Join::Follower(flight) => {
                    events::single_flight_wait(cachify.prefix(), key);
                    if let Some(turn) = self.after::<S, R, C, _>(tally, codec, flight.wait().await)
                    {
                        return turn;
                    }
                }
            }
        }
    }

    /// What this process's leader does once it has claimed the key: share a value
    /// stored meanwhile with its followers at once, or run the function.
    fn lead<S, R, C, Sd: Side>(
        &self,
        tally: Tally<'_>,
        codec: &C,
        leader: Leader,
        claimed: Claimed<Sd>,
    ) -> Turn<R, Sd>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        match claimed {
            Claimed::Found(bytes) => {
                match decode::<S, R, C>(tally, &self.key, codec, &self.cachify, &bytes) {
                    Some(value) => {
                        leader.finish(Some(Arc::from(bytes)));
                        Turn::Found(value)
                    }
                    None => Turn::Lead(leader, None),
                }
            }
            Claimed::Lead(lease) => Turn::Lead(leader, lease),
        }
    }

    /// What a follower does once its leader settled; `None`: join again.
    fn after<S, R, C, Sd: Side>(
        &self,
        tally: Tally<'_>,
        codec: &C,
        outcome: Outcome,
    ) -> Option<Turn<R, Sd>>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        match outcome {
            // A value that does not decode here will not decode for anyone: run alone.
            Outcome::Stored(bytes) => Some(
                decode::<S, R, C>(tally, &self.key, codec, &self.cachify, &bytes)
                    .map_or(Turn::RunAlone, Turn::Found),
            ),
            Outcome::NotStored => Some(Turn::RunAlone),
            Outcome::Abandoned => None,
        }
    }
}

/// `bytes` stored under `key` decoded into a result; `None` (logged and counted) when
/// they do not decode.
fn decode<S, R, C>(
    tally: Tally<'_>,
    key: &str,
    codec: &C,
    cachify: &Cachify,
    bytes: &[u8],
) -> Option<R>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    read::decode(tally, key, codec, cachify, bytes).map(S::from_value)
}

/// The bytes to store for `result`, or `None` when it is not cacheable (or does not
/// encode, which is logged).
fn encode<S, R, C>(
    tally: Tally<'_>,
    key: &str,
    codec: &C,
    format: Format,
    storing: &Storing,
    result: &R,
) -> Option<Arc<[u8]>>
where
    S: Shape<R>,
    C: ValueCodec<S::Value>,
{
    let value = S::cacheable(result)?;
    match codec.encode(value, format) {
        Ok(bytes) => Some(storing.seal(bytes)),
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "result does not encode; not caching it");
            None
        }
    }
}

/// `stored`, unless the key was reset in this process while its function ran: what the
/// function computed predates the reset, so its callers get it and the cache does not.
fn unless_reset(leader: Option<&Leader>, stored: Option<Arc<[u8]>>) -> Option<Arc<[u8]>> {
    stored.filter(|_| !leader.is_some_and(Leader::was_reset))
}

/// The bytes the leader stored, when its key was reset while they were being stored: the
/// reset may have reached the backend first, and the store must be taken back.
fn reset_meanwhile<'a>(leader: Option<&Leader>, stored: &'a Option<Arc<[u8]>>) -> Option<&'a [u8]> {
    let bytes = stored.as_deref()?;
    leader?.was_reset().then_some(bytes)
}

/// Counts the store a fleet lease's finish made of `stored`, or its failure (which the
/// finish logged).
fn count_store(tally: Tally<'_>, stored: &Option<Arc<[u8]>>, finished: bool) {
    match (stored, finished) {
        (None, _) => {}
        (Some(_), true) => tally.count(Event::Store),
        (Some(_), false) => tally.count(Event::Error),
    }
}
