//! The Lua scripts behind the atomic operations of the Redis backends.
//!
//! Most scripts touch one key (`KEYS[1]`), so they run unchanged on Redis Cluster: the
//! key decides the slot and the whole script executes there. The two scripts of a
//! fleet-wide miss also touch the value's lease (`KEYS[2]`), and [`LOCK_ACQUIRE`] the
//! lock's fencing counter, keys that carry the first key's hash tag, so both always
//! live in one slot; [`LOCK_ACQUIRE`] still only runs on a standalone server (see
//! `commands::lock_acquire`: a two-key script fails while its slot migrates). Release channels are
//! passed as arguments, not keys: classic pub/sub is not sharded, a `PUBLISH` reaches the
//! subscribers of every node.
//!
//! Redis runs a script without interleaving any other command, which is what makes each
//! read-check-write below atomic. Time comes from the server (`TIME`), never from the
//! caller, so processes whose clocks disagree still agree on which slots are expired.
//!
//! A script is sent as `EVALSHA`; when the server answers `NOSCRIPT` (its first use on
//! that node, a restart, `SCRIPT FLUSH`) it is sent whole with `EVAL`, which runs it and
//! caches it on that node, routed by the key like any command. Never `SCRIPT LOAD`: a
//! cluster sends that to every node, so one hung node would stall the first use of a
//! script everywhere.

use std::sync::LazyLock;

/// A Lua script: its source and SHA1.
pub(crate) struct Script {
    pub(crate) source: &'static str,
    pub(crate) sha: String,
}

impl Script {
    fn new(source: &'static str) -> Self {
        let sha = redis::Script::new(source).get_hash().to_owned();
        Self { source, sha }
    }
}

/// The server's clock in milliseconds, as a Lua number (exact: far below 2^53).
macro_rules! now_ms {
    () => {
        "local t = redis.call('TIME')\n\
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    };
}

/// Deletes `KEYS[1]` if it holds `ARGV[1]`, then announces the release on `ARGV[2]`.
/// Returns 1 when it deleted.
///
/// The publish comes after the delete inside one script, so a woken waiter always finds
/// the key gone (or already taken by a faster one). It is a `pcall`: a user the ACL
/// denies `PUBLISH` (Redis 7 gives a new user no channel) still releases; its waiters
/// only poll.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then\n\
           redis.call('DEL', KEYS[1])\n\
           redis.pcall('PUBLISH', ARGV[2], '')\n\
           return 1\n\
         end\n\
         return 0",
    )
});

/// Takes the lock `KEYS[1]` for token `ARGV[1]` if nobody holds it, expiring after
/// `ARGV[2]` milliseconds (empty: never), and counts the holder in `KEYS[2]`, the lock's
/// fencing counter. Returns the counter's new value (from 1), or 0 when the lock is held.
///
/// The counter is incremented first: if it cannot be (a foreign value under its key),
/// the script fails before the lock is taken. It never expires: a counter that restarted
/// would hand a later holder a smaller token than an earlier one.
pub(crate) static LOCK_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n\
         local fence = redis.call('INCR', KEYS[2])\n\
         if ARGV[2] == '' then\n\
           redis.call('SET', KEYS[1], ARGV[1])\n\
         else\n\
           redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n\
         end\n\
         return fence",
    )
});

/// Resets the expiry of `KEYS[1]` if it holds `ARGV[1]`: `PEXPIRE` to `ARGV[2]`
/// milliseconds, or `PERSIST` when `ARGV[2]` is empty. Returns 1 when it did.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n\
         if ARGV[2] == '' then\n\
           redis.call('PERSIST', KEYS[1])\n\
         else\n\
           redis.call('PEXPIRE', KEYS[1], ARGV[2])\n\
         end\n\
         return 1",
    )
});

/// Deletes `KEYS[1]` and, if it existed, announces the release on `ARGV[1]`.
/// Returns 1 when it deleted. Used by `delete`, so a forced release wakes waiters too.
pub(crate) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('DEL', KEYS[1]) == 0 then return 0 end\n\
         redis.pcall('PUBLISH', ARGV[1], '')\n\
         return 1",
    )
});

/// Admits slot `ARGV[1]` into the pool `KEYS[1]` (a sorted set: member = slot token,
/// score = its deadline in server milliseconds, `+inf` for never) if fewer than `ARGV[2]`
/// unexpired slots remain; the slot lives `ARGV[3]` milliseconds (empty: forever).
/// Returns 1 when admitted.
///
/// Expired members are dropped first, so a crashed holder's slot frees itself. The key
/// then expires with its last slot, so a pool whose holders all died vanishes.
pub(crate) static POOL_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        now_ms!(),
        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))\n\
         if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end\n\
         local deadline = '+inf'\n\
         if ARGV[3] ~= '' then deadline = string.format('%.0f', now + tonumber(ARGV[3])) end\n\
         redis.call('ZADD', KEYS[1], deadline, ARGV[1])\n\
         local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]\n\
         if last == 'inf' then\n\
           redis.call('PERSIST', KEYS[1])\n\
         else\n\
           redis.call('PEXPIREAT', KEYS[1], last)\n\
         end\n\
         return 1",
    ))
});

/// Removes slot `ARGV[1]` from the pool `KEYS[1]` and, if it was there, announces the
/// release on `ARGV[2]`. Returns 1 when it removed.
pub(crate) static POOL_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n\
         redis.pcall('PUBLISH', ARGV[2], '')\n\
         return 1",
    )
});

/// The number of unexpired slots in the pool `KEYS[1]`.
pub(crate) static POOL_SIZE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        now_ms!(),
        "return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now), '+inf')",
    ))
});

/// A miss asks to compute `KEYS[1]`: returns `{1, value}` when it has a value now;
/// otherwise takes the lease `KEYS[2]` for token `ARGV[1]` for `ARGV[2]` milliseconds
/// and returns `{2}`, or, when another token holds it, returns `{3, its PTTL}`.
///
/// Reading and taking in one script is what makes a fleet-wide miss cost no extra round
/// trip, and it cannot take the lease of a value stored a moment ago.
pub(crate) static CLAIM_MISS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local value = redis.call('GET', KEYS[1])\n\
         if value then return {1, value} end\n\
         if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {2} end\n\
         return {3, redis.call('PTTL', KEYS[2])}",
    )
});

/// The lease holder's end: stores `ARGV[1]` under `KEYS[1]` (for `ARGV[2]` milliseconds,
/// or forever when empty), deletes the lease `KEYS[2]` if it holds `ARGV[3]`, then
/// announces on `ARGV[4]`. Returns 1 when the lease was still ours.
///
/// The value is written before the lease goes and the publish comes last, so a woken
/// waiter finds the value. It publishes even when the lease was no longer ours (expired
/// and taken over): the new holder's waiters find the value the sooner.
pub(crate) static SET_AND_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if ARGV[2] == '' then\n\
           redis.call('SET', KEYS[1], ARGV[1])\n\
         else\n\
           redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n\
         end\n\
         local ours = redis.call('GET', KEYS[2]) == ARGV[3]\n\
         if ours then redis.call('DEL', KEYS[2]) end\n\
         redis.pcall('PUBLISH', ARGV[4], '')\n\
         if ours then return 1 end\n\
         return 0",
    )
});
