//! A backend whose every call fails, as a server that refuses connections would.

use std::time::Duration;

use async_trait::async_trait;
use cachify::{AsyncClient, BackendError, Cachify, SyncClient};

/// Fails every call with "connection refused".
pub struct Down;

fn refused() -> BackendError {
    BackendError::unsent("connection refused")
}

impl SyncClient for Down {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(refused())
    }
    fn set(&self, _: &str, _: &[u8], _: Option<Duration>, _: bool) -> Result<bool, BackendError> {
        Err(refused())
    }
    fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
        Err(refused())
    }
}

#[async_trait]
impl AsyncClient for Down {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(refused())
    }
    async fn set(
        &self,
        _: &str,
        _: &[u8],
        _: Option<Duration>,
        _: bool,
    ) -> Result<bool, BackendError> {
        Err(refused())
    }
    async fn delete(&self, _: &[&str]) -> Result<u64, BackendError> {
        Err(refused())
    }
}

/// An instance whose sync and async sides are both [`Down`].
pub fn instance() -> Cachify {
    Cachify::builder()
        .sync_client(Down)
        .async_client(Down)
        .build()
}
