//! `#[cached]` without `cachify = ...`: the global instance. Its own binary, because the
//! global is per process.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Once;

use cachify::{cached, Cachify};

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        Cachify::builder().prefix("GLOBAL-TEST-").init();
    });
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(key = "sum-{a}-{b}", ttl = 300)]
fn sum(a: u32, b: u32) -> u32 {
    CALLS.fetch_add(1, SeqCst);
    a + b
}

#[cached(key = "async-sum-{a}-{b}")]
async fn async_sum(a: u32, b: u32) -> u32 {
    a + b
}

#[test]
fn the_global_instance_caches_and_resets() {
    init();
    assert_eq!(sum(1, 2), 3);
    assert_eq!(sum(1, 2), 3);
    assert_eq!(CALLS.load(SeqCst), 1);
    let global = Cachify::global().unwrap();
    let key = global.cache_key("sum-1-2");
    assert_eq!(key, "GLOBAL-TEST-sum-1-2");
    assert!(global.sync_client().get(&key).unwrap().is_some());
    sum::reset(1, 2).unwrap();
    assert!(global.sync_client().get(&key).unwrap().is_none());
}

#[tokio::test]
async fn async_functions_use_the_global_instance_too() {
    init();
    assert_eq!(async_sum(2, 2).await, 4);
    let global = Cachify::global().unwrap();
    let stored = global
        .async_client()
        .get(&global.cache_key("async-sum-2-2"))
        .await;
    assert!(stored.unwrap().is_some());
    async_sum::reset(2, 2).await.unwrap();
}
