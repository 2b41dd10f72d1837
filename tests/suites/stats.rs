// The counters suite (`f::stats()`, `Cachify::stats()`), written once against `backend()`
// and included by the cached binaries of every backend. Each test has its own instance
// and functions, so the counts it asserts are its own.

mod stats {
    use std::sync::{Arc, Barrier, LazyLock};

    use cachify::{cached, lock, pooled, Cachify, Stats};

    fn instance(test: &str) -> Cachify {
        super::backend().instance(test)
    }

    mod hits_and_misses {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-hits"));

        #[cached(key = "square-{n}", cachify = C)]
        fn square(n: u64) -> u64 {
            n * n
        }

        #[cached(key = "cube-{n}", cachify = C)]
        async fn cube(n: u64) -> u64 {
            n * n * n
        }

        #[test]
        fn a_miss_stores_and_the_repeats_are_hits() {
            let before = C.stats();
            assert_eq!(square::stats(), Stats::default(), "nothing counted yet");
            for _ in 0..3 {
                assert_eq!(square(4), 16);
            }
            assert_eq!(square(5), 25);
            let stats = square::stats();
            assert_eq!((stats.hits, stats.misses, stats.stores), (2, 2, 2));
            assert_eq!((stats.errors, stats.refreshes), (0, 0));
            assert_eq!(stats.lock_acquisitions + stats.slot_acquisitions, 0);
            let instance = C.stats().since(&before);
            assert!(instance.hits >= 2 && instance.misses >= 2, "{instance:?}");
        }

        #[tokio::test]
        async fn async_calls_count_the_same() {
            for n in [2, 2, 2, 3] {
                cube(n).await;
            }
            let stats = cube::stats();
            assert_eq!((stats.hits, stats.misses, stats.stores), (2, 2, 2));
        }
    }

    mod concurrency {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-threads"));
        // Exact totals across threads and backends. The threads rarely overlap enough to
        // use the shared row (a thread's row is freed when it ends, and the next one takes
        // it): the rows' own guarantees are unit tests in `cachify-core`'s `stats.rs`.
        const THREADS: u64 = 40;
        const CALLS: u64 = 100;
        const KEYS: u64 = 5;

        #[cached(key = "id-{n}", cachify = C)]
        fn id(n: u64) -> u64 {
            n
        }

        #[test]
        fn n_threads_times_m_calls_are_counted_exactly() {
            for n in 0..KEYS {
                id(n);
            }
            let barrier = Arc::new(Barrier::new(THREADS as usize));
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        for call in 0..CALLS {
                            assert_eq!(id(call % KEYS), call % KEYS);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let stats = id::stats();
            assert_eq!(stats.misses, KEYS);
            assert_eq!(stats.hits, THREADS * CALLS, "{stats:?}");
            assert_eq!(C.stats().hits, THREADS * CALLS, "the instance's total");
        }
    }

    mod failures {
        use super::*;
        static DOWN: LazyLock<Cachify> = LazyLock::new(crate::support::down::instance);

        #[cached(key = "down-{n}", cachify = DOWN)]
        fn on_a_dead_backend(n: u64) -> u64 {
            n + 1
        }

        #[test]
        fn failing_open_counts_every_failed_backend_call() {
            assert_eq!(on_a_dead_backend(1), 2);
            let stats = on_a_dead_backend::stats();
            // The lookup, the leader's second look (a value stored meanwhile would
            // spare the run), and the store: three calls failed, the caller got its value.
            assert_eq!((stats.misses, stats.errors, stats.stores), (1, 3, 0));
            assert_eq!(DOWN.stats().errors, 3);
        }
    }

    mod locks {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-locks"));

        #[lock(key = "job-{n}", cachify = C, nowait = false, timeout = 30)]
        fn job(n: u64, hold: &Barrier, go: &Barrier) -> Result<u64, cachify::Error> {
            hold.wait();
            go.wait();
            Ok(n)
        }

        #[lock(key = "quick", cachify = C)]
        fn quick() -> Result<(), cachify::Error> {
            Ok(())
        }

