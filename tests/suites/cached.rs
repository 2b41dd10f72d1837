// Over 500 lines: a suite run on every backend, one module per behaviour; splitting it would add test binaries (link time) or scatter one subject.
// The `#[cached]` suite, written once against `backend()` and included by one binary per
// backend. Each test lives in its own module with its own instance, so tests run in
// parallel without sharing keys.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;
use std::time::Duration;

use cachify::{cached, Cachify};

/// `static $name: LazyLock<Cachify>` on this suite's backend, with a unique prefix.
macro_rules! instance {
    ($name:ident) => {
        static $name: LazyLock<Cachify> =
            LazyLock::new(|| backend().instance(stringify!($name)));
    };
    ($name:ident, $configure:expr) => {
        static $name: LazyLock<Cachify> = LazyLock::new(|| {
            let configure: fn(cachify::CachifyBuilder) -> cachify::CachifyBuilder = $configure;
            configure(backend().builder(stringify!($name))).build()
        });
    };
}

mod first_steps {
    use super::*;
    instance!(C);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    // py-cachify's `key='sum_two'`: one value for every call.
    #[cached(key = "sum_two", cachify = C)]
    async fn sum_two(a: i32, b: i32) -> i32 {
        CALLS.fetch_add(1, SeqCst);
        a + b
    }

    #[tokio::test]
    async fn a_constant_key_caches_one_value_for_every_call() {
        assert_eq!(sum_two(5, 5).await, 10);
        assert_eq!(sum_two(5, 5).await, 10);
        assert_eq!(sum_two(1, 1).await, 10, "same key, so the first value");
        assert_eq!(CALLS.load(SeqCst), 1);
    }
}

mod dynamic_keys {
    use super::*;
    use std::fmt::Display;
    instance!(C);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "sum_two-{a}-{b}", cachify = C)]
    fn sum_two(a: i32, b: i32) -> i32 {
        CALLS.fetch_add(1, SeqCst);
        a + b
    }

    #[cached(key = "positional-{}-{}", cachify = C)]
    fn positional(a: i32, b: i32) -> i32 {
        a * b
    }

    pub struct Date {
        pub year: i32,
    }

    #[cached(key = "report-{for_date.year}-{kinds:?}", cachify = C)]
    fn report(for_date: &Date, kinds: &[&str]) -> String {
        format!("{} {}", for_date.year, kinds.join(","))
    }

    #[cached(key = "greet-{name}", cachify = C)]
    fn greet(name: &str, suffix: impl Display) -> String {
        format!("hello {name}{suffix}")
    }

    #[cached(key = "generic-{value}", cachify = C)]
    fn generic<T>(value: T) -> String
    where
        T: Display + Clone + Send,
    {
        value.to_string()
    }

    #[test]
    fn placeholders_make_one_entry_per_argument_set() {
        assert_eq!(sum_two(5, 5), 10);
        assert_eq!(sum_two(5, 5), 10);
        assert_eq!(sum_two(5, 10), 15);
        assert_eq!(CALLS.load(SeqCst), 2);
        let stored = C.sync_client().get(&C.cache_key("sum_two-5-10")).unwrap();
        assert!(stored.is_some(), "the key is rendered from the arguments");
    }

    #[test]
    fn positional_placeholders_follow_argument_order() {
        assert_eq!(positional(2, 3), 6);
        assert!(C.sync_client().get(&C.cache_key("positional-2-3")).unwrap().is_some());
    }

    #[test]
    fn field_access_specs_and_references() {
        let date = Date { year: 2024 };
        assert_eq!(report(&date, &["a", "b"]), "2024 a,b");
        let key = C.cache_key(r#"report-2024-["a", "b"]"#);
        assert!(C.sync_client().get(&key).unwrap().is_some());
        assert_eq!(greet("ann", '!'), "hello ann!");
        assert_eq!(greet("ann", '?'), "hello ann!", "suffix is not part of the key");
        assert_eq!(generic(7u8), "7");
        assert_eq!(generic("7"), "7", "same key, cached value");
    }
}

