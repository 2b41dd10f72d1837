//! The operations shared by [`RedisClient`](super::RedisClient) and the cluster client:
//! one implementation over any redis-rs async connection, exposed to sync callers by
//! blocking on the private I/O runtime and to async callers on their own task.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::runtime::Handle;

use super::releases::{channel, Releases};
use super::{io, scripts};
use crate::backend::ReleaseWatch;
use crate::error::BackendError;

/// Where an [`Engine`] gets a connection for one command.
pub(crate) trait Connector: Send + Sync + 'static {
    /// A connection handle, cheap to clone (a multiplexed or cluster connection).
    type Conn: ConnectionLike + Send + 'static;

    /// A handle for the next command; may connect lazily.
    fn connection(&self) -> impl Future<Output = Result<Self::Conn, BackendError>> + Send;
}

/// A connection whose commands run with the private I/O runtime as their tokio context,
/// for connections created there: whatever a command spawns (a lazy connect's driver, a
/// reconnect) and every timer it arms (the response timeout) belong to the I/O runtime,
/// which outlives every caller's (see [`io`](super::io)).
#[derive(Clone)]
pub(crate) struct OnIo<C> {
    pub(crate) connection: C,
    pub(crate) runtime: &'static Handle,
}

impl<C: ConnectionLike + Send> ConnectionLike for OnIo<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(io::within(
            self.runtime,
            self.connection.req_packed_command(cmd),
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(io::within(
            self.runtime,
            self.connection.req_packed_commands(pipeline, offset, count),
        ))
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}

/// Commands over a connector, and release notifications over its pub/sub connection.
pub(crate) struct Engine<K> {
    pub(crate) connector: K,
    pub(crate) releases: Option<Releases>,
}

pub(crate) fn backend_error(error: RedisError) -> BackendError {
    BackendError::new(error)
}

/// Milliseconds for `PX` / `PEXPIRE`: rounded up, and at least 1 (Redis rejects 0).
pub(crate) fn millis(ttl: Duration) -> u64 {
    let nanos = ttl.as_nanos();
    let millis = nanos.div_ceil(1_000_000).max(1);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// `SET key value [PX ms] [NX]`: the one spelling of `set` for both sides of a client.
pub(crate) fn set_command(key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(millis(ttl));
    }
    if nx {
        cmd.arg("NX");
    }
    cmd
}

pub(crate) fn optional_millis(ttl: Option<Duration>) -> String {
    ttl.map(|ttl| millis(ttl).to_string()).unwrap_or_default()
}

impl<K: Connector> Engine<K> {
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut conn = self.connector.connection().await?;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let cmd = set_command(key, value, ttl, nx);
        let mut conn = self.connector.connection().await?;
        let reply: Value = cmd.query_async(&mut conn).await.map_err(backend_error)?;
        // `SET .. NX` answers nil when the key was present; plain `SET` always answers OK.
        Ok(!matches!(reply, Value::Nil))
    }

    pub(crate) async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut conn = self.connector.connection().await?;
        let mut deleted = 0;
        // One script per key: every key may live in another cluster slot, and each
        // deletion announces a release on its own channel (a forced lock release wakes
        // the lock's waiters).
        for key in keys {
            let existed: u64 = scripts::DELETE
                .key(*key)
                .arg(channel(key))
                .invoke_async(&mut conn)
                .await
                .map_err(backend_error)?;
            deleted += existed;
        }
        Ok(deleted)
    }

    pub(crate) async fn delete_if_equals(
        &self,
        key: &str,
        expected: &[u8],
    ) -> Result<bool, BackendError> {
        let mut conn = self.connector.connection().await?;
        scripts::RELEASE
            .key(key)
            .arg(expected)
            .arg(channel(key))
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let mut conn = self.connector.connection().await?;
        scripts::EXTEND
            .key(key)
            .arg(expected)
            .arg(optional_millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        let mut conn = self.connector.connection().await?;
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(backend_error)?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(pttl).ok().map(Duration::from_millis))
    }

    pub(crate) async fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let mut conn = self.connector.connection().await?;
        scripts::POOL_ACQUIRE
            .key(key)
            .arg(token)
            .arg(max_size)
            .arg(optional_millis(slot_ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        let mut conn = self.connector.connection().await?;
        scripts::POOL_RELEASE
            .key(key)
            .arg(token)
            .arg(channel(key))
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        let mut conn = self.connector.connection().await?;
        scripts::POOL_SIZE
            .key(key)
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    pub(crate) async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        match &self.releases {
            Some(releases) => Some(releases.watch(key).await),
            None => None,
        }
    }
}

