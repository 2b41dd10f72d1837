//! Release notifications: how a waiter learns that a lock or pool slot was freed.
//!
//! A [`ReleaseHub`] maps storage keys to signals. A waiter takes a [`ReleaseWatch`]
//! *before* it tries to acquire, so a release that lands between the failed attempt and
//! the wait is not lost: the watch remembers the generation it started from and returns
//! at once when it has moved. Backends call [`ReleaseHub::notify`] after a release
//! (the memory backend in-process, the Redis backend from its pub/sub listener).
//! A watch is only a hint to retry early; engines keep polling as the fallback.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// Signals shared by everyone watching one key.
#[derive(Default)]
struct Signal {
    generation: Mutex<u64>,
    condvar: Condvar,
    notify: Notify,
}

impl Signal {
    fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    fn fire(&self) {
        *self.generation.lock() += 1;
        self.condvar.notify_all();
        self.notify.notify_waiters();
    }
}

/// A registry of release signals, keyed by storage key.
///
/// Custom backends that can observe releases (their own, or another process's through
/// some channel) hold one, return [`ReleaseHub::watch`] from their `watch` method and call
/// [`ReleaseHub::notify`] when a key is released.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::backend::ReleaseHub;
///
/// let hub = ReleaseHub::new();
/// let mut watch = hub.watch("lock:a");
/// hub.notify("lock:a");
/// assert!(watch.wait_blocking(Duration::from_secs(5)));
/// ```
#[derive(Default)]
pub struct ReleaseHub {
    signals: Mutex<HashMap<String, Weak<Signal>>>,
}

impl ReleaseHub {
    /// An empty hub.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let hub = cachify::backend::ReleaseHub::new();
    /// assert!(!hub.is_watched("lock:a"));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts watching `key`: the returned watch sees every [`notify`](Self::notify) of
    /// `key` made from now on.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let hub = cachify::backend::ReleaseHub::new();
    /// let mut watch = hub.watch("lock:a"); // before the attempt it may have to retry
    /// hub.notify("lock:a");
    /// assert!(watch.wait_blocking(Duration::from_secs(5)));
    /// ```
    pub fn watch(&self, key: &str) -> ReleaseWatch {
        let mut signals = self.signals.lock();
        let signal = match signals.get(key).and_then(Weak::upgrade) {
            Some(signal) => signal,
            None => {
                // Dead entries are dropped here, at most once per doubling of the map,
                // so the hub stays as large as the set of keys being watched.
                if signals.len() >= 64 && signals.len().is_power_of_two() {
                    signals.retain(|_, signal| signal.strong_count() > 0);
                }
                let signal = Arc::new(Signal::default());
                signals.insert(key.to_owned(), Arc::downgrade(&signal));
                signal
            }
        };
        drop(signals);
        let seen = signal.generation();
        ReleaseWatch { signal, seen }
    }

    /// Wakes everyone watching `key`. Cheap when nobody is.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let hub = cachify::backend::ReleaseHub::new();
    /// let mut a = hub.watch("lock:a");
    /// let mut b = hub.watch("lock:b");
    /// hub.notify("lock:a");
    /// assert!(a.wait_blocking(Duration::from_secs(5)));
    /// assert!(!b.wait_blocking(Duration::from_millis(1)), "only watchers of the key wake");
    /// ```
    pub fn notify(&self, key: &str) {
        let signal = {
            let mut signals = self.signals.lock();
            match signals.get(key).map(Weak::upgrade) {
                Some(Some(signal)) => signal,
                Some(None) => {
                    signals.remove(key);
                    return;
                }
                None => return,
            }
        };
        signal.fire();
    }

    /// Whether anyone is watching `key` now.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let hub = cachify::backend::ReleaseHub::new();
    /// let watch = hub.watch("lock:a");
    /// assert!(hub.is_watched("lock:a"));
    /// drop(watch);
    /// assert!(!hub.is_watched("lock:a"));
    /// ```
    pub fn is_watched(&self, key: &str) -> bool {
        self.signals
            .lock()
            .get(key)
            .is_some_and(|signal| signal.strong_count() > 0)
    }
}

impl fmt::Debug for ReleaseHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseHub")
            .field("keys", &self.signals.lock().len())
            .finish()
    }
}

/// One waiter's view of a key's releases, from a [`ReleaseHub`].
///
/// Each wait returns `true` when a release happened since the watch was made (or since
/// the previous wait returned `true`), `false` when the timeout passed first.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::backend::ReleaseHub;
///
/// let hub = ReleaseHub::new();
/// let mut watch = hub.watch("pool:api");
/// assert!(!watch.wait_blocking(Duration::from_millis(1)), "nothing released yet");
/// hub.notify("pool:api");
/// assert!(watch.wait_blocking(Duration::from_secs(5)));
/// ```
pub struct ReleaseWatch {
    signal: Arc<Signal>,
    seen: u64,
}

impl ReleaseWatch {
    /// Blocks the thread until a release or the timeout.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let hub = Arc::new(cachify::backend::ReleaseHub::new());
    /// let mut watch = hub.watch("lock:a");
    /// let releaser = std::thread::spawn({
    ///     let hub = Arc::clone(&hub);
    ///     move || hub.notify("lock:a")
    /// });
    /// assert!(watch.wait_blocking(Duration::from_secs(5)));
    /// releaser.join().unwrap();
    /// ```
    pub fn wait_blocking(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let signal = Arc::clone(&self.signal);
        let mut generation = signal.generation.lock();
        while *generation == self.seen {
            if signal
                .condvar
                .wait_until(&mut generation, deadline)
                .timed_out()
            {
                break;
            }
        }
        let generation = *generation;
        self.observe(generation)
    }

    /// Waits, without blocking the thread, until a release or the timeout.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let hub = cachify::backend::ReleaseHub::new();
    /// let mut watch = hub.watch("lock:a");
    /// hub.notify("lock:a");
    /// assert!(watch.wait(Duration::from_secs(5)).await);
    /// assert!(!watch.wait(Duration::from_millis(1)).await, "each release is seen once");
    /// # }
    /// ```
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let signal = Arc::clone(&self.signal);
        loop {
            let notified = signal.notify.notified();
            tokio::pin!(notified);
            // Registering before reading the generation closes the window in which a
            // release could fire between the read and the await.
            notified.as_mut().enable();
            let generation = signal.generation();
            if generation != self.seen {
                return self.observe(generation);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let generation = signal.generation();
                return self.observe(generation);
            }
        }
    }

    /// Waits, with no time limit and no timer, until a release: for a caller that races
    /// it against a timer of its choosing.
    pub(crate) async fn released(&mut self) {
        let signal = Arc::clone(&self.signal);
        loop {
            let notified = signal.notify.notified();
            tokio::pin!(notified);
            // Registered before the read, as in `wait`.
            notified.as_mut().enable();
            let generation = signal.generation();
            if self.observe(generation) {
                return;
            }
            notified.await;
        }
    }

    fn observe(&mut self, generation: u64) -> bool {
        let released = generation != self.seen;
        self.seen = generation;
        released
    }
}

impl fmt::Debug for ReleaseWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseWatch")
            .field("seen", &self.seen)
            .finish()
    }
}