        #[test]
        fn a_held_lock_counts_a_wait_then_an_acquisition() {
            let (hold, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
            let holder = {
                let (hold, go) = (hold.clone(), go.clone());
                std::thread::spawn(move || job(1, &hold, &go))
            };
            hold.wait(); // the holder has the lock
            let waiter = std::thread::spawn(|| {
                let (solo, solo_go) = (Barrier::new(1), Barrier::new(1));
                job(1, &solo, &solo_go)
            });
            // The waiter's wait is an event we can see: its counter.
            while job::stats().lock_waits == 0 && !waiter.is_finished() {
                std::thread::yield_now();
            }
            go.wait(); // the holder returns and releases
            assert_eq!(holder.join().unwrap().unwrap(), 1);
            assert_eq!(waiter.join().unwrap().unwrap(), 1);
            let stats = job::stats();
            assert_eq!((stats.lock_acquisitions, stats.lock_waits), (2, 1));
            assert_eq!((stats.lock_refusals, stats.hits), (0, 0));
        }

        #[lock(key = "counted", cachify = C, nowait = false, timeout = 60)]
        fn counted() -> Result<(), cachify::Error> {
            Ok(())
        }

        #[test]
        fn concurrent_acquisitions_are_counted_exactly() {
            const THREADS: u64 = 4;
            const CALLS: u64 = 25;
            let threads: Vec<_> = (0..THREADS)
                .map(|_| std::thread::spawn(|| (0..CALLS).try_for_each(|_| counted())))
                .collect();
            for thread in threads {
                thread.join().unwrap().unwrap();
            }
            let stats = counted::stats();
            assert_eq!(stats.lock_acquisitions, THREADS * CALLS, "{stats:?}");
            assert_eq!(stats.lock_refusals, 0);
            assert!(stats.lock_waits <= THREADS * CALLS);
        }

        #[test]
        fn a_refusal_is_counted() {
            let held = C.lock("quick").acquire().unwrap();
            assert!(quick().is_err());
            held.release().unwrap();
            quick().unwrap();
            let stats = quick::stats();
            assert_eq!((stats.lock_acquisitions, stats.lock_refusals), (1, 1));
        }
    }

    mod pools {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-pools"));

        #[pooled(key = "exports", max_size = 1, cachify = C)]
        fn export() -> bool {
            true
        }

        #[test]
        fn slots_taken_and_a_full_pool_are_counted() {
            assert!(export());
            let slot = C.pool("exports", 1).acquire().unwrap();
            assert!(!export(), "the pool is full");
            slot.release().unwrap();
            let stats = export::stats();
            assert_eq!((stats.slot_acquisitions, stats.pool_full), (1, 1));
            assert_eq!(stats.slot_waits, 0);
        }
    }

    mod stacked {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-stacked"));

        #[cached(key = "report-{n}", cachify = C)]
        #[lock(key = "report-lock-{n}", cachify = C)]
        fn report(n: u64) -> Result<u64, cachify::Error> {
            Ok(n)
        }

        #[test]
        fn the_layers_of_a_stacked_function_add_up() {
            for _ in 0..3 {
                report(7).unwrap();
            }
            let stats = report::stats();
            assert_eq!((stats.hits, stats.misses), (2, 1));
            assert_eq!(stats.lock_acquisitions, 1, "the lock is taken on the miss only");
        }
    }

    mod methods {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-methods"));

        struct Users;

        impl Users {
            #[cached(key = "user-{id}", cachify = C)]
            fn name(&self, id: u64) -> String {
                format!("user {id}")
            }
        }

        #[test]
        fn a_method_has_an_associated_stats_function() {
            let users = Users;
            users.name(1);
            users.name(1);
            let stats = Users::name_stats();
            assert_eq!((stats.hits, stats.misses), (1, 1));
        }
    }
    /// The `function` label of a method names its type: two types' `find` in one module
    /// (and a free `find` beside them) are three series, not one.
    mod labels {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| instance("stats-labels"));

        struct Pg;
        struct Mem<T>(T);

        impl Pg {
            #[cached(key = "pg-{id}", cachify = C)]
            fn find(&self, id: u64) -> u64 {
                id
            }
        }

        impl<T> Mem<T> {
            #[cached(key = "mem-{id}", cachify = C)]
            fn find(&self, id: u64) -> u64 {
                id
            }
        }

        #[cached(key = "free-{id}", cachify = C)]
        fn find(id: u64) -> u64 {
            id
        }

        #[cached(key = "type-{id}", cachify = C)]
        fn r#type(id: u64) -> u64 {
            id
        }

        #[test]
        fn methods_of_two_types_and_a_free_function_have_distinct_paths() {
            assert_eq!(Pg.find(1) + Mem(0_u8).find(1) + find(1) + r#type(1), 4);
            let module = module_path!();
            let pg = Pg::find_cachify_counters().path();
            let mem = Mem::<u8>::find_cachify_counters().path();
            assert_eq!(pg, format!("{module}::Pg::find"));
            assert_eq!(mem, format!("{module}::Mem::find"), "generics stripped");
            assert_eq!(find::cachify_counters().path(), format!("{module}::find"));
            assert_eq!(r#type::cachify_counters().path(), format!("{module}::type"));
            assert_eq!(Mem::<u8>::find_stats().hits + Mem::<u8>::find_stats().misses, 1);
        }
    }
}