mod ttl {
    use super::*;
    instance!(C, |b| b.default_cache_ttl(Duration::from_secs(60)));
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "explicit", cachify = C, ttl = 300)]
    fn explicit() -> u8 {
        1
    }

    #[cached(key = "never", cachify = C, ttl = None)]
    fn never() -> u8 {
        1
    }

    #[cached(key = "default", cachify = C)]
    fn default() -> u8 {
        1
    }

    const SHORT: Duration = Duration::from_millis(100);

    #[cached(key = "short-{n}", cachify = C, ttl = SHORT)]
    async fn short(n: u8) -> u8 {
        CALLS.fetch_add(1, SeqCst);
        n
    }

    fn remaining(key: &str) -> Option<Duration> {
        C.sync_client().remaining_ttl(&C.cache_key(key)).unwrap()
    }

    fn assert_about(actual: Option<Duration>, secs: u64) {
        let actual = actual.expect("the entry expires");
        let expected = Duration::from_secs(secs);
        assert!(actual <= expected && actual > expected - Duration::from_secs(30), "{actual:?}");
    }

    #[test]
    fn explicit_ttl_wins_over_the_default() {
        explicit();
        assert_about(remaining("explicit"), 300);
    }

    #[test]
    fn ttl_none_never_expires_even_with_a_default() {
        never();
        assert!(C.sync_client().get(&C.cache_key("never")).unwrap().is_some());
        assert_eq!(remaining("never"), None);
    }

    #[test]
    fn omitted_ttl_uses_the_instance_default() {
        default();
        assert_about(remaining("default"), 60);
    }

    #[tokio::test]
    async fn an_expired_value_is_computed_again() {
        assert_eq!(short(1).await, 1);
        assert_eq!(short(1).await, 1);
        assert_eq!(CALLS.load(SeqCst), 1);
        // Waiting for time to pass is the point here, not synchronisation.
        tokio::time::sleep(SHORT * 3).await;
        assert_eq!(short(1).await, 1);
        assert_eq!(CALLS.load(SeqCst), 2);
    }
}

mod enc_dec {
    use super::*;
    instance!(C);

    fn encoder(value: &i32) -> i32 {
        value * 2
    }

    fn decoder(value: i32) -> i32 {
        value * 3
    }

    #[cached(key = "sum_two-{a}-{b}", cachify = C, enc_dec = (encoder, decoder))]
    async fn sum_two(a: i32, b: i32) -> i32 {
        a + b
    }

    /// Not serializable itself: enc_dec turns it into something that is.
    #[derive(Debug, PartialEq)]
    pub struct Opaque(u32);

    #[cached(key = "opaque-{n}", cachify = C, enc_dec = (|o| o.0, Opaque))]
    fn opaque(n: u32) -> Opaque {
        Opaque(n)
    }

    #[tokio::test]
    async fn encoder_runs_before_storing_and_decoder_after_loading() {
        assert_eq!(sum_two(5, 5).await, 10);
        assert_eq!(sum_two(5, 5).await, 60);
    }

    #[test]
    fn enc_dec_caches_values_that_are_not_serializable() {
        assert_eq!(opaque(4), Opaque(4));
        assert_eq!(opaque(4), Opaque(4));
    }
}

mod reset_during_a_miss {
    use super::*;
    use std::sync::Barrier;
    instance!(C);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static STARTED: Barrier = Barrier::new(2);
    static RESUME: Barrier = Barrier::new(2);

    /// The first call stops half-way until the test has reset its key.
    #[cached(key = "slow-{n}", cachify = C)]
    fn slow(n: u32) -> usize {
        let call = CALLS.fetch_add(1, SeqCst) + 1;
        if call == 1 {
            STARTED.wait();
            RESUME.wait();
        }
        call + n as usize
    }

    #[test]
    fn a_value_computed_before_a_reset_is_returned_but_not_stored() {
        let first = std::thread::spawn(|| slow(0));
        STARTED.wait();
        slow::reset(0).unwrap();
        RESUME.wait();
        assert_eq!(first.join().unwrap(), 1, "its caller gets what it computed");
        assert_eq!(slow(0), 2, "the reset is not undone by the run it overlapped");
        assert_eq!(slow(0), 2);
    }
}

