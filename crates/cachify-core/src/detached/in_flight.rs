//! Releases handed to the releaser and not finished yet, by client and storage key.
//!
//! A sync guard dropped inside async code hands its release over instead of blocking a
//! runtime worker. So that this never shows the program a lock or slot it has already
//! dropped, every later lock or pool call of this process on the same key first waits
//! for those releases: `drop(guard); lock.is_locked()` still answers `false`, on every
//! backend. Calls with nothing in flight pay one atomic load.
//!
//! Only the same client's releases are waited for (two instances with one prefix on
//! different backends share storage keys, not locks), and an acquire waits no longer
//! than its own timeout allows: a release stuck on a hung server then shows as a held
//! lock, which is what the server would answer anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

use crate::instance::Cachify;

/// A release's place: the identity of its instance's client, and its storage key.
type Place = (usize, String);

fn place(cachify: &Cachify, key: &str) -> Place {
    (cachify.client_id(), key.to_owned())
}

/// How many releases are in flight, per client and storage key.
struct Registry {
    keys: Mutex<HashMap<Place, usize>>,
    /// Wakes sync waiters when a release finishes.
    finished: Condvar,
    /// Wakes async waiters when a release finishes.
    notify: Notify,
    /// The sum of `keys`' counts: the fast path when nothing is in flight.
    total: AtomicUsize,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    keys: Mutex::new(HashMap::new()),
    finished: Condvar::new(),
    notify: Notify::new(),
    total: AtomicUsize::new(0),
});

/// One release in flight; finished when dropped (also if its task is dropped).
pub(crate) struct InFlight {
    place: Place,
}

impl InFlight {
    /// Registers a release of `key` on `cachify`'s client, before it is handed over.
    pub(crate) fn begin(cachify: &Cachify, key: &str) -> Self {
        let registry = &*REGISTRY;
        let place = place(cachify, key);
        *registry.keys.lock().entry(place.clone()).or_default() += 1;
        // ordering: counted after the entry exists, so a waiter that sees the count
        // also finds the entry.
        registry.total.fetch_add(1, Ordering::Release);
        Self { place }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let registry = &*REGISTRY;
        {
            let mut keys = registry.keys.lock();
            if let Some(count) = keys.get_mut(&self.place) {
                *count -= 1;
                if *count == 0 {
                    keys.remove(&self.place);
                }
            }
            registry.total.fetch_sub(1, Ordering::Release);
        }
        registry.finished.notify_all();
        registry.notify.notify_waiters();
    }
}

/// How long an acquire waits for releases in flight on its key: a `nowait` one briefly
/// (a release on a healthy server takes a round trip), others for their `timeout`.
pub(crate) fn release_patience(nowait: bool, timeout: Option<Duration>) -> Option<Duration> {
    if nowait {
        Some(NOWAIT_PATIENCE)
    } else {
        timeout
    }
}

/// The longest a `nowait` acquire waits for a release in flight.
const NOWAIT_PATIENCE: Duration = Duration::from_millis(200);

/// Blocks until no release of `key` on `cachify`'s client is in flight, or for at most
/// `within` (`None`: no bound).
pub(crate) fn wait_blocking(cachify: &Cachify, key: &str, within: Option<Duration>) {
    let registry = &*REGISTRY;
    if registry.total.load(Ordering::Acquire) == 0 {
        return;
    }
    let place = place(cachify, key);
    let deadline = within.and_then(|within| Instant::now().checked_add(within));
    let mut keys = registry.keys.lock();
    while keys.contains_key(&place) {
        match deadline {
            Some(deadline) => {
                if registry
                    .finished
                    .wait_until(&mut keys, deadline)
                    .timed_out()
                {
                    return;
                }
            }
            None => registry.finished.wait(&mut keys),
        }
    }
}

/// Waits until no release of `key` on `cachify`'s client is in flight, or for at most
/// `within` (`None`: no bound).
pub(crate) async fn wait(cachify: &Cachify, key: &str, within: Option<Duration>) {
    if REGISTRY.total.load(Ordering::Acquire) == 0 {
        return;
    }
    let place = place(cachify, key);
    // The bound runs on the releaser's timer: the caller's runtime may have none.
    match within.and_then(super::releaser::sleep) {
        Some(bound) => {
            tokio::select! {
                () = wait_for(&place) => {}
                () = bound => {}
            }
        }
        None => wait_for(&place).await,
    }
}

async fn wait_for(place: &Place) {
    let registry = &*REGISTRY;
    loop {
        if registry.total.load(Ordering::Acquire) == 0 {
            return;
        }
        let finished = registry.notify.notified();
        tokio::pin!(finished);
        // Registered before the check, so a release finishing in between still wakes us.
        finished.as_mut().enable();
        if !registry.keys.lock().contains_key(place) {
            return;
        }
        finished.await;
    }
}
