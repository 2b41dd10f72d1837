//! The one background thread that reclaims the expired entries of every live memory
//! store, so memory stays bounded under churn even for keys that are never touched
//! again.
//!
//! The thread starts with the first store and exits at its first sweep that finds no
//! store left (every `MemoryClient` dropped); the next store starts a new one. Whether
//! it runs is decided under one lock, so a store registered while the thread exits
//! starts its successor.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::store::Store;

const PERIOD: Duration = Duration::from_millis(100);

/// A reaper: the stores it sweeps and whether its thread runs.
pub(super) struct Reaper {
    state: Mutex<State>,
    /// Signalled when the thread exits.
    stopped: Condvar,
}

struct State {
    stores: Vec<Weak<Store>>,
    running: bool,
}

/// The reaper of every `MemoryClient`.
pub(super) static REAPER: Reaper = Reaper::new();

impl Reaper {
    const fn new() -> Self {
        Self {
            state: Mutex::new(State {
                stores: Vec::new(),
                running: false,
            }),
            stopped: Condvar::new(),
        }
    }

    /// Sweeps `store` from now on, starting the thread if it is not running.
    pub(super) fn register(&'static self, store: &Arc<Store>) {
        let mut state = self.state.lock();
        state.stores.push(Arc::downgrade(store));
        if state.running {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("cachify-memory-reaper".into())
            .spawn(move || self.run());
        match spawned {
            Ok(_) => state.running = true,
            // Reads still hide expired entries and writes still reclaim some; only the
            // sweep of never-touched keys is lost (retried by the next store).
            Err(error) => {
                tracing::warn!(target: crate::events::TARGET, %error, "cannot start the memory reaper thread");
            }
        }
    }

    fn run(&self) {
        loop {
            std::thread::sleep(PERIOD);
            let live: Vec<Arc<Store>> = {
                let mut state = self.state.lock();
                state.stores.retain(|store| store.strong_count() > 0);
                if state.stores.is_empty() {
                    state.running = false;
                    self.stopped.notify_all();
                    return;
                }
                state.stores.iter().filter_map(Weak::upgrade).collect()
            };
            for store in live {
                store.sweep();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_REAPER: Reaper = Reaper::new();

    #[test]
    fn the_thread_exits_when_no_store_is_left_and_restarts_with_the_next() {
        for _ in 0..2 {
            let store = Arc::new(Store::new(crate::MemoryCapacity::default()));
            TEST_REAPER.register(&store);
            assert!(TEST_REAPER.state.lock().running);
            drop(store);
            let mut state = TEST_REAPER.state.lock();
            let timed_out = TEST_REAPER
                .stopped
                .wait_while_for(&mut state, |state| state.running, Duration::from_secs(30))
                .timed_out();
            assert!(!timed_out, "the reaper thread did not exit");
        }
    }
}
