//! Single-flight: concurrent misses on one key, in one process, run the function once.
//!
//! A leaf: it knows storage keys and encoded bytes, nothing of instances or backends. An
//! instance owns one [`Flights`] table; the cache engine joins it on a miss.
//!
//! The first caller to [`Flights::join`] a key becomes its [`Leader`]; later callers get
//! a [`Follower`] and wait for the leader's [`Outcome`], blocking (sync functions) or
//! awaiting (async functions):
//! - [`Outcome::Stored`]: the value the leader stored, shared with every follower.
//! - [`Outcome::NotStored`]: the leader finished with nothing to share (an `Err`, a value
//!   that does not encode). Every follower runs the function itself, at once and
//!   concurrently: queueing them behind one another would make N waiters pay N times the
//!   latency of a failing downstream.
//! - [`Outcome::Abandoned`]: the leader panicked or its future was dropped. Followers go
//!   back to the cache, where one of them becomes the next leader.
//!
//! A waiter never hangs: `Leader`'s `Drop` publishes `Abandoned` when the leader did not
//! finish, which covers unwinding and cancellation. Waiting uses a condvar and a tokio
//! `Notify`, neither tied to a runtime, so an instance in a `static` serves any number of
//! runtimes in turn.
//!
//! Re-entry: a leader's function that calls back into its own key (recursion, or two
//! cached functions sharing a key) would wait for itself forever. While a leader runs the
//! function through [`Leader::run_sync`] / [`Leader::run_async`], the flight is marked as
//! led by this thread (sync) or this task's call chain (async, a task-local scope), and
//! [`Flights::join`] answers [`Join::RunAlone`] to a caller inside it: that caller runs
//! the function itself.
//!
//! Reset: [`Flights::reset`] abandons a key's flight at once (its followers look the
//! key up again, and see the reset) and tells its leader ([`Leader::was_reset`]), so
//! that a refresh running across a reset does not store the value it computed before.
//!
//! A sync caller never waits for an async leader while it runs inside a tokio runtime:
//! it may be blocking the very thread that leader needs (a current-thread runtime, or a
//! worker whose task holds the leader's future), so it runs the function itself
//! ([`Join::RunAlone`]) rather than risk a deadlock.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

type FlightMap = Mutex<HashMap<String, Arc<Flight>, foldhash::fast::RandomState>>;
type KeySet = Mutex<HashSet<String, foldhash::fast::RandomState>>;

/// The flights in progress on one instance, by storage key.
#[derive(Default)]
pub(crate) struct Flights {
    map: Arc<FlightMap>,
    /// Whether the backend of each side (sync, async) said it does not share misses
    /// across processes: learnt on the first miss, so that later ones skip preparing a
    /// lease that backend would ignore.
    per_process_only: [AtomicBool; 2],
    /// Keys with a background refresh queued or running. A queued refresh is not a
    /// flight: misses meanwhile lead their own rather than wait behind the queue.
    refreshes: Arc<KeySet>,
    /// Keys whose last refresh failed, until when no refresh is tried again: a down
    /// database is not retried on every hit. Bounded by [`MAX_BACKOFFS`].
    backoffs: Mutex<HashMap<String, Instant, foldhash::fast::RandomState>>,
}

/// The most keys [`Flights`] remembers a failed refresh of.
const MAX_BACKOFFS: usize = 4096;

/// A key's place in [`Flights`]' refreshes, given up when dropped.
pub(crate) struct PendingRefresh {
    refreshes: Arc<KeySet>,
    key: String,
}

/// What joining a key made of the caller.
pub(crate) enum Join {
    /// Run the function through the leader and [`Leader::finish`] with what was stored.
    Leader(Leader),
    /// Someone else is running it: wait for its outcome.
    Follower(Follower),
    /// Waiting could deadlock: run the function, lead nothing. The caller is inside the
    /// function of this key's leader, or is a sync call inside a runtime whose thread
    /// an async leader may need.
    RunAlone,
}

