//! Releases handed to the releaser and not finished yet, by storage key, and in all
//! (what [`flush_releases`](crate::flush_releases) waits for).
//!
//! A sync guard dropped inside async code hands its release over instead of blocking a
//! runtime worker. So that this never shows the program a lock or slot it has already
//! dropped, every later lock or pool call of this process on the same key first waits
//! for those releases: `drop(guard); lock.is_locked()` still answers `false`, on every
//! backend. Calls with nothing in flight pay one atomic load.
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

/// How many releases are in flight, per storage key and in all.
struct Registry {
    keys: Mutex<HashMap<String, usize>>,
    /// Wakes sync waiters when a release finishes.
    finished: Condvar,
    /// Wakes async waiters when a release finishes.
    notify: Notify,
    /// Every release in flight, keyed or not: the fast path when nothing is in flight.
    /// Only lowered with `keys` locked, so that a sync waiter cannot miss the wake-up.
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
        let none_left = || pending.load(Ordering::Acquire) == 0;
        if !none_left()
            && !wait_blocking_until(none_left, Instant::now().checked_add(THREAD_END_WAIT))
        {
            tracing::warn!(target: crate::events::TARGET, "a thread ended before the releases it handed off were done; they may expire instead");
        }
    }
}

/// One release in flight; finished when dropped (also if its task is dropped).
pub(crate) struct InFlight {
    /// The key later calls wait on; `None`: only a flush waits for it.
    key: Option<String>,
    /// The count of the thread that handed it off (none while that thread's
    /// thread-locals are being destroyed).
    handoffs: Option<Arc<AtomicUsize>>,
}

impl InFlight {
    /// Registers a release of `key`, before it is handed over.
    pub(crate) fn begin(key: &str) -> Self {
        let registry = &*REGISTRY;
        *registry.keys.lock().entry(key.to_owned()).or_default() += 1;
        // ordering: counted after the entry exists, so a waiter that sees the count
        // also finds the entry.
        registry.total.fetch_add(1, Ordering::Release);
        Self {
            key: Some(key.to_owned()),
            handoffs: Self::count_for_this_thread(),
        }
    }

    /// Registers a release that later calls on its key need not wait for (one whose
    /// claim was never confirmed), so that only a flush waits for it.
    pub(crate) fn begin_unkeyed() -> Self {
        REGISTRY.total.fetch_add(1, Ordering::Release);
        Self {
            key: None,
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

impl Drop for InFlight {
    fn drop(&mut self) {
        let registry = &*REGISTRY;
        {
            let mut keys = registry.keys.lock();
            if let Some(key) = &self.key {
                if let Some(count) = keys.get_mut(key) {
                    *count -= 1;
                    if *count == 0 {
                        keys.remove(key);
                    }
                }
            }
            registry.total.fetch_sub(1, Ordering::Release);
            if let Some(handoffs) = &self.handoffs {
                handoffs.fetch_sub(1, Ordering::Release);
            }
        }
        registry.finished.notify_all();
        registry.notify.notify_waiters();
    }
}

fn in_flight(keys: &HashMap<String, usize>, key: &str) -> bool {
    keys.contains_key(key)
}

/// Blocks until no release of `key` is in flight.
pub(crate) fn wait_blocking(key: &str) {
    let registry = &*REGISTRY;
    if registry.total.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut keys = registry.keys.lock();
    while in_flight(&keys, key) {
        registry.finished.wait(&mut keys);
    }
}

/// Waits until no release of `key` is in flight.
pub(crate) async fn wait(key: &str) {
    let registry = &*REGISTRY;
    loop {
        if registry.total.load(Ordering::Acquire) == 0 {
            return;
        }
        let finished = registry.notify.notified();
        tokio::pin!(finished);
        // Registered before the check, so a release finishing in between still wakes us.
        finished.as_mut().enable();
        if !in_flight(&registry.keys.lock(), key) {
            return;
        }
        finished.await;
    }
}

/// Whether no release at all is in flight.
pub(crate) fn none() -> bool {
    REGISTRY.total.load(Ordering::Acquire) == 0
}

/// Blocks until no release at all is in flight, or until `deadline` (`None`: no
/// deadline); whether none is.
pub(crate) fn wait_all_blocking(deadline: Option<Instant>) -> bool {
    wait_blocking_until(none, deadline)
}

/// Blocks until `done()`, re-checked whenever a release finishes, or until `deadline`
/// (`None`: no deadline); whether it is done.
fn wait_blocking_until(done: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
    let registry = &*REGISTRY;
    let mut keys = registry.keys.lock();
    while !done() {
        match deadline {
            None => registry.finished.wait(&mut keys),
            Some(deadline) => {
                if registry
                    .finished
                    .wait_until(&mut keys, deadline)
                    .timed_out()
                {
                    return done();
                }
            }
        }
    }
    true
}

/// Waits until no release at all is in flight.
pub(crate) async fn wait_all() {
    let registry = &*REGISTRY;
    loop {
        let finished = registry.notify.notified();
        tokio::pin!(finished);
        // Registered before the check, so a release finishing in between still wakes us.
        finished.as_mut().enable();
        if none() {
            return;
        }
        finished.await;
    }
}
