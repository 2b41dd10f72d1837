// What a bounded `MemoryClient` promises: at most its capacity of cached values, the
// values read lately kept over the others, expired values evicted first, locks and pools
// never evicted. Memory only (no other backend has a capacity of cachify's); included by
// `tests/backend_memory.rs`.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use cachify::{Cachify, Error, MemoryCapacity, MemoryClient, SyncClient};

fn bounded(max_entries: usize) -> MemoryClient {
    MemoryClient::with_capacity(MemoryCapacity::unbounded().max_entries(max_entries)).unwrap()
}

fn is_cached(client: &MemoryClient, key: &str) -> bool {
    client.get(key).unwrap().is_some()
}

#[test]
fn a_flood_of_distinct_keys_keeps_the_store_within_capacity() {
    // 100 times the capacity: what a flood of any size does, in a debug build's time.
    let client = bounded(1_000);
    for i in 0..100_000 {
        client.set(&format!("flood-{i}"), b"value", None, false).unwrap();
        if i % 10_000 == 0 {
            assert!(client.len() <= 1_000, "{} entries after {i} keys", client.len());
        }
    }
    assert_eq!(client.len(), 1_000, "full, not over");
    assert!(is_cached(&client, "flood-99999"), "the newest value is kept");
}

#[test]
fn a_byte_bound_holds_keys_and_values_within_it() {
    // Each entry is charged a 10-byte key twice, a 90-byte value twice (its bytes and
    // its decoded copy) and the bookkeeping the store spends on it: what it costs in
    // memory, not only its payload.
    let weight = MemoryCapacity::ENTRY_OVERHEAD + 2 * 10 + 2 * 90;
    let fits = 100 * 1_000 / weight;
    let client = MemoryClient::with_capacity(MemoryCapacity::unbounded().max_bytes(100_000)).unwrap();
    for i in 0..100_000 {
        client.set(&format!("b-{i:08}"), &[7; 90], None, false).unwrap();
    }
    assert!(client.len() <= fits, "{} entries of {weight} bytes", client.len());
    assert!(client.len() >= fits * 9 / 10, "the bound is used, not wasted: {}", client.len());

    client.set("huge", &[0; 200_000], None, false).unwrap();
    assert!(!is_cached(&client, "huge"), "a value larger than the bound is not kept");
}

#[test]
fn values_read_since_the_last_eviction_are_kept_over_the_others() {
    // Each shard evicts its own values: enough of them per shard (about 100) that
    // every shard has unread ones.
    let client = bounded(6_400);
    for i in 0..6_400 {
        client.set(&format!("old-{i}"), b"v", None, false).unwrap();
    }
    for i in (0..6_400).step_by(2) {
        assert!(is_cached(&client, &format!("old-{i}")));
    }
    for i in 0..3_200 {
        client.set(&format!("new-{i}"), b"v", None, false).unwrap();
    }
    for i in (0..6_400).step_by(2) {
        assert!(is_cached(&client, &format!("old-{i}")), "old-{i} was read: kept");
    }
    assert_eq!(client.len(), 6_400);
}

#[test]
fn expired_values_are_evicted_before_live_ones() {
    let client = bounded(100);
    for i in 0..50 {
        client.set(&format!("live-{i}"), b"v", None, false).unwrap();
    }
    let ttl = Duration::from_millis(1);
    for i in 0..50 {
        client.set(&format!("short-{i}"), b"v", Some(ttl), false).unwrap();
    }
    let expired_by = Instant::now() + ttl;
    while Instant::now() <= expired_by {
        thread::yield_now();
    }
    for i in 0..50 {
        client.set(&format!("new-{i}"), b"v", None, false).unwrap();
    }
    for i in 0..50 {
        assert!(is_cached(&client, &format!("live-{i}")), "live-{i} was evicted");
        assert!(is_cached(&client, &format!("new-{i}")), "new-{i} was not kept");
    }
}

#[test]
fn locks_and_pool_slots_survive_a_flood() {
    let client = bounded(100);
    assert!(client.set("lock:job", b"token", None, true).unwrap());
    assert!(client.set("lock:lease", b"mine", Some(Duration::from_secs(60)), true).unwrap());
    assert!(client.expire_if_equals("lock:lease", b"mine", Some(Duration::from_secs(600))).unwrap());
    assert!(client.pool_acquire("pool:db", "slot-1", 4, None).unwrap());
    for i in 0..10_000 {
        client.set(&format!("flood-{i}"), b"v", None, false).unwrap();
    }
    assert_eq!(client.get("lock:job").unwrap().as_deref(), Some(&b"token"[..]));
    assert_eq!(client.get("lock:lease").unwrap().as_deref(), Some(&b"mine"[..]));
    assert_eq!(client.pool_size("pool:db").unwrap(), 1);
    assert_eq!(client.len(), 100 + 3, "pinned entries are not counted");
}

