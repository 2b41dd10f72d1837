// `Layout::PyCachify` against `backend()`, without Python: the keys and values it writes
// are py-cachify 3.1's, and locks, `#[once]` and pools work and release through them.
// (`tests/py_fleet.rs` runs real py-cachify processes next to it on Redis.)

mod py_layout {
    use std::collections::BTreeMap;
    use std::sync::{mpsc, LazyLock};
    use std::time::{Duration, Instant};

    use cachify::codec::pickle;
    use cachify::instance::Layout;
    use cachify::{cached, lock, once, pooled, Cachify, Error};

    use super::backend;

    static PY: LazyLock<Cachify> = LazyLock::new(|| {
        backend()
            .builder("py-layout")
            .layout(Layout::PyCachify)
            .build()
    });

    fn stored(key: &str) -> Option<Vec<u8>> {
        PY.sync_client().get(&format!("{}{key}", PY.prefix())).unwrap()
    }

    #[cached(key = "total-{a}", cachify = PY)]
    fn total(a: i64) -> (i64, String) {
        (a + 1, "one more".to_owned())
    }

    #[test]
    fn a_cached_value_is_a_pickle_at_the_py_cachify_key() {
        assert_eq!(total(1), (2, "one more".to_owned()));
        let bytes = stored("total-1-cached").expect("stored at {prefix}{key}-cached");
        let value: (i64, String) = pickle::decode(&bytes).unwrap();
        assert_eq!(value, (2, "one more".to_owned()));
        assert_eq!(total(1), (2, "one more".to_owned()), "and a hit");
    }

    #[cached(key = "wiped-{a}", cachify = PY)]
    fn wiped(a: i64) -> i64 {
        a
    }

    #[test]
    fn deleting_by_pattern_removes_cached_values_and_spares_locks_and_pools() {
        assert_eq!(wiped(1) + wiped(2), 3);
        let _lock = PY.lock("wiped-job").acquire().unwrap();
        let _slot = PY.pool("wiped-pool", 2).acquire().unwrap();
        assert_eq!(PY.delete_matching("wiped-*").unwrap(), 2, "the two cached values");
        assert!(stored("wiped-1-cached").is_none());
        assert!(PY.lock("wiped-job").is_locked().unwrap(), "a lock is not a cached value");
        assert_eq!(PY.pool("wiped-pool", 2).size().unwrap(), 1, "nor a pool slot");
    }

    #[lock(key = "job", cachify = PY)]
    fn job(held: &mpsc::Sender<Option<Vec<u8>>>) -> Result<(), Error> {
        held.send(stored("job-lock")).unwrap();
        Ok(())
    }

    #[once(key = "job", cachify = PY)]
    fn once_job(held: &mpsc::Sender<Option<Vec<u8>>>) -> Option<()> {
        held.send(stored("job-once")).unwrap();
        Some(())
    }

    #[test]
    fn locks_and_once_hold_py_cachify_keys_with_pickled_tokens_and_release_them() {
        let (held, values) = mpsc::channel();
        job(&held).unwrap();
        assert_eq!(once_job(&held), Some(()));
        for value in values.try_iter() {
            let token: String = pickle::decode(&value.expect("held while the body runs"))
                .expect("py-cachify unpickles a lock value to answer is_locked");
            assert_eq!(token.len(), 32, "a unique token: {token}");
        }
        assert_eq!(stored("job-lock"), None, "released through the guard");
        assert_eq!(stored("job-once"), None, "released through the guard");
        let handle = PY.lock("job-lock");
        let guard = handle.acquire().unwrap();
        assert!(handle.is_locked().unwrap());
        guard.release().unwrap();
        assert!(!handle.is_locked().unwrap());
    }

    #[pooled(key = "workers", max_size = 2, cachify = PY)]
    fn work() -> Option<()> {
        Some(())
    }

    /// py-cachify's `PoolState.__dict__`.
    #[derive(serde::Deserialize)]
    struct PoolState {
        slots: BTreeMap<String, f64>,
    }

    #[test]
    fn a_pool_is_py_cachify_pool_state_and_admits_max_size() {
        let pool = PY.pool("workers-pool", 2);
        let first = pool.acquire().unwrap();
        let second = pool.acquire().unwrap();
        assert!(matches!(pool.acquire(), Err(Error::PoolFull { .. })));
        assert_eq!(work(), None, "#[pooled] shares the pool: full");
        let bytes = stored("workers-pool-state").expect("the state at {key}-state");
        let state: PoolState = pickle::decode(&bytes).unwrap();
        assert_eq!(state.slots.len(), 2);
        assert!(state.slots.values().all(|expiry| *expiry > 1e9), "Unix seconds");
        assert_eq!(stored("workers-pool-lock"), None, "the meta-lock is released");
        first.release().unwrap();
        assert_eq!(pool.size().unwrap(), 1);
        drop(second);
        cachify::flush_releases(std::time::Duration::from_secs(5));
        assert_eq!(pool.size().unwrap(), 0);
    }

