//! The global instance behind `cachify::lock(key)`, `#[lock]` and `#[once]`: resolved
//! on every use, so they fail with `NotInitialized` before `init_cachify()` and work
//! after it. Its own binary because the global instance is per process, so everything
//! runs in one test, in order.

use std::time::Duration;

use cachify::{lock, once, Error};

fn not_initialized<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::NotInitialized)), "{result:?}");
}

#[lock(key = "global-{n}")]
fn on_global(n: u8) -> Result<u8, Error> {
    Ok(n)
}

#[once(key = "global-once")]
fn once_on_global() -> u8 {
    1
}

#[once(key = "global-once-result")]
async fn once_on_global_result() -> Result<u8, Error> {
    Ok(2)
}

#[test]
fn the_global_before_and_after_init() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Building the lock never fails; using it does until a global exists.
    let lock = cachify::lock("nightly")
        .nowait(false)
        .timeout(Duration::from_secs(1));
    not_initialized(lock.acquire());
    not_initialized(lock.is_locked());
    not_initialized(lock.release());
    runtime.block_on(async {
        not_initialized(lock.acquire_async().await);
        not_initialized(lock.is_locked_async().await);
        not_initialized(lock.release_async().await);
    });
    not_initialized(on_global(1));
    not_initialized(on_global::is_locked(1));
    not_initialized(runtime.block_on(once_on_global_result()));
    let panic = std::panic::catch_unwind(once_on_global).unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("cachify::init_cachify()"), "{message}");

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
    })?;

    assert_eq!(on_global(3)?, 3);
    let _held = cachify::lock("global-4").acquire()?;
    assert!(on_global::is_locked(4)?);
    assert!(matches!(on_global(4), Err(Error::Locked { .. })));
    assert_eq!(once_on_global(), 1);
    assert_eq!(runtime.block_on(once_on_global_result())?, 2);
    Ok(())
}
