//! Releases handed to the releaser and not finished yet, by client and storage key, and
//! in all (what [`flush_releases`](crate::flush_releases) waits for).
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
//!
//! Each release is also counted for the thread that handed it off, and a thread that
//! ends waits a little for its own ([`THREAD_END_WAIT`]): when that thread is `main`'s,
//! this runs as the process exits (where the platform runs the main thread's
//! thread-local destructors, as glibc's `exit` does), so that guards dropped in the last
//! instants of `main` are usually released without a flush. Best effort only: the
//! documented way is [`flush_releases`](crate::flush_releases).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

use crate::instance::Cachify;

/// A release's place: the identity of its instance's client, and its storage key.
type Place = (usize, String);

fn place(cachify: &Cachify, key: &str) -> Place {
    (cachify.client_id(), key.to_owned())
}

/// How many releases are in flight, per client and storage key, and in all.
struct Registry {
    keys: Mutex<HashMap<Place, usize>>,
    /// Wakes sync waiters when a release finishes.
    finished: Condvar,
    /// Wakes async waiters when a release finishes.
    notify: Notify,
    /// Every release in flight, keyed or not: the fast path when nothing is in flight,
    /// and what a flush waits for.
    total: AtomicUsize,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    keys: Mutex::new(HashMap::new()),
    finished: Condvar::new(),
    notify: Notify::new(),
    total: AtomicUsize::new(0),
});

/// How long a thread that ends waits for the releases it handed off: long enough for a
/// round trip to a healthy server, short enough not to hold up an exit noticeably when
/// the server is down.
const THREAD_END_WAIT: Duration = Duration::from_secs(1);

/// The releases one thread handed off that are not finished yet; waited for (up to
/// [`THREAD_END_WAIT`]) when the thread ends.
#[derive(Default)]
struct ThreadHandoffs(Arc<AtomicUsize>);

thread_local! {
    static HANDOFFS: ThreadHandoffs = ThreadHandoffs::default();
}

impl Drop for ThreadHandoffs {
    fn drop(&mut self) {
        let pending = &self.0;
        let none_left = |_: &HashMap<Place, usize>| pending.load(Ordering::Acquire) == 0;
        if !none_left(&HashMap::new())
            && !wait_blocking_until(none_left, Instant::now().checked_add(THREAD_END_WAIT))
        {
            tracing::warn!(target: crate::events::TARGET, "a thread ended before the releases it handed off were done; they may expire instead");
        }
    }
}

/// One release in flight; finished when dropped (also if its task is dropped).
pub(crate) struct InFlight {
    /// Where later calls wait on it; `None`: only a flush waits for it.
    place: Option<Place>,
    /// The count of the thread that handed it off (none while that thread's
    /// thread-locals are being destroyed).
    handoffs: Option<Arc<AtomicUsize>>,
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
        Self {
            place: Some(place),
            handoffs: Self::count_for_this_thread(),
        }
    }

    /// Registers a release that later calls on its key need not wait for (one whose
    /// claim was never confirmed), so that only a flush waits for it.
    pub(crate) fn begin_unkeyed() -> Self {
        REGISTRY.total.fetch_add(1, Ordering::Release);
        Self {
            place: None,
            handoffs: Self::count_for_this_thread(),
        }
    }

    fn count_for_this_thread() -> Option<Arc<AtomicUsize>> {
        HANDOFFS
            .try_with(|handoffs| {
                handoffs.0.fetch_add(1, Ordering::Release);
                Arc::clone(&handoffs.0)
            })
            .ok()
    }
}

impl InFlight {
    /// Later calls on the key stop waiting for this release (a flush still does): one
    /// that keeps failing is retried for seconds, and their own calls would fail anyway.
    pub(crate) fn unkey(&mut self) {
        if self.place.is_none() {
            return;
        }
        let registry = &*REGISTRY;
        Self::unregister(&mut registry.keys.lock(), self.place.take());
        registry.finished.notify_all();
        registry.notify.notify_waiters();
    }

    fn unregister(keys: &mut HashMap<Place, usize>, place: Option<Place>) {
        if let Some(place) = place {
            if let Some(count) = keys.get_mut(&place) {
                *count -= 1;
                if *count == 0 {
                    keys.remove(&place);
                }
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let registry = &*REGISTRY;
        {
            let mut keys = registry.keys.lock();
            Self::unregister(&mut keys, self.place.take());
            registry.total.fetch_sub(1, Ordering::Release);
            if let Some(handoffs) = &self.handoffs {
                handoffs.fetch_sub(1, Ordering::Release);
            }
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
    if none() {
        return;
    }
    let place = place(cachify, key);
    let deadline = within.and_then(|within| Instant::now().checked_add(within));
    wait_blocking_until(|keys| !keys.contains_key(&place), deadline);
}

/// Waits until no release of `key` on `cachify`'s client is in flight, or for at most
/// `within` (`None`: no bound).
pub(crate) async fn wait(cachify: &Cachify, key: &str, within: Option<Duration>) {
    if none() {
        return;
    }
    let place = place(cachify, key);
    let done = |keys: &HashMap<Place, usize>| !keys.contains_key(&place);
    // The bound runs on the releaser's timer: the caller's runtime may have none.
    match within.and_then(super::releaser::sleep) {
        Some(bound) => {
            tokio::select! {
                () = wait_until(done) => {}
                () = bound => {}
            }
        }
        None => wait_until(done).await,
    }
}

/// Whether no release at all is in flight.
pub(crate) fn none() -> bool {
    REGISTRY.total.load(Ordering::Acquire) == 0
}

/// Blocks until no release at all is in flight, or until `deadline` (`None`: no
/// deadline); whether none is.
pub(crate) fn wait_all_blocking(deadline: Option<Instant>) -> bool {
    wait_blocking_until(|_| none(), deadline)
}

/// Waits until no release at all is in flight.
pub(crate) async fn wait_all() {
    wait_until(|_| none()).await;
}

/// Blocks until `done(keys)`, re-checked whenever a release finishes, or until
/// `deadline` (`None`: no deadline); whether it is done.
fn wait_blocking_until(
    done: impl Fn(&HashMap<Place, usize>) -> bool,
    deadline: Option<Instant>,
) -> bool {
    let registry = &*REGISTRY;
    let mut keys = registry.keys.lock();
    while !done(&keys) {
        match deadline {
            None => registry.finished.wait(&mut keys),
            Some(deadline) => {
                if registry
                    .finished
                    .wait_until(&mut keys, deadline)
                    .timed_out()
                {
                    return done(&keys);
                }
            }
        }
    }
    true
}

/// Waits until `done(keys)`, re-checked whenever a release finishes.
async fn wait_until(done: impl Fn(&HashMap<Place, usize>) -> bool) {
    let registry = &*REGISTRY;
    loop {
        let finished = registry.notify.notified();
        tokio::pin!(finished);
        // Registered before the check, so a release finishing in between still wakes us.
        finished.as_mut().enable();
        if done(&registry.keys.lock()) {
            return;
        }
        finished.await;
    }
}