    #[test]
    fn a_release_waits_out_a_meta_lock_left_behind() {
        let pool = PY.pool("left-behind", 1);
        let slot = pool.acquire().unwrap();
        // What a process that died (or an acquire cancelled) inside the critical section
        // leaves: the meta-lock, until it expires.
        let meta_lock = format!("{}left-behind-lock", PY.prefix());
        let ttl = Some(std::time::Duration::from_secs(1));
        assert!(PY.sync_client().set(&meta_lock, b"\x80\x04K\x01.", ttl, true).unwrap());
        slot.release().unwrap();
        assert_eq!(pool.size().unwrap(), 0, "the slot was given back");
        assert!(pool.acquire().is_ok());
    }

    #[cached(key = "async-{a}", cachify = PY)]
    async fn async_total(a: i64) -> Vec<i64> {
        vec![a, a + 1]
    }

    #[tokio::test]
    async fn the_async_side_reads_and_writes_the_same_layout() {
        assert_eq!(async_total(4).await, [4, 5]);
        let bytes = stored("async-4-cached").expect("stored at {prefix}{key}-cached");
        assert_eq!(pickle::decode::<Vec<i64>>(&bytes).unwrap(), [4, 5]);
        assert_eq!(async_total(4).await, [4, 5], "and a hit");

        let pool = PY.pool("async-pool", 1);
        let slot = pool.acquire_async().await.unwrap();
        assert!(stored("async-pool-state").is_some());
        assert!(matches!(pool.acquire_async().await, Err(Error::PoolFull { .. })));
        assert_eq!(pool.size_async().await.unwrap(), 1);
        slot.release_async().await.unwrap();
        assert_eq!(pool.size_async().await.unwrap(), 0);
    }

    /// What a Python worker that died inside its critical section leaves: py-cachify's
    /// meta-lock, for 30 s.
    fn leave_meta_lock(pool_key: &str) -> String {
        let meta_lock = format!("{}{pool_key}-lock", PY.prefix());
        let ttl = Some(Duration::from_secs(30));
        assert!(PY.sync_client().set(&meta_lock, b"\x80\x04K\x01.", ttl, true).unwrap());
        meta_lock
    }

    #[pooled(key = "stuck", max_size = 1, cachify = PY)]
    fn stuck() -> Result<bool, Error> {
        Ok(true)
    }

    #[test]
    fn a_meta_lock_left_behind_is_a_full_pool_within_the_pool_s_patience() {
        let left = [leave_meta_lock("stuck-pool"), leave_meta_lock("stuck")];
        let started = Instant::now();
        assert!(!stuck().unwrap(), "#[pooled] skips the call, as for a full pool");
        let pool = PY.pool("stuck", 1);
        assert!(matches!(pool.clone().nowait(true).acquire(), Err(Error::PoolFull { .. })));
        let short = pool.nowait(false).timeout(Duration::from_millis(200));
        assert!(matches!(short.acquire(), Err(Error::PoolFull { .. })));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let refused = runtime.block_on(short.acquire_async());
        assert!(matches!(refused, Err(Error::PoolFull { .. })));
        // py-cachify's own patience would be 5 s per attempt.
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
        let left: Vec<&str> = left.iter().map(String::as_str).collect();
        PY.sync_client().delete(&left).unwrap();
        assert!(PY.pool("stuck", 1).nowait(true).acquire().is_ok());
    }

    #[test]
    fn a_freed_slot_is_announced_on_the_pool_key() {
        let pool = PY.pool("announced", 1);
        let slot = pool.acquire().unwrap();
        let mut watch = PY.sync_client().watch(&PY.pool_key("announced"));
        slot.release().unwrap();
        if let Some(watch) = watch.as_mut() {
            assert!(watch.wait_blocking(Duration::from_secs(5)), "waiters are woken");
        }
        assert_eq!(stored("announced"), None, "nothing left under the pool key");
    }

    #[test]
    fn a_release_outlasts_a_meta_lock_python_holds_longer_than_its_patience() {
        let pool = PY.pool("outlasted", 1);
        let slot = pool.acquire().unwrap();
        let meta_lock = format!("{}outlasted-lock", PY.prefix());
        // Longer than a release waits (5 s + 5 s), shorter than py-cachify's 30 s.
        let ttl = Some(Duration::from_secs(12));
        assert!(PY.sync_client().set(&meta_lock, b"\x80\x04K\x01.", ttl, true).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move { drop(slot) });
        assert!(cachify::flush_releases(Duration::from_secs(60)));
        assert_eq!(pool.size().unwrap(), 0, "the dropped slot was given back");
    }

    #[test]
    fn a_lock_value_stays_a_pickle_next_to_its_fencing_counter() {
        let lock = PY.lock("fenced");
        let guard = lock.acquire().unwrap();
        let token: String = pickle::decode(&stored("fenced").unwrap()).unwrap();
        assert_eq!(token.len(), 32);
        let fence = stored("fenced:fence");
        if let Some(fence) = fence {
            assert_eq!(fence, b"1", "a plain counter Python never reads");
        }
        guard.release().unwrap();
    }
}
