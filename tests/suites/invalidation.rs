// Invalidation by pattern (`Cachify::delete_matching`, `f::clear`), written once against
// `backend()` and included by the `cached_*` binaries.

mod invalidation {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::LazyLock;
    use std::time::Duration;

    use cachify::{cached, Cachify, Error};

    use super::backend;

    /// Writes `{stem}{i}` for `i` in `range` through the async client, many at once.
    async fn write_keys(cachify: &Cachify, stem: &str, range: std::ops::Range<usize>) {
        const WRITERS: usize = 32;
        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let (cachify, stem, range) = (cachify.clone(), stem.to_owned(), range.clone());
            writers.spawn(async move {
                for i in range.skip(writer).step_by(WRITERS) {
                    let key = cachify.cache_key(&format!("{stem}{i}"));
                    let stored = cachify.async_client().set(&key, b"v", None, false);
                    stored.await.expect("the backend stores");
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.expect("a writer panicked");
        }
    }

    async fn is_cached(cachify: &Cachify, key: &str) -> bool {
        let key = cachify.cache_key(key);
        cachify.async_client().get(&key).await.unwrap().is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn deleting_100_000_keys_by_pattern_counts_them_exactly_and_spares_the_rest() {
        let cachify = backend().instance("bulk");
        write_keys(&cachify, "user-", 0..100_000).await;
        write_keys(&cachify, "order-", 0..1_000).await;
        let _lock = cachify.lock("user-1").acquire_async().await.unwrap();
        let _slot = cachify.pool("user-2", 2).acquire_async().await.unwrap();

        assert_eq!(cachify.delete_matching_async("user-*").await.unwrap(), 100_000);
        assert!(!is_cached(&cachify, "user-0").await);
        assert!(!is_cached(&cachify, "user-99999").await);
        for i in 0..1_000 {
            assert!(is_cached(&cachify, &format!("order-{i}")).await, "order-{i}");
        }
        assert_eq!(cachify.delete_matching_async("user-*").await.unwrap(), 0);

        // `*` matches the lock's and the pool's storage keys too: they are kept.
        assert_eq!(cachify.delete_matching_async("*").await.unwrap(), 1_000);
        assert!(cachify.lock("user-1").is_locked_async().await.unwrap());
        assert_eq!(cachify.pool("user-2", 2).size_async().await.unwrap(), 1);
    }

    #[test]
    fn the_sync_form_deletes_what_matches_and_keeps_locks_and_pools() {
        let cachify = backend().instance("sync");
        for key in ["user-7-name", "user-7-mail", "user-70-name", "user-8-name"] {
            let key = cachify.cache_key(key);
            cachify.sync_client().set(&key, b"v", None, false).unwrap();
        }
        let _lock = cachify.lock("user-7-job").acquire().unwrap();
        let _slot = cachify.pool("user-7-api", 1).acquire().unwrap();

        assert_eq!(cachify.delete_matching("user-7-*").unwrap(), 2);
        assert_eq!(cachify.delete_matching("user-?0-*").unwrap(), 1);
        assert_eq!(cachify.delete_matching("user-[^8]-*").unwrap(), 0);
        assert_eq!(cachify.delete_matching("*").unwrap(), 1, "user-8-name");
        assert!(cachify.lock("user-7-job").is_locked().unwrap());
        assert_eq!(cachify.pool("user-7-api", 1).size().unwrap(), 1);
    }

    #[test]
    fn a_deletion_can_be_the_first_call_of_a_fresh_client() {
        let cachify = backend().instance("fresh");
        assert_eq!(cachify.delete_matching("*").unwrap(), 0);
        let fresh = backend().instance("fresh-async");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(fresh.delete_matching_async("*")).unwrap(), 0);
    }

    #[test]
    fn an_instance_never_deletes_the_keys_of_another_prefix() {
        let (a, b) = (backend().instance("iso-a"), backend().instance("iso-b"));
        for cachify in [&a, &b] {
            let key = cachify.cache_key("shared-name");
            cachify.sync_client().set(&key, b"v", None, false).unwrap();
        }
        assert_eq!(a.delete_matching("*").unwrap(), 1);
        let b_key = b.cache_key("shared-name");
        assert!(b.sync_client().get(&b_key).unwrap().is_some());
    }

    #[test]
    fn glob_metacharacters_in_the_prefix_are_literal() {
        let base = backend().instance("meta").prefix().to_owned();
        let odd = backend().builder("meta").prefix(format!(r"{base}[ab]*?\")).build();
        // Unescaped, `{base}[ab]*?\*` would match this neighbour's `{base}a-k` key.
        let neighbour = backend().builder("meta").prefix(format!("{base}a-")).build();
        for cachify in [&odd, &neighbour] {
            let key = cachify.cache_key("k");
            cachify.sync_client().set(&key, b"v", None, false).unwrap();
        }
        assert_eq!(odd.delete_matching("*").unwrap(), 1);
        let key = neighbour.cache_key("k");
        assert!(neighbour.sync_client().get(&key).unwrap().is_some());
        assert_eq!(neighbour.delete_matching("k").unwrap(), 1);
    }

    /// Two instances on one store, the second's prefix extending the first's.
    fn nested_instances(test: &str) -> (Cachify, Cachify) {
        let (outer, inner) = (backend().builder(test), backend().builder(test));
        let (outer, inner) = if backend() == crate::support::Backend::Memory {
            let shared = cachify::MemoryClient::new();
            let on = |builder: cachify::CachifyBuilder| {
                builder
                    .sync_client(shared.clone())
                    .async_client(shared.clone())
            };
            (on(outer), on(inner))
        } else {
            (outer, inner)
        };
        let outer = outer.build();
        let inner = inner.prefix(format!("{}B-", outer.prefix())).build();
        (outer, inner)
    }

    #[tokio::test]
    async fn a_pattern_deletion_never_deletes_a_lock_or_pool_of_a_nested_prefix() {
        let (outer, inner) = nested_instances("nested");
        let first = inner.lock("job").acquire_async().await.unwrap();
        let first_token = first.fencing_token();
        first.release_async().await.unwrap();
        let _held = inner.lock("held").acquire_async().await.unwrap();
        let _slot = inner.pool("api", 2).acquire_async().await.unwrap();
        for cachify in [&outer, &inner] {
            let key = cachify.cache_key("value");
            cachify.async_client().set(&key, b"v", None, false).await.unwrap();
        }

        // Both values are under the outer prefix; no lock, fence or pool is.
        assert_eq!(outer.delete_matching_async("*").await.unwrap(), 2);
        assert!(inner.lock("held").is_locked_async().await.unwrap());
        assert_eq!(inner.pool("api", 2).size_async().await.unwrap(), 1);
        let again = inner.lock("job").acquire_async().await.unwrap();
        assert!(again.fencing_token() > first_token, "the fencing counter survived");
        again.release_async().await.unwrap();
    }

    #[test]
    fn an_instance_without_a_prefix_or_with_a_namespace_in_it_is_refused() {
        let invalid = |cachify: &Cachify| {
            let refused = cachify.delete_matching("*");
            assert!(
                matches!(refused, Err(Error::InvalidOption { option: "prefix", .. })),
                "{refused:?}"
            );
        };
        invalid(&backend().builder("unprefixed").prefix("").build());
        invalid(&backend().builder("namespaced").prefix("APP-lock:").build());
    }

    #[test]
    fn a_pattern_whose_last_token_is_open_is_refused() {
        let cachify = backend().instance("open");
        let value = cachify.cache_key("user-7");
        cachify.sync_client().set(&value, b"v", None, false).unwrap();
        for pattern in ["user-[7", "user-7\\", "user-[7\\]"] {
            let refused = cachify.delete_matching(pattern);
            assert!(
                matches!(refused, Err(Error::InvalidOption { option: "pattern", .. })),
                "{pattern:?}: {refused:?}"
            );
        }
        assert!(cachify.sync_client().get(&value).unwrap().is_some());
        assert_eq!(cachify.delete_matching("user-[7]").unwrap(), 1);
    }

    /// Under py-cachify's layout a lock handle's key is `{prefix}{key}`, with no mark but
    /// the missing `-cached`.
    #[cfg(feature = "py-cachify")]
    #[test]
    fn under_py_cachify_only_keys_ending_in_cached_are_deleted() {
        let cachify = backend()
            .builder("py-open")
            .layout(cachify::instance::Layout::PyCachify)
            .build();
        let _lock = cachify.lock("user-7").acquire().unwrap();
        let value = cachify.cache_key("user-7");
        cachify.sync_client().set(&value, b"v", None, false).unwrap();
        assert!(cachify.delete_matching("user-[7").is_err());
        assert!(cachify.lock("user-7").is_locked().unwrap());
        assert_eq!(cachify.delete_matching("user-*").unwrap(), 1);
        assert!(cachify.lock("user-7").is_locked().unwrap());
    }

    mod stacked_clear {
        use cachify::lock;

        use super::*;

        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("stacked-clear"));

        pub struct Repo;

        #[cachify::companions]
        impl Repo {
            #[lock(key = "find-lock-{id}", cachify = C)]
            #[cached(key = "find-{id}", cachify = C)]
            fn find(&self, id: u32) -> Result<u32, Error> {
                Ok(id)
            }

            // A refused inner `clear` must not be an error where nobody calls it.
            #[lock(key = "odd-lock-{id}", cachify = C)]
            #[cached(key = "{id}-odd", cachify = C)]
            fn odd(id: u32) -> Result<u32, Error> {
                Ok(id)
            }
        }

        #[test]
        fn a_cached_layer_under_a_lock_keeps_its_clear() {
            for id in 0..3 {
                assert_eq!(Repo.find(id).unwrap(), id);
            }
            assert_eq!(Repo::odd(1).unwrap(), 1);
            assert_eq!(Repo::find_clear().unwrap(), 3);
            assert_eq!(Repo::find_clear().unwrap(), 0);
        }

        /// A local memory layer over the backend, as in a service.
        static LOCAL: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().build());
        static PROFILE_CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "local-profile-{id}", cachify = LOCAL)]
        #[cached(key = "profile-{id}", cachify = C)]
        fn profile(id: u32) -> u32 {
            PROFILE_CALLS.fetch_add(1, SeqCst);
            id
        }

        #[cached(key = "local-orders-{id}", cachify = LOCAL)]
        #[lock(key = "orders-lock-{id}", cachify = C)]
        #[cached(key = "orders-{id}", cachify = C)]
        async fn orders(id: u32) -> Result<u32, Error> {
            Ok(id)
        }

        // An inner layer whose clear is refused refuses the outer one's too: it must
        // not be an error where nobody calls it.
        #[cached(key = "local-odd-{id}", cachify = LOCAL)]
        #[cached(key = "{id}-odd-stacked", cachify = C)]
        fn odd_stacked(id: u32) -> u32 {
            id
        }

        #[test]
        fn clear_clears_every_cached_layer_of_a_stack() {
            for id in 0..3 {
                assert_eq!(profile(id), id);
            }
            assert_eq!(odd_stacked(1), 1);
            assert!(C.sync_client().get(&C.cache_key("profile-2")).unwrap().is_some());
            assert_eq!(profile::clear().unwrap(), 6, "three values in each layer");
            assert!(C.sync_client().get(&C.cache_key("profile-2")).unwrap().is_none());
            assert!(LOCAL.sync_client().get(&LOCAL.cache_key("local-profile-2")).unwrap().is_none());
            assert_eq!(profile::clear().unwrap(), 0);
            assert_eq!(profile(2), 2);
            assert_eq!(PROFILE_CALLS.load(SeqCst), 4, "recomputed after clear");
        }

        #[tokio::test]
        async fn async_clear_clears_the_cached_layers_under_a_lock_too() {
            for id in 0..2 {
                assert_eq!(orders(id).await.unwrap(), id);
            }
            assert_eq!(orders::clear().await.unwrap(), 4, "two values in each cached layer");
            assert!(C.sync_client().get(&C.cache_key("orders-1")).unwrap().is_none());
            assert_eq!(orders::clear().await.unwrap(), 0);
        }
    }

