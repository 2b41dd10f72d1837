//! Cachify instances: builder defaults, client defaulting, prefixes, error messages.

use std::time::Duration;

use cachify::async_trait;
mod support;
use support::logs::logs_of;

use cachify::{AsyncClient, BackendError, Cachify, Error, MemoryClient, SyncClient};

#[test]
fn builder_defaults_follow_py_cachify() {
    let cachify = Cachify::builder().build();
    assert_eq!(cachify.prefix(), "CACHIFY-");
    assert_eq!(cachify.default_cache_ttl(), None);
    assert_eq!(
        cachify.default_lock_expiration(),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        cachify.default_pool_slot_expiration(),
        Some(Duration::from_secs(600))
    );
    assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(100));
}

#[test]
fn every_option_is_applied() {
    let cachify = Cachify::builder()
        .prefix("APP-")
        .default_cache_ttl(Duration::from_secs(300))
        .default_lock_expiration(None)
        .default_pool_slot_expiration(Duration::from_secs(5))
        .lock_poll_interval(Duration::from_millis(500))
        .build();
    assert_eq!(cachify.prefix(), "APP-");
    assert_eq!(cachify.default_cache_ttl(), Some(Duration::from_secs(300)));
    assert_eq!(cachify.default_lock_expiration(), None);
    assert_eq!(
        cachify.default_pool_slot_expiration(),
        Some(Duration::from_secs(5))
    );
    assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(500));
}

#[test]
fn a_zero_poll_interval_is_raised_so_waiters_never_spin() {
    let cachify = Cachify::builder()
        .lock_poll_interval(Duration::ZERO)
        .build();
    assert_eq!(cachify.lock_poll_interval(), Duration::from_millis(1));
}

#[tokio::test]
async fn without_clients_one_memory_store_serves_both_sides() {
    let cachify = Cachify::builder().build();
    cachify.sync_client().set("k", b"v", None, false).unwrap();
    assert_eq!(
        cachify.async_client().get("k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[tokio::test]
async fn a_memory_client_given_for_one_side_is_shared_with_the_other() {
    let store = MemoryClient::new();
    let cachify = Cachify::builder().sync_client(store.clone()).build();
    SyncClient::set(&store, "k", b"v", None, false).unwrap();
    assert_eq!(
        cachify.async_client().get("k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );

    let store = MemoryClient::new();
    let cachify = Cachify::builder().async_client(store.clone()).build();
    SyncClient::set(&store, "k", b"v", None, false).unwrap();
    assert_eq!(
        cachify.sync_client().get("k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

/// A backend that stores nothing and answers every call with a failure.
struct Broken;

impl SyncClient for Broken {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError::new("down"))
    }
    fn set(&self, _: &str, _: &[u8], _: Option<Duration>, _: bool) -> Result<bool, BackendError> {
        Err(BackendError::new("down"))
    }
    fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
        Err(BackendError::new("down"))
    }
}

#[tokio::test]
async fn another_client_for_one_side_leaves_the_other_on_a_fresh_memory_store() {
    let (cachify, logs) = logs_of(|| Cachify::builder().sync_client(Broken).build());
    assert!(
        logs.contains("WARN") && logs.contains("async"),
        "the lone sync client is pointed out: {logs}"
    );
    assert!(cachify.sync_client().get("k").is_err());
    assert!(cachify
        .async_client()
        .set("k", b"v", None, false)
        .await
        .unwrap());
    assert_eq!(
        cachify.async_client().get("k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn instances_are_independent_and_prefixes_namespace_keys() {
    let store = MemoryClient::new();
    let a = Cachify::builder()
        .prefix("A-")
        .sync_client(store.clone())
        .build();
    let b = Cachify::builder()
        .prefix("B-")
        .sync_client(store.clone())
        .build();
    assert!(!a.same_instance(&b));
    assert!(a.same_instance(&a.clone()));
    assert_ne!(a.cache_key("k"), b.cache_key("k"));
    assert_ne!(a.cache_key("k"), a.lock_key("k"));
    assert_ne!(a.lock_key("k"), a.pool_key("k"));
}

#[test]
fn errors_print_py_cachify_messages() {
    assert_eq!(
        Error::Locked {
            key: "job-1".into()
        }
        .to_string(),
        "job-1 is already locked!"
    );
    assert_eq!(
        Error::PoolFull {
            key: "api".into(),
            max_size: 5
        }
        .to_string(),
        "api is full (max_size=5)"
    );
    assert!(Error::NotInitialized
        .to_string()
        .contains("cachify::init_cachify()"));
    let backend: Error = BackendError::new(std::io::Error::other("refused")).into();
    assert_eq!(backend.to_string(), "backend error: refused");
    let source = std::error::Error::source(&backend).unwrap();
    assert!(source.to_string().contains("refused"));
}

#[test]
fn debug_output_names_the_configuration_not_the_clients() {
    let text = format!("{:?}", Cachify::builder().prefix("DBG-").build());
    assert!(text.contains("DBG-"), "{text}");
    assert!(format!("{:?}", Cachify::builder()).contains("CachifyBuilder"));
}

/// An async backend with only the three required methods.
#[derive(Default)]
struct AsyncMap(parking_lot::Mutex<std::collections::HashMap<String, Vec<u8>>>);

#[async_trait]
impl AsyncClient for AsyncMap {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.0.lock().get(key).cloned())
    }
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        _: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let mut map = self.0.lock();
        if nx && map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_owned(), value.to_vec());
        Ok(true)
    }
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut map = self.0.lock();
        Ok(keys
            .iter()
            .filter(|key| map.remove(**key).is_some())
            .count() as u64)
    }
}

#[test]
fn a_client_for_one_side_is_quiet_when_the_other_side_shares_or_has_its_own() {
    let quiet = |build: fn() -> Cachify| {
        let (_, logs) = logs_of(build);
        assert!(!logs.contains("WARN"), "{logs}");
    };
    quiet(|| Cachify::builder().build());
    quiet(|| Cachify::builder().sync_client(MemoryClient::new()).build());
    quiet(|| Cachify::builder().async_client(MemoryClient::new()).build());
    quiet(|| {
        Cachify::builder()
            .sync_client(Broken)
            .async_client(AsyncMap::default())
            .build()
    });
}

#[tokio::test]
async fn custom_async_clients_plug_in() {
    let (cachify, logs) = logs_of(|| Cachify::builder().async_client(AsyncMap::default()).build());
    assert!(
        logs.contains("WARN") && logs.contains("sync"),
        "the lone async client is pointed out: {logs}"
    );
    assert!(cachify
        .async_client()
        .set("k", b"v", None, true)
        .await
        .unwrap());
    assert!(!cachify
        .async_client()
        .set("k", b"w", None, true)
        .await
        .unwrap());
    assert!(
        cachify.sync_client().get("k").unwrap().is_none(),
        "sync side is separate"
    );
}