/// Whether the caller of [`Flights::join`] waits by blocking or by awaiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Sync,
    Async,
}

/// How a leader settled, as its followers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The encoded value the leader stored.
    Stored(Arc<[u8]>),
    /// The leader finished with nothing to share: run the function yourself, now.
    NotStored,
    /// The leader panicked or was cancelled: look the key up again.
    Abandoned,
}

/// One in-progress computation.
struct Flight {
    /// The leader's kind: whether a sync follower may block waiting for it.
    leader: Caller,
    /// `None` while running.
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
    notify: Notify,
}

/// A caller waiting for a leader.
pub(crate) struct Follower {
    flight: Arc<Flight>,
}

/// The caller that runs the function for a key. Dropping it unfinished publishes
/// [`Outcome::Abandoned`].
pub(crate) struct Leader {
    map: Arc<FlightMap>,
    key: String,
    flight: Arc<Flight>,
    settled: bool,
}

/// A flight's identity while its leader runs the function; never dereferenced.
type FlightId = usize;

thread_local! {
    /// Flights whose sync leader is running the function on this thread.
    static LED_BY_THIS_THREAD: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

tokio::task_local! {
    /// Flights whose async leader's function encloses the code being polled.
    static LED_BY_THIS_CALL_CHAIN: Vec<FlightId>;
}

impl Flights {
    /// Joins the flight for `key`, starting it if there is none.
    pub(crate) fn join(&self, key: &str, caller: Caller) -> Join {
        let mut map = self.map.lock();
        if let Some(flight) = map.get(key) {
            if is_led_here(id_of(flight)) || would_block_its_runtime(caller, flight.leader) {
                return Join::RunAlone;
            }
            return Join::Follower(Follower {
                flight: Arc::clone(flight),
            });
        }
        let flight = Arc::new(Flight {
            leader: caller,
            outcome: Mutex::new(None),
            done: Condvar::new(),
            notify: Notify::new(),
        });
        map.insert(key.to_owned(), Arc::clone(&flight));
        Join::Leader(Leader {
            map: Arc::clone(&self.map),
            key: key.to_owned(),
            flight,
            settled: false,
        })
    }
}

impl Flights {
    /// Reserves `key`'s background refresh; `None` when one is queued or running
    /// already, or a flight computes the key.
    pub(crate) fn pend_refresh(&self, key: &str) -> Option<PendingRefresh> {
        if self.map.lock().contains_key(key) || self.backing_off(key) {
            return None;
        }
        if !self.refreshes.lock().insert(key.to_owned()) {
            return None;
        }
        Some(PendingRefresh {
            refreshes: Arc::clone(&self.refreshes),
            key: key.to_owned(),
        })
    }

    /// Whether `key`'s last refresh failed recently.
    fn backing_off(&self, key: &str) -> bool {
        let mut backoffs = self.backoffs.lock();
        match backoffs.get(key) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                backoffs.remove(key);
                false
            }
            None => false,
        }
    }

    /// Records how `key`'s refresh ended: after a failure, no refresh is tried for
    /// `backoff`.
    pub(crate) fn refresh_ended(&self, key: &str, failed: bool, backoff: Duration) {
        let mut backoffs = self.backoffs.lock();
        if !failed || backoff.is_zero() {
            backoffs.remove(key);
            return;
        }
        let now = Instant::now();
        if backoffs.len() >= MAX_BACKOFFS {
            backoffs.retain(|_, until| now < *until);
        }
        // Still full: forget this failure rather than grow (the key retries sooner).
        if backoffs.len() < MAX_BACKOFFS {
            backoffs.insert(key.to_owned(), now + backoff);
        }
    }

    /// Abandons `key`'s flight, if one runs: its followers look the key up again, and
    /// its leader's [`Leader::was_reset`] says so from now on.
    pub(crate) fn reset(&self, key: &str) {
        let flight = self.map.lock().remove(key);
        if let Some(flight) = flight {
            flight.publish(Outcome::Abandoned);
        }
    }

    /// Whether `caller`'s backend is known to share misses within the process only.
    pub(crate) fn is_per_process_only(&self, caller: Caller) -> bool {
        // ordering: a hint; a caller that misses it prepares one lease for nothing.
        self.per_process_only[caller as usize].load(Ordering::Relaxed)
    }

    /// Records that `caller`'s backend shares misses within the process only.
    pub(crate) fn set_per_process_only(&self, caller: Caller) {
        self.per_process_only[caller as usize].store(true, Ordering::Relaxed);
    }
}