#[test]
fn a_py_cachify_pool_state_survives_a_flood() {
    // py-cachify's layout keeps a pool as one state value, written with a plain store:
    // were it a cached value, a flood would evict it and the pool would admit anew.
    let capacity = MemoryCapacity::default().max_entries(10);
    let cachify = Cachify::builder()
        .memory_capacity(capacity)
        .unwrap()
        .layout(cachify::instance::Layout::PyCachify)
        .build();
    let pool = cachify.pool("db", 2);
    let slots = (pool.acquire().unwrap(), pool.acquire().unwrap());
    for i in 0..1_000 {
        cachify.sync_client().set(&format!("v-{i}"), b"v", None, false).unwrap();
    }
    assert!(
        matches!(pool.acquire(), Err(Error::PoolFull { .. })),
        "the full pool admits no third holder after the flood"
    );
    assert_eq!(pool.size().unwrap(), 2);
    drop(slots);
}

#[test]
fn the_capacity_applies_to_a_cachify_built_with_it() {
    let capacity = MemoryCapacity::default().max_entries(50);
    let cachify = Cachify::builder().memory_capacity(capacity).unwrap().build();
    let lock = cachify.lock("job");
    let guard = lock.acquire().unwrap();
    let pool = cachify.pool("db", 2);
    let slot = pool.acquire().unwrap();
    for i in 0..5_000 {
        cachify.sync_client().set(&format!("v-{i}"), b"v", None, false).unwrap();
    }
    assert!(lock.is_locked().unwrap(), "the lock survived the flood");
    assert_eq!(pool.size().unwrap(), 1, "the slot survived the flood");
    let cached = (0..5_000)
        .filter(|i| cachify.sync_client().get(&format!("v-{i}")).unwrap().is_some())
        .count();
    assert_eq!(cached, 50);
    drop((guard, slot));
}

#[test]
fn many_threads_flooding_at_once_leave_the_store_within_capacity() {
    let client = bounded(1_000);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, barrier) = (client.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for i in 0..20_000 {
                    client.set(&format!("t{t}-{i}"), b"v", None, false).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    // Two writers that both find the store over its bound may both evict: at most one
    // value per writing thread too few, never one too many.
    let len = client.len();
    assert!((1_000 - 8..=1_000).contains(&len), "{len} entries");
}

#[test]
fn a_zero_bound_is_an_invalid_option() {
    let zero_entries = MemoryCapacity::default().max_entries(0);
    let zero_bytes = MemoryCapacity::default().max_bytes(0);
    assert!(matches!(
        MemoryClient::with_capacity(zero_entries),
        Err(Error::InvalidOption { option: "max_entries", .. })
    ));
    assert!(matches!(
        MemoryClient::with_capacity(zero_bytes),
        Err(Error::InvalidOption { option: "max_bytes", .. })
    ));
    assert!(matches!(
        Cachify::builder().memory_capacity(zero_entries),
        Err(Error::InvalidOption { option: "max_entries", .. })
    ));
    assert_eq!(MemoryClient::new().capacity(), MemoryCapacity::default());
    assert!(MemoryClient::with_capacity(MemoryCapacity::unbounded()).is_ok());
}

#[test]
fn overwrites_deletes_and_expiries_keep_the_count_exact() {
    let client = bounded(100);
    let keys: Vec<String> = (0..100).map(|i| format!("k-{i}")).collect();
    for round in 0..3u8 {
        for key in &keys {
            client.set(key, &[round], None, false).unwrap();
        }
    }
    assert_eq!(client.len(), 100, "overwrites take no extra place");
    let halves: Vec<&str> = keys[..50].iter().map(String::as_str).collect();
    assert_eq!(client.delete(&halves).unwrap(), 50);
    for i in 0..50 {
        client.set(&format!("other-{i}"), b"v", None, false).unwrap();
    }
    assert!(keys[50..].iter().all(|key| is_cached(&client, key)), "deletes freed their place");

    let ttl = Duration::from_millis(1);
    for key in &keys[50..] {
        client.set(key, b"short", Some(ttl), false).unwrap();
    }
    let expired_by = Instant::now() + ttl;
    while Instant::now() <= expired_by {
        thread::yield_now();
    }
    for key in &keys[50..] {
        client.set(key, b"again", None, false).unwrap();
    }
    assert_eq!(client.len(), 100);
    assert!(keys[50..].iter().all(|key| is_cached(&client, key)));
    assert!((0..50).all(|i| is_cached(&client, &format!("other-{i}"))));
}