mod reset {
    use super::*;
    instance!(C);
    static SYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
    static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
    static METHOD_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "sync-{a}", cachify = C)]
    fn sync_fn(a: u32) -> u32 {
        SYNC_CALLS.fetch_add(1, SeqCst);
        a
    }

    #[cached(key = "async-{a}", cachify = C)]
    pub async fn async_fn(a: u32) -> u32 {
        ASYNC_CALLS.fetch_add(1, SeqCst);
        a
    }

    pub struct Repo {
        pub id: u32,
    }

    impl Repo {
        #[cached(key = "repo-{self.id}-{n}", cachify = C)]
        pub fn get(&self, n: u32) -> u32 {
            METHOD_CALLS.fetch_add(1, SeqCst);
            self.id + n
        }

        #[cached(key = "repo-async-{self.id}-{n}", cachify = C)]
        async fn get_async(&self, n: u32) -> u32 {
            METHOD_CALLS.fetch_add(1, SeqCst);
            self.id * n
        }
    }

    #[test]
    fn free_sync_reset_clears_one_argument_set() {
        sync_fn(1);
        sync_fn(2);
        sync_fn::reset(1).unwrap();
        sync_fn(1);
        sync_fn(2);
        assert_eq!(SYNC_CALLS.load(SeqCst), 3);
    }

    #[tokio::test]
    async fn free_async_reset_is_async() {
        async_fn(1).await;
        let reset: Result<(), cachify::Error> = async_fn::reset(1).await;
        reset.unwrap();
        async_fn(1).await;
        assert_eq!(ASYNC_CALLS.load(SeqCst), 2);
    }

    #[tokio::test]
    async fn method_resets_are_siblings() {
        let repo = Repo { id: 10 };
        assert_eq!(repo.get(1), 11);
        assert_eq!(repo.get(1), 11);
        repo.get_reset(1).unwrap();
        assert_eq!(repo.get(1), 11);
        assert_eq!(repo.get_async(2).await, 20);
        repo.get_async_reset(2).await.unwrap();
        assert_eq!(repo.get_async(2).await, 20);
        assert_eq!(METHOD_CALLS.load(SeqCst), 4);
    }
}

mod instances_and_layers {
    use super::*;
    instance!(A);
    instance!(B);
    instance!(L1, |b| b.default_cache_ttl(Duration::from_secs(5)));
    instance!(L2, |b| b.default_cache_ttl(Duration::from_secs(300)));
    static INNER_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "same", cachify = A)]
    fn on_a() -> String {
        "a".into()
    }

    #[cached(key = "same", cachify = B)]
    fn on_b() -> String {
        "b".into()
    }

    #[cached(key = "local-sum_two-{a}-{b}", cachify = L1, ttl = 5)]
    #[cached(key = "sum_two-{a}-{b}", cachify = L2, ttl = 60)]
    async fn sum_two(a: i32, b: i32) -> i32 {
        INNER_CALLS.fetch_add(1, SeqCst);
        a + b
    }

    #[test]
    fn instances_with_different_prefixes_keep_separate_entries() {
        assert_eq!(on_a(), "a");
        assert_eq!(on_b(), "b");
        assert_ne!(A.cache_key("same"), B.cache_key("same"));
        assert!(A.sync_client().get(&A.cache_key("same")).unwrap().is_some());
        assert!(B.sync_client().get(&B.cache_key("same")).unwrap().is_some());
    }

    #[tokio::test]
    async fn multi_layer_reset_clears_both_layers() {
        assert_eq!(sum_two(2, 3).await, 5);
        assert_eq!(sum_two(2, 3).await, 5);
        assert_eq!(INNER_CALLS.load(SeqCst), 1);
        let outer = L1.cache_key("local-sum_two-2-3");
        let inner = L2.cache_key("sum_two-2-3");
        assert!(L1.sync_client().get(&outer).unwrap().is_some());
        assert!(L2.sync_client().get(&inner).unwrap().is_some());

        sum_two::reset(2, 3).await.unwrap();
        assert!(L1.sync_client().get(&outer).unwrap().is_none());
        assert!(L2.sync_client().get(&inner).unwrap().is_none());
        assert_eq!(sum_two(2, 3).await, 5);
        assert_eq!(INNER_CALLS.load(SeqCst), 2);
    }

    static LAYERED_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "outer-{n}", cachify = L1)]
    #[cached(key = "inner-{n}", cachify = L2)]
    fn layered(n: u32) -> u32 {
        LAYERED_CALLS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn the_outer_layer_answers_before_the_inner_one() {
        assert_eq!(layered(7), 7);
        // Only the inner layer forgets: the outer one still answers.
        L2.sync_client().delete(&[&L2.cache_key("inner-7")]).unwrap();
        assert_eq!(layered(7), 7);
        assert!(L2.sync_client().get(&L2.cache_key("inner-7")).unwrap().is_none());
        // The outer layer forgets: the inner one recomputes and both are filled again.
        L1.sync_client().delete(&[&L1.cache_key("outer-7")]).unwrap();
        assert_eq!(layered(7), 7);
        assert_eq!(LAYERED_CALLS.load(SeqCst), 2);
        assert!(L2.sync_client().get(&L2.cache_key("inner-7")).unwrap().is_some());
    }
}

