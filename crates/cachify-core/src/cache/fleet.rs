//! Fleet-wide single-flight: concurrent misses of one key, across every process sharing
//! the backend, run the function once.
//!
//! In each process, [`crate::flight`] picks one leader per key; that leader then claims
//! the key on the backend ([`SyncClient::claim_miss`], one script on Redis that reads the
//! value once more and, when it is still missing, takes a short lease next to it):
//! - the value is there: it was stored meanwhile, share it;
//! - the lease was free: this process computes the value, renewing the lease while the
//!   function runs (the lock lease machinery, on the releaser; stopped without waiting
//!   for a renewal in flight, which is token-checked), and ends with
//!   [`SyncClient::set_and_release`]: the value is stored, the lease deleted and its
//!   release published, in one script;
//! - another process holds the lease: wait for its release (the pub/sub wake-up of lock
//!   waiters, [`SyncClient::watch`] on the lease key), then claim again.
//!
//! What a waiting process does, exactly:
//! - woken by the release, it finds the value: done, one round trip after the store;
//! - woken by the release, it finds no value (the leader returned an `Err`, panicked or
//!   was cancelled): its claim takes the lease when nobody else has yet; when another
//!   waiter already has, it runs the function itself at once rather than queue behind
//!   it. So N processes behind a failing leader run side by side, as in-process
//!   followers do, never one after another;
//!   A lost pub/sub connection wakes every waiter too (so that none sleeps through a
//!   release it can no longer hear); one that then finds the lease still held runs the
//!   function as well: a rare extra run, never a wait;
//! - not woken (a leader killed or frozen publishes nothing): it sleeps no longer than
//!   the lease has left, then claims again and takes the expired lease. A dead leader is
//!   thus replaced within its lease (between `lease * 2/3` and `lease` after its last
//!   renewal), plus one round trip;
//! - after [`SingleFlight::wait_budget`](crate::instance::SingleFlight::wait_budget) it
//!   runs the function itself: the bound when the leader's function hangs while its
//!   process lives on (and keeps renewing);
//! - a backend error, or a lease that could not be renewed, runs the function (the
//!   cache fails open). A claim whose reply was lost may have taken the lease: it is
//!   left to expire (others wait at most one lease) rather than given back in the
//!   background, which during an outage would pile up one retrying task per miss. A
//!   claim cancelled mid-flight is given back, as a lock acquisition is.
//!
//! A refresh ([`super::refresh`]) takes the same lease, with a plain `SET NX` since the
//! value is there ([`claim_refresh_blocking`]): a held lease means another process is
//! refreshing (or computing) the key, and the refresh is skipped. It ends like a
//! leader, with [`SyncClient::set_and_release`].
//!
//! The plain miss costs no extra round trip: the claim replaces the second read the
//! leader makes anyway, and the store carries the release.
//!
//! The lease key shares the value's cluster hash slot, so both scripts run on Redis
//! Cluster: a key with a hash tag gets `<key>:computing`, a key without braces
//! `<key>:computing{<key>}`. A key whose braces form no hash tag (`a{}b`, `a}b`) cannot
//! have such a neighbour: its misses are shared within each process only.

use std::time::Duration;

use crate::backend::hash_tag::same_slot_sibling;
use crate::backend::{MissClaim, ReleaseWatch};
use crate::detached::{self, Armed, Async, Blocking, Side};
use crate::error::{BackendError, Error};
use crate::flight::Caller;
use crate::instance::Cachify;
use crate::lock::{renewed, Held, Renewal, Ticket};
use crate::stats::{Event, Tally};
use crate::wait::Patience;

/// What the lease key adds to the value key.
const LEASE_SUFFIX: &str = ":computing";

/// The key of `value_key`'s lease, in the value's cluster hash slot; `None` when no key
/// can share that slot (braces that form no hash tag).
pub(crate) fn lease_key(value_key: &str) -> Option<String> {
    same_slot_sibling(value_key, LEASE_SUFFIX)
}

/// What the process's leader does after claiming a missed key.
pub(crate) enum Claimed<S: Side> {
    /// The value, stored meanwhile (by another process, or before our flight began).
    Found(Vec<u8>),
    /// Run the function: holding the fleet's lease (end with [`FleetLease`]'s
    /// `finish`), or `None` when not coordinated (another backend, a failed claim, a
    /// leader that released without a value, the wait budget spent).
    Lead(Option<FleetLease<S>>),
}

/// The lease of a key whose value this process computes for the fleet: renewed while it
/// lives, freed (and its release published) when finished or dropped.
pub(crate) struct FleetLease<S: Side> {
    claim: Armed<Held, S>,
}

