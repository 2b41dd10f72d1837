// The near cache's coherence, written once against `backend()` and included by the cached
// binaries after `near_cache.rs` (whose helpers it uses): this instance's own writes and
// resets invalidate its near copies at once, even under contention; another connection's
// writes, deletes and resets reach them (on every master of a cluster); a near copy does
// not outlive its key's expiry on the server. On memory the tests return at once.

mod near_cache_coherence {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::LazyLock;
    use std::time::{Duration, Instant};

    use cachify::{cached, Cachify, NearCache};

    use super::backend;
    use super::near_cache::{
        elsewhere, near_instance, on_redis, until_near_hit, wait_until, write, PATIENCE,
    };
    use crate::support::Backend;

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

    /// An empty prefix: tracking covers every key of the server.
    mod empty_prefix {
        use super::*;

        static C: LazyLock<Cachify> = LazyLock::new(|| {
            let builder = backend().builder("near-unprefixed").prefix("");
            builder.near_cache(NearCache::new()).unwrap().build()
        });
        static OTHER: LazyLock<Cachify> = LazyLock::new(|| elsewhere(&C));
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "near-unprefixed-{n}-{pid}", cachify = C)]
        fn read(n: u64, pid: u32) -> u64 {
            let _ = (n, pid);
            RUNS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn another_connections_write_reaches_a_near_copy_without_a_prefix() {
            if !on_redis() {
                return;
            }
            let pid = std::process::id();
            assert_eq!(C.prefix(), "");
            assert_eq!(until_near_hit(|| read(1, pid), read::stats), 1);
            write(&OTHER, &format!("near-unprefixed-1-{pid}"), &77u64);
            wait_until("the write is read", || read(1, pid) == 77);
            assert_eq!(until_near_hit(|| read(1, pid), read::stats), 77);
            assert_eq!(RUNS.load(SeqCst), 1);
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
}