mod hits_and_misses {
    use super::*;
    instance!(C);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, SeqCst);
    }

    #[cached(key = "none", cachify = C)]
    fn none() -> Option<u32> {
        count();
        None
    }

    #[cached(key = "unit", cachify = C)]
    fn unit() {
        count();
    }

    #[cached(key = "zero", cachify = C)]
    fn zero() -> u64 {
        count();
        0
    }

    #[cached(key = "empty", cachify = C)]
    async fn empty() -> String {
        count();
        String::new()
    }

    #[test]
    fn falsy_values_are_hits() {
        futures_lite_block_on(async {
            for _ in 0..3 {
                assert_eq!(none(), None);
                unit();
                assert_eq!(zero(), 0);
                assert_eq!(empty().await, "");
            }
        });
        assert_eq!(CALLS.load(SeqCst), 4);
    }

    static RESULT_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "result-{ok}", cachify = C)]
    fn result(ok: bool) -> Result<u32, String> {
        let n = RESULT_CALLS.fetch_add(1, SeqCst) as u32;
        if ok {
            Ok(n)
        } else {
            Err(format!("failure {n}"))
        }
    }

    #[test]
    fn err_is_never_cached_and_ok_is() {
        assert_eq!(result(false), Err("failure 0".into()));
        assert_eq!(result(false), Err("failure 1".into()));
        assert_eq!(result(true), Ok(2));
        assert_eq!(result(true), Ok(2));
    }

    static DECODE_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "typed-{n}", cachify = C)]
    fn typed(n: u64) -> u64 {
        DECODE_CALLS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn an_undecodable_value_is_a_miss_and_is_overwritten() {
        let garbage = C.cache_key("typed-1");
        C.sync_client().set(&garbage, b"garbage", None, false).unwrap();
        let wrong_type = C.cache_key("typed-2");
        let text = cachify::codec::encode("not a number").unwrap();
        C.sync_client().set(&wrong_type, &text, None, false).unwrap();

        assert_eq!(typed(1), 1);
        assert_eq!(typed(2), 2);
        assert_eq!(DECODE_CALLS.load(SeqCst), 2);
        assert_eq!(typed(1), 1);
        assert_eq!(typed(2), 2);
        assert_eq!(DECODE_CALLS.load(SeqCst), 2, "the bad entries were overwritten");
    }

    /// Drives a future that never waits on I/O timers (the memory backend, or quick
    /// Redis round trips) on a throwaway runtime.
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }
}

mod runtimes {
    use super::*;
    instance!(C);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "rt-{n}", cachify = C)]
    async fn value(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        tokio::task::yield_now().await;
        n
    }

    #[test]
    fn one_instance_serves_several_runtimes_in_turn() {
        for round in 0..3u32 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(value(round))).collect();
                for task in tasks {
                    assert_eq!(task.await.unwrap(), round);
                }
                assert_eq!(value(0).await, 0);
                value::reset(0).await.unwrap();
            });
        }
        // Round 0 computes 0 (its own value) once; rounds 1 and 2 compute their own
        // value and 0 again after the previous round's reset.
        assert_eq!(CALLS.load(SeqCst), 5);
    }
}

/// A ttl too long for the backend's clock (Redis counts milliseconds) never expires.
mod longest_ttls {
    use super::*;
    instance!(C);
    static FOREVER_RUNS: AtomicUsize = AtomicUsize::new(0);
    static SECONDS_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "duration-max", ttl = Duration::MAX, cachify = C)]
    fn cached_forever() -> u32 {
        FOREVER_RUNS.fetch_add(1, SeqCst);
        7
    }

    #[cached(key = "u64-max-secs", ttl = u64::MAX, cachify = C)]
    fn cached_for_u64_max_seconds() -> u32 {
        SECONDS_RUNS.fetch_add(1, SeqCst);
        7
    }

    #[test]
    fn a_ttl_of_duration_max_or_u64_max_seconds_caches_forever() {
        for _ in 0..3 {
            assert_eq!(cached_forever(), 7);
            assert_eq!(cached_for_u64_max_seconds(), 7);
        }
        assert_eq!(FOREVER_RUNS.load(SeqCst), 1, "ttl = Duration::MAX");
        assert_eq!(SECONDS_RUNS.load(SeqCst), 1, "ttl = u64::MAX (seconds)");
    }
}
