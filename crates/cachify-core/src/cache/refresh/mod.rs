//! Refresh before expiry (`#[cached(ttl = 60, refresh = 50)]`): a hit on a value older
//! than its refresh age returns that value at once and starts one background call of the
//! function, whose result replaces it.
//!
//! - The age is the value's write time ([`super::stamp`]), read with the value: no extra
//!   round trip on the hit path.
//! - One refresh per key at a time in the fleet: a refresh leads the key's flight
//!   ([`crate::flight`]), the same entry point a miss joins, so hits that find a refresh
//!   (or a miss) running start nothing, and misses meanwhile wait for its value. On a
//!   backend shared by processes, the refresh then takes the key's fleet lease
//!   ([`super::fleet`]) and is skipped while another process holds it. It then reads
//!   the key again and stops when another leader has refreshed it meanwhile.
//! - A reset of the key while a refresh runs ([`crate::flight::Flights::reset`]): the
//!   refresh stores nothing. (A reset from another process is not seen: its refresh
//!   may store the value it computed before.)
//! - A refresh that fails (an `Err`, a panic, a value that does not encode, a backend
//!   error) is logged (`events::refresh_failed`); the stored value stays until its ttl.
//! - It runs on cachify's refresh thread ([`worker`]): sync functions on its small
//!   blocking pool, async functions as a task of its runtime, never the caller's runtime,
//!   which may have ended when the refresh runs.

mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::fleet::{self, RefreshTurn};
use super::storing::Storing;
use super::value::{Shape, ValueCodec};
use super::{encode, stamp, Entry};
use crate::events;
use crate::flight::{Caller, Join, Leader};
use crate::instance::Cachify;

/// What a refresh needs besides the function: the key, how to store, the codec.
pub(crate) struct Refresh<C> {
    entry: Entry,
    storing: Storing,
    codec: C,
    /// The refresh age: a value younger than this was refreshed meanwhile.
    after: Duration,
}

/// Whether the value `stored` is due for a refresh `after` its write time (a value
/// without one is not: see [`stamp`]).
#[inline]
pub(crate) fn is_due(stored: &[u8], after: Duration) -> bool {
    stamp::is_due(stored, after, SystemTime::now())
}

impl<C> Refresh<C> {
    /// Leads the refresh of `key` if nobody is computing it; `None` when a refresh or a
    /// miss already runs (or this call runs inside the one computing it).
    pub(crate) fn claim(
        cachify: &Cachify,
        key: &str,
        storing: Storing,
        codec: C,
        after: Duration,
    ) -> Option<(Self, Leader)> {
        // A background leader never needs the caller's threads, so a sync follower may
        // block waiting for it: it joins as `Sync`.
        let Join::Leader(leader) = cachify.cache_flights().join(key, Caller::Sync) else {
            return None;
        };
        events::refresh_started(cachify.prefix(), key);
        let entry = Entry {
            cachify: cachify.clone(),
            key: key.to_owned(),
        };
        let refresh = Refresh {
            entry,
            storing,
            codec,
            after,
        };
        Some((refresh, leader))
    }

    fn failed(&self, reason: &dyn std::fmt::Display) {
        events::refresh_failed(self.entry.cachify.prefix(), &self.entry.key, reason);
    }
}