/// A sync caller inside a tokio runtime blocks one of its threads while it waits, maybe
/// the one an async leader needs to finish.
fn would_block_its_runtime(caller: Caller, leader: Caller) -> bool {
    caller == Caller::Sync
        && leader == Caller::Async
        && tokio::runtime::Handle::try_current().is_ok()
}

fn id_of(flight: &Arc<Flight>) -> FlightId {
    Arc::as_ptr(flight) as FlightId
}

fn is_led_here(flight: FlightId) -> bool {
    let by_thread = LED_BY_THIS_THREAD
        .try_with(|led| led.try_borrow().is_ok_and(|led| led.contains(&flight)))
        .unwrap_or(false);
    by_thread
        || LED_BY_THIS_CALL_CHAIN
            .try_with(|led| led.contains(&flight))
            .unwrap_or(false)
}

impl Drop for PendingRefresh {
    fn drop(&mut self) {
        self.refreshes.lock().remove(&self.key);
    }
}

impl Flight {
    /// Settles the flight with `outcome`, unless it settled already (a reset).
    fn publish(&self, outcome: Outcome) {
        {
            let mut settled = self.outcome.lock();
            if settled.is_some() {
                return;
            }
            *settled = Some(outcome);
        }
        self.done.notify_all();
        self.notify.notify_waiters();
    }
}

impl Follower {
    /// Blocks until the leader settles.
    pub(crate) fn wait_blocking(&self) -> Outcome {
        let mut outcome = self.flight.outcome.lock();
        loop {
            if let Some(settled) = &*outcome {
                return settled.clone();
            }
            self.flight.done.wait(&mut outcome);
        }
    }

    /// Waits until the leader settles.
    pub(crate) async fn wait(&self) -> Outcome {
        loop {
            // Registered before checking, so a settle in between still wakes us.
            let mut notified = pin!(self.flight.notify.notified());
            notified.as_mut().enable();
            if let Some(settled) = &*self.flight.outcome.lock() {
                return settled.clone();
            }
            notified.await;
        }
    }
}

impl Leader {
    /// Runs the sync function, with this thread marked as leading the flight.
    pub(crate) fn run_sync<R>(&self, body: impl FnOnce() -> R) -> R {
        /// Unmarks the thread also when `body` unwinds.
        struct Marked(FlightId);
        impl Drop for Marked {
            fn drop(&mut self) {
                // Nested leaders unmark in reverse order, so ours is the last one.
                let _ = LED_BY_THIS_THREAD.try_with(|led| {
                    let mut led = led.borrow_mut();
                    if let Some(at) = led.iter().rposition(|id| *id == self.0) {
                        led.remove(at);
                    }
                });
            }
        }
        let id = id_of(&self.flight);
        LED_BY_THIS_THREAD.with(|led| led.borrow_mut().push(id));
        let _marked = Marked(id);
        body()
    }

    /// Runs the async function, with its call chain marked as leading the flight (a
    /// task-local scope: it follows the future from thread to thread).
    pub(crate) async fn run_async<F: Future>(&self, body: F) -> F::Output {
        let mut led = LED_BY_THIS_CALL_CHAIN
            .try_with(Vec::clone)
            .unwrap_or_default();
        led.push(id_of(&self.flight));
        LED_BY_THIS_CALL_CHAIN.scope(led, body).await
    }

    /// Whether the key was reset since this leader joined ([`Flights::reset`]): what it
    /// computed predates the reset and must not be stored.
    pub(crate) fn was_reset(&self) -> bool {
        !self.settled && self.flight.outcome.lock().is_some()
    }