    mod clear_companion {
        use super::*;

        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("clear"));
        static PROFILE_CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "profile-{id}", cachify = C)]
        fn profile(id: u32) -> String {
            PROFILE_CALLS.fetch_add(1, SeqCst);
            format!("user {id}")
        }

        #[cached(key = "orders-{id}", cachify = C)]
        fn orders(id: u32) -> u32 {
            id * 2
        }

        #[cached(key = "settings", cachify = C)]
        fn settings() -> u32 {
            7
        }

        #[test]
        fn clear_deletes_every_value_of_its_function_only() {
            for id in 0..10 {
                profile(id);
                orders(id);
            }
            settings();
            assert_eq!(PROFILE_CALLS.load(SeqCst), 10);
            assert_eq!(profile::clear().unwrap(), 10);
            assert_eq!(profile::clear().unwrap(), 0);
            profile(3);
            assert_eq!(PROFILE_CALLS.load(SeqCst), 11, "recomputed after clear");
            assert_eq!(orders::clear().unwrap(), 10, "the other function kept its values");
            assert_eq!(settings::clear().unwrap(), 1, "a constant key is its one value");
        }
    }

    mod async_clear_companion {
        use super::*;

        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("clear-async"));
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached(key = "report-{year}", ttl = Duration::from_secs(60), cachify = C)]
        async fn report(year: u32) -> String {
            CALLS.fetch_add(1, SeqCst);
            format!("report {year}")
        }

        pub struct Users;

        #[cachify::companions]
        impl Users {
            #[cached(key = "users-{id}", cachify = C)]
            async fn name(&self, id: u32) -> String {
                format!("user {id}")
            }
        }

        #[tokio::test]
        async fn clear_is_async_for_async_functions_and_methods() {
            for year in 2020..2025 {
                report(year).await;
            }
            assert_eq!(report::clear().await.unwrap(), 5);
            report(2020).await;
            assert_eq!(CALLS.load(SeqCst), 6);

            Users.name(1).await;
            Users.name(2).await;
            assert_eq!(Users::name_clear().await.unwrap(), 2);
            assert_eq!(report::clear().await.unwrap(), 1, "report-2020, cached again");
        }
    }
}
