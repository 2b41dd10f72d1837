//! Placeholder until the tracking connections land: a near cache that never tracks.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{BackendError, Error};
use crate::near::{Invalidations, NearSource, TrackingHandle, ValueWithTtl};

struct Untracked;

#[async_trait::async_trait]
impl NearSource for Untracked {
    fn get_with_ttl_blocking(&self, _: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        Err(BackendError::new("no tracking yet"))
    }
    async fn get_with_ttl(&self, _: &str) -> Result<Option<ValueWithTtl>, BackendError> {
        Err(BackendError::new("no tracking yet"))
    }
    fn start_tracking(
        &self,
        _: &str,
        _: Duration,
        _: Arc<dyn Invalidations>,
    ) -> Result<TrackingHandle, Error> {
        Ok(Box::new(()))
    }
}

impl super::RedisClient {
    pub(crate) fn near_source(&self) -> Arc<dyn NearSource> {
        Arc::new(Untracked)
    }
}

#[cfg(feature = "redis-cluster")]
impl super::RedisClusterClient {
    pub(crate) fn near_source(&self) -> Arc<dyn NearSource> {
        Arc::new(Untracked)
    }
}
