//! Fail open: with a backend whose every call fails, `#[cached]` runs the function and
//! returns its value; it never panics and never returns a cache error.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachify::{cached, Cachify};

static BROKEN: LazyLock<Cachify> = LazyLock::new(support::down::instance);

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(key = "n-{n}", cachify = BROKEN)]
fn plain(n: u32) -> u32 {
    CALLS.fetch_add(1, SeqCst);
    n
}

#[cached(key = "r-{n}", cachify = BROKEN)]
async fn fallible(n: u32) -> Result<u32, std::io::Error> {
    Ok(n)
}

#[test]
fn a_failing_backend_runs_the_function_every_time() {
    assert_eq!(plain(1), 1);
    assert_eq!(plain(1), 1);
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[tokio::test]
async fn a_failing_backend_never_turns_into_an_error_value() {
    assert_eq!(fallible(3).await.unwrap(), 3);
}

#[test]
fn reset_reports_the_backend_error() {
    let error = plain::reset(1).unwrap_err();
    assert!(matches!(error, cachify::Error::Backend(_)), "{error}");
}