/// Implements `SyncClient` for a type whose `inner` derefs to an [`Engine`] by blocking
/// the calling thread on the engine's futures (the cluster client's sync side).
#[cfg(feature = "redis-cluster")]
macro_rules! impl_blocking_sync_client {
    ($client:ty) => {
        impl $crate::backend::SyncClient for $client {
            fn get(&self, key: &str) -> Result<Option<Vec<u8>>, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.get(key))?
            }

            fn set(
                &self,
                key: &str,
                value: &[u8],
                ttl: Option<std::time::Duration>,
                nx: bool,
            ) -> Result<bool, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.set(key, value, ttl, nx))?
            }

            fn delete(&self, keys: &[&str]) -> Result<u64, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.delete(keys))?
            }

            fn delete_if_equals(
                &self,
                key: &str,
                expected: &[u8],
            ) -> Result<bool, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.delete_if_equals(key, expected))?
            }

            fn expire_if_equals(
                &self,
                key: &str,
                expected: &[u8],
                ttl: Option<std::time::Duration>,
            ) -> Result<bool, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(
                    self.inner.expire_if_equals(key, expected, ttl),
                )?
            }

            fn remaining_ttl(
                &self,
                key: &str,
            ) -> Result<Option<std::time::Duration>, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.remaining_ttl(key))?
            }

            fn pool_acquire(
                &self,
                key: &str,
                token: &str,
                max_size: usize,
                slot_ttl: Option<std::time::Duration>,
            ) -> Result<bool, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(
                    self.inner.pool_acquire(key, token, max_size, slot_ttl),
                )?
            }

            fn pool_release(
                &self,
                key: &str,
                token: &str,
            ) -> Result<bool, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.pool_release(key, token))?
            }

            fn pool_size(&self, key: &str) -> Result<usize, $crate::error::BackendError> {
                $crate::backend::redis::io::block_on(self.inner.pool_size(key))?
            }

            fn watch(&self, key: &str) -> Option<$crate::backend::ReleaseWatch> {
                $crate::backend::redis::io::block_on(self.inner.watch(key))
                    .ok()
                    .flatten()
            }
        }
    };
}

/// Implements `AsyncClient` for a type whose `inner` derefs to an [`Engine`]: calls run
/// on the caller's task; the connector decides in which runtime's context (see
/// [`OnIo`]). Subscribing to releases always happens in the I/O runtime's.
macro_rules! impl_async_client {
    ($client:ty) => {
        #[async_trait::async_trait]
        impl $crate::backend::AsyncClient for $client {
            async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, $crate::error::BackendError> {
                self.inner.get(key).await
            }

            async fn set(
                &self,
                key: &str,
                value: &[u8],
                ttl: Option<std::time::Duration>,
                nx: bool,
            ) -> Result<bool, $crate::error::BackendError> {
                self.inner.set(key, value, ttl, nx).await
            }

            async fn delete(&self, keys: &[&str]) -> Result<u64, $crate::error::BackendError> {
                self.inner.delete(keys).await
            }

            async fn delete_if_equals(
                &self,
                key: &str,
                expected: &[u8],
            ) -> Result<bool, $crate::error::BackendError> {
                self.inner.delete_if_equals(key, expected).await
            }

            async fn expire_if_equals(
                &self,
                key: &str,
                expected: &[u8],
                ttl: Option<std::time::Duration>,
            ) -> Result<bool, $crate::error::BackendError> {
                self.inner.expire_if_equals(key, expected, ttl).await
            }

            async fn remaining_ttl(
                &self,
                key: &str,
            ) -> Result<Option<std::time::Duration>, $crate::error::BackendError> {
                self.inner.remaining_ttl(key).await
            }

            async fn pool_acquire(
                &self,
                key: &str,
                token: &str,
                max_size: usize,
                slot_ttl: Option<std::time::Duration>,
            ) -> Result<bool, $crate::error::BackendError> {
                self.inner
                    .pool_acquire(key, token, max_size, slot_ttl)
                    .await
            }

            async fn pool_release(
                &self,
                key: &str,
                token: &str,
            ) -> Result<bool, $crate::error::BackendError> {
                self.inner.pool_release(key, token).await
            }

            async fn pool_size(&self, key: &str) -> Result<usize, $crate::error::BackendError> {
                self.inner.pool_size(key).await
            }

            async fn watch(&self, key: &str) -> Option<$crate::backend::ReleaseWatch> {
                $crate::backend::redis::io::on_io(self.inner.watch(key))
                    .await
                    .ok()
                    .flatten()
            }
        }
    };
}

pub(crate) use impl_async_client;
#[cfg(feature = "redis-cluster")]
pub(crate) use impl_blocking_sync_client;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds_and_never_reach_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_micros(1_001)), 2);
        assert_eq!(millis(Duration::from_secs(3)), 3_000);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
