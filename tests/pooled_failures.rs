//! `#[pooled]` over a backend that fails every call: a function that cannot return an
//! error fails closed (behaves as full), a `Result` function gets `Err(Backend)`.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use cachify::{pooled, AsyncClient, BackendError, Cachify, Error, SyncClient};

struct Down;

fn down() -> BackendError {
    BackendError::new("connection refused")
}

impl SyncClient for Down {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(down())
    }
    fn set(&self, _: &str, _: &[u8], _: Option<Duration>, _: bool) -> Result<bool, BackendError> {
        Err(down())
    }
    fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
        Err(down())
    }
}

#[async_trait]
impl AsyncClient for Down {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(down())
    }
    async fn set(
        &self,
        _: &str,
        _: &[u8],
        _: Option<Duration>,
        _: bool,
    ) -> Result<bool, BackendError> {
        Err(down())
    }
    async fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
        Err(down())
    }
}

static DOWN: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .sync_client(Down)
        .async_client(Down)
        .build()
});

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
