//! The sync side of [`RedisClient`](super::RedisClient): plain blocking connections kept
//! for reuse, so a sync call costs one round trip on the calling thread.
//!
//! Measured against the alternative (blocking the thread on the async multiplexed
//! connection, whose I/O runs on the private runtime's thread; `benches/redis.rs`), a
//! reused blocking connection answers a single thread's GET about 3× sooner: no
//! hand-over to another thread and back. The multiplexed connection only wins on raw
//! throughput when many more threads than cores share it, which a sync caller that waits
//! for its reply rarely does.
//!
//! A caller never waits for another's connection: a thread that finds no idle connection
//! opens one, and at most [`RedisOptions::max_idle_connections`] are kept. Connections
//! are not pinged on checkout; a connection that fails with an I/O error (a timeout
//! included: its reply may still arrive and would be read as the next command's) is
//! dropped together with every idle one (a restarted server broke them all), so the next
//! call connects afresh.

use std::time::Duration;

use parking_lot::Mutex;
use redis::{Connection, ConnectionLike, RedisError, RedisResult};

use super::options::RedisOptions;

/// Whether a failure happened while connecting or while waiting for a reply: the
/// error message says which timeout ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connect,
    Response,
}

/// The idle blocking connections of one client.
pub(crate) struct BlockingConnections {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl BlockingConnections {
    pub(crate) fn new(client: &redis::Client, options: &RedisOptions) -> Self {
        Self {
            client: without_setinfo(client),
            idle: Mutex::new(Vec::new()),
            max_idle: options.max_idle_connections,
            connect_timeout: options.connect_timeout,
            response_timeout: options.response_timeout,
        }
    }

    /// Runs `command` on an idle or a new connection.
    pub(crate) fn with<T>(
        &self,
        command: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, (Phase, RedisError)> {
        let idle = self.idle.lock().pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().map_err(|error| (Phase::Connect, error))?,
        };
        let result = command(&mut connection);
        match &result {
            Err(error) if error.is_io_error() || error.is_unrecoverable_error() => {
                self.idle.lock().clear();
            }
            _ if connection.is_open() => {
                let mut idle = self.idle.lock();
                if idle.len() < self.max_idle {
                    idle.push(connection);
                }
            }
            _ => {}
        }
        result.map_err(|error| (Phase::Response, error))
    }

    fn connect(&self) -> RedisResult<Connection> {
        // The timeout covers the TCP connect, then each reply of the handshake.
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.response_timeout))?;
        connection.set_write_timeout(Some(self.response_timeout))?;
        Ok(connection)
    }
}

/// `client` without the two `CLIENT SETINFO` commands redis-rs sends on connecting: a
/// blocking handshake waits up to the connect timeout for *each* reply, so against a hung
/// server they tripled the cost of a connect (a URL with a password and a database still
/// has up to two: `AUTH`, `SELECT`).
fn without_setinfo(client: &redis::Client) -> redis::Client {
    let info = client.get_connection_info().clone();
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    redis::Client::open(info.set_redis_settings(settings)).unwrap_or_else(|_| client.clone())
}
