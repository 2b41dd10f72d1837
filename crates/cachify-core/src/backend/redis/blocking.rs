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
//! are pinged on checkout only for a call that must not be sent twice, after sitting
//! idle a while ([`idle`]); a connection that fails with an I/O error (a timeout
//! included: its reply may still arrive and would be read as the next command's) is
//! dropped together with every idle one (a restarted server broke them all), so the next
//! call connects afresh. Each connection is stamped with the generation of the server
//! it went to, so that after a Sentinel failover none to the old master is kept, and one
//! that answers `READONLY` (its server became a replica) is never kept either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::{Connection, ConnectionLike, ErrorKind, RedisError, RedisResult, ServerErrorKind};

use super::idle;
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
    /// The server to connect to; `generation` changes under this lock.
    client: Mutex<redis::Client>,
    /// Bumped when the client moves to another server (a Sentinel failover): a
    /// connection made before is not kept.
    generation: AtomicU64,
    idle: Mutex<Vec<Stamped>>,
    max_idle: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl BlockingConnections {
    pub(crate) fn new(client: &redis::Client, options: &RedisOptions) -> Self {
        Self {
            client: Mutex::new(without_setinfo(client)),
            generation: AtomicU64::new(0),
            idle: Mutex::new(Vec::new()),
            max_idle: options.max_idle_connections,
            connect_timeout: options.connect_timeout,
            response_timeout: options.response_timeout,
        }
    }

    /// Runs `command` on an idle or a new connection; `retry_safe`: it may be sent again
    /// after a lost connection (the rule is in [`idle`](super::idle)).
    pub(crate) fn with<T>(
        &self,
        retry_safe: bool,
        command: impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, (Phase, RedisError)> {
        let (mut stamped, reused) = self.checkout(retry_safe)?;
        let mut result = command(&mut stamped.connection);
        if reused && retry_safe && matches!(&result, Err(error) if idle::is_lost_connection(error))
        {
            // The server closed it (idle timeout, restart): so did it the others.
            self.idle.lock().clear();
            stamped = self.connect().map_err(|error| (Phase::Connect, error))?;
            result = command(&mut stamped.connection);
        }
        self.checkin(stamped, &result);
        result.map_err(|error| (Phase::Response, error))
    }

    /// An idle connection (`true`) or a new one. A call that must not be sent twice gets
    /// a connection idle for long only once a `PING` found it open.
    fn checkout(&self, retry_safe: bool) -> Result<(Stamped, bool), (Phase, RedisError)> {
        let idle = self.idle.lock().pop();
        if let Some(mut stamped) = idle.filter(|stamped| self.is_current(stamped)) {
            if retry_safe || stamped.since.elapsed() <= idle::CHECK_AFTER {
                return Ok((stamped, true));
            }
            match redis::cmd("PING").query::<()>(&mut stamped.connection) {
                Ok(()) => return Ok((stamped, true)),
                Err(error) if idle::is_lost_connection(&error) => self.idle.lock().clear(),
                // A hung server: connecting again would only wait as long once more.
                Err(error) => return Err((Phase::Response, error)),
            }
        }
        let connection = self.connect().map_err(|error| (Phase::Connect, error))?;
        Ok((connection, false))
    }

    /// Keeps `stamped` for reuse unless its call failed on I/O (a timeout included:
    /// its reply may still arrive and would be read as the next command's), its server
    /// answered `READONLY` (a master turned replica: so are the others' connections), or
    /// the client moved to another server since it connected.
    fn checkin<T>(&self, mut stamped: Stamped, result: &RedisResult<T>) {
        match result {
            Err(error)
                if error.is_io_error()
                    || error.is_unrecoverable_error()
                    || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) =>
            {
                self.idle.lock().clear();
            }
            _ if stamped.connection.is_open() && self.is_current(&stamped) => {
                let mut idle = self.idle.lock();
                if idle.len() < self.max_idle {
                    stamped.since = Instant::now();
                    idle.push(stamped);
                }
            }
            _ => {}
        }
    }

    /// Whether `stamped` goes to the server the client connects to now.
    fn is_current(&self, stamped: &Stamped) -> bool {
        // ordering: pairs with the increment in `retarget`.
        stamped.generation == self.generation.load(Ordering::Acquire)
    }

    /// Connects to `client`'s server from now on, dropping the idle connections to the
    /// previous one.
    #[cfg(feature = "sentinel")]
    pub(crate) fn retarget(&self, client: &redis::Client) {
        {
            let mut current = self.client.lock();
            *current = without_setinfo(client);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.idle.lock().clear();
    }

    fn connect(&self) -> RedisResult<Stamped> {
        // The client and its generation, read together under the lock `retarget` holds.
        let (client, generation) = {
            let current = self.client.lock();
            (current.clone(), self.generation.load(Ordering::Acquire))
        };
        // The timeout covers the TCP connect, then each reply of the handshake.
        let connection = client.get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.response_timeout))?;
        connection.set_write_timeout(Some(self.response_timeout))?;
        Ok(Stamped {
            connection,
            since: Instant::now(),
            generation,
        })
    }
}

/// A connection, when it was last used, and the generation of the server it went to.
struct Stamped {
    connection: Connection,
    since: Instant,
    generation: u64,
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
