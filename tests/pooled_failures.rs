//! `#[pooled]` over a backend that fails every call: a function that cannot return an
//! error fails closed (behaves as full), a `Result` function gets `Err(Backend)`.

mod support;

use std::sync::LazyLock;

use cachify::{pooled, Cachify, Error};

static DOWN: LazyLock<Cachify> = LazyLock::new(support::down::instance);

fn fallback(n: u8) -> u8 {
    100 + n
}

#[pooled(key = "k-{n}", max_size = 3, on_full = fallback, cachify = DOWN)]
fn plain(n: u8) -> u8 {
    n
}

#[pooled(key = "k", max_size = 3, cachify = DOWN)]
async fn plain_async() -> u8 {
    1
}

#[pooled(key = "k", max_size = 3, cachify = DOWN)]
fn fallible() -> Result<u8, Error> {
    Ok(1)
}

#[pooled(key = "k", max_size = 3, cachify = DOWN)]
async fn fallible_async() -> Result<u8, Error> {
    Ok(1)
}

#[test]
fn a_plain_fn_fails_closed() {
    assert_eq!(plain(2), 102, "on_full stands in for the body");
    assert!(plain::size(2).is_err(), "the companion reports the failure");
}

#[tokio::test]
async fn a_plain_async_fn_fails_closed() {
    assert_eq!(plain_async().await, 0);
}

#[test]
fn a_result_fn_gets_the_backend_error() {
    assert!(matches!(fallible(), Err(Error::Backend(_))));
}

#[tokio::test]
async fn a_result_async_fn_gets_the_backend_error() {
    assert!(matches!(fallible_async().await, Err(Error::Backend(_))));
}
