//! The global `cachify::lock(key)`: resolved when used, so it fails with
//! `NotInitialized` before `init_cachify()` and works after it. Its own binary because
//! the global instance is per process.

use std::time::Duration;

use cachify::Error;

fn not_initialized<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::NotInitialized)), "{result:?}");
}

#[test]
fn the_global_lock_before_and_after_init() -> Result<(), Error> {
    // Building the lock never fails; using it does until a global exists.
    let lock = cachify::lock("nightly")
        .nowait(false)
        .timeout(Duration::from_secs(1));
    not_initialized(lock.acquire());
    not_initialized(lock.is_locked());
    not_initialized(lock.release());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        not_initialized(lock.acquire_async().await);
        not_initialized(lock.is_locked_async().await);
        not_initialized(lock.release_async().await);
    });

    cachify::init_cachify();
    {
        let _g = cachify::lock("nightly").acquire()?;
        assert!(
            lock.is_locked()?,
            "a lock made before init uses the global now"
        );
        assert!(matches!(
            cachify::lock("nightly").acquire(),
            Err(Error::Locked { .. })
        ));
    }
    assert!(!lock.is_locked()?);
    runtime.block_on(async {
        let guard = lock.acquire_async().await?;
        assert!(cachify::lock("nightly").is_locked_async().await?);
        guard.release_async().await?;
        cachify::lock("nightly").release_async().await
    })
}
