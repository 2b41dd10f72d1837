// The backend conformance suite: what every built-in backend promises through
// `SyncClient` / `AsyncClient`, whatever stores the data. Included by one binary per
// backend (`tests/backend_memory.rs`, `tests/backend_redis.rs`, ...), each defining
// `fn backend() -> support::Backend`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cachify::Cachify;

/// A fresh instance and a key of its own (prefixed, so tests never collide).
fn fixture(test: &str) -> (Cachify, String) {
    let cachify = backend().instance(test);
    let key = cachify.cache_key("k");
    (cachify, key)
}

/// Polls `condition` until it holds, for at most `patience`.
fn eventually(patience: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn set_get_and_delete_round_trip_binary_values() {
    let (cachify, key) = fixture("round-trip");
    let client = cachify.sync_client();
    let garbage = [0u8, 0xff, 0xfe, b'\r', b'\n', 0x80, 0];
    assert_eq!(client.get(&key).unwrap(), None);
    assert!(client.set(&key, &garbage, None, false).unwrap());
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&garbage[..]));
    assert!(client.set(&key, b"", None, false).unwrap());
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b""[..]), "empty is a value");
    let other = cachify.cache_key("other");
    client.set(&other, b"x", None, false).unwrap();
    assert_eq!(client.delete(&[&key, &other, "absent-key"]).unwrap(), 2);
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn nx_admits_exactly_one_of_many_threads() {
    let (cachify, _) = fixture("nx-threads");
    const THREADS: usize = 16;
    for round in 0..5 {
        let key = cachify.lock_key(&format!("round-{round}"));
        let barrier = Arc::new(Barrier::new(THREADS));
        let winners: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (cachify, key, barrier) = (&cachify, &key, Arc::clone(&barrier));
                    scope.spawn(move || {
                        barrier.wait();
                        let token = format!("token-{thread}");
                        cachify
                            .sync_client()
                            .set(key, token.as_bytes(), Some(Duration::from_secs(30)), true)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(winners, 1, "round {round}");
    }
}

#[test]
fn values_expire_after_their_ttl() {
    let (cachify, key) = fixture("expiry");
    let client = cachify.sync_client();
    assert!(client.set(&key, b"v", Some(Duration::from_millis(60)), false).unwrap());
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"v"[..]));
    let left = client.remaining_ttl(&key).unwrap();
    assert!(left.is_some_and(|left| left <= Duration::from_millis(60)), "{left:?}");
    assert!(eventually(Duration::from_secs(5), || client.get(&key).unwrap().is_none()));
    assert!(client.set(&key, b"w", None, true).unwrap(), "an expired value does not block nx");
    assert_eq!(client.remaining_ttl(&key).unwrap(), None, "no expiry");
}

#[test]
fn a_sub_millisecond_ttl_still_expires_and_is_accepted() {
    let (cachify, key) = fixture("sub-ms");
    let client = cachify.sync_client();
    assert!(client.set(&key, b"v", Some(Duration::from_micros(10)), false).unwrap());
    assert!(eventually(Duration::from_secs(5), || client.get(&key).unwrap().is_none()));
}

#[test]
fn compare_and_delete_deletes_only_the_owners_value() {
    let (cachify, key) = fixture("cad");
    let client = cachify.sync_client();
    client.set(&key, b"mine", Some(Duration::from_secs(30)), true).unwrap();
    assert!(!client.delete_if_equals(&key, b"yours").unwrap());
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"mine"[..]));
    assert!(client.delete_if_equals(&key, b"mine").unwrap());
    assert_eq!(client.get(&key).unwrap(), None);
    assert!(!client.delete_if_equals(&key, b"mine").unwrap(), "already gone");
}

#[test]
fn extend_resets_the_expiry_of_the_owner_only() {
    let (cachify, key) = fixture("extend");
    let client = cachify.sync_client();
    client.set(&key, b"mine", Some(Duration::from_secs(2)), true).unwrap();
    assert!(!client.expire_if_equals(&key, b"yours", Some(Duration::from_secs(60))).unwrap());
    assert!(client.remaining_ttl(&key).unwrap().unwrap() <= Duration::from_secs(2));
    assert!(client.expire_if_equals(&key, b"mine", Some(Duration::from_secs(60))).unwrap());
    let left = client.remaining_ttl(&key).unwrap().unwrap();
    assert!(left > Duration::from_secs(30), "{left:?}");
    assert!(client.expire_if_equals(&key, b"mine", None).unwrap());
    assert_eq!(client.remaining_ttl(&key).unwrap(), None, "persisted");
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"mine"[..]));
    assert!(!client.expire_if_equals("absent", b"mine", None).unwrap());
}

