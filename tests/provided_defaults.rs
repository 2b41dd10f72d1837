//! The provided methods' defaults, on a client that implements only the three required
//! methods: they give locks and pools what they need.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachify::{AsyncClient, BackendError, SyncClient};
use parking_lot::Mutex;

/// get / set(nx, ttl) / delete over a map, expiry honoured on read. Nothing else.
#[derive(Default)]
struct ThreeMethods(Mutex<Entries>);

/// key → (value, deadline).
type Entries = HashMap<String, (Vec<u8>, Option<Instant>)>;

impl ThreeMethods {
    fn live(map: &Entries, key: &str) -> Option<Vec<u8>> {
        map.get(key)
            .filter(|(_, deadline)| deadline.is_none_or(|d| d > Instant::now()))
            .map(|(value, _)| value.clone())
    }
}

impl SyncClient for ThreeMethods {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(Self::live(&self.0.lock(), key))
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let mut map = self.0.lock();
        if nx && Self::live(&map, key).is_some() {
            return Ok(false);
        }
        map.insert(
            key.to_owned(),
            (value.to_vec(), ttl.map(|ttl| Instant::now() + ttl)),
        );
        Ok(true)
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut map = self.0.lock();
        Ok(keys
            .iter()
            .filter(|key| map.remove(**key).is_some())
            .count() as u64)
    }
}

#[async_trait]
impl AsyncClient for ThreeMethods {
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

#[test]
fn compare_and_delete_and_extend_by_default() {
    let client = ThreeMethods::default();
    SyncClient::set(
        &client,
        "lock",
        b"mine",
        Some(Duration::from_secs(1)),
        false,
    )
    .unwrap();
    assert!(!SyncClient::delete_if_equals(&client, "lock", b"theirs").unwrap());
    assert!(!SyncClient::expire_if_equals(&client, "lock", b"theirs", None).unwrap());
    assert!(SyncClient::expire_if_equals(&client, "lock", b"mine", None).unwrap());
    assert!(SyncClient::delete_if_equals(&client, "lock", b"mine").unwrap());
    assert_eq!(SyncClient::get(&client, "lock").unwrap(), None);
    assert_eq!(SyncClient::remaining_ttl(&client, "lock").unwrap(), None);
    assert!(
        SyncClient::watch(&client, "lock").is_none(),
        "no notifications: waiters poll"
    );
}

#[test]
fn default_pool_never_admits_more_than_max_size_under_contention() {
    let client = Arc::new(ThreeMethods::default());
    let barrier = Arc::new(Barrier::new(8));
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, barrier, holders, most) = (
                client.clone(),
                barrier.clone(),
                holders.clone(),
                most.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let mut admitted = 0;
                for n in 0..100 {
                    let token = format!("{t}-{n}");
                    if SyncClient::pool_acquire(&*client, "pool", &token, 3, None).unwrap() {
                        let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        holders.fetch_sub(1, Ordering::SeqCst);
                        assert!(SyncClient::pool_release(&*client, "pool", &token).unwrap());
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(admitted > 0);
    assert!(
        most.load(Ordering::SeqCst) <= 3,
        "{} holders",
        most.load(Ordering::SeqCst)
    );
    assert_eq!(SyncClient::pool_size(&*client, "pool").unwrap(), 0);
}

#[test]
fn default_pool_slots_expire() {
    let client = ThreeMethods::default();
    assert!(SyncClient::pool_acquire(
        &client,
        "pool",
        "crashed",
        1,
        Some(Duration::from_millis(30))
    )
    .unwrap());
    assert!(!SyncClient::pool_acquire(&client, "pool", "next", 1, None).unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !SyncClient::pool_acquire(&client, "pool", "next", 1, None).unwrap() {
        assert!(Instant::now() < deadline, "the crashed slot never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(SyncClient::pool_size(&client, "pool").unwrap(), 1);
}

#[tokio::test]
async fn default_async_pool_and_compare_and_delete() {
    let client = ThreeMethods::default();
    assert!(AsyncClient::pool_acquire(&client, "pool", "a", 1, None)
        .await
        .unwrap());
    assert!(!AsyncClient::pool_acquire(&client, "pool", "b", 1, None)
        .await
        .unwrap());
    assert_eq!(AsyncClient::pool_size(&client, "pool").await.unwrap(), 1);
    assert!(AsyncClient::pool_release(&client, "pool", "a")
        .await
        .unwrap());
    assert_eq!(AsyncClient::pool_size(&client, "pool").await.unwrap(), 0);
    AsyncClient::set(&client, "lock", b"me", None, false)
        .await
        .unwrap();
    assert!(AsyncClient::delete_if_equals(&client, "lock", b"me")
        .await
        .unwrap());
}

#[test]
fn a_pool_key_holding_garbage_is_a_backend_error() {
    let client = ThreeMethods::default();
    SyncClient::set(&client, "pool", b"not a slot set", None, false).unwrap();
    assert!(SyncClient::pool_acquire(&client, "pool", "t", 1, None).is_err());
    assert!(SyncClient::pool_size(&client, "pool").is_err());
}

#[tokio::test]
async fn deleting_by_pattern_is_unsupported_by_default_and_says_so() {
    let cachify = cachify::Cachify::builder()
        .sync_client(ThreeMethods::default())
        .async_client(ThreeMethods::default())
        .build();
    let key = cachify.cache_key("report-1");
    cachify.sync_client().set(&key, b"v", None, false).unwrap();
    for error in [
        cachify.delete_matching("report-*").unwrap_err(),
        cachify.delete_matching_async("report-*").await.unwrap_err(),
    ] {
        assert!(matches!(error, cachify::Error::Backend(_)), "{error:?}");
        assert!(
            error.to_string().contains("cannot delete by pattern"),
            "{error}"
        );
    }
    assert!(cachify.sync_client().get(&key).unwrap().is_some());
}
