//! A custom backend: a store of your own behind cachify, with only the three required
//! methods (`get`, `set`, `delete`) implemented.
//!
//! Locks, `#[once]` and pools work on it through the provided methods' defaults; this
//! store overrides nothing else. Run with `cargo run --example custom_backend`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachify::{AsyncClient, BackendError, Cachify, SyncClient};

/// A map with expiry; clones share the map, so one store can serve both sides.
#[derive(Clone, Default)]
struct ExpiringMap {
    entries: Arc<Mutex<Entries>>,
}

type Entries = HashMap<String, (Vec<u8>, Option<Instant>)>;

impl ExpiringMap {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the map half-written: every change is one call.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live(&self, key: &str, now: Instant) -> Option<Vec<u8>> {
        let entries = self.lock();
        let (value, deadline) = entries.get(key)?;
        deadline
            .is_none_or(|deadline| deadline > now)
            .then(|| value.clone())
    }
}

impl SyncClient for ExpiringMap {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.live(key, Instant::now()))
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let now = Instant::now();
        let mut entries = self.lock();
        // `nx` must be atomic: the check and the insert happen under one lock.
        let present = entries
            .get(key)
            .is_some_and(|(_, deadline)| deadline.is_none_or(|deadline| deadline > now));
        if nx && present {
            return Ok(false);
        }
        entries.insert(key.to_owned(), (value.to_vec(), ttl.map(|ttl| now + ttl)));
        Ok(true)
    }

    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut entries = self.lock();
        Ok(keys
            .iter()
            .filter(|key| entries.remove(**key).is_some())
            .count() as u64)
    }
}

// The store never blocks for long, so the async side calls the sync one.
#[async_trait]
impl AsyncClient for ExpiringMap {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        SyncClient::get(self, key)
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        SyncClient::set(self, key, value, ttl, nx)
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        SyncClient::delete(self, keys)
    }
}

fn main() -> Result<(), cachify::Error> {
    let store = ExpiringMap::default();
    let cachify = Cachify::builder()
        .prefix("CUSTOM-")
        .sync_client(store.clone())
        .async_client(store)
        .build();
    let client = cachify.sync_client();

    client.set(
        &cachify.cache_key("answer"),
        b"42",
        Some(Duration::from_secs(60)),
        false,
    )?;
    let answer = client.get(&cachify.cache_key("answer"))?;
    println!("cached: {:?}", answer.map(String::from_utf8));

    // Provided methods work on top of the three required ones.
    let lock = cachify.lock_key("job");
    assert!(client.set(&lock, b"me", Some(Duration::from_secs(30)), true)?);
    assert!(!client.delete_if_equals(&lock, b"someone else")?);
    assert!(client.delete_if_equals(&lock, b"me")?);

    let pool = cachify.pool_key("workers");
    assert!(client.pool_acquire(&pool, "slot-1", 1, Some(Duration::from_secs(60)))?);
    assert!(
        !client.pool_acquire(&pool, "slot-2", 1, None)?,
        "max_size = 1"
    );
    client.pool_release(&pool, "slot-1")?;
    println!("pool size after release: {}", client.pool_size(&pool)?);
    Ok(())
}
