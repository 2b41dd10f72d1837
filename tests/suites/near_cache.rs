// The near cache (`CachifyBuilder::near_cache`), written once against `backend()` and
// included by the cached binaries. On memory only the builder's refusal applies (the other
// tests return at once there); on Redis and Cluster: hits served in the process, and kept
// coherent with the server through writes, resets and expiries from anywhere; bounded.
// The faults (FLUSHALL, killed tracking connections, a restarted or hung server) are in
// `near_cache_faults.rs`.

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

    mod own_writes {
        use super::*;

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-own", NearCache::new()));
        static RUNS: AtomicU64 = AtomicU64::new(0);
        static ASYNC_RUNS: AtomicU64 = AtomicU64::new(0);
        static CLEARED_RUNS: AtomicU64 = AtomicU64::new(0);

        /// A new value at each run: 1, 2, 3, ...
        #[cached(key = "run-{n}", cachify = C)]
        fn run(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        #[cached(key = "async-run-{n}", cachify = C)]
        async fn async_run(n: u64) -> u64 {
            let _ = n;
            ASYNC_RUNS.fetch_add(1, SeqCst) + 1
        }

        #[cached(key = "cleared-{n}", cachify = C)]
        fn cleared(n: u64) -> u64 {
            let _ = n;
            CLEARED_RUNS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn an_own_reset_invalidates_the_near_copy_at_once() {
            if !on_redis() {
                return;
            }
            let first = until_near_hit(|| run(1), run::stats);
            for _ in 0..20 {
                let runs = RUNS.load(SeqCst);
                run::reset(1).unwrap();
                let next = run(1);
                assert_eq!(RUNS.load(SeqCst), runs + 1, "the call after a reset runs");
                assert!(next > first);
                // The store after that miss is served, from the server then near.
                assert_eq!(until_near_hit(|| run(1), run::stats), next);
                assert_eq!(RUNS.load(SeqCst), runs + 1);
            }
        }

        #[tokio::test]
        async fn an_own_async_reset_invalidates_the_near_copy_at_once() {
            if !on_redis() {
                return;
            }
            for _ in 0..20 {
                let deadline = Instant::now() + PATIENCE;
                let old = loop {
                    let before = async_run::stats().near_hits;
                    let value = async_run(1).await;
                    if async_run::stats().near_hits > before {
                        break value;
                    }
                    assert!(Instant::now() < deadline, "no near hit within {PATIENCE:?}");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                };
                let runs = ASYNC_RUNS.load(SeqCst);
                async_run::reset(1).await.unwrap();
                assert_ne!(async_run(1).await, old, "the call after a reset runs");
                assert_eq!(ASYNC_RUNS.load(SeqCst), runs + 1);
            }
        }

        #[test]
        fn deleting_by_pattern_invalidates_the_near_copies_at_once() {
            if !on_redis() {
                return;
            }
            for n in 0..4 {
                until_near_hit(|| cleared(n), cleared::stats);
            }
            let runs = CLEARED_RUNS.load(SeqCst);
            assert_eq!(C.delete_matching("cleared-*").unwrap(), 4);
            for n in 0..4 {
                cleared(n);
            }
            assert_eq!(CLEARED_RUNS.load(SeqCst), runs + 4, "each call after it runs");
        }
    }

    /// Threads of one process: after this instance's reset of a key returned, no thread
    /// reads the value from before it, however reads and fills overlap the reset.
    mod own_resets_under_contention {
        use super::*;
        use std::sync::atomic::AtomicBool;

        const KEYS: usize = 4;
        const READERS: usize = 3;
        const RUN: Duration = Duration::from_millis(1_500);

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-contended", NearCache::new()));
        /// Each key's version; the writer bumps it before each reset.
        static TRUTH: [AtomicU64; KEYS] = [const { AtomicU64::new(0) }; KEYS];
        /// Each key's version whose reset has returned.
        static SETTLED: [AtomicU64; KEYS] = [const { AtomicU64::new(0) }; KEYS];

        /// The writer's function: the current version.
        #[cached(key = "contended-{k}", cachify = C)]
        fn version(k: usize) -> u64 {
            TRUTH[k].load(SeqCst)
        }

        /// The readers' function on the same keys: it computes nothing, so that only the
        /// writer stores (a reader storing a version it read before a reset would be the
        /// cache-aside race, not the near cache's).
        #[cached(key = "contended-{k}", cachify = C)]
        fn observed(k: usize) -> Result<u64, String> {
            Err(format!("contended-{k} is computed by the writer"))
        }

        #[test]
        fn no_thread_reads_a_value_from_before_a_reset_that_returned() {
            if !on_redis() {
                return;
            }
            let stop = AtomicBool::new(false);
            let (resets, reads, stale) = std::thread::scope(|scope| {
                let readers: Vec<_> = (0..READERS)
                    .map(|reader| {
                        let stop = &stop;
                        scope.spawn(move || {
                            let (mut reads, mut stale) = (0u64, 0u64);
                            let mut k = reader;
                            while !stop.load(SeqCst) {
                                k = (k + 1) % KEYS;
                                let settled = SETTLED[k].load(SeqCst);
                                if let Ok(read) = observed(k) {
                                    stale += u64::from(read < settled);
                                }
                                reads += 1;
                            }
                            (reads, stale)
                        })
                    })
                    .collect();
                let started = Instant::now();
                let mut resets = 0;
                while started.elapsed() < RUN {
                    let k = resets % KEYS;
                    let n = TRUTH[k].fetch_add(1, SeqCst) + 1;
                    version::reset(k).unwrap();
                    SETTLED[k].store(n, SeqCst);
                    if resets % 3 != 0 {
                        assert!(version(k) >= n, "the writer's own read");
                    }
                    resets += 1;
                }
                stop.store(true, SeqCst);
                let (reads, stale) = readers
                    .into_iter()
                    .map(|reader| reader.join().unwrap())
                    .fold((0, 0), |(reads, stale), (r, s)| (reads + r, stale + s));
                (resets, reads, stale)
            });
            let near_hits = observed::stats().near_hits;
            eprintln!(
                "{:?}: {resets} resets, {reads} reads ({near_hits} near hits), {stale} read(s) \
                 of a value from before a reset that had returned",
                backend()
            );
            assert_eq!(stale, 0);
            assert!(near_hits > 0, "the reads were served near too");
        }
    }

    mod other_writers {
        use super::*;

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-others", NearCache::new()));
        static OTHER: LazyLock<Cachify> = LazyLock::new(|| elsewhere(&C));
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "k-{n}", cachify = C)]
        fn read(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        /// The same keys, written by the other instance.
        #[cached(key = "k-{n}", cachify = OTHER)]
        fn written_elsewhere(n: u64) -> u64 {
            1_000_000 + n
        }

        /// Calls `read(n)` until it returns `expected` (once the invalidation arrived).
        fn until_read(n: u64, expected: u64) {
            wait_until(&format!("read({n}) returns {expected}"), || {
                read(n) == expected
            });
        }

        /// The node of `cachify`'s deployment that holds `key` (0 on a single server).
        fn owner(key: &str) -> usize {
            let Backend::RedisCluster = backend() else {
                return 0;
            };
            let nodes = &crate::support::redis::cluster().nodes;
            let owners: Vec<usize> = (0..nodes.len())
                .filter(|&node| {
                    let reply = crate::support::redis::command(nodes[node].port(), &["EXISTS", key]);
                    !reply.unwrap().starts_with("-MOVED")
                })
                .collect();
            assert_eq!(owners.len(), 1, "{key}: {owners:?}");
            owners[0]
        }

        #[test]
        fn another_connections_writes_deletes_and_resets_reach_the_near_copies() {
            if !on_redis() {
                return;
            }
            let keys: Vec<u64> = (0..12).collect();
            let mut owners: Vec<usize> = keys.iter().map(|n| owner(&C.cache_key(&format!("k-{n}")))).collect();
            owners.sort();
            owners.dedup();
            if backend() == Backend::RedisCluster {
                assert_eq!(owners.len(), 3, "the keys live on every master");
            }
            for &n in &keys {
                until_near_hit(|| read(n), read::stats);
            }
            let runs = RUNS.load(SeqCst);

            // A write: seen, and not computed here.
            for &n in &keys {
                write(&OTHER, &format!("k-{n}"), &(500 + n));
            }
            for &n in &keys {
                until_read(n, 500 + n);
            }
            assert_eq!(RUNS.load(SeqCst), runs, "the written values were read");
            for &n in &keys {
                assert_eq!(until_near_hit(|| read(n), read::stats), 500 + n, "near again");
            }

            // A reset and a store by the other instance's own function.
            for &n in &keys {
                written_elsewhere::reset(n).unwrap();
                assert_eq!(written_elsewhere(n), 1_000_000 + n);
            }
            for &n in &keys {
                until_read(n, 1_000_000 + n);
            }
            assert_eq!(RUNS.load(SeqCst), runs);

            // A delete: the next read after it arrives runs the body.
            let key = OTHER.cache_key("k-0");
            OTHER.sync_client().delete(&[&key]).unwrap();
            wait_until("read(0) runs after the delete", || {
                read(0);
                RUNS.load(SeqCst) > runs
            });
            assert_eq!(read(0), RUNS.load(SeqCst), "its own value is served");
        }
    }

    mod expiry {
        use super::*;

        static C: LazyLock<Cachify> =
            LazyLock::new(|| near_instance("near-ttl", NearCache::new()));
        static OTHER: LazyLock<Cachify> = LazyLock::new(|| elsewhere(&C));
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "short-{n}", cachify = C, ttl = 1)]
        fn short(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        /// Its near copy is served until the key expires on the server (by the lifetime
        /// read with the value, whether or not the expiry's invalidation came), and not
        /// a moment later.
        #[test]
        fn a_near_copy_does_not_outlive_its_key_on_the_server() {
            if !on_redis() {
                return;
            }
            let first = short(1);
            // The server's expiry is at most 1 s after the store returned (ms precision).
            let expiry = Instant::now() + Duration::from_millis(1_001);
            assert_eq!(until_near_hit(|| short(1), short::stats), first);
            assert_eq!(RUNS.load(SeqCst), 1, "served near before it expires");
            let deadline = Instant::now() + PATIENCE;
            while RUNS.load(SeqCst) == 1 {
                let (started, near_hits) = (Instant::now(), short::stats().near_hits);
                short(1);
                if short::stats().near_hits > near_hits {
                    assert!(started < expiry, "a near hit {:?} after the expiry", started - expiry);
                }
                assert!(Instant::now() < deadline, "the key never expired");
                std::thread::sleep(Duration::from_millis(1));
            }
        }

        static BRIEF_RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "brief-{n}", cachify = C, ttl = 1)]
        fn brief(n: u64) -> u64 {
            let _ = n;
            BRIEF_RUNS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn the_call_after_the_server_reports_the_key_gone_is_a_miss() {
            if !on_redis() {
                return;
            }
            let key = C.cache_key("brief-1");
            let first = until_near_hit(|| brief(1), brief::stats);
            let ttl = OTHER.sync_client().remaining_ttl(&key).unwrap();
            assert!(ttl.is_some_and(|ttl| ttl <= Duration::from_secs(1)), "{ttl:?}");
            wait_until("the key expires on the server", || {
                OTHER.sync_client().get(&key).unwrap().is_none()
            });
            let near_hits = brief::stats().near_hits;
            assert_ne!(brief(1), first, "the call after the expiry is a miss");
            assert_eq!(brief::stats().near_hits, near_hits);
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