/// What a claim's answer makes the waiter do next.
enum Next {
    Found(Vec<u8>),
    Lead,
    /// Run the function without the lease (also when the claim failed: a lease a lost
    /// reply may have taken is left to expire, rather than give back every failed claim
    /// in the background during an outage).
    RunAlone,
    /// The backend does not coordinate: read once more, as without a fleet.
    Uncoordinated,
    /// Watch the lease's releases, then claim again.
    Watch,
    /// Wait this long for a release, then claim again.
    Wait(Duration),
}

/// One process's wait for the fleet's leader of a key.
struct Waiter<'a> {
    tally: Tally<'a>,
    cachify: &'a Cachify,
    key: &'a str,
    patience: Patience,
    watching: bool,
    /// The last wait ended with a release.
    woken: bool,
}

impl<'a> Waiter<'a> {
    /// A waiter for `key`, with the ticket of the lease it would take; `None` when misses
    /// are shared within the process only.
    fn new(
        tally: Tally<'a>,
        cachify: &'a Cachify,
        key: &'a str,
        caller: Caller,
    ) -> Option<(Self, Ticket)> {
        let flight = cachify.single_flight();
        if !flight.is_fleet_wide() || cachify.cache_flights().is_per_process_only(caller) {
            return None;
        }
        let lease_key = lease_key(key)?;
        let lease = Some(flight.lease_duration());
        let ticket = Ticket::for_storage_key(cachify.clone(), key, lease_key, lease);
        let waiter = Self {
            tally,
            cachify,
            key,
            patience: Patience::new(Some(flight.wait_budget()), cachify.lock_poll_interval()),
            watching: false,
            woken: false,
        };
        Some((waiter, ticket))
    }

    fn lease(&self) -> Duration {
        self.cachify.single_flight().lease_duration()
    }

    fn next(&mut self, answer: Result<Option<MissClaim>, BackendError>) -> Next {
        let key = self.key;
        let busy = match answer {
            Ok(None) => return Next::Uncoordinated,
            Ok(Some(MissClaim::Value(bytes))) => return Next::Found(bytes),
            Ok(Some(MissClaim::Leased)) => return Next::Lead,
            Ok(Some(MissClaim::Busy(left))) => left,
            Err(error) => {
                self.tally.count(Event::Error);
                tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache miss claim failed; running the function");
                return Next::RunAlone;
            }
        };
        if self.woken {
            // Released without a value, and another waiter has the lease already.
            tracing::debug!(target: crate::events::TARGET, storage_key = %key, "the fleet's leader stored nothing; running the function");
            return Next::RunAlone;
        }
        let Some(sleep) = self.patience.next_sleep(busy) else {
            tracing::debug!(target: crate::events::TARGET, storage_key = %key, "waited the fleet's wait budget; running the function");
            return Next::RunAlone;
        };
        if !self.watching {
            self.watching = true;
            return Next::Watch;
        }
        Next::Wait(sleep)
    }
}

/// Claims `key` for this process's leader, blocking the thread while another process
/// computes it.
pub(crate) fn claim_blocking(tally: Tally<'_>, cachify: &Cachify, key: &str) -> Claimed<Blocking> {
    let Some((mut waiter, ticket)) = Waiter::new(tally, cachify, key, Caller::Sync) else {
        return read_again_blocking(tally, cachify, key);
    };
    let client = cachify.sync_client();
    // Armed before the first claim: a lost reply may have taken the lease.
    let claim = Armed::pending(Held::new(ticket));
    let mut watch: Option<ReleaseWatch> = None;
    loop {
        let ticket = claim.claim().ticket();
        let answer = client.claim_miss(key, ticket.storage_key(), ticket.token(), waiter.lease());
        match waiter.next(answer) {
            Next::Found(bytes) => return found(claim, bytes),
            Next::Lead => return lead(claim, Renewal::Blocking),
            Next::RunAlone => {
                claim.disarm();
                return Claimed::Lead(None);
            }
            Next::Uncoordinated => {
                claim.disarm();
                cachify.cache_flights().set_per_process_only(Caller::Sync);
                return read_again_blocking(tally, cachify, key);
            }
            Next::Watch => watch = client.watch(claim.claim().ticket().storage_key()),
            Next::Wait(sleep) => {
                waiter.woken = match &mut watch {
                    Some(watch) => watch.wait_blocking(sleep),
                    None => {
                        std::thread::sleep(sleep);
                        false
                    }
                };
            }
        }
    }
}

