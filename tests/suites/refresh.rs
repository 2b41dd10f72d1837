// Refresh before expiry and jittered ttls, on every backend: a hit past the refresh age
// returns the stored value at once and one background call replaces it; a failing
// refresh keeps the old value until its ttl; `ttl_jitter` spreads expiries. Included
// after `suites/cached.rs` (it uses its `instance!` macro and imports). Most functions
// use `refresh = 0`, so every hit is past the refresh age without waiting for one.
// Over 500 lines: one small module per behaviour, each with its own functions and statics.

mod refresh {
    use super::*;
    use std::sync::mpsc;
    use std::sync::{Arc, Barrier, Mutex};
    use std::time::Instant;
    use tokio::sync::Notify;

    /// Calls `f` until it returns `Some`, for at most `within`.
    fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = f() {
                return found;
            }
            assert!(Instant::now() < deadline, "not within {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A refresh body that blocks until the test opens its gate.
    struct Gate(Mutex<Option<mpsc::Receiver<()>>>);

    impl Gate {
        const fn new() -> Self {
            Self(Mutex::new(None))
        }

        /// Closes the gate for the next body; the sender opens it.
        fn close(&self) -> mpsc::Sender<()> {
            let (open, gate) = mpsc::channel();
            *self.0.lock().unwrap() = Some(gate);
            open
        }

        fn pass(&self) {
            let gate = self.0.lock().unwrap().take();
            if let Some(gate) = gate {
                gate.recv_timeout(Duration::from_secs(30)).ok();
            }
        }
    }

    mod sync_success {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Gate = Gate::new();

        #[cached(key = "value", cachify = C, ttl = 60, refresh = 0)]
        fn value() -> usize {
            GATE.pass();
            CALLS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn a_sync_hit_past_the_refresh_age_returns_the_old_value_and_refreshes_it() {
            assert_eq!(value(), 1, "the miss");
            let open = GATE.close();
            assert_eq!(value(), 1, "the old value, while the refresh waits at its gate");
            open.send(()).unwrap();
            let refreshed = eventually(Duration::from_secs(10), || Some(value()).filter(|v| *v > 1));
            assert!(refreshed >= 2);
        }
    }

    mod with_enc_dec {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        fn encode(value: &u64) -> String {
            value.to_string()
        }

        fn decode(text: String) -> u64 {
            text.parse().unwrap_or_default()
        }

        #[cached(key = "v", cachify = C, ttl = 60, refresh = 0, enc_dec = (encode, decode))]
        fn value() -> u64 {
            CALLS.fetch_add(1, SeqCst) as u64 + 1
        }

        #[test]
        fn a_function_with_enc_dec_refreshes_through_its_codec() {
            assert_eq!(value(), 1);
            let refreshed = eventually(Duration::from_secs(10), || Some(value()).filter(|v| *v > 1));
            assert!(refreshed >= 2);
        }
    }

    mod async_success {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Notify = Notify::const_new();
        static GATED: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "value", cachify = C, ttl = 60, refresh = 0)]
        async fn value() -> usize {
            if GATED.swap(0, SeqCst) == 1 {
                GATE.notified().await;
            }
            CALLS.fetch_add(1, SeqCst) + 1
        }

        #[tokio::test]
        async fn an_async_hit_past_the_refresh_age_returns_the_old_value_and_refreshes_it() {
            assert_eq!(value().await, 1, "the miss");
            GATED.store(1, SeqCst);
            assert_eq!(value().await, 1, "the old value, while the refresh waits");
            let deadline = Instant::now() + Duration::from_secs(10);
            while GATED.load(SeqCst) == 1 {
                assert!(Instant::now() < deadline, "the refresh never started");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            GATE.notify_one();
            let deadline = Instant::now() + Duration::from_secs(10);
            while value().await < 2 {
                assert!(Instant::now() < deadline, "never refreshed");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    mod failures {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static REFRESHING: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

        /// Long enough for a loaded machine to make the second call within it.
        const TTL: Duration = Duration::from_secs(3);

        #[cached(key = "err", cachify = C, ttl = 3, refresh = 0)]
        fn fails_after_the_first() -> Result<usize, String> {
            if CALLS.fetch_add(1, SeqCst) == 0 {
                return Ok(1);
            }
            if let Some(refreshing) = REFRESHING.lock().unwrap().as_ref() {
                refreshing.send(()).ok();
            }
            Err("the database is down".into())
        }

        #[test]
        fn a_failing_refresh_keeps_the_old_value_until_its_ttl() {
            let (refreshing, refreshed) = mpsc::channel();
            *REFRESHING.lock().unwrap() = Some(refreshing);
            let stored = Instant::now();
            assert_eq!(fails_after_the_first(), Ok(1));
            assert_eq!(fails_after_the_first(), Ok(1), "a hit");
            refreshed.recv_timeout(Duration::from_secs(10)).expect("a refresh ran");
            // Each hit starts a refresh that fails again; the value stays until its ttl.
            let kept_until = eventually(TTL * 10, || {
                let now = Instant::now();
                fails_after_the_first().is_err().then_some(now)
            });
            let kept = kept_until - stored;
            eprintln!("kept the old value for {kept:?} of its {TTL:?} ttl");
            assert!(kept >= TTL * 8 / 10, "the value went before its ttl: {kept:?}");
        }

        static PANICS: AtomicUsize = AtomicUsize::new(0);
        static PANICKED: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

        #[cached(key = "panics", cachify = C, ttl = 60, refresh = 0)]
        fn panics_on_its_first_refresh() -> usize {
            let n = PANICS.fetch_add(1, SeqCst) + 1;
            if n == 2 {
                PANICKED.lock().unwrap().take().unwrap().send(()).unwrap();
                panic!("the refresh fails");
            }
            n
        }

        #[test]
        fn a_panicking_refresh_keeps_the_old_value_and_the_next_hit_refreshes_again() {
            let (panicking, panicked) = mpsc::channel();
            *PANICKED.lock().unwrap() = Some(panicking);
            assert_eq!(panics_on_its_first_refresh(), 1);
            assert_eq!(panics_on_its_first_refresh(), 1, "a hit; its refresh panics");
            panicked.recv_timeout(Duration::from_secs(10)).expect("the refresh ran");
            let refreshed = eventually(Duration::from_secs(10), || {
                Some(panics_on_its_first_refresh()).filter(|v| *v > 1)
            });
            assert!(refreshed >= 3, "the panicked refresh stored nothing: {refreshed}");
        }

        static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "async-err", cachify = C, ttl = 60, refresh = 0)]
        async fn async_err_after_the_first() -> Result<usize, String> {
            if ASYNC_CALLS.fetch_add(1, SeqCst) == 0 {
                return Ok(1);
            }
            Err("the database is down".into())
        }

        #[tokio::test]
        async fn a_failing_async_refresh_keeps_the_old_value() {
            assert_eq!(async_err_after_the_first().await, Ok(1));
            assert_eq!(async_err_after_the_first().await, Ok(1), "a hit; its refresh fails");
            let deadline = Instant::now() + Duration::from_secs(10);
            while ASYNC_CALLS.load(SeqCst) < 2 {
                assert!(Instant::now() < deadline, "no refresh ran");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            for _ in 0..5 {
                assert_eq!(async_err_after_the_first().await, Ok(1), "the old value stays");
            }
        }
    }

    mod single_refresh {
        use super::*;
        instance!(C);

        /// Gives a broken (one refresh per hit) implementation time to show itself; the
        /// tests are correct whatever this delay is.
        const GRACE: Duration = Duration::from_millis(100);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static GATE: Gate = Gate::new();

        #[cached(key = "sync", cachify = C, ttl = 60, refresh = 0)]
        fn sync_value() -> usize {
            GATE.pass();
            CALLS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn concurrent_sync_hits_past_the_refresh_age_start_one_refresh() {
            assert_eq!(sync_value(), 1);
            let open = GATE.close();
            let barrier = Arc::new(Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        (0..10).map(|_| sync_value()).collect::<Vec<_>>()
                    })
                })
                .collect();
            for thread in threads {
                assert!(thread.join().unwrap().iter().all(|v| *v == 1));
            }
            open.send(()).unwrap();
            eventually(Duration::from_secs(10), || (CALLS.load(SeqCst) >= 2).then_some(()));
            std::thread::sleep(GRACE);
            assert_eq!(CALLS.load(SeqCst), 2, "one miss, one refresh for 80 stale hits");
        }

        static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
        static ASYNC_GATE: Notify = Notify::const_new();

        #[cached(key = "async", cachify = C, ttl = 60, refresh = 0)]
        async fn async_value() -> usize {
            let n = ASYNC_CALLS.fetch_add(1, SeqCst) + 1;
            if n == 2 {
                ASYNC_GATE.notified().await;
            }
            n
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_async_hits_past_the_refresh_age_start_one_refresh() {
            assert_eq!(async_value().await, 1);
            let tasks: Vec<_> = (0..64).map(|_| tokio::spawn(async_value())).collect();
            for task in tasks {
                assert_eq!(task.await.unwrap(), 1);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while ASYNC_CALLS.load(SeqCst) < 2 {
                assert!(Instant::now() < deadline, "no refresh started");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(GRACE).await;
            assert_eq!(ASYNC_CALLS.load(SeqCst), 2, "one miss, one refresh for 64 stale hits");
            ASYNC_GATE.notify_one();
        }
    }

    mod runtime_shutdown {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "value", cachify = C, ttl = 60, refresh = 0)]
        async fn value() -> usize {
            let n = CALLS.fetch_add(1, SeqCst) + 1;
            if n > 1 {
                // Needs a timer and time: the caller's runtime is gone by then.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        }

        fn on_a_runtime_of_its_own() -> usize {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(value())
        }

        #[test]
        fn an_async_refresh_survives_its_callers_runtime_shutting_down() {
            assert_eq!(on_a_runtime_of_its_own(), 1, "the miss");
            assert_eq!(on_a_runtime_of_its_own(), 1, "a hit, its runtime dropped right after");
            let refreshed = eventually(Duration::from_secs(10), || {
                Some(on_a_runtime_of_its_own()).filter(|v| *v > 1)
            });
            assert!(refreshed >= 2);
        }
    }

    mod unstamped {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        /// Writes the key without a write time, as a version before `refresh` did.
        #[cached(key = "shared", cachify = C, ttl = 60)]
        fn plain() -> usize {
            1
        }

        #[cached(key = "shared", cachify = C, ttl = 60, refresh = 0)]
        fn refreshing() -> usize {
            CALLS.fetch_add(1, SeqCst) + 2
        }

        #[test]
        fn a_value_without_a_write_time_is_a_hit_and_not_refreshed() {
            assert_eq!(plain(), 1);
            for _ in 0..10 {
                assert_eq!(refreshing(), 1, "a hit on the unstamped value");
            }
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(CALLS.load(SeqCst), 0, "no refresh storm on the first deploy");
            refreshing::reset().unwrap();
            assert_eq!(refreshing(), 2, "the miss stores a stamped value");
            assert_eq!(plain(), 2, "which a function without refresh reads");
        }
    }

    mod reset_during_a_refresh {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        /// Bumped by each reset: what a body saw when it started.
        static EPOCH: AtomicUsize = AtomicUsize::new(0);
        static GATE: Gate = Gate::new();
        static ENTERED: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

        #[cached(key = "value", cachify = C, ttl = 60, refresh = 0)]
        fn value() -> (usize, usize) {
            let epoch = EPOCH.load(SeqCst);
            if let Some(entered) = ENTERED.lock().unwrap().take() {
                entered.send(()).ok();
            }
            GATE.pass();
            (epoch, CALLS.fetch_add(1, SeqCst) + 1)
        }

        #[test]
        fn a_refresh_running_across_a_reset_stores_nothing_and_callers_see_the_reset() {
            assert_eq!(value(), (0, 1), "the miss");
            let open = GATE.close();
            let (entering, entered) = mpsc::channel();
            *ENTERED.lock().unwrap() = Some(entering);
            assert_eq!(value(), (0, 1), "a hit; its refresh starts");
            entered.recv_timeout(Duration::from_secs(10)).expect("the refresh started");
            EPOCH.store(1, SeqCst);
            value::reset().unwrap();
            open.send(()).unwrap();
            let (epoch, _) = value();
            assert_eq!(epoch, 1, "a call after the reset gets a value computed after it");
            std::thread::sleep(Duration::from_millis(100));
            let (epoch, _) = value();
            assert_eq!(epoch, 1, "the refresh did not store its pre-reset value");
        }
    }

    mod queued_refresh {
        use super::*;
        use std::sync::Condvar;
        instance!(C);
        /// The refresh pool's threads for sync functions.
        const WORKERS: usize = 4;
        static OPEN: Mutex<bool> = Mutex::new(true);
        static OPENED: Condvar = Condvar::new();
        static ENTERED: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

        /// Says it entered, then waits until the test opens (or 30 s).
        fn hold() {
            if let Some(entered) = ENTERED.lock().unwrap().as_ref() {
                entered.send(()).ok();
            }
            let open = OPEN.lock().unwrap();
            let _ = OPENED.wait_timeout_while(open, Duration::from_secs(30), |open| !*open);
        }

        fn open() {
            *OPEN.lock().unwrap() = true;
            OPENED.notify_all();
        }

        #[cached(key = "busy-{n}", cachify = C, ttl = 60, refresh = 0)]
        fn busy(n: usize) -> usize {
            hold();
            n
        }

        static ORG_CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "org", cachify = C, ttl = 60, refresh = 0)]
        fn org() -> usize {
            ORG_CALLS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn a_miss_does_not_wait_for_a_refresh_queued_behind_busy_workers() {
            for n in 0..WORKERS {
                assert_eq!(busy(n), n, "the misses");
            }
            assert_eq!(org(), 1);
            let (entering, entered) = mpsc::channel();
            *ENTERED.lock().unwrap() = Some(entering);
            *OPEN.lock().unwrap() = false;
            for n in 0..WORKERS {
                assert_eq!(busy(n), n, "a hit; its refresh holds a worker");
            }
            for _ in 0..WORKERS {
                entered.recv_timeout(Duration::from_secs(10)).expect("every worker is busy");
            }
            assert_eq!(org(), 1, "a hit; its refresh waits for a worker");
            // Gone as an expiry or an eviction goes: `reset` would also abandon a flight.
            C.sync_client().delete(&[&C.cache_key("org")]).unwrap();
            let (done, answer) = mpsc::channel();
            std::thread::spawn(move || done.send(org()));
            let missed = answer.recv_timeout(Duration::from_secs(10));
            open();
            assert_eq!(missed.ok(), Some(2), "the miss ran without waiting for the queue");
        }
    }

    mod lookalikes {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        /// Encoded, this ends with the bytes of a write-time stamp's marker: fixstr(5)
        /// `cfy-t`, then 0x73 and 0x01.
        #[cached(key = "lookalike", cachify = C, ttl = 60)]
        fn lookalike() -> (String, String, u8, u8) {
            CALLS.fetch_add(1, SeqCst);
            ("a long enough head".to_owned(), "cfy-t".to_owned(), 0x73, 1)
        }

        #[test]
        fn a_value_that_ends_like_a_stamp_is_still_a_hit() {
            let first = lookalike();
            assert_eq!(lookalike(), first);
            assert_eq!(CALLS.load(SeqCst), 1, "the second call was a hit");
        }
    }

    mod arguments {
        use super::*;
        use std::borrow::Cow;
        use std::cell::Cell;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        pub trait Table: Send + 'static {
            type Row: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + 'static;
            fn row(id: u32) -> Self::Row;
        }

        pub struct Users;

        impl Table for Users {
            type Row = String;
            fn row(id: u32) -> String {
                format!("user-{id}")
            }
        }

        /// `T` appears in no argument: the hidden body is called as `rows::<T>`.
        #[cached(key = "rows-{id}", cachify = C, ttl = 60, refresh = 0)]
        fn rows<T: Table>(id: u32) -> Vec<T::Row> {
            vec![T::row(id)]
        }

        #[test]
        fn a_generic_function_whose_parameter_no_argument_names_refreshes() {
            assert_eq!(rows::<Users>(7), ["user-7"]);
            assert_eq!(rows::<Users>(7), ["user-7"], "a hit, and a refresh");
        }

        /// `'static` borrows move into a refresh as they are.
        #[cached(key = "greet-{name}{suffix}", cachify = C, ttl = 60, refresh = 0)]
        fn greet(name: &'static str, suffix: Cow<'static, str>) -> String {
            CALLS.fetch_add(1, SeqCst);
            format!("hello {name}{suffix}")
        }

        #[test]
        fn static_borrows_are_refreshed() {
            assert_eq!(greet("ann", "!".into()), "hello ann!");
            assert_eq!(greet("ann", "!".into()), "hello ann!", "a hit; it refreshes");
            eventually(Duration::from_secs(10), || (CALLS.load(SeqCst) >= 2).then_some(()));
        }

        static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "cell-{cell:?}", cachify = C, ttl = 60, refresh = 0)]
        async fn from_a_cell(cell: Cell<u32>) -> u32 {
            ASYNC_CALLS.fetch_add(1, SeqCst);
            cell.get()
        }

        /// A `Send` but not `Sync` argument (`Cell`) keeps the call's future `Send`.
        #[tokio::test]
        async fn an_async_refreshing_function_with_a_send_argument_spawns() {
            assert_eq!(tokio::spawn(from_a_cell(Cell::new(3))).await.unwrap(), 3);
            assert_eq!(tokio::spawn(from_a_cell(Cell::new(3))).await.unwrap(), 3, "a hit");
            let deadline = Instant::now() + Duration::from_secs(10);
            while ASYNC_CALLS.load(SeqCst) < 2 {
                assert!(Instant::now() < deadline, "no refresh ran");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    mod backoff {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static FAILING: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);
        /// The refresh age; a failed refresh pauses the key's refreshes half of it.
        const REFRESH: Duration = Duration::from_secs(2);

        #[cached(key = "down", cachify = C, ttl = 60, refresh = 2)]
        fn down() -> Result<usize, String> {
            let n = CALLS.fetch_add(1, SeqCst) + 1;
            if n == 1 {
                return Ok(1);
            }
            if let Some(failing) = FAILING.lock().unwrap().as_ref() {
                failing.send(()).ok();
            }
            Err("the database is down".into())
        }

        #[test]
        fn a_failed_refresh_is_not_retried_on_every_hit() {
            assert_eq!(down(), Ok(1));
            let (failing, failed) = mpsc::channel();
            *FAILING.lock().unwrap() = Some(failing);
            // Waiting for the value's age, not for an event.
            std::thread::sleep(REFRESH + Duration::from_millis(100));
            assert_eq!(down(), Ok(1), "a hit past the refresh age; its refresh fails");
            failed.recv_timeout(Duration::from_secs(10)).expect("the refresh ran");
            let since = Instant::now();
            while since.elapsed() < REFRESH / 8 {
                assert_eq!(down(), Ok(1), "the old value stays");
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(CALLS.load(SeqCst), 2, "no refresh while backing off");
            eventually(Duration::from_secs(10), || {
                assert_eq!(down(), Ok(1));
                (CALLS.load(SeqCst) >= 3).then_some(())
            });
        }
    }

    mod body_once {
        use super::*;
        instance!(C);

        static CALLS: AtomicUsize = AtomicUsize::new(0);

        /// Its runs as its own static counts them, and as the module's does.
        #[cached(key = "counted", cachify = C, ttl = 60, refresh = 0)]
        fn counted() -> (usize, usize) {
            // One static for the miss and the refresh: the body is emitted once.
            static RUNS: AtomicUsize = AtomicUsize::new(0);
            (RUNS.fetch_add(1, SeqCst) + 1, CALLS.fetch_add(1, SeqCst) + 1)
        }

        struct Prices;

        #[cachify::companions]
        impl Prices {
            #[cached(key = "price-{id}", cachify = C, ttl = 60, refresh = 0)]
            async fn price(id: u32) -> u32 {
                static RUNS: AtomicUsize = AtomicUsize::new(0);
                id * 100 + RUNS.fetch_add(1, SeqCst) as u32
            }
        }

        #[test]
        fn the_miss_and_the_refresh_run_the_same_body() {
            assert_eq!(counted(), (1, 1));
            let (own, all) = eventually(Duration::from_secs(10), || {
                Some(counted()).filter(|(_, all)| *all > 1)
            });
            assert_eq!(own, all, "the refresh counted in the miss's static");
        }

        #[tokio::test]
        async fn an_associated_async_function_refreshes_through_its_hidden_body() {
            assert_eq!(Prices::price(7).await, 700);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Prices::price(7).await == 700 {
                assert!(Instant::now() < deadline, "never refreshed");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Prices::price_reset(7).await.unwrap();
        }
    }

    mod invalid_at_run_time {
        use super::*;
        instance!(C);
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        // Not literals, so checked when a value is stored: both are above the ttl.
        const REFRESH_SECS: u64 = 120;
        const JITTER_SECS: u64 = 90;

        #[cached(key = "v", cachify = C, ttl = 60, refresh = REFRESH_SECS, ttl_jitter = JITTER_SECS)]
        fn value() -> usize {
            CALLS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn a_refresh_or_jitter_not_below_the_ttl_is_ignored_and_the_value_cached() {
            assert_eq!(value(), 1);
            for _ in 0..20 {
                assert_eq!(value(), 1);
            }
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(CALLS.load(SeqCst), 1, "no refresh started");
            let ttl = C.sync_client().remaining_ttl(&C.cache_key("v")).unwrap();
            assert!(ttl.is_some_and(|ttl| ttl > Duration::from_secs(58)), "{ttl:?}");
        }
    }

    mod jitter {
        use super::*;
        instance!(C);

        #[cached(key = "jittered-{n}", cachify = C, ttl = 60, ttl_jitter = 30)]
        fn jittered(n: u32) -> u32 {
            n
        }

        #[cached(key = "plain-{n}", cachify = C, ttl = 60)]
        fn plain(n: u32) -> u32 {
            n
        }

        fn remaining(key: &str) -> Duration {
            let ttl = C.sync_client().remaining_ttl(&C.cache_key(key)).unwrap();
            ttl.expect("the value expires")
        }

        #[test]
        fn ttl_jitter_spreads_expiries_between_ttl_less_jitter_and_ttl() {
            let lifetimes: Vec<Duration> = (0..50)
                .map(|n| {
                    jittered(n);
                    plain(n);
                    assert!(remaining(&format!("plain-{n}")) > Duration::from_secs(58));
                    remaining(&format!("jittered-{n}"))
                })
                .collect();
            let (min, max) = (lifetimes.iter().min().unwrap(), lifetimes.iter().max().unwrap());
            eprintln!("50 values of ttl 60 s, jitter 30 s, live {min:?} to {max:?}");
            assert!(*min >= Duration::from_secs(29), "{min:?}");
            assert!(*max <= Duration::from_secs(60), "{max:?}");
            assert!(*max - *min > Duration::from_secs(10), "not spread: {min:?} to {max:?}");
        }
    }
}
