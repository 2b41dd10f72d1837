//! Pools on a custom backend that implements only the three required methods, so every
//! pool operation runs on the traits' default (meta-locked) implementation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachify::{AsyncClient, BackendError, Cachify, Error, SyncClient};

/// Value and deadline per key.
type Entries = HashMap<String, (Vec<u8>, Option<Instant>)>;

/// A map with expiry and an atomic `set(nx)`: exactly py-cachify's client protocol.
#[derive(Clone, Default)]
struct MinimalClient {
    entries: Arc<std::sync::Mutex<Entries>>,
}

impl MinimalClient {
    fn map(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn live(entry: &(Vec<u8>, Option<Instant>)) -> bool {
        entry.1.is_none_or(|deadline| deadline > Instant::now())
    }

    fn get_now(&self, key: &str) -> Option<Vec<u8>> {
        self.map()
            .get(key)
            .filter(|entry| Self::live(entry))
            .map(|entry| entry.0.clone())
    }

    fn set_now(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> bool {
        let mut map = self.map();
        if nx && map.get(key).is_some_and(Self::live) {
            return false;
        }
        let deadline = ttl.map(|ttl| Instant::now() + ttl);
        map.insert(key.to_owned(), (value.to_vec(), deadline));
        true
    }

    fn delete_now(&self, keys: &[&str]) -> u64 {
        let mut map = self.map();
        keys.iter()
            .filter(|key| map.remove(**key).is_some_and(|entry| Self::live(&entry)))
            .count() as u64
    }
}

impl SyncClient for MinimalClient {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.get_now(key))
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.set_now(key, value, ttl, nx))
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        Ok(self.delete_now(keys))
    }
}

#[async_trait]
impl AsyncClient for MinimalClient {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.get_now(key))
    }
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.set_now(key, value, ttl, nx))
    }
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        Ok(self.delete_now(keys))
    }
}

fn instance(poll: Duration) -> (Cachify, MinimalClient) {
    let client = MinimalClient::default();
    let cachify = Cachify::builder()
        .sync_client(client.clone())
        .async_client(client.clone())
        .lock_poll_interval(poll)
        .build();
    (cachify, client)
}

const MAX_SIZE: usize = 3;

#[derive(Default)]
struct Tally {
    inside: AtomicUsize,
    most: AtomicUsize,
    ran: AtomicUsize,
    full: AtomicUsize,
}

impl Tally {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.ran.fetch_add(1, Ordering::SeqCst);
        assert!(now <= MAX_SIZE, "{now} holders at once");
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn refused(&self, error: Error) {
        assert!(
            matches!(
                error,
                Error::PoolFull {
                    max_size: MAX_SIZE,
                    ..
                }
            ),
            "{error}"
        );
        self.full.fetch_add(1, Ordering::SeqCst);
    }

    fn check(&self, attempts: usize) {
        let (ran, full) = (
            self.ran.load(Ordering::SeqCst),
            self.full.load(Ordering::SeqCst),
        );
        assert_eq!(ran + full, attempts);
        assert!(ran > 0);
        assert!(self.most.load(Ordering::SeqCst) <= MAX_SIZE);
    }
}

#[test]
fn default_implementation_never_exceeds_max_size_under_thread_contention() {
    const THREADS: usize = 16;
    const ATTEMPTS: usize = 200;
    let (cachify, client) = instance(Duration::from_millis(100));
    let pool = cachify.pool("shared", MAX_SIZE);
    let tally = Arc::new(Tally::default());
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, tally, start) = (pool.clone(), tally.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..ATTEMPTS {
                    match pool.acquire() {
                        Ok(slot) => {
                            tally.enter();
                            std::thread::yield_now();
                            tally.leave();
                            slot.release().unwrap();
                        }
                        Err(error) => tally.refused(error),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    tally.check(THREADS * ATTEMPTS);
    assert_eq!(pool.size().unwrap(), 0);
    let leftovers: Vec<String> = client.map().keys().cloned().collect();
    assert!(
        client.get_now(&cachify.pool_key("shared")).is_none(),
        "an empty pool is deleted, left: {leftovers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_implementation_never_exceeds_max_size_under_task_contention() {
    const TASKS: usize = 16;
    const ATTEMPTS: usize = 100;
    let (cachify, _client) = instance(Duration::from_millis(100));
    let pool = cachify.pool("shared", MAX_SIZE);
    let tally = Arc::new(Tally::default());
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (pool, tally) = (pool.clone(), tally.clone());
            tokio::spawn(async move {
                for _ in 0..ATTEMPTS {
                    match pool.acquire_async().await {
                        Ok(slot) => {
                            tally.enter();
                            tokio::task::yield_now().await;
                            tally.leave();
                            slot.release_async().await.unwrap();
                        }
                        Err(error) => tally.refused(error),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task panicked");
    }
    tally.check(TASKS * ATTEMPTS);
    assert_eq!(pool.size_async().await.unwrap(), 0);
}

#[test]
fn default_implementation_expires_crashed_holders() {
    let (cachify, _client) = instance(Duration::from_millis(20));
    let pool = cachify.pool("p", 1).slot_exp(Duration::from_millis(200));
    std::mem::forget(pool.acquire().unwrap());
    assert!(matches!(pool.acquire(), Err(Error::PoolFull { .. })));
    assert_eq!(pool.size().unwrap(), 1);
    let waiting = pool.clone().nowait(false).timeout(Duration::from_secs(20));
    let slot = waiting.acquire().expect("the leaked slot expires");
    assert_eq!(pool.size().unwrap(), 1);
    drop(slot);
    assert_eq!(pool.size().unwrap(), 0);
}

#[test]
fn default_implementation_lets_a_waiter_in_after_a_release() {
    let (cachify, _client) = instance(Duration::from_millis(20));
    let pool = cachify.pool("p", 1);
    let held = pool.acquire().unwrap();
    let waiter = {
        let pool = pool.clone().nowait(false).timeout(Duration::from_secs(20));
        std::thread::spawn(move || pool.acquire().map(drop))
    };
    held.release().unwrap();
    waiter
        .join()
        .unwrap()
        .expect("the waiter got the released slot");
    assert_eq!(pool.size().unwrap(), 0);
}
