// Fleet-wide single-flight, in one process: two instances with one prefix on one backend
// play two processes (each instance has its own in-process flights). On Redis and
// Cluster the second waits for the first's value; on the memory backend each instance
// keeps today's in-process behaviour. Included after `suites/cached.rs` by one binary
// per backend; the OS-process cases are in `tests/redis_processes.rs`.

mod fleet_flight {
    use super::*;
    use cachify::instance::SingleFlight;
    use std::sync::mpsc;
    use std::sync::Mutex;
    use std::time::Instant;

    /// Gives a waiter time to start waiting; the tests are correct whatever it is.
    const GRACE: Duration = Duration::from_millis(100);
    /// Longer than any test: a wait that ends on its own would show as this.
    const LONG: Duration = Duration::from_secs(60);
    /// Far below `LONG` and the poll interval, far above a pub/sub wake-up.
    const PROMPT: Duration = Duration::from_secs(5);

    fn shares_misses() -> bool {
        backend() != support::Backend::Memory
    }

    /// Two instances with one prefix on one backend (one shared store in memory), with
    /// a poll interval of `LONG`: a waiter that is not woken by a release shows.
    fn pair(test: &str, flight: SingleFlight) -> (Cachify, Cachify) {
        static STORE: LazyLock<cachify::MemoryClient> = LazyLock::new(Default::default);
        let prefix = support::unique_prefix(test);
        let one = || {
            let builder = backend()
                .builder(test)
                .prefix(prefix.clone())
                .lock_poll_interval(LONG)
                .single_flight(flight);
            match backend() {
                support::Backend::Memory => builder.sync_client(STORE.clone()).build(),
                _ => builder.build(),
            }
        };
        (one(), one())
    }

    /// The lease key of cached key `key` on `cachify` (a key without braces).
    fn lease_key(cachify: &Cachify, key: &str) -> String {
        let value = cachify.cache_key(key);
        format!("{value}:computing{{{value}}}")
    }

    mod value_shared {
        use super::*;
        static PAIR: LazyLock<(Cachify, Cachify)> =
            LazyLock::new(|| pair("fleet-shared", SingleFlight::fleet().wait(LONG)));
        static A: LazyLock<Cachify> = LazyLock::new(|| PAIR.0.clone());
        static B: LazyLock<Cachify> = LazyLock::new(|| PAIR.1.clone());
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

        fn body() -> u32 {
            if CALLS.fetch_add(1, SeqCst) == 0 {
                let gate = GATE.lock().unwrap().take().unwrap();
                gate.recv_timeout(LONG).ok();
            }
            42
        }

        #[cached(key = "shared", cachify = A)]
        fn on_a() -> u32 {
            body()
        }

        #[cached(key = "shared", cachify = B)]
        fn on_b() -> u32 {
            body()
        }

        #[test]
        fn a_second_process_waits_for_the_first_ones_value() {
            let (open, gate) = mpsc::channel();
            *GATE.lock().unwrap() = Some(gate);
            let leader = std::thread::spawn(on_a);
            while CALLS.load(SeqCst) == 0 {
                std::thread::yield_now();
            }
            let waiter = std::thread::spawn(on_b);
            std::thread::sleep(GRACE);
            open.send(()).unwrap();
            assert_eq!(leader.join().unwrap(), 42);
            assert_eq!(waiter.join().unwrap(), 42);
            let runs = if shares_misses() { 1 } else { 2 };
            assert_eq!(CALLS.load(SeqCst), runs, "one run per fleet (per process in memory)");
            let lease = A.sync_client().get(&lease_key(&A, "shared")).unwrap();
            assert_eq!(lease, None, "the lease is gone with the store");
        }
    }

    mod value_shared_async {
        use super::*;
        use tokio::sync::Notify;
        static PAIR: LazyLock<(Cachify, Cachify)> =
            LazyLock::new(|| pair("fleet-shared-async", SingleFlight::fleet().wait(LONG)));
        static A: LazyLock<Cachify> = LazyLock::new(|| PAIR.0.clone());
        static B: LazyLock<Cachify> = LazyLock::new(|| PAIR.1.clone());
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Notify = Notify::const_new();

        async fn body() -> u32 {
            if CALLS.fetch_add(1, SeqCst) == 0 {
                GATE.notified().await;
            }
            7
        }

        #[cached(key = "shared", cachify = A)]
        async fn on_a() -> u32 {
            body().await
        }

