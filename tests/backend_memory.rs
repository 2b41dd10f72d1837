//! The backend conformance suite on `MemoryClient`, then what only the memory store
//! promises: reclamation of expired entries, sharding, expiries beyond the clock's range,
//! a capacity.

mod support;

fn backend() -> support::Backend {
    support::Backend::Memory
}

include!("suites/backend.rs");

/// A bounded store: capacity, eviction order, pinned locks and pools.
mod capacity {
    include!("suites/memory_capacity.rs");
}

/// `MemoryClient` itself: atomic set-if-absent, expiry, reclamation, sharding, atomic
/// primitives.
mod memory_store {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::{Duration, Instant};

    use cachify::MemoryClient;
    // Only the blocking trait is in scope for method calls; the async one is named in full.
    use cachify::SyncClient as _;

    #[test]
    fn set_nx_has_exactly_one_winner_among_many_threads() {
        let client = MemoryClient::new();
        for round in 0..50 {
            let key = format!("contended-{round}");
            let barrier = Arc::new(Barrier::new(16));
            let winners = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..16)
                .map(|i| {
                    let (client, barrier, winners, key) = (
                        client.clone(),
                        barrier.clone(),
                        winners.clone(),
                        key.clone(),
                    );
                    thread::spawn(move || {
                        barrier.wait();
                        if client.set(&key, &[i], None, true).unwrap() {
                            winners.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(winners.load(Ordering::SeqCst), 1, "round {round}");
        }
    }

    #[test]
    fn set_without_nx_overwrites_and_nx_respects_live_values_only() {
        let client = MemoryClient::new();
        assert!(client.set("k", b"a", None, false).unwrap());
        assert!(client.set("k", b"b", None, false).unwrap());
        assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"b"[..]));
        assert!(client
            .set("short", b"x", Some(Duration::from_millis(20)), false)
            .unwrap());
        wait_until(|| client.get("short").unwrap().is_none());
        assert!(
            client.set("short", b"y", None, true).unwrap(),
            "an expired value does not block nx"
        );
    }

    #[test]
    fn expiry_is_honoured_on_every_read() {
        let client = MemoryClient::new();
        let ttl = Duration::from_millis(30);
        client.set("k", b"v", Some(ttl), false).unwrap();
        // The deadline was fixed inside `set`, so it is no later than this instant plus ttl.
        let expired_by = Instant::now() + ttl;
        loop {
            let read_started = Instant::now();
            let value = client.get("k").unwrap();
            if read_started >= expired_by {
                assert_eq!(
                    value, None,
                    "a read that starts after the deadline sees nothing"
                );
                break;
            }
        }
        assert_eq!(client.remaining_ttl("k").unwrap(), None);
        assert_eq!(
            client.delete(&["k"]).unwrap(),
            0,
            "an expired key does not count as deleted"
        );
    }

    #[test]
    fn expired_entries_are_reclaimed_without_being_read() {
        let client = MemoryClient::new();
        for i in 0..200_000 {
            client
                .set(
                    &format!("churn-{i}"),
                    b"v",
                    Some(Duration::from_millis(50)),
                    false,
                )
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.len() > 1_000 {
            assert!(Instant::now() < deadline, "still {} entries", client.len());
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn live_entries_are_kept() {
        let client = MemoryClient::new();
        for i in 0..1_000 {
            client
                .set(
                    &format!("live-{i}"),
                    b"v",
                    Some(Duration::from_secs(600)),
                    false,
                )
                .unwrap();
        }
        assert_eq!(client.len(), 1_000);
    }

    #[test]
    fn delete_counts_existing_keys() {
        let client = MemoryClient::new();
        client.set("a", b"1", None, false).unwrap();
        client.set("b", b"2", None, false).unwrap();
        assert_eq!(client.delete(&["a", "b", "c"]).unwrap(), 2);
        assert!(client.is_empty());
    }

    #[test]
    fn compare_and_delete_only_removes_the_owners_value() {
        let client = MemoryClient::new();
        client.set("lock", b"mine", None, false).unwrap();
        assert!(!client.delete_if_equals("lock", b"theirs").unwrap());
        assert_eq!(client.get("lock").unwrap().as_deref(), Some(&b"mine"[..]));
        assert!(client.delete_if_equals("lock", b"mine").unwrap());
        assert!(!client.delete_if_equals("lock", b"mine").unwrap());
    }

    #[test]
    fn extend_if_owner_moves_the_deadline_only_for_the_owner() {
        let client = MemoryClient::new();
        client
            .set("lease", b"me", Some(Duration::from_millis(200)), false)
            .unwrap();
        assert!(!client
            .expire_if_equals("lease", b"other", Some(Duration::from_secs(60)))
            .unwrap());
        assert!(client.remaining_ttl("lease").unwrap().unwrap() <= Duration::from_millis(200));
        assert!(client
            .expire_if_equals("lease", b"me", Some(Duration::from_secs(60)))
            .unwrap());
        assert!(client.remaining_ttl("lease").unwrap().unwrap() > Duration::from_secs(50));
        assert!(client.expire_if_equals("lease", b"me", None).unwrap());
        assert_eq!(client.remaining_ttl("lease").unwrap(), None, "persisted");
        assert!(client.get("lease").unwrap().is_some());
    }

    #[test]
    fn pool_slots_are_bounded_released_and_expire() {
        let client = MemoryClient::new();
        assert!(client.pool_acquire("pool", "a", 2, None).unwrap());
        assert!(client
            .pool_acquire("pool", "b", 2, Some(Duration::from_millis(30)))
            .unwrap());
        assert!(!client.pool_acquire("pool", "c", 2, None).unwrap());
        assert_eq!(client.pool_size("pool").unwrap(), 2);
        wait_until(|| client.pool_size("pool").unwrap() == 1);
        assert!(
            client.pool_acquire("pool", "c", 2, None).unwrap(),
            "the expired slot's place"
        );
        assert!(client.pool_release("pool", "a").unwrap());
        assert!(!client.pool_release("pool", "a").unwrap());
        assert!(client.pool_release("pool", "c").unwrap());
        assert_eq!(client.pool_size("pool").unwrap(), 0);
        assert!(client.is_empty(), "an empty pool leaves no entry behind");
    }

    #[test]
    fn plain_values_and_pools_do_not_mix() {
        let client = MemoryClient::new();
        client.set("plain", b"v", None, false).unwrap();
        assert!(client.pool_acquire("plain", "t", 1, None).is_err());
        assert!(client.pool_size("plain").is_err());
        client.pool_acquire("pool", "t", 1, None).unwrap();
        assert!(client.get("pool").is_err());
    }

    #[test]
    fn a_release_wakes_a_watcher() {
        let client = MemoryClient::new();
        client.set("held", b"token", None, false).unwrap();
        let mut watch = client.watch("held").expect("memory notifies");
        let releaser = {
            let client = client.clone();
            thread::spawn(move || client.delete_if_equals("held", b"token").unwrap())
        };
        assert!(
            watch.wait_blocking(Duration::from_secs(30)),
            "woken, not timed out"
        );
        assert!(releaser.join().unwrap());
    }

    #[test]
    fn an_expiry_wakes_a_watcher() {
        let client = MemoryClient::new();
        client
            .set("dying", b"token", Some(Duration::from_millis(50)), false)
            .unwrap();
        let mut watch = client.watch("dying").unwrap();
        assert!(
            watch.wait_blocking(Duration::from_secs(30)),
            "the reaper announces the expiry"
        );
        assert_eq!(client.get("dying").unwrap(), None);
    }

    #[test]
    fn threads_on_different_keys_do_not_serialise() {
        // Each thread holds its shard's read lock only for one lookup, and keys spread over
        // shards; this checks the observable part: many threads make progress together.
        let client = MemoryClient::new();
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (client, barrier) = (client.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    for n in 0..10_000 {
                        let key = format!("t{i}-{n}");
                        client.set(&key, b"v", None, false).unwrap();
                        assert!(client.get(&key).unwrap().is_some());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(client.len(), 80_000);
    }

    #[tokio::test]
    async fn the_async_side_shares_the_store() {
        let client = MemoryClient::new();
        cachify::SyncClient::set(&client, "k", b"v", None, false).unwrap();
        assert_eq!(
            cachify::AsyncClient::get(&client, "k")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"v"[..])
        );
        let mut watch = cachify::AsyncClient::watch(&client, "k").await.unwrap();
        let releaser = tokio::spawn({
            let client = client.clone();
            async move { cachify::AsyncClient::delete(&client, &["k"]).await.unwrap() }
        });
        assert!(watch.wait(Duration::from_secs(30)).await);
        assert_eq!(releaser.await.unwrap(), 1);
    }

    fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not reached in time");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Expiries beyond what `Instant` can represent mean "never expires", never a panic.
mod huge_expiries {
    use std::time::Duration;

    use cachify::{Cachify, MemoryClient, SyncClient};

    #[test]
    fn a_duration_max_ttl_never_expires() {
        let client = MemoryClient::new();
        assert!(client.set("k", b"v", Some(Duration::MAX), false).unwrap());
        assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(client.remaining_ttl("k").unwrap(), None, "never expires");
        assert!(client
            .expire_if_equals("k", b"v", Some(Duration::MAX))
            .unwrap());
        assert!(client
            .pool_acquire("pool", "t", 1, Some(Duration::MAX))
            .unwrap());
        assert_eq!(client.pool_size("pool").unwrap(), 1);
    }

    #[test]
    fn a_lock_with_duration_max_exp_is_held_and_released() {
        let cachify = Cachify::builder().build();
        let lock = cachify.lock("job").exp(Duration::MAX);
        let guard = lock.acquire().unwrap();
        assert!(lock.is_locked().unwrap());
        drop(guard);
        assert!(!lock.is_locked().unwrap());
    }

    #[tokio::test]
    async fn the_async_side_takes_duration_max_too() {
        let client = MemoryClient::new();
        let set = cachify::AsyncClient::set(&client, "k", b"v", Some(Duration::MAX), true);
        assert!(set.await.unwrap());
        let cachify = Cachify::builder().async_client(client).build();
        let guard = cachify
            .lock("job")
            .exp(Duration::MAX)
            .acquire_async()
            .await
            .unwrap();
        guard.release_async().await.unwrap();
    }
}