/// The async [`claim_blocking`]. Its waits use cachify's own timer, so any executor
/// will do. Cancelled, it leaves no lease behind.
pub(crate) async fn claim_async(tally: Tally<'_>, cachify: &Cachify, key: &str) -> Claimed<Async> {
    let Some((mut waiter, ticket)) = Waiter::new(tally, cachify, key, Caller::Async) else {
        return read_again_async(tally, cachify, key).await;
    };
    let client = cachify.async_client();
    let claim = Armed::pending(Held::new(ticket));
    let mut watch: Option<ReleaseWatch> = None;
    loop {
        let ticket = claim.claim().ticket();
        let answer = client
            .claim_miss(key, ticket.storage_key(), ticket.token(), waiter.lease())
            .await;
        match waiter.next(answer) {
            Next::Found(bytes) => return found(claim, bytes),
            Next::Lead => return lead(claim, Renewal::Async),
            Next::RunAlone => {
                claim.disarm();
                return Claimed::Lead(None);
            }
            Next::Uncoordinated => {
                claim.disarm();
                cachify.cache_flights().set_per_process_only(Caller::Async);
                return read_again_async(tally, cachify, key).await;
            }
            Next::Watch => watch = client.watch(claim.claim().ticket().storage_key()).await,
            Next::Wait(sleep) => match wait_async(watch.as_mut(), sleep).await {
                Some(woken) => waiter.woken = woken,
                // No timer to wait with: rather run than spin on the claim.
                None => {
                    claim.disarm();
                    return Claimed::Lead(None);
                }
            },
        }
    }
}

/// Waits for a release or `sleep` on the releaser's timer; whether a release came, or
/// `None` when the releaser is not running.
async fn wait_async(watch: Option<&mut ReleaseWatch>, sleep: Duration) -> Option<bool> {
    let alarm = detached::sleep(sleep)?;
    let woken = match watch {
        Some(watch) => tokio::select! {
            biased;
            () = watch.released() => true,
            () = alarm => false,
        },
        None => {
            alarm.await;
            false
        }
    };
    Some(woken)
}

fn found<S: Side>(claim: Armed<Held, S>, bytes: Vec<u8>) -> Claimed<S> {
    claim.disarm();
    Claimed::Found(bytes)
}

fn lead<S: Side>(claim: Armed<Held, S>, renewal: Renewal) -> Claimed<S> {
    Claimed::Lead(leased(claim, renewal))
}

/// The lease of a taken claim, renewed from now on; `None` when renewing cannot start.
fn leased<S: Side>(claim: Armed<Held, S>, renewal: Renewal) -> Option<FleetLease<S>> {
    match renewed(claim, renewal) {
        Ok(claim) => Some(FleetLease { claim }),
        // The claim was given back: lead without it rather than risk a lease that
        // lapses under a long computation.
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, %error, "cannot renew a cache lease; running the function without it");
            None
        }
    }
}

/// What a refresh learns from the fleet: refresh (holding the key's lease, or alone on
/// a backend that does not coordinate), or leave it to the process holding the lease.
pub(crate) enum RefreshTurn<S: Side> {
    Refresh(Option<FleetLease<S>>),
    Busy,
}

/// The lease a refresh of `key` would take; `None` when refreshes are shared within the
/// process only.
fn refresh_claim<S: Side>(cachify: &Cachify, key: &str, caller: Caller) -> Option<Armed<Held, S>> {
    let (_, ticket) = Waiter::new(cachify.tally(None), cachify, key, caller)?;
    // Armed before the SET: a lost reply may have taken the lease.
    Some(Armed::pending(Held::new(ticket)))
}

/// The answer to a refresh's `SET NX` of the lease.
fn refresh_turn<S: Side>(
    key: &str,
    claim: Armed<Held, S>,
    taken: Result<bool, BackendError>,
    renewal: Renewal,
) -> RefreshTurn<S> {
    match taken {
        Ok(true) => RefreshTurn::Refresh(leased(claim, renewal)),
        Ok(false) => {
            claim.disarm();
            RefreshTurn::Busy
        }
        // The backend is failing: the refresh would most likely fail too, and the value
        // stays until its ttl. A lease a lost reply took is left to expire.
        Err(error) => {
            claim.disarm();
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cannot claim a refresh; skipping it");
            RefreshTurn::Busy
        }
    }
}

/// Takes `key`'s lease for a refresh, on the sync client.
pub(crate) fn claim_refresh_blocking(cachify: &Cachify, key: &str) -> RefreshTurn<Blocking> {
    let Some(claim) = refresh_claim(cachify, key, Caller::Sync) else {
        return RefreshTurn::Refresh(None);
    };
    let ticket = claim.claim().ticket();
    let lease = Some(cachify.single_flight().lease_duration());
    let taken = cachify
        .sync_client()
        .set(ticket.storage_key(), ticket.token(), lease, true);
    refresh_turn(key, claim, taken, Renewal::Blocking)
}

