//! `cachify::pool` on the global instance: unusable before `init_cachify()`, then usable.
//! In a binary of its own because the global is per process.

use cachify::Error;

#[tokio::test]
async fn the_global_pool_resolves_its_instance_on_use() {
    // Built before init: a `Pool` never fails by itself.
    let pool = cachify::pool("global-pool", 2);
    assert!(matches!(pool.acquire(), Err(Error::NotInitialized)));
    assert!(matches!(
        pool.acquire_async().await,
        Err(Error::NotInitialized)
    ));
    assert!(matches!(pool.size(), Err(Error::NotInitialized)));
    assert!(matches!(
        pool.size_async().await,
        Err(Error::NotInitialized)
    ));

    cachify::init_cachify();
    let slot = pool.acquire_async().await.unwrap();
    assert_eq!(pool.size().unwrap(), 1);
    assert_eq!(
        cachify::pool("global-pool", 2).size_async().await.unwrap(),
        1
    );
    slot.release_async().await.unwrap();
    assert_eq!(pool.size().unwrap(), 0);
}
