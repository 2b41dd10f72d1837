//! Connections the server may have closed while they sat idle (`timeout` in redis.conf,
//! or a proxy's idle timeout), and when a call may be sent again after a lost
//! connection.
//!
//! The rule, on both sides:
//! - A call that is [retry safe](super::commands::Call::is_retry_safe) (idempotent) and
//!   fails because its connection was lost (not a timeout) is sent once more, on a fresh
//!   connection.
//! - A call that is not (`SET NX`, the pool's acquire) is never sent twice: its reply may
//!   have been lost after the server applied it. Instead, before sending it on a
//!   connection idle for longer than [`CHECK_AFTER`], a `PING` (which may be repeated)
//!   makes sure the connection is still open, reconnecting when it was not.
//! - A lost connection alone does not trip the breaker: the next connect tells whether
//!   the server is down (refused, or timed out, trips it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::RedisError;

/// How long a connection may sit idle before a call that must not be repeated checks it
/// first. Redis closes a connection idle for over `timeout` seconds, at least one.
pub(crate) const CHECK_AFTER: Duration = Duration::from_millis(500);

/// Whether `error` says the connection was lost (closed, reset, broken), rather than
/// the server timing out or refusing: a retry on a fresh connection may succeed.
pub(crate) fn is_lost_connection(error: &RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout() && !error.is_connection_refusal()
}

/// When an async connection last answered, shared by its clones.
#[derive(Debug)]
pub(crate) struct LastUse {
    origin: Instant,
    /// Milliseconds since `origin`.
    at: AtomicU64,
}

impl Default for LastUse {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            at: AtomicU64::new(0),
        }
    }
}

impl LastUse {
    /// Records an answer now.
    pub(crate) fn touch(&self) {
        let millis = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        // ordering: a stale value only costs (or saves) one PING.
        self.at.fetch_max(millis, Ordering::Relaxed);
    }

    /// Whether the connection has not answered for longer than [`CHECK_AFTER`].
    pub(crate) fn is_stale(&self) -> bool {
        let last = Duration::from_millis(self.at.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last) > CHECK_AFTER
    }
}