/// The async [`claim_refresh_blocking`].
pub(crate) async fn claim_refresh_async(cachify: &Cachify, key: &str) -> RefreshTurn<Async> {
    let Some(claim) = refresh_claim(cachify, key, Caller::Async) else {
        return RefreshTurn::Refresh(None);
    };
    let ticket = claim.claim().ticket();
    let lease = Some(cachify.single_flight().lease_duration());
    let taken = cachify
        .async_client()
        .set(ticket.storage_key(), ticket.token(), lease, true)
        .await;
    refresh_turn(key, claim, taken, Renewal::Async)
}

/// Without a fleet, the leader reads once more: a flight that settled between our miss
/// and our join has stored its value.
fn read_again_blocking<S: Side>(tally: Tally<'_>, cachify: &Cachify, key: &str) -> Claimed<S> {
    read_again(tally, key, cachify.sync_client().get(key))
}

async fn read_again_async<S: Side>(tally: Tally<'_>, cachify: &Cachify, key: &str) -> Claimed<S> {
    read_again(tally, key, cachify.async_client().get(key).await)
}

fn read_again<S: Side>(
    tally: Tally<'_>,
    key: &str,
    read: Result<Option<Vec<u8>>, BackendError>,
) -> Claimed<S> {
    match read {
        Ok(Some(bytes)) => Claimed::Found(bytes),
        Ok(None) => Claimed::Lead(None),
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cache read failed; running the function");
            Claimed::Lead(None)
        }
    }
}

impl FleetLease<Blocking> {
    /// Stores `stored` (when the function gave something to store) and frees the lease,
    /// waking the processes that wait for it.
    /// Whether that succeeded.
    pub(crate) fn finish_blocking(mut self, stored: Option<&[u8]>, ttl: Option<Duration>) -> bool {
        self.claim.claim_mut().stop_lease();
        let outcome = match stored {
            Some(bytes) => self.claim.release_with(|held| {
                let ticket = held.ticket();
                let client = ticket.cachify().sync_client();
                let (key, lease_key, token) = (ticket.key(), ticket.storage_key(), ticket.token());
                Ok(client.set_and_release(key, bytes, ttl, lease_key, token)?)
            }),
            None => self.claim.release(),
        };
        self.finished(stored.is_some(), outcome)
    }
}

impl FleetLease<Async> {
    /// The async [`finish_blocking`](FleetLease::finish_blocking). Cancelled, the lease is
    /// still freed, in the background.
    pub(crate) async fn finish_async(
        mut self,
        stored: Option<&[u8]>,
        ttl: Option<Duration>,
    ) -> bool {
        self.claim.claim_mut().stop_lease();
        let outcome = match stored {
            Some(bytes) => {
                let ticket = self.claim.claim().ticket().clone();
                let store = async move {
                    let client = ticket.cachify().async_client();
                    let (key, lease_key, token) =
                        (ticket.key(), ticket.storage_key(), ticket.token());
                    Ok(client
                        .set_and_release(key, bytes, ttl, lease_key, token)
                        .await?)
                };
                self.claim.release_with(store).await
            }
            None => self.claim.release().await,
        };
        self.finished(stored.is_some(), outcome)
    }
}

impl<S: Side> FleetLease<S> {
    /// What a finish did: a value stored (or perhaps stored, when the store failed) is
    /// a write of this instance's; a failure is logged. Whether it succeeded.
    fn finished(&self, stored: bool, outcome: Result<(), Error>) -> bool {
        let ticket = self.claim.claim().ticket();
        if stored {
            ticket.cachify().wrote(ticket.key());
        }
        log_failure(ticket.key(), outcome)
    }
}

/// A failed store-and-release: the value may be missing; the lease is freed by the
/// lease's drop, which retries.
fn log_failure(key: &str, outcome: Result<(), Error>) -> bool {
    outcome
        .inspect_err(|error| {
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "cannot store a cached value");
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::lease_key;
    use crate::backend::hash_tag::hash_tag;

    /// What a cluster hashes: the tag, or the whole key.
    fn hashed(key: &str) -> &[u8] {
        hash_tag(key.as_bytes()).unwrap_or(key.as_bytes())
    }

    #[test]
    fn a_lease_hashes_like_its_value() {
        for key in [
            "APP-user-42",
            "APP-{user-42}:profile",
            "{app}-k",
            "a{b}c{d}",
        ] {
            let lease = lease_key(key).unwrap();
            assert!(
                lease.starts_with(key),
                "{lease} stays under the value's prefix"
            );
            assert_eq!(
                hashed(&lease),
                hashed(key),
                "{lease} shares the slot of {key}"
            );
        }
        assert_eq!(
            lease_key("APP-user-42").unwrap(),
            "APP-user-42:computing{APP-user-42}"
        );
    }

    #[test]
    fn keys_whose_braces_form_no_tag_have_no_lease() {
        for key in ["a{}b", "a}b", "a{b", ""] {
            assert_eq!(lease_key(key), None, "{key}");
        }
    }
}
