//! The sync side of [`RedisClient`](super::RedisClient): plain blocking connections
//! from a small pool, so a sync call costs one round trip on the calling thread.
//!
//! Measured against the alternative (blocking the thread on the async multiplexed
//! connection, whose I/O runs on the private I/O thread; `benches/redis.rs`), a pooled
//! blocking connection answers a single thread's GET about 3× sooner: no hand-over to
//! another thread and back. The multiplexed connection only wins on raw throughput when
//! many more threads than cores share it, which a sync caller that waits for its reply
//! rarely does.
//!
//! The pool never makes a caller wait for another's connection: a thread that finds no
//! idle connection opens one, and at most [`MAX_IDLE`] are kept. Connections are not
//! pinged on checkout; a connection that fails with an I/O error is dropped together
//! with every idle one (a restarted server broke them all), so the next call connects
//! afresh.

use std::time::Duration;

use parking_lot::Mutex;
use redis::{Connection, ConnectionLike, RedisError, RedisResult, Value};

use super::engine::{backend_error, optional_millis};
use super::releases::channel;
use super::{io, scripts, CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};
use crate::backend::{ReleaseWatch, SyncClient};
use crate::error::BackendError;

/// Idle connections kept for reuse; more threads at once open more, then close them.
const MAX_IDLE: usize = 32;

pub(crate) struct Pool {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub(crate) fn new(client: redis::Client) -> Self {
        Self {
            client,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `command` on a pooled connection.
    fn with<T>(
        &self,
        command: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, BackendError> {
        let idle = self.idle.lock().pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let result = command(&mut connection);
        match &result {
            Err(error) if error.is_io_error() || error.is_unrecoverable_error() => {
                self.idle.lock().clear();
            }
            _ if connection.is_open() => {
                let mut idle = self.idle.lock();
                if idle.len() < MAX_IDLE {
                    idle.push(connection);
                }
            }
            _ => {}
        }
        result.map_err(backend_error)
    }

    fn connect(&self) -> Result<Connection, BackendError> {
        let connection = self
            .client
            .get_connection_with_timeout(CONNECTION_TIMEOUT)
            .map_err(backend_error)?;
        connection
            .set_read_timeout(Some(RESPONSE_TIMEOUT))
            .and_then(|()| connection.set_write_timeout(Some(RESPONSE_TIMEOUT)))
            .map_err(backend_error)?;
        Ok(connection)
    }
}

fn is_set(reply: Value) -> bool {
    !matches!(reply, Value::Nil)
}

impl SyncClient for super::RedisClient {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.blocking
            .with(|conn| redis::cmd("GET").arg(key).query(conn))
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let cmd = super::engine::set_command(key, value, ttl, nx);
        self.blocking.with(|conn| cmd.query(conn).map(is_set))
    }

    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.blocking.with(|conn| {
            keys.iter().try_fold(0, |deleted, key| {
                let existed: u64 = scripts::DELETE.key(*key).arg(channel(key)).invoke(conn)?;
                Ok::<u64, RedisError>(deleted + existed)
            })
        })
    }

    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.blocking.with(|conn| {
            scripts::RELEASE
                .key(key)
                .arg(expected)
                .arg(channel(key))
                .invoke(conn)
        })
    }

    fn expire_if_equals(
        &self,
        key: &str,
        expected: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.blocking.with(|conn| {
            scripts::EXTEND
                .key(key)
                .arg(expected)
                .arg(optional_millis(ttl))
                .invoke(conn)
        })
    }

    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        let pttl: i64 = self
            .blocking
            .with(|conn| redis::cmd("PTTL").arg(key).query(conn))?;
        Ok(u64::try_from(pttl).ok().map(Duration::from_millis))
    }

    fn pool_acquire(
        &self,
        key: &str,
        token: &str,
        max_size: usize,
        slot_ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.blocking.with(|conn| {
            scripts::POOL_ACQUIRE
                .key(key)
                .arg(token)
                .arg(max_size)
                .arg(optional_millis(slot_ttl))
                .invoke(conn)
        })
    }

    fn pool_release(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        self.blocking.with(|conn| {
            scripts::POOL_RELEASE
                .key(key)
                .arg(token)
                .arg(channel(key))
                .invoke(conn)
        })
    }

    fn pool_size(&self, key: &str) -> Result<usize, BackendError> {
        self.blocking
            .with(|conn| scripts::POOL_SIZE.key(key).invoke(conn))
    }

    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        // Subscribing happens on the shared pub/sub connection of the I/O runtime.
        io::block_on(self.inner.watch(key)).ok().flatten()
    }
}
