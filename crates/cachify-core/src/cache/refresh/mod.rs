//! Refresh before expiry (`#[cached(ttl = 60, refresh = 50)]`): a hit on a value older
//! than its refresh age returns that value at once and starts one background call of the
//! function, whose result replaces it.
//!
//! - The age is the value's write time ([`super::stamp`]), read with the value: no extra
//!   round trip on the hit path.
//! - One refresh per key at a time in the fleet. A hit reserves the key's refresh
//!   ([`crate::flight::Flights::pend_refresh`]): hits that find one queued or running,
//!   or a miss computing the key, start nothing. Queued, it is no flight: misses
//!   meanwhile run as if there were no refresh, never wait behind the queue (nor
//!   deadlock when a refreshing function calls another whose refresh is queued). Once
//!   on a worker, it leads the key's flight ([`crate::flight`]), the same entry point a
//!   miss joins, so misses then wait for its value. On a
//!   backend shared by processes, the refresh then takes the key's fleet lease
//!   ([`super::fleet`]) and is skipped while another process holds it. It then reads
//!   the key again and stops when another leader has refreshed it meanwhile.
//! - A reset of the key while a refresh runs ([`crate::flight::Flights::reset`]): the
//!   refresh stores nothing. (A reset from another process is not seen: its refresh
//!   may store the value it computed before.)
//! - A refresh that fails (an `Err`, a panic, a value that does not encode, a backend
//!   error) is logged (`events::refresh_failed`); the stored value stays until its ttl.
//!   The key's next refresh then waits half its refresh age, at most [`MAX_BACKOFF`]:
//!   a down database is not asked again on every hit.
//! - It runs on cachify's refresh runtime ([`worker`]): sync functions on its small
//!   blocking pool, async functions as tasks, never on the caller's runtime, which may
//!   have ended when the refresh runs. At most [`worker::MAX_PENDING`] of each kind are
//!   queued or running; more are dropped (the value expires with its ttl).

mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::fleet::{self, RefreshTurn};
use super::storing::Storing;
use super::value::{Shape, ValueCodec};
use super::{encode, stamp, Entry};
use crate::events;
use crate::flight::{Caller, Join, Leader, PendingRefresh};
use crate::instance::Cachify;
use crate::stats::{Event, FnStats, Tally};

/// The longest a key's refreshes pause after one failed (half the refresh age below).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a refresh needs besides the function: the key, how to store, the codec.
pub(crate) struct Refresh<C> {
    entry: Entry,
    storing: Storing,
    codec: C,
    /// The refresh age: a value younger than this was refreshed meanwhile.
    after: Duration,
    /// The key's place among the pending refreshes, freed when the refresh ends.
    _pending: PendingRefresh,
    /// The function's counters.
    function: &'static FnStats,
}

/// Whether the value `stored` is due for a refresh `after` its write time (a value
/// without one is not: see [`stamp`]).
#[inline]
pub(crate) fn is_due(stored: &[u8], after: Duration) -> bool {
    stamp::is_due(stored, after, SystemTime::now())
}

impl<C> Refresh<C> {
    /// Reserves the refresh of `key`; `None` when one is queued or running already, or
    /// a miss computes the key.
    pub(crate) fn claim(
        cachify: &Cachify,
        key: &str,
        (storing, after): (Storing, Duration),
        codec: C,
        function: &'static FnStats,
    ) -> Option<Self> {
        let pending = cachify.cache_flights().pend_refresh(key)?;
        events::refresh_started(cachify.prefix(), key);
        cachify.tally(Some(function)).count(Event::Refresh);
        let entry = Entry {
            cachify: cachify.clone(),
            key: key.to_owned(),
        };
        Some(Refresh {
            entry,
            storing,
            codec,
            after,
            _pending: pending,
            function,
        })
    }

    /// The function's and the instance's counters.
    fn tally(&self) -> Tally<'_> {
        self.entry.cachify.tally(Some(self.function))
    }

    /// Leads the key's flight now that the refresh runs, as `caller`; `None` when a
    /// miss leads it (it stores a value: nothing left to refresh) or this runs inside
    /// the one computing it.
    fn lead(&self, caller: Caller) -> Option<Leader> {
        match self
            .entry
            .cachify
            .cache_flights()
            .join(&self.entry.key, caller)
        {
            Join::Leader(leader) => Some(leader),
            Join::Follower(_) | Join::RunAlone => None,
        }
    }

    fn failed(&self, reason: &dyn std::fmt::Display) {
        events::refresh_failed(self.entry.cachify.prefix(), &self.entry.key, reason);
        self.ended(true);
    }

    /// Records the end of the refresh, so that a failed one is not retried on every hit.
    fn ended(&self, failed: bool) {
        let backoff = (self.after / 2).min(MAX_BACKOFF);
        let flights = self.entry.cachify.cache_flights();
        flights.refresh_ended(&self.entry.key, failed, backoff);
    }
}

impl<C: Send + 'static> Refresh<C> {
    /// Runs the sync `body` on the refresh pool and stores its result.
    pub(crate) fn start_sync<S, R>(self, body: impl FnOnce() -> R + Send + 'static)
    where
        S: Shape<R>,
        C: ValueCodec<S::Value>,
    {
        worker::spawn_blocking(move || {
            // On a thread of its own: a sync follower may block waiting for it.
            let Some(leader) = self.lead(Caller::Sync) else {
                return;
            };
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
            // The encoder runs inside too: a panicking `Serialize` is a failed refresh.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.sealed::<S, R>(&leader.run_sync(body))
            }));
            let Ok(stored) = run else {
                // The lease and the leader, dropped, free the key for others.
                return self.failed(&"the function or its encoder panicked");
            };
            let stored = self.unless_reset(&leader, stored);
            let kept = match lease {
                Some(lease) => {
                    let finished =
                        lease.finish_blocking(stored.as_deref(), self.storing.lifetime());
                    super::count_store(self.tally(), &stored, finished);
                    finished
                }
                None => stored
                    .as_ref()
                    .is_some_and(|bytes| self.entry.store_sync(self.tally(), bytes, &self.storing)),
            };
            self.kept(stored.is_some(), kept);
            leader.finish(stored);
        });
    }

    /// Runs the async `body` on the refresh runtime and stores its result.
    pub(crate) fn start_async<S, R>(self, body: impl Future<Output = R> + Send + 'static)
    where
        S: Shape<R>,
        C: ValueCodec<S::Value> + Sync,
    {
        worker::spawn(async move {
            // As async: a sync caller inside a runtime runs rather than block a thread
            // this refresh (or another on the same runtime) may need.
            let Some(leader) = self.lead(Caller::Async) else {
                return;
            };
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
            let run = async { self.sealed::<S, R>(&leader.run_async(body).await) };
            let Ok(stored) = worker::catching(run).await else {
                return self.failed(&"the function or its encoder panicked");
            };
            let stored = self.unless_reset(&leader, stored);
            let kept = match lease {
                Some(lease) => {
                    let ttl = self.storing.lifetime();
                    let finished = lease.finish_async(stored.as_deref(), ttl).await;
                    super::count_store(self.tally(), &stored, finished);
                    finished
                }
                None => match &stored {
                    Some(bytes) => {
                        self.entry
                            .store_async(self.tally(), bytes, &self.storing)
                            .await
                    }
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
            // Not a failure to back off from: the next value is the miss's.
            let reason = &"the key was reset meanwhile";
            events::refresh_failed(self.entry.cachify.prefix(), &self.entry.key, reason);
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
            self.tally(),
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
            self.ended(false);
        } else {
            self.failed(&"the backend did not store the new value");
        }
    }
}
