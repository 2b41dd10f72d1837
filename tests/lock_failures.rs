//! Locks, `#[lock]` and `#[once]` over a backend that fails every call: errors reach
//! callers that can take them, and `#[once]` in a function that cannot fails closed
//! (the call is skipped, never run unguarded).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use cachify::{lock, once, Cachify, Error};

static DOWN: LazyLock<Cachify> = LazyLock::new(support::down::instance);

fn is_backend<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Backend(_)))
}

#[test]
fn the_lock_object_reports_backend_failures() {
    let lock = DOWN.lock("k");
    assert!(is_backend(lock.acquire()));
    assert!(is_backend(lock.clone().nowait(false).acquire()));
    assert!(is_backend(lock.is_locked()));
    assert!(is_backend(lock.release()));
}

#[tokio::test]
async fn the_async_lock_object_reports_backend_failures() {
    let lock = DOWN.lock("k");
    assert!(is_backend(lock.acquire_async().await));
    assert!(is_backend(lock.is_locked_async().await));
    assert!(is_backend(lock.release_async().await));
}

static RAN: AtomicUsize = AtomicUsize::new(0);

#[lock(key = "locked-{n}", cachify = DOWN)]
fn guarded(n: u32) -> Result<u32, Error> {
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(n)
}

#[once(key = "once-result", cachify = DOWN)]
async fn once_result() -> Result<u32, Error> {
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(1)
}

#[once(key = "once-plain", return_on_locked = 7, cachify = DOWN)]
fn once_plain() -> u32 {
    RAN.fetch_add(1, Ordering::SeqCst);
    1
}

#[once(key = "once-default", cachify = DOWN)]
async fn once_default() -> Vec<u8> {
    RAN.fetch_add(1, Ordering::SeqCst);
    vec![1]
}

#[tokio::test]
async fn macros_return_failures_or_fail_closed() {
    assert!(is_backend(guarded(1)));
    assert!(is_backend(guarded::is_locked(1)));
    assert!(is_backend(once_result().await));
    assert_eq!(once_plain(), 7, "fails closed: behaves as locked");
    assert_eq!(once_default().await, Vec::<u8>::new());
    assert_eq!(
        RAN.load(Ordering::SeqCst),
        0,
        "no body ran without its lock"
    );
}