#[test]
fn a_pool_admits_at_most_max_size_of_many_threads() {
    let (cachify, _) = fixture("pool-bound");
    let key = cachify.pool_key("p");
    const THREADS: usize = 16;
    const MAX: usize = 3;
    let barrier = Arc::new(Barrier::new(THREADS));
    let admitted: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (cachify, key, barrier) = (&cachify, &key, Arc::clone(&barrier));
                scope.spawn(move || {
                    let token = format!("slot-{thread}");
                    barrier.wait();
                    let ok = cachify
                        .sync_client()
                        .pool_acquire(key, &token, MAX, Some(Duration::from_secs(30)))
                        .unwrap();
                    ok.then_some(token)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(admitted.len(), MAX);
    let client = cachify.sync_client();
    assert_eq!(client.pool_size(&key).unwrap(), MAX);
    assert!(!client.pool_acquire(&key, "late", MAX, None).unwrap());
    assert!(client.pool_release(&key, &admitted[0]).unwrap());
    assert!(!client.pool_release(&key, &admitted[0]).unwrap(), "released twice");
    assert_eq!(client.pool_size(&key).unwrap(), MAX - 1);
    assert!(client.pool_acquire(&key, "late", MAX, None).unwrap());
    assert_eq!(client.pool_size(&key).unwrap(), MAX);
}

#[test]
fn pool_slots_expire_by_themselves() {
    let (cachify, _) = fixture("pool-expiry");
    let key = cachify.pool_key("p");
    let client = cachify.sync_client();
    assert!(client.pool_acquire(&key, "crashed", 1, Some(Duration::from_millis(60))).unwrap());
    assert!(!client.pool_acquire(&key, "next", 1, None).unwrap());
    assert!(eventually(Duration::from_secs(5), || client.pool_size(&key).unwrap() == 0));
    assert!(client.pool_acquire(&key, "next", 1, None).unwrap());
    assert_eq!(client.pool_size(&key).unwrap(), 1);
    assert_eq!(client.pool_size(&cachify.pool_key("empty")).unwrap(), 0);
}

#[test]
fn a_release_wakes_a_watcher_on_another_thread() {
    let (cachify, _) = fixture("watch");
    let key = cachify.lock_key("l");
    let client = cachify.sync_client();
    client.set(&key, b"holder", Some(Duration::from_secs(30)), true).unwrap();
    let mut watch = client.watch(&key).expect("built-in backends can notify");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            assert!(cachify.sync_client().delete_if_equals(&key, b"holder").unwrap());
        });
    });
    assert!(watch.wait_blocking(Duration::from_secs(10)), "woken by the release");
}

#[test]
fn a_forced_delete_and_a_pool_release_wake_watchers_too() {
    let (cachify, _) = fixture("watch-delete");
    let lock = cachify.lock_key("l");
    let pool = cachify.pool_key("p");
    let client = cachify.sync_client();
    client.set(&lock, b"holder", None, true).unwrap();
    client.pool_acquire(&pool, "slot", 1, None).unwrap();
    let mut lock_watch = client.watch(&lock).unwrap();
    let mut pool_watch = client.watch(&pool).unwrap();
    client.delete(&[&lock]).unwrap();
    client.pool_release(&pool, "slot").unwrap();
    assert!(lock_watch.wait_blocking(Duration::from_secs(10)));
    assert!(pool_watch.wait_blocking(Duration::from_secs(10)));
}

#[test]
fn a_key_of_the_wrong_type_is_a_backend_error() {
    let (cachify, key) = fixture("wrong-type");
    let client = cachify.sync_client();
    client.set(&key, b"plain", None, false).unwrap();
    assert!(client.pool_acquire(&key, "slot", 2, None).is_err());
    assert!(client.pool_size(&key).is_err());
    let pool = cachify.pool_key("p");
    client.pool_acquire(&pool, "slot", 2, None).unwrap();
    let error = client.get(&pool).unwrap_err();
    let error: cachify::Error = error.into();
    assert!(matches!(error, cachify::Error::Backend(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_side_keeps_the_same_contract() {
    let (cachify, key) = fixture("async");
    let client = cachify.async_client();
    assert!(client.set(&key, b"v", Some(Duration::from_secs(30)), true).await.unwrap());
    assert!(!client.set(&key, b"w", None, true).await.unwrap());
    assert_eq!(client.get(&key).await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(client.remaining_ttl(&key).await.unwrap().is_some());
    assert!(client.expire_if_equals(&key, b"v", None).await.unwrap());
    assert_eq!(client.remaining_ttl(&key).await.unwrap(), None);
    let mut watch = client.watch(&key).await.unwrap();
    let releaser = {
        let cachify = cachify.clone();
        let key = key.clone();
        tokio::spawn(async move { cachify.async_client().delete_if_equals(&key, b"v").await })
    };
    assert!(releaser.await.unwrap().unwrap());
    assert!(watch.wait(Duration::from_secs(10)).await, "woken by the release");
    let pool = cachify.pool_key("p");
    assert!(client.pool_acquire(&pool, "a", 1, None).await.unwrap());
    assert!(!client.pool_acquire(&pool, "b", 1, None).await.unwrap());
    assert_eq!(client.pool_size(&pool).await.unwrap(), 1);
    assert!(client.pool_release(&pool, "a").await.unwrap());
    assert_eq!(client.delete(&[&key]).await.unwrap(), 0);
}

#[test]
fn sync_and_async_sides_see_the_same_entries() {
    let (cachify, key) = fixture("shared-sides");
    cachify.sync_client().set(&key, b"from-sync", None, false).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen = runtime.block_on(cachify.async_client().get(&key)).unwrap();
    assert_eq!(seen.as_deref(), Some(&b"from-sync"[..]));
}
