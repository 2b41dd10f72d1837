//! The global instance used before `init_cachify()`. Its own binary: nothing here may
//! ever initialise the global.

use cachify::cached;

#[cached(key = "k-{n}")]
fn needs_global(n: u32) -> u32 {
    n
}

#[cached(key = "k-{n}")]
async fn needs_global_async(n: u32) -> u32 {
    n
}

#[test]
#[should_panic(expected = "cachify::init_cachify()")]
fn a_sync_call_panics_naming_init_cachify() {
    needs_global(1);
}

#[tokio::test]
#[should_panic(expected = "cachify::init_cachify()")]
async fn an_async_call_panics_naming_init_cachify() {
    needs_global_async(1).await;
}

#[test]
fn reset_returns_not_initialized() {
    let error = needs_global::reset(1).unwrap_err();
    assert!(matches!(error, cachify::Error::NotInitialized));
}
