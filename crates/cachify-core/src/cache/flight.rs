//! Single-flight: concurrent misses on one key, in one process, run the function once.
//!
//! The first caller to [`Flights::join`] a key becomes its [`Leader`]; later callers get
//! the [`Flight`] and wait for its outcome, blocking (sync functions) or awaiting (async
//! functions). The leader publishes the encoded value it stored, or nothing (an `Err`
//! result, an encoding failure).
//!
//! A waiter never hangs: publishing happens in `Leader`'s `Drop` when the leader did not
//! finish, so a leader that panics (the unwind drops it) or whose future is dropped
//! (cancellation drops it) publishes "no value", and the waiters go back to the cache
//! lookup, where one of them becomes the next leader. Waiting uses a condvar and a tokio
//! `Notify`, neither tied to a runtime, so an instance in a `static` serves any number
//! of runtimes in turn.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

type FlightMap = Mutex<HashMap<String, Arc<Flight>, foldhash::fast::RandomState>>;

/// The flights in progress on one instance, by storage key.
#[derive(Default)]
pub(crate) struct Flights {
    map: Arc<FlightMap>,
}

/// What joining a key made of the caller.
pub(crate) enum Join {
    /// Run the function and [`Leader::finish`] with what was stored.
    Leader(Leader),
    /// Someone else is running it: wait on this flight.
    Follower(Arc<Flight>),
}

/// One in-progress computation that followers wait on.
#[derive(Default)]
pub(crate) struct Flight {
    /// `None` while running; then `Some(Some(bytes))` or `Some(None)` (no value).
    outcome: Mutex<Option<Option<Arc<[u8]>>>>,
    done: Condvar,
    notify: Notify,
}

/// The caller that runs the function for a key. Dropping it unfinished publishes "no
/// value", which sends the followers back to the cache.
pub(crate) struct Leader {
    map: Arc<FlightMap>,
    key: String,
    flight: Arc<Flight>,
    settled: bool,
}

impl Flights {
    /// Joins the flight for `key`, starting it if there is none.
    pub(crate) fn join(&self, key: &str) -> Join {
        let mut map = self.map.lock();
        if let Some(flight) = map.get(key) {
            return Join::Follower(Arc::clone(flight));
        }
        let flight = Arc::new(Flight::default());
        map.insert(key.to_owned(), Arc::clone(&flight));
        Join::Leader(Leader {
            map: Arc::clone(&self.map),
            key: key.to_owned(),
            flight,
            settled: false,
        })
    }
}

impl Flight {
    /// Blocks until the leader settles; its stored bytes, or `None` (look again).
    pub(crate) fn wait_blocking(&self) -> Option<Arc<[u8]>> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(settled) = &*outcome {
                return settled.clone();
            }
            self.done.wait(&mut outcome);
        }
    }

    /// Waits until the leader settles; its stored bytes, or `None` (look again).
    pub(crate) async fn wait(&self) -> Option<Arc<[u8]>> {
        loop {
            // Registered before checking, so a settle in between still wakes us.
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if let Some(settled) = &*self.outcome.lock() {
                return settled.clone();
            }
            notified.await;
        }
    }
}

impl Leader {
    /// Publishes what the leader stored (`None`: nothing cacheable).
    pub(crate) fn finish(mut self, stored: Option<Arc<[u8]>>) {
        self.settle(stored);
    }

    fn settle(&mut self, stored: Option<Arc<[u8]>>) {
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
        *self.flight.outcome.lock() = Some(stored);
        self.flight.done.notify_all();
        self.flight.notify.notify_waiters();
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(join: Join) -> Leader {
        match join {
            Join::Leader(leader) => leader,
            Join::Follower(_) => panic!("expected to lead"),
        }
    }

    fn follower(join: Join) -> Arc<Flight> {
        match join {
            Join::Follower(flight) => flight,
            Join::Leader(_) => panic!("expected to follow"),
        }
    }

    #[test]
    fn followers_get_the_leaders_value() {
        let flights = Flights::default();
        let lead = leader(flights.join("k"));
        let flight = follower(flights.join("k"));
        let waiter = std::thread::spawn(move || flight.wait_blocking());
        lead.finish(Some(Arc::from(&b"v"[..])));
        assert_eq!(waiter.join().unwrap().as_deref(), Some(&b"v"[..]));
        leader(flights.join("k"));
    }

    #[test]
    fn a_dropped_leader_releases_its_followers() {
        let flights = Flights::default();
        let lead = leader(flights.join("k"));
        let flight = follower(flights.join("k"));
        drop(lead);
        assert_eq!(flight.wait_blocking(), None);
    }

    #[tokio::test]
    async fn async_followers_wake() {
        let flights = Flights::default();
        let lead = leader(flights.join("k"));
        let flight = follower(flights.join("k"));
        let waiter = tokio::spawn(async move { flight.wait().await });
        tokio::task::yield_now().await;
        lead.finish(None);
        assert_eq!(waiter.await.unwrap(), None);
    }
}
