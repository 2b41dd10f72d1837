// The near cache (`CachifyBuilder::near_cache`), written once against `backend()` and
// included by the cached binaries. On memory only the builder's refusal applies (the other
// tests return at once there); on Redis and Cluster: hits served in the process, and kept
// coherent with the server (`near_cache_coherence.rs`: writes, resets and expiries from
// anywhere; `near_cache_faults.rs`: FLUSHALL, killed tracking connections, a restarted or
// hung server, a failover); bounded. This file holds the helpers the other two use.

mod near_cache {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::LazyLock;
    use std::time::{Duration, Instant};

    use cachify::{cached, codec, Cachify, Error, NearCache, Stats};

    use super::backend;
    use crate::support::Backend;

    /// How long an event that should come at once may take on a loaded machine.
    pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

    /// Whether this binary's backend can take a near cache: the other tests return at
    /// once on memory.
    pub(crate) fn on_redis() -> bool {
        backend() != Backend::Memory
    }

    pub(crate) fn near_instance(test: &str, near: NearCache) -> Cachify {
        backend()
            .builder(test)
            .near_cache(near)
            .expect("a Redis backend takes a near cache")
            .build()
    }

    /// An instance without a near cache on `cachify`'s keys, over connections of its own:
    /// what another process would do.
    pub(crate) fn elsewhere(cachify: &Cachify) -> Cachify {
        backend()
            .builder("elsewhere")
            .prefix(cachify.prefix())
            .build()
    }

    /// Writes `value` under `key` of `cachify` as `#[cached]` stores it.
    pub(crate) fn write<T: serde::Serialize>(cachify: &Cachify, key: &str, value: &T) {
        let bytes = codec::encode(value).unwrap();
        let stored = cachify.sync_client().set(&cachify.cache_key(key), &bytes, None, false);
        stored.expect("the backend stores");
    }

    pub(crate) fn tracking(cachify: &Cachify) -> bool {
        cachify.near_cache_status().expect("a near cache").tracking
    }

    /// Returns once `done` holds; fails the test after [`PATIENCE`].
    pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Calls `call` until one call is a near hit (the fill after a miss races with the
    /// invalidation of the miss's own store, so it may take a few); that call's value.
    pub(crate) fn until_near_hit<T>(mut call: impl FnMut() -> T, stats: impl Fn() -> Stats) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let before = stats().near_hits;
            let value = call();
            if stats().near_hits > before {
                return value;
            }
            assert!(Instant::now() < deadline, "no near hit within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    mod builder {
        use super::*;

        #[test]
        fn a_near_cache_needs_a_redis_backend() {
            let refused = Cachify::builder().near_cache(NearCache::new());
            assert!(matches!(refused, Err(Error::InvalidOption { .. })));
            let memory = Cachify::builder().sync_client(cachify::MemoryClient::new());
            let refused = memory.near_cache(NearCache::new());
            assert!(matches!(refused, Err(Error::InvalidOption { .. })));
            let taken = backend().builder("near-builder").near_cache(NearCache::new());
            assert_eq!(taken.is_ok(), on_redis(), "{backend:?}", backend = backend());
        }

        #[test]
        fn zero_bounds_and_a_zero_check_interval_are_refused() {
            let zeros = [
                NearCache::new().max_entries(0),
                NearCache::new().max_bytes(0),
                NearCache::new().check_interval(Duration::ZERO),
            ];
            for near in zeros {
                let refused = backend().builder("near-zero").near_cache(near);
                assert!(
                    matches!(refused, Err(Error::InvalidOption { .. })),
                    "{near:?}"
                );
            }
        }

        /// A client given after the Redis backend replaces it: a near cache tracking the
        /// Redis backend would not see that client's writes, so there is none.
        #[test]
        fn a_client_given_after_the_redis_backend_drops_the_near_cache() {
            if !on_redis() {
                return;
            }
            let near = backend().builder("near-replaced").near_cache(NearCache::new());
            let replaced = near.unwrap().sync_client(cachify::MemoryClient::new()).build();
            assert!(replaced.near_cache_status().is_none());
        }

        #[test]
        fn an_instance_without_a_near_cache_reports_none() {
            assert!(backend().instance("near-none").near_cache_status().is_none());
        }
    }

    mod hits {
        use super::*;

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-hits", NearCache::new()));

        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Profile {
            id: u64,
            name: String,
            tags: Vec<String>,
        }

        static TEXT_RUNS: AtomicU64 = AtomicU64::new(0);
        static LIST_RUNS: AtomicU64 = AtomicU64::new(0);
        static PROFILE_RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "text-{n}", cachify = C)]
        fn text(n: u64) -> String {
            TEXT_RUNS.fetch_add(1, SeqCst);
            format!("text {n}")
        }

        #[cached(key = "list-{n}", cachify = C)]
        fn list(n: u64) -> Vec<u64> {
            LIST_RUNS.fetch_add(1, SeqCst);
            (0..n).collect()
        }