    /// Publishes what the leader stored: [`Outcome::Stored`], or with `None`
    /// [`Outcome::NotStored`].
    pub(crate) fn finish(mut self, stored: Option<Arc<[u8]>>) {
        self.settle(stored.map_or(Outcome::NotStored, Outcome::Stored));
    }

    fn settle(&mut self, outcome: Outcome) {
        self.settled = true;
        // Leave the map first: a caller arriving from now on reads the cache (where the
        // value already is) or starts a new flight; it never joins a settled one.
        {
            let mut map = self.map.lock();
            if map
                .get(&self.key)
                .is_some_and(|flight| Arc::ptr_eq(flight, &self.flight))
            {
                map.remove(&self.key);
            }
        }
        self.flight.publish(outcome);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(Outcome::Abandoned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(join: Join) -> Leader {
        match join {
            Join::Leader(leader) => leader,
            _ => panic!("expected to lead"),
        }
    }

    fn follower(join: Join) -> Follower {
        match join {
            Join::Follower(follower) => follower,
            _ => panic!("expected to follow"),
        }
    }

    #[test]
    fn followers_get_the_leaders_value() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        let waiting = follower(flights.join("k", Caller::Sync));
        let waiter = std::thread::spawn(move || waiting.wait_blocking());
        lead.finish(Some(Arc::from(&b"v"[..])));
        assert_eq!(
            waiter.join().unwrap(),
            Outcome::Stored(Arc::from(&b"v"[..]))
        );
        leader(flights.join("k", Caller::Sync));
    }

    #[test]
    fn a_leader_with_nothing_stored_says_so() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        let waiting = follower(flights.join("k", Caller::Sync));
        lead.finish(None);
        assert_eq!(waiting.wait_blocking(), Outcome::NotStored);
    }

    #[test]
    fn a_dropped_leader_abandons_its_flight() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        let waiting = follower(flights.join("k", Caller::Sync));
        drop(lead);
        assert_eq!(waiting.wait_blocking(), Outcome::Abandoned);
    }

    #[test]
    fn a_join_inside_the_leaders_function_is_reentry() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        lead.run_sync(|| {
            assert!(matches!(flights.join("k", Caller::Sync), Join::RunAlone));
            assert!(matches!(
                flights.join("other", Caller::Sync),
                Join::Leader(_)
            ));
        });
        assert!(
            matches!(flights.join("k", Caller::Sync), Join::Follower(_)),
            "unmarked after"
        );
    }

    #[tokio::test]
    async fn async_reentry_follows_the_call_chain_not_the_task() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        lead.run_async(async {
            assert!(matches!(flights.join("k", Caller::Sync), Join::RunAlone));
        })
        .await;
        assert!(matches!(flights.join("k", Caller::Sync), Join::Follower(_)));
    }

    #[tokio::test]
    async fn a_sync_join_inside_a_runtime_runs_alone_rather_than_wait_for_an_async_leader() {
        let flights = Flights::default();
        let _lead = leader(flights.join("k", Caller::Async));
        assert!(matches!(flights.join("k", Caller::Sync), Join::RunAlone));
        assert!(matches!(
            flights.join("k", Caller::Async),
            Join::Follower(_)
        ));
        let outside = std::thread::scope(|scope| {
            scope
                .spawn(|| matches!(flights.join("k", Caller::Sync), Join::Follower(_)))
                .join()
        });
        assert!(outside.unwrap(), "a plain thread may block");
    }

    #[tokio::test]
    async fn async_followers_wake() {
        let flights = Flights::default();
        let lead = leader(flights.join("k", Caller::Sync));
        let waiting = follower(flights.join("k", Caller::Sync));
        let waiter = tokio::spawn(async move { waiting.wait().await });
        tokio::task::yield_now().await;
        lead.finish(None);
        assert_eq!(waiter.await.unwrap(), Outcome::NotStored);
    }
}