        #[cached(key = "shared", cachify = B)]
        async fn on_b() -> u32 {
            body().await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_second_process_waits_for_the_first_ones_value() {
            let leader = tokio::spawn(on_a());
            while CALLS.load(SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            let waiters: Vec<_> = (0..8).map(|_| tokio::spawn(on_b())).collect();
            tokio::time::sleep(GRACE).await;
            GATE.notify_waiters();
            assert_eq!(leader.await.unwrap(), 7);
            for waiter in waiters {
                assert_eq!(waiter.await.unwrap(), 7);
            }
            let runs = if shares_misses() { 1 } else { 2 };
            assert_eq!(CALLS.load(SeqCst), runs);
        }
    }

    mod leader_fails {
        use super::*;
        static PAIR: LazyLock<(Cachify, Cachify)> = LazyLock::new(|| {
            pair("fleet-err", SingleFlight::fleet().lease(LONG).wait(LONG))
        });
        static A: LazyLock<Cachify> = LazyLock::new(|| PAIR.0.clone());
        static B: LazyLock<Cachify> = LazyLock::new(|| PAIR.1.clone());
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

        #[cached(key = "fails-first", cachify = A)]
        fn on_a() -> Result<u32, String> {
            CALLS.fetch_add(1, SeqCst);
            let gate = GATE.lock().unwrap().take().unwrap();
            gate.recv_timeout(LONG).ok();
            Err("downstream is down".into())
        }

        #[cached(key = "fails-first", cachify = B)]
        fn on_b() -> Result<u32, String> {
            CALLS.fetch_add(1, SeqCst);
            Ok(5)
        }

        #[test]
        fn a_leader_returning_err_releases_the_waiters_at_once() {
            let (open, gate) = mpsc::channel();
            *GATE.lock().unwrap() = Some(gate);
            let leader = std::thread::spawn(on_a);
            while CALLS.load(SeqCst) == 0 {
                std::thread::yield_now();
            }
            let waiter = std::thread::spawn(|| {
                let value = on_b();
                (value, Instant::now())
            });
            std::thread::sleep(GRACE);
            if shares_misses() {
                assert_eq!(CALLS.load(SeqCst), 1, "the second process waits");
            }
            let failed = Instant::now();
            open.send(()).unwrap();
            assert!(leader.join().unwrap().is_err());
            let (value, at) = waiter.join().unwrap();
            assert_eq!(value, Ok(5), "the waiter ran the function itself");
            let after = at.saturating_duration_since(failed);
            assert!(after < PROMPT, "released {after:?} after the Err, not at the lease's end");
            assert_eq!(CALLS.load(SeqCst), 2);
        }
    }

    mod wait_budget {
        use super::*;
        const BUDGET: Duration = Duration::from_millis(300);
        static A: LazyLock<Cachify> = LazyLock::new(|| PAIR.0.clone());
        static B: LazyLock<Cachify> = LazyLock::new(|| PAIR.1.clone());
        static PAIR: LazyLock<(Cachify, Cachify)> =
            LazyLock::new(|| pair("fleet-budget", SingleFlight::fleet().wait(BUDGET)));
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

        #[cached(key = "hangs", cachify = A)]
        fn on_a() -> u32 {
            CALLS.fetch_add(1, SeqCst);
            let gate = GATE.lock().unwrap().take().unwrap();
            gate.recv_timeout(LONG).ok();
            1
        }

        #[cached(key = "hangs", cachify = B)]
        fn on_b() -> u32 {
            CALLS.fetch_add(1, SeqCst);
            2
        }

        #[test]
        fn past_the_wait_budget_a_waiter_runs_the_function_itself() {
            let (open, gate) = mpsc::channel();
            *GATE.lock().unwrap() = Some(gate);
            let leader = std::thread::spawn(on_a);
            while CALLS.load(SeqCst) == 0 {
                std::thread::yield_now();
            }
            let started = Instant::now();
            assert_eq!(on_b(), 2, "its own value, while the leader still runs");
            let waited = started.elapsed();
            if shares_misses() {
                assert!(waited >= BUDGET, "ran after {waited:?}, before its budget");
            }
            assert!(waited < PROMPT, "waited {waited:?}");
            open.send(()).unwrap();
            assert_eq!(leader.join().unwrap(), 1);
            assert_eq!(CALLS.load(SeqCst), 2);
        }
    }

    mod dead_leader {
        use super::*;
        const LEASE: Duration = Duration::from_millis(500);
        static C: LazyLock<Cachify> = LazyLock::new(|| {
            pair("fleet-dead", SingleFlight::fleet().lease(LEASE).wait(LONG)).0
        });
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "orphan", cachify = C)]
        async fn orphan() -> u32 {
            CALLS.fetch_add(1, SeqCst);
            3
        }

        /// A lease whose holder died (SIGKILL, a frozen host): taken, never released.
        #[tokio::test]
        async fn a_dead_leaders_lease_is_taken_over_when_it_expires() {
            let dead = C
                .async_client()
                .set(&lease_key(&C, "orphan"), b"dead", Some(LEASE), true)
                .await
                .unwrap();
            assert!(dead);
            let started = Instant::now();
            assert_eq!(orphan().await, 3);
            let waited = started.elapsed();
            if shares_misses() {
                assert!(waited >= LEASE / 2, "ran after {waited:?}, under a live lease");
            }
            assert!(waited < PROMPT, "replaced after {waited:?}, not at the lease's end");
            assert_eq!(CALLS.load(SeqCst), 1);
        }
    }

    mod cancelled_leader {
        use super::*;
        use tokio::sync::Notify;
        static PAIR: LazyLock<(Cachify, Cachify)> = LazyLock::new(|| {
            pair("fleet-cancel", SingleFlight::fleet().lease(LONG).wait(LONG))
        });
        static A: LazyLock<Cachify> = LazyLock::new(|| PAIR.0.clone());
        static B: LazyLock<Cachify> = LazyLock::new(|| PAIR.1.clone());
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static ENTERED: Notify = Notify::const_new();

        #[cached(key = "cancelled", cachify = A)]
        async fn on_a() -> u32 {
            CALLS.fetch_add(1, SeqCst);
            ENTERED.notify_one();
            std::future::pending::<()>().await;
            1
        }

        #[cached(key = "cancelled", cachify = B)]
        async fn on_b() -> u32 {
            CALLS.fetch_add(1, SeqCst);
            2
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_cancelled_leader_frees_its_lease_at_once() {
            let leader = tokio::spawn(on_a());
            ENTERED.notified().await;
            let waiter = tokio::spawn(on_b());
            tokio::time::sleep(GRACE).await;
            leader.abort();
            let value = tokio::time::timeout(PROMPT, waiter).await;
            assert_eq!(value.expect("the waiter was not freed").unwrap(), 2);
            assert_eq!(CALLS.load(SeqCst), 2);
        }
    }
}
