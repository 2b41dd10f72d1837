//! The circuit breaker: a server that timed out or refused a connection is skipped until
//! it answers again, so a hung Redis costs one timeout, not one per call.
//!
//! - A failure that says nothing about the server's health (a wrong type, a script
//!   error) never trips it; a timeout, a refused connection or a lost connection does.
//! - While a route is open, [`Breaker::check`] fails at once, naming the failure that
//!   opened it. The caller that tripped it starts **one** probe (see
//!   [`Core`](super::client::Core)), which asks the server every probe interval and closes
//!   the route on its first answer: full service returns within a probe interval (or the
//!   moment a hung server answers the probe already waiting on it).
//! - A route is the whole server for a [`RedisClient`](super::RedisClient) and one node
//!   on Redis Cluster (the one serving the key's slot, see [`hash_slots`](super::hash_slots)), so
//!   a hung node costs one timeout and does not cut off the slots of the others.
//! - The hot path, with every route closed, is one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::BackendError;

/// What one breaker state covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// The one server of a standalone client.
    Server,
    /// One cluster node, by its index in the client's [`SlotOwners`](super::hash_slots::SlotOwners).
    #[cfg(feature = "redis-cluster")]
    Node(u32),
    /// One hash slot of a cluster whose node is not known yet.
    #[cfg(feature = "redis-cluster")]
    Slot(u16),
}

pub(crate) struct Breaker {
    enabled: bool,
    /// How many routes are open: zero on the hot path.
    open: AtomicUsize,
    /// The open routes, with the failure that opened each.
    trips: Mutex<HashMap<Route, Arc<str>>>,
}

impl Breaker {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            open: AtomicUsize::new(0),
            trips: Mutex::new(HashMap::new()),
        }
    }

    /// Fails at once while `route` is open.
    #[inline]
    pub(crate) fn check(&self, route: Route) -> Result<(), BackendError> {
        // ordering: a stale zero only lets one more call through to the server, which
        // then fails (or succeeds) on its own; the map is the source of truth.
        if self.open.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        self.check_open(route)
    }

    #[cold]
    fn check_open(&self, route: Route) -> Result<(), BackendError> {
        match self.trips.lock().get(&route) {
            None => Ok(()),
            // Nothing was sent: an acquisition skipped here leaves nothing to give back.
            Some(cause) => Err(BackendError::unsent(format!(
                "skipped until redis answers again; it failed with: {cause}"
            ))),
        }
    }

    /// Opens `route` after `cause`; returns `true` when it was closed, so the caller
    /// starts the one probe of this trip.
    pub(crate) fn trip(&self, route: Route, cause: &dyn std::fmt::Display) -> bool {
        if !self.enabled {
            return false;
        }
        let mut trips = self.trips.lock();
        if trips.contains_key(&route) {
            return false;
        }
        trips.insert(route, cause.to_string().into());
        self.open.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Closes `route`: the server answered the probe.
    pub(crate) fn close(&self, route: Route) {
        if self.trips.lock().remove(&route).is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trip_opens_the_route_once_and_the_probe_closes_it() {
        let breaker = Breaker::new(true);
        assert!(breaker.check(Route::Server).is_ok());
        assert!(breaker.trip(Route::Server, &"response timed out"));
        assert!(!breaker.trip(Route::Server, &"again"), "one probe per trip");
        let skipped = breaker.check(Route::Server).unwrap_err().to_string();
        assert!(skipped.contains("response timed out"), "{skipped}");
        breaker.close(Route::Server);
        assert!(breaker.check(Route::Server).is_ok());
        assert_eq!(breaker.open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_disabled_breaker_never_opens() {
        let breaker = Breaker::new(false);
        assert!(!breaker.trip(Route::Server, &"refused"));
        assert!(breaker.check(Route::Server).is_ok());
    }
}