        #[cached(key = "profile-{id}", cachify = C)]
        async fn profile(id: u64) -> Profile {
            PROFILE_RUNS.fetch_add(1, SeqCst);
            Profile {
                id,
                name: format!("user {id}"),
                tags: vec!["a".into(), "b".into()],
            }
        }

        #[test]
        fn repeats_are_near_hits_of_the_stored_value() {
            if !on_redis() {
                return;
            }
            let first = text(1);
            assert_eq!(TEXT_RUNS.load(SeqCst), 1);
            let stored = C.sync_client().get(&C.cache_key("text-1")).unwrap();
            assert_eq!(stored, Some(codec::encode(&first).unwrap()), "stored as encoded");
            assert_eq!(until_near_hit(|| text(1), text::stats), "text 1");
            let before = text::stats();
            for _ in 0..100 {
                assert_eq!(text(1), "text 1");
            }
            let repeats = text::stats().since(&before);
            assert_eq!((repeats.hits, repeats.misses), (100, 0));
            // At most one invalidation (of the miss's own store) may still be on its way.
            assert!(repeats.near_hits >= 98, "{repeats:?}");
            assert!(C.stats().near_hits >= repeats.near_hits, "counted per instance");
            assert_eq!(TEXT_RUNS.load(SeqCst), 1, "the body ran once");
            let status = C.near_cache_status().unwrap();
            assert!(status.tracking && status.entries >= 1 && status.bytes > 0);
        }

        #[test]
        fn a_near_hit_returns_a_clone_the_caller_may_change() {
            if !on_redis() {
                return;
            }
            let mut hit = until_near_hit(|| list(5), list::stats);
            assert_eq!(hit, [0, 1, 2, 3, 4]);
            hit.push(99);
            hit[0] = 7;
            let before = list::stats().near_hits;
            assert_eq!(list(5), [0, 1, 2, 3, 4]);
            assert!(list::stats().near_hits > before, "still a near hit");
            assert_eq!(LIST_RUNS.load(SeqCst), 1);
        }

        #[tokio::test]
        async fn async_repeats_are_near_hits_of_a_struct() {
            if !on_redis() {
                return;
            }
            let first = profile(3).await;
            let deadline = Instant::now() + PATIENCE;
            loop {
                let before = profile::stats().near_hits;
                assert_eq!(profile(3).await, first);
                if profile::stats().near_hits > before {
                    break;
                }
                assert!(Instant::now() < deadline, "no near hit within {PATIENCE:?}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let before = profile::stats();
            for _ in 0..100 {
                assert_eq!(profile(3).await.tags, ["a", "b"]);
            }
            let repeats = profile::stats().since(&before);
            assert_eq!(repeats.hits, 100);
            assert!(repeats.near_hits >= 98, "{repeats:?}");
            assert_eq!(PROFILE_RUNS.load(SeqCst), 1);
        }
    }

    mod shapes {
        use super::*;

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-shapes", NearCache::new()));
        static NONE_RUNS: AtomicU64 = AtomicU64::new(0);
        static OPAQUE_RUNS: AtomicU64 = AtomicU64::new(0);
        static FRESH_RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "none-{n}", cachify = C)]
        fn nothing(n: u64) -> Option<u64> {
            let _ = n;
            NONE_RUNS.fetch_add(1, SeqCst);
            None
        }

        /// Not `Clone`: a near hit decodes its bytes, still without a round trip.
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Opaque(String);

        #[cached(key = "opaque-{n}", cachify = C)]
        fn opaque(n: u64) -> Opaque {
            OPAQUE_RUNS.fetch_add(1, SeqCst);
            Opaque(format!("opaque {n}"))
        }

        #[cached(key = "fresh-{n}", cachify = C, ttl = 60, refresh = 1)]
        fn fresh(n: u64) -> u64 {
            let _ = n;
            FRESH_RUNS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn none_is_a_near_hit_too() {
            if !on_redis() {
                return;
            }
            assert_eq!(until_near_hit(|| nothing(1), nothing::stats), None);
            assert_eq!(NONE_RUNS.load(SeqCst), 1);
        }

        #[test]
        fn a_value_that_is_not_clone_is_a_near_hit_too() {
            if !on_redis() {
                return;
            }
            let hit = until_near_hit(|| opaque(1), opaque::stats);
            assert_eq!(hit, Opaque("opaque 1".into()));
            assert_eq!(OPAQUE_RUNS.load(SeqCst), 1);
        }

        /// A near hit on a value due for a refresh starts the refresh, and the refreshed
        /// value replaces the near copy.
        #[test]
        fn a_due_near_hit_is_refreshed() {
            if !on_redis() {
                return;
            }
            assert_eq!(until_near_hit(|| fresh(1), fresh::stats), 1);
            let stored = Instant::now();
            // Waiting for an age, not for an event: the value is due after 1 s.
            std::thread::sleep(Duration::from_millis(1_100).saturating_sub(stored.elapsed()));
            assert_eq!(fresh(1), 1, "a due hit returns the old value");
            wait_until("the refreshed value is served", || fresh(1) == 2);
            assert_eq!(fresh::stats().refreshes, 1);
            assert_eq!(until_near_hit(|| fresh(1), fresh::stats), 2);
        }
    }

