//! The `tracing` events cachify emits on its normal paths: cache hits and misses,
//! single-flight waits, background refreshes, lock and pool waits, refusals.
//!
//! Every event has the target [`TARGET`] (`"cachify"`), so `RUST_LOG=cachify=debug` (or a
//! `Targets` filter on `"cachify"`) shows them all, and the fields `key` (the key as
//! written, without the instance prefix) and `prefix` (the instance's prefix). Failures
//! (a backend error, a value that does not decode) are `warn` events emitted where they
//! happen, with the same target and an `error` field.
//!
//! Each event also adds to the counters of [`crate::stats`] (`tally.count`), here, so
//! that a counter and its event can never disagree.
//!
//! Cost: each function is one `tracing::debug!` (or `trace!`) with static metadata. When
//! no subscriber wants it, that is a level check and one atomic load: the fields (and the
//! prefix stripping) are evaluated only for an enabled event, and nothing is formatted.

use std::time::Duration;

use crate::stats::{Event, Tally};

/// The target of every cachify event.
pub(crate) const TARGET: &str = "cachify";

/// `full_key` without the instance's `prefix` (the whole key if it does not start with it).
fn unprefixed<'k>(prefix: &str, full_key: &'k str) -> &'k str {
    full_key.strip_prefix(prefix).unwrap_or(full_key)
}

/// A `#[cached]` call found its value. `full_key` is the prefixed storage key.
#[inline]
pub(crate) fn cache_hit(tally: Tally<'_>, prefix: &str, full_key: &str) {
    tally.count(Event::Hit);
    tracing::debug!(target: TARGET, key = unprefixed(prefix, full_key), prefix, "cache hit");
}

/// A `#[cached]` call found no (decodable) value: the function runs.
#[inline]
pub(crate) fn cache_miss(tally: Tally<'_>, prefix: &str, full_key: &str) {
    tally.count(Event::Miss);
    tracing::debug!(target: TARGET, key = unprefixed(prefix, full_key), prefix, "cache miss");
}

/// A miss found the same key's function already running in this process and waits for
/// its value instead of running it again.
#[inline]
pub(crate) fn single_flight_wait(prefix: &str, full_key: &str) {
    tracing::debug!(
        target: TARGET,
        key = unprefixed(prefix, full_key),
        prefix,
        "cache miss: waiting for the call already running"
    );
}

/// A hit found its value due for a refresh and started one in the background.
#[inline]
pub(crate) fn refresh_started(prefix: &str, full_key: &str) {
    tracing::debug!(
        target: TARGET,
        key = unprefixed(prefix, full_key),
        prefix,
        "cache hit past the refresh age: refreshing in the background"
    );
}

/// A background refresh stored its new value.
pub(crate) fn refresh_done(prefix: &str, full_key: &str) {
    tracing::debug!(target: TARGET, key = unprefixed(prefix, full_key), prefix, "cache refreshed");
}

/// A background refresh stored nothing: the old value stays until its ttl.
pub(crate) fn refresh_failed(prefix: &str, full_key: &str, reason: &dyn std::fmt::Display) {
    tracing::warn!(
        target: TARGET,
        key = unprefixed(prefix, full_key),
        prefix,
        error = %reason,
        "cache refresh failed; the stored value stays until its ttl"
    );
}

/// What a wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A lock (`nowait(false)`).
    Lock,
    /// A pool slot (`nowait(false)`).
    Pool,
}

/// The lock or pool a wait is for, named as its events name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) kind: Kind,
    pub(crate) prefix: &'a str,
    /// The key as written, without the prefix.
    pub(crate) key: &'a str,
    /// Where the wait is counted.
    pub(crate) tally: Tally<'a>,
}

impl Subject<'_> {
    /// The first attempt failed: the caller starts waiting.
    pub(crate) fn wait_started(&self) {
        let (key, prefix) = (self.key, self.prefix);
        self.tally.count(match self.kind {
            Kind::Lock => Event::LockWait,
            Kind::Pool => Event::SlotWait,
        });
        match self.kind {
            Kind::Lock => tracing::debug!(target: TARGET, key, prefix, "lock held: waiting"),
            Kind::Pool => tracing::debug!(target: TARGET, key, prefix, "pool full: waiting"),
        }
    }

    /// A release woke the waiter (it retries at once).
    pub(crate) fn woken(&self) {
        let (key, prefix) = (self.key, self.prefix);
        match self.kind {
            Kind::Lock => tracing::trace!(target: TARGET, key, prefix, "lock released: retrying"),
            Kind::Pool => tracing::trace!(target: TARGET, key, prefix, "pool slot freed: retrying"),
        }
    }

    /// A waiter got in after `waited`; `handoff`: right after a release woke it (rather
    /// than at a poll, or when a dead holder's key expired).
    pub(crate) fn acquired(&self, waited: Duration, handoff: bool) {
        let (key, prefix) = (self.key, self.prefix);
        self.tally.waited(self.kind == Kind::Pool, waited);
        match self.kind {
            Kind::Lock => tracing::debug!(
                target: TARGET, key, prefix, ?waited, handoff, "lock acquired after waiting"
            ),
            Kind::Pool => tracing::debug!(
                target: TARGET, key, prefix, ?waited, handoff, "pool slot acquired after waiting"
            ),
        }
    }
}

/// An acquire gave up: the lock is held (`nowait`, or the timeout passed). `#[once]`
/// skipping a call is this event.
pub(crate) fn lock_refused(tally: Tally<'_>, prefix: &str, key: &str, nowait: bool) {
    tally.count(Event::LockRefused);
    tracing::debug!(target: TARGET, key, prefix, nowait, "lock refused: held by another");
}

/// An acquire gave up: the pool is full (`nowait`, or the timeout passed).
pub(crate) fn pool_full(tally: Tally<'_>, prefix: &str, key: &str, max_size: usize, nowait: bool) {
    tally.count(Event::PoolFull);
    tracing::debug!(target: TARGET, key, prefix, max_size, nowait, "pool full: refused");
}

#[cfg(test)]
mod tests {
    use super::unprefixed;

    #[test]
    fn unprefixed_strips_only_a_leading_prefix() {
        assert_eq!(unprefixed("APP-", "APP-user-1"), "user-1");
        assert_eq!(unprefixed("APP-", "user-APP-1"), "user-APP-1");
        assert_eq!(unprefixed("", "k"), "k");
    }
}