impl<C: Send + 'static> Refresh<C> {
    /// Runs the sync `body` on the refresh pool and stores its result.
    pub(crate) fn start_sync<S, R>(self, leader: Leader, body: impl FnOnce() -> R + Send + 'static)
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        worker::spawn_blocking(move || {
            let (cachify, key) = (&self.entry.cachify, self.entry.key.as_str());
            // Busy: another process refreshes the key. The leader, dropped unfinished,
            // sends this process's waiters (misses) back to the cache.
            let RefreshTurn::Refresh(lease) = fleet::claim_refresh_blocking(cachify, key) else {
                return;
            };
            let stored = cachify.sync_client().get(key);
            if let Some(fresh) = self.refreshed_meanwhile(stored.ok().flatten()) {
                if let Some(lease) = lease {
                    lease.finish_blocking(None, None);
                }
                return leader.finish(Some(fresh));
            }
            let run =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| leader.run_sync(body)));
            let stored = match run {
                Ok(result) => self.sealed::<S, R>(&result),
                // The lease and the leader, dropped, free the key for others.
                Err(_) => return self.failed(&"the function panicked"),
            };
            let stored = self.unless_reset(&leader, stored);
            let kept = match lease {
                Some(lease) => lease.finish_blocking(stored.as_deref(), self.storing.lifetime()),
                None => stored
                    .as_ref()
                    .is_some_and(|bytes| self.entry.store_sync(bytes, &self.storing)),
            };
            self.kept(stored.is_some(), kept);
            leader.finish(stored);
        });
    }

    /// Runs the async `body` on the refresh runtime and stores its result.
    pub(crate) fn start_async<S, R>(
        self,
        leader: Leader,
        body: impl Future<Output = R> + Send + 'static,
    ) where
        S: Shape<R>,
        C: ValueCodec<S::Value> + Sync,
    {
        worker::spawn(async move {
            let (cachify, key) = (&self.entry.cachify, self.entry.key.as_str());
            let RefreshTurn::Refresh(lease) = fleet::claim_refresh_async(cachify, key).await else {
                return;
            };
            let stored = cachify.async_client().get(key).await;
            if let Some(fresh) = self.refreshed_meanwhile(stored.ok().flatten()) {
                if let Some(lease) = lease {
                    lease.finish_async(None, None).await;
                }
                return leader.finish(Some(fresh));
            }
            let stored = match worker::catching(leader.run_async(body)).await {
                Ok(result) => self.sealed::<S, R>(&result),
                Err(_) => return self.failed(&"the function panicked"),
            };
            let stored = self.unless_reset(&leader, stored);
            let kept = match lease {
                Some(lease) => {
                    let ttl = self.storing.lifetime();
                    lease.finish_async(stored.as_deref(), ttl).await
                }
                None => match &stored {
                    Some(bytes) => self.entry.store_async(bytes, &self.storing).await,
                    None => false,
                },
            };
            self.kept(stored.is_some(), kept);
            leader.finish(stored);
        });
    }

    /// `stored`, or `None` when the key was reset while the function ran: its result
    /// predates the reset.
    fn unless_reset(&self, leader: &Leader, stored: Option<Arc<[u8]>>) -> Option<Arc<[u8]>> {
        if stored.is_some() && leader.was_reset() {
            self.failed(&"the key was reset meanwhile");
            return None;
        }
        stored
    }

    /// The value another leader stored between the hit and this refresh, if it did.
    fn refreshed_meanwhile(&self, stored: Option<Vec<u8>>) -> Option<Arc<[u8]>> {
        stored
            .filter(|stored| !is_due(stored, self.after))
            .map(Arc::from)
    }

    /// The bytes to store for `result`, or `None` (logged) when it is not stored.
    fn sealed<S, R>(&self, result: &R) -> Option<Arc<[u8]>>
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        let stored = encode::<S, R, C>(
            &self.entry.key,
            &self.codec,
            self.entry.format(),
            &self.storing,
            result,
        );
        if stored.is_none() {
            self.failed(&"the function's result is not stored (an `Err`, or it does not encode)");
        }
        stored
    }

    /// Logs the end of a refresh that had a value to store (`to_store`, else it was
    /// logged already) and whether the backend `kept` it.
    fn kept(&self, to_store: bool, kept: bool) {
        if !to_store {
            return;
        }
        if kept {
            events::refresh_done(self.entry.cachify.prefix(), &self.entry.key);
        } else {
            self.failed(&"the backend did not store the new value");
        }
    }
}