    mod extremes {
        use super::*;

        static C: LazyLock<Cachify> = LazyLock::new(|| {
            let near = NearCache::new()
                .max_entries(usize::MAX)
                .max_bytes(usize::MAX)
                .check_interval(Duration::MAX);
            near_instance("near-extremes", near)
        });
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "e-{n}", cachify = C)]
        async fn value(n: u64) -> u64 {
            RUNS.fetch_add(1, SeqCst);
            n
        }

        /// The largest bounds and a check interval of `Duration::MAX` (the pings never
        /// come) are taken, and serve.
        #[tokio::test]
        async fn the_largest_bounds_and_interval_serve() {
            if !on_redis() {
                return;
            }
            let deadline = Instant::now() + PATIENCE;
            while value::stats().near_hits == 0 {
                assert_eq!(value(1).await, 1);
                assert!(Instant::now() < deadline, "no near hit within {PATIENCE:?}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(RUNS.load(SeqCst), 1);
        }
    }

    mod eviction {
        use super::*;

        const MAX_ENTRIES: usize = 32;
        const MAX_BYTES: usize = 16 << 10;
        const VALUE_LEN: usize = 1 << 10;

        static BY_ENTRIES: LazyLock<Cachify> = LazyLock::new(|| {
            near_instance("near-entries", NearCache::new().max_entries(MAX_ENTRIES))
        });
        static BY_BYTES: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-bytes", NearCache::new().max_bytes(MAX_BYTES)));

        #[cached(key = "small-{n}", cachify = BY_ENTRIES)]
        fn small(n: u64) -> u64 {
            n
        }

        #[cached(key = "large-{n}", cachify = BY_BYTES)]
        fn large(n: u64) -> String {
            format!("{n:0>width$}", width = VALUE_LEN)
        }

        /// Reads `keys` distinct keys three times each (a miss, a fill, a near hit), checking
        /// the bounds after every call; the most entries held at once.
        fn flood<T: PartialEq + std::fmt::Debug>(
            cachify: &Cachify,
            keys: u64,
            call: impl Fn(u64) -> T,
            bounds: (usize, usize),
        ) -> usize {
            let mut most = 0;
            for n in 0..keys {
                let value = call(n);
                for _ in 0..2 {
                    assert_eq!(call(n), value);
                    let status = cachify.near_cache_status().unwrap();
                    assert!(status.entries <= bounds.0, "key {n}: {status:?}");
                    assert!(status.bytes <= bounds.1, "key {n}: {status:?}");
                    most = most.max(status.entries);
                }
            }
            most
        }

        #[test]
        fn a_flood_of_distinct_keys_keeps_the_entry_bound() {
            if !on_redis() {
                return;
            }
            let keys = 10 * MAX_ENTRIES as u64;
            let most = flood(&BY_ENTRIES, keys, small, (MAX_ENTRIES, usize::MAX));
            assert!(most > MAX_ENTRIES / 2, "the near cache filled up: {most}");
            assert!(small::stats().near_hits > 0);
        }

        static HUGE_RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "huge-{n}", cachify = BY_BYTES)]
        fn huge(n: u64) -> String {
            HUGE_RUNS.fetch_add(1, SeqCst);
            format!("{n:0>width$}", width = 2 * MAX_BYTES)
        }

        /// A value larger than the whole bound is served from the server, never near.
        #[test]
        fn a_value_larger_than_the_byte_bound_is_served_from_the_server() {
            if !on_redis() {
                return;
            }
            for _ in 0..20 {
                assert_eq!(huge(1).len(), 2 * MAX_BYTES);
                let status = BY_BYTES.near_cache_status().unwrap();
                assert!(status.bytes <= MAX_BYTES, "{status:?}");
            }
            let stats = huge::stats();
            assert_eq!((stats.hits, stats.near_hits), (19, 0), "{stats:?}");
            assert_eq!(HUGE_RUNS.load(SeqCst), 1);
        }

        #[test]
        fn a_flood_of_large_values_keeps_the_byte_bound() {
            if !on_redis() {
                return;
            }
            let keys = 10 * (MAX_BYTES / VALUE_LEN) as u64;
            let most = flood(&BY_BYTES, keys, large, (usize::MAX, MAX_BYTES));
            assert!(most >= 2, "the near cache held values: {most}");
            assert!(large::stats().near_hits > 0);
        }
    }
}
