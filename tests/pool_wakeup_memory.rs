//! A blocking waiter is woken by a release, not by its poll (memory backend).
//!
//! The client wraps `MemoryClient` and reports each refused admission, so the test
//! releases only once the waiter is known to be watching (it watches before attempting).

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachify::backend::ReleaseWatch;
use cachify::{BackendError, Cachify, MemoryClient, SyncClient};

struct ReportsRefusals {
    inner: MemoryClient,
    refused: Mutex<mpsc::Sender<()>>,
}

impl SyncClient for ReportsRefusals {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.get(key)
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        self.inner.set(key, value, ttl, nx)
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.inner.delete(keys)
    }
    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.inner.remaining_ttl(key)
    }
    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let admitted = self.inner.pool_acquire(key, token, max_size, slot_ttl)?;
        if !admitted {
            let _ = self.refused.lock().unwrap().send(());
        }
        Ok(admitted)
    }
    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.inner.pool_release(key, token)
    }
    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.inner.pool_size(key)
    }
    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        SyncClient::watch(&self.inner, key)
    }
}

#[test]
fn a_release_wakes_a_blocking_waiter() {
    let (refused_tx, refused_rx) = mpsc::channel();
    let cachify = Cachify::builder()
        .sync_client(ReportsRefusals {
            inner: MemoryClient::new(),
            refused: Mutex::new(refused_tx),
        })
        .lock_poll_interval(Duration::from_secs(10))
        .build();
    let pool = cachify.pool("p", 1);
    let held = pool.acquire().unwrap();
    let waiter = {
        let pool = pool.clone().nowait(false).timeout(Duration::from_secs(30));
        std::thread::spawn(move || {
            let slot = pool.acquire()?;
            let admitted_at = Instant::now();
            drop(slot);
            Ok::<_, cachify::Error>(admitted_at)
        })
    };
    refused_rx.recv().unwrap();
    let released_at = Instant::now();
    held.release().unwrap();
    let admitted_at = waiter.join().unwrap().unwrap();
    let latency = admitted_at - released_at;
    assert!(latency < Duration::from_secs(1), "woken after {latency:?}");
}

/// A crashed holder's slot frees itself silently; the waiter sleeps no longer than the
/// soonest slot expiry, although its poll interval is 10 s.
#[test]
fn a_blocking_waiter_wakes_when_the_soonest_slot_expires() {
    let cachify = Cachify::builder()
        .lock_poll_interval(Duration::from_secs(10))
        .build();
    let pool = cachify.pool("p", 2);
    let _long = pool
        .clone()
        .slot_exp(Duration::from_secs(600))
        .acquire()
        .unwrap();
    std::mem::forget(
        pool.clone()
            .slot_exp(Duration::from_millis(200))
            .acquire()
            .unwrap(),
    );
    let started = Instant::now();
    let slot = pool
        .clone()
        .nowait(false)
        .timeout(Duration::from_secs(30))
        .acquire();
    assert!(slot.is_ok());
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "waited {waited:?} for a 200 ms slot"
    );
}
