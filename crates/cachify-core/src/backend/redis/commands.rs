//! The Redis command set, written once: each backend operation as one [`Call`] (a
//! command or a script invocation, plus how to read its reply), run by the sync side on
//! a blocking connection or by the async side on a multiplexed or cluster connection.
//!
//! Expiries are validated here, before anything is sent: a ttl is sent as whole
//! milliseconds (rounded up, at least 1, which Redis requires), and a ttl beyond what
//! Redis and the pool script represent exactly ([`MAX_TTL_MILLIS`]) means "never
//! expires", so no command or script ever fails half-way on an expiry.

use std::time::Duration;

use redis::{Cmd, ErrorKind, RedisResult, ServerErrorKind, Value};

use super::options::ReplicaAcks;
use super::releases::channel;
use super::scripts;
use crate::backend::hash_tag::same_slot_sibling;
use crate::backend::MissClaim;
use crate::near::ValueWithTtl;

/// The longest ttl sent to Redis, about 142 000 years: the server's clock in
/// milliseconds (about 2^41 today) plus this stays below 2^53, so `PX`, `PEXPIRE` and the
/// pool script's Lua arithmetic (doubles) are all exact. Longer means never expires.
pub(crate) const MAX_TTL_MILLIS: u64 = 1 << 52;

/// One operation, ready to run on either side.
pub(crate) struct Call<'k, T> {
    /// The key it touches: which breaker route (cluster slot) it belongs to.
    pub(crate) key: &'k str,
    request: Request,
    reply: fn(Value) -> RedisResult<T>,
    /// Running it twice leaves the same state as once: see [`Call::is_retry_safe`].
    retry_safe: bool,
    /// Replicas must acknowledge what it wrote: see [`Call::acknowledged`].
    acknowledged: Option<Box<Acknowledgement<'k>>>,
}

/// `WAIT` after a write, and what undoes the write when too few replicas acknowledge it.
struct Acknowledgement<'k> {
    wait: Cmd,
    acks: ReplicaAcks,
    undo: Call<'k, bool>,
}

enum Request {
    Command(Cmd),
    /// `EVALSHA`; the `EVAL` sent instead when the server lacks the script is built
    /// from it only then, so the common call does not copy the script's source.
    Script {
        evalsha: Cmd,
        source: &'static str,
    },
    /// Reads sent together in one round trip, answered as one array of their replies.
    Reads(redis::Pipeline),
}

/// `EVAL source` with the arguments of `evalsha` after its hash.
fn eval_of(evalsha: &Cmd, source: &str) -> Cmd {
    let mut eval = redis::cmd("EVAL");
    eval.arg(source);
    for arg in evalsha.args_iter().skip(2) {
        if let redis::Arg::Simple(bytes) = arg {
            eval.arg(bytes);
        }
    }
    eval
}

fn is_noscript<T>(result: &RedisResult<T>) -> bool {
    matches!(result, Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript))
}

impl<'k, T> Call<'k, T> {
    /// Whether the call may be sent again after a lost connection when it may have
    /// reached the server: reads, deletions and the token-checked scripts (release,
    /// extend, slot release) are idempotent; `SET NX` and the pool's acquire are not (a
    /// lost reply after the server applied them would, sent again, be answered
    /// "taken", by our own first attempt).
    pub(crate) fn is_retry_safe(&self) -> bool {
        self.retry_safe
    }

    /// Makes the call wait, when it wrote, until `acks` replicas have it: `WAIT` is sent
    /// right after it on the same connection (one pipeline, one round trip), and when
    /// fewer replicas answer in time, `undo` runs on that connection and the call fails.
    pub(crate) fn acknowledged(mut self, acks: ReplicaAcks, undo: Call<'k, bool>) -> Self {
        if matches!(self.request, Request::Reads(_)) {
            return self; // reads write nothing to acknowledge
        }
        let mut wait = redis::cmd("WAIT");
        // Beyond what Redis represents: as good as forever (`WAIT n 0` is forever too).
        let millis = ttl_millis(Some(acks.timeout)).unwrap_or(MAX_TTL_MILLIS);
        wait.arg(acks.replicas).arg(millis);
        self.acknowledged = Some(Box::new(Acknowledgement { wait, acks, undo }));
        self.retry_safe = false;
        self
    }

    /// Runs the call on a blocking connection.
    pub(crate) fn run(&self, conn: &mut dyn redis::ConnectionLike) -> RedisResult<T> {
        if let Some(acknowledgement) = &self.acknowledged {
            let mut pipeline = self.pipeline_with(&acknowledgement.wait, false);
            let mut replies: RedisResult<(Value, u64)> = pipeline.query(conn);
            if is_noscript(&replies) {
                pipeline = self.pipeline_with(&acknowledgement.wait, true);
                replies = pipeline.query(conn);
            }
            let (value, acked) = replies?;
            if !acknowledgement.enough(&value, acked) {
                acknowledgement.undo.run(conn)?;
                return Err(acknowledgement.shortfall(acked));
            }
            return (self.reply)(value);
        }
        let value = match &self.request {
            Request::Command(cmd) => cmd.query(conn)?,
            Request::Reads(pipeline) => pipeline.query(conn)?,
            Request::Script { evalsha, source } => {
                let reply = evalsha.query(conn);
                if is_noscript(&reply) {
                    eval_of(evalsha, source).query(conn)?
                } else {
                    reply?
                }
            }
        };
        (self.reply)(value)
    }

    /// Runs the call on an async connection.
    pub(crate) async fn run_async<C>(&self, conn: &mut C) -> RedisResult<T>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        if let Some(acknowledgement) = &self.acknowledged {
            let mut pipeline = self.pipeline_with(&acknowledgement.wait, false);
            let mut replies: RedisResult<(Value, u64)> = pipeline.query_async(conn).await;
            if is_noscript(&replies) {
                pipeline = self.pipeline_with(&acknowledgement.wait, true);
                replies = pipeline.query_async(conn).await;
            }
            let (value, acked) = replies?;
            if !acknowledgement.enough(&value, acked) {
                Box::pin(acknowledgement.undo.run_async(conn)).await?;
                return Err(acknowledgement.shortfall(acked));
            }
            return (self.reply)(value);
        }
        let value = match &self.request {
            Request::Command(cmd) => cmd.query_async(conn).await?,
            Request::Reads(pipeline) => pipeline.query_async(conn).await?,
            Request::Script { evalsha, source } => {
                let reply = evalsha.query_async(conn).await;
                if is_noscript(&reply) {
                    eval_of(evalsha, source).query_async(conn).await?
                } else {
                    reply?
                }
            }
        };
        (self.reply)(value)
    }
}

impl<T> Call<'_, T> {
    /// The call's request then `wait`, in one pipeline; `eval`: the script by source.
    fn pipeline_with(&self, wait: &Cmd, eval: bool) -> redis::Pipeline {
        let mut pipeline = redis::pipe();
        match &self.request {
            Request::Command(cmd) => pipeline.add_command(cmd.clone()),
            // Never acknowledged (see `acknowledged`): sent as they are.
            Request::Reads(reads) => {
                for cmd in reads.cmd_iter() {
                    pipeline.add_command(cmd.clone());
                }
                &mut pipeline
            }
            Request::Script { evalsha, source } if eval => {
                pipeline.add_command(eval_of(evalsha, source))
            }
            Request::Script { evalsha, .. } => pipeline.add_command(evalsha.clone()),
        };
        pipeline.add_command(wait.clone());
        pipeline
    }
}

impl Acknowledgement<'_> {
    /// Whether the write is safe: it wrote nothing (`SET NX` found the key: nil; the
    /// pool was full: 0), or enough replicas have it.
    fn enough(&self, reply: &Value, acked: u64) -> bool {
        matches!(reply, Value::Nil | Value::Int(0)) || acked >= u64::from(self.acks.replicas)
    }

    fn shortfall(&self, acked: u64) -> redis::RedisError {
        redis::RedisError::from((
            ErrorKind::Client,
            "acquire not acknowledged by enough replicas, so released",
            format!(
                "{acked} of {} replica(s) acknowledged it within {:?}",
                self.acks.replicas, self.acks.timeout
            ),
        ))
    }
}

fn parse<T: redis::FromRedisValue>(value: Value) -> RedisResult<T> {
    Ok(redis::from_redis_value(value)?)
}

fn command<T: redis::FromRedisValue>(key: &str, cmd: Cmd) -> Call<'_, T> {
    Call {
        key,
        request: Request::Command(cmd),
        reply: parse::<T>,
        retry_safe: true,
        acknowledged: None,
    }
}

/// A call of `script` on `key` with `args` (`ARGV[1]`, `ARGV[2]`, ...).
fn script<'k, T: redis::FromRedisValue>(
    script: &'static scripts::Script,
    key: &'k str,
    args: &[&[u8]],
) -> Call<'k, T> {
    script_on(script, key, &[], args, parse::<T>)
}

/// A call of `script` on `key` and `more_keys` (`KEYS[2]`, ..., in `key`'s slot), with
/// `args`, its reply read by `reply`; routed by `key`.
fn script_on<'k, T>(
    script: &'static scripts::Script,
    key: &'k str,
    more_keys: &[&str],
    args: &[&[u8]],
    reply: fn(Value) -> RedisResult<T>,
) -> Call<'k, T> {
    let mut evalsha = redis::cmd("EVALSHA");
    evalsha.arg(&script.sha).arg(1 + more_keys.len()).arg(key);
    for more in more_keys {
        evalsha.arg(*more);
    }
    for arg in args {
        evalsha.arg(*arg);
    }
    Call {
        key,
        request: Request::Script {
            evalsha,
            source: script.source,
        },
        reply,
        retry_safe: true,
        acknowledged: None,
    }
}

/// Milliseconds for `PX` / `PEXPIRE` / the pool script, or `None` for never: rounded up,
/// at least 1 (Redis rejects 0), and `None` beyond [`MAX_TTL_MILLIS`].
pub(crate) fn ttl_millis(ttl: Option<Duration>) -> Option<u64> {
    let millis = ttl?.as_nanos().div_ceil(1_000_000).max(1);
    u64::try_from(millis)
        .ok()
        .filter(|millis| *millis <= MAX_TTL_MILLIS)
}

/// A script argument for an optional ttl: the milliseconds, or empty for never.
fn ttl_arg(ttl: Option<Duration>) -> String {
    ttl_millis(ttl)
        .map(|millis| millis.to_string())
        .unwrap_or_default()
}

/// `GET key`.
pub(crate) fn get(key: &str) -> Call<'_, Option<Vec<u8>>> {
    let mut cmd = redis::cmd("GET");
    cmd.arg(key);
    command(key, cmd)
}

/// `SET key value [PX ms] [NX]`; `true` when it stored (`NX` answers nil when the key
/// was present; plain `SET` always answers OK).
pub(crate) fn set<'k>(
    key: &'k str,
    value: &[u8],
    ttl: Option<Duration>,
    nx: bool,
) -> Call<'k, bool> {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(millis) = ttl_millis(ttl) {
        cmd.arg("PX").arg(millis);
    }
    if nx {
        cmd.arg("NX");
    }
    Call {
        key,
        request: Request::Command(cmd),
        reply: |reply| Ok(!matches!(reply, Value::Nil)),
        retry_safe: !nx,
        acknowledged: None,
    }
}

/// The fencing counter of the lock at `key`: next to it, under the same prefix. It never
/// expires: a counter that started again would give a later holder a smaller token.
pub(crate) fn fence_key(key: &str) -> String {
    // In the lock's slot, so a cluster counts on the node that holds the lock: a node
    // that is down or hung then costs the lock, never an acquire of a lock elsewhere.
    same_slot_sibling(key, FENCE_SUFFIX).unwrap_or_else(|| format!("{key}{FENCE_SUFFIX}"))
}

const FENCE_SUFFIX: &str = ":fence";

/// Takes the lock at `key` for `token` if nobody holds it and counts the holder, in one
/// script: its fencing token (from 1), or `None` when the lock is held. Not
/// retry-safe, like `SET NX`.
///
/// For a standalone server only: a script's keys must share a hash slot on a cluster,
/// and two keys of one slot cannot be reached by a script while the slot migrates
/// (`TRYAGAIN` until every key has moved). A cluster takes the lock in single-key steps
/// instead (see [`incr`]).
pub(crate) fn lock_acquire<'k>(
    key: &'k str,
    token: &[u8],
    ttl: Option<Duration>,
) -> Call<'k, Option<u64>> {
    let fence = fence_key(key);
    let mut call = script_on(
        &scripts::LOCK_ACQUIRE,
        key,
        &[&fence],
        &[token, ttl_arg(ttl).as_bytes()],
        |reply| {
            let fence: u64 = redis::from_redis_value(reply)?;
            Ok((fence > 0).then_some(fence))
        },
    );
    call.retry_safe = false;
    call
}

/// `INCR key`: a cluster lock's fencing counter, counted after its `SET NX` took the lock.
/// Not retry-safe: counted twice, it only skips a number.
pub(crate) fn incr(key: &str) -> Call<'_, u64> {
    let mut cmd = redis::cmd("INCR");
    cmd.arg(key);
    let mut call = command(key, cmd);
    call.retry_safe = false;
    call
}

/// Deletes one key and announces the release on its channel; 1 when it existed. One
/// call per key: every key may live in another cluster slot, and each deletion wakes
/// its own waiters (a forced lock release wakes the lock's waiters).
pub(crate) fn delete(key: &str) -> Call<'_, u64> {
    script(&scripts::DELETE, key, &[channel(key).as_bytes()])
}

/// Compare-and-delete, announcing the release; `true` when it deleted.
pub(crate) fn delete_if_equals<'k>(key: &'k str, expected: &[u8]) -> Call<'k, bool> {
    script(&scripts::RELEASE, key, &[expected, channel(key).as_bytes()])
}

/// Compare-and-expire (`None`: persist); `true` when it did.
pub(crate) fn expire_if_equals<'k>(
    key: &'k str,
    expected: &[u8],
    ttl: Option<Duration>,
) -> Call<'k, bool> {
    script(&scripts::EXTEND, key, &[expected, ttl_arg(ttl).as_bytes()])
}

/// `GET key` and `PTTL key` in one round trip: the value and its remaining lifetime
/// (`None`: it never expires), or `None` when the key is missing (nil, or -2: it expired
/// between the two).
pub(crate) fn get_with_ttl(key: &str) -> Call<'_, Option<ValueWithTtl>> {
    let mut reads = redis::pipe();
    reads.cmd("GET").arg(key).cmd("PTTL").arg(key);
    Call {
        key,
        request: Request::Reads(reads),
        reply: value_with_ttl,
        retry_safe: true,
        acknowledged: None,
    }
}

fn value_with_ttl(reply: Value) -> RedisResult<Option<ValueWithTtl>> {
    let (value, pttl): (Option<Vec<u8>>, i64) = redis::from_redis_value(reply)?;
    Ok(match (value, pttl) {
        (None, _) | (_, -2) => None,
        (Some(value), pttl) => Some((value, u64::try_from(pttl).ok().map(Duration::from_millis))),
    })
}

/// `PTTL key`: `None` when the key is missing (-2) or never expires (-1).
pub(crate) fn remaining_ttl(key: &str) -> Call<'_, Option<Duration>> {
    let mut cmd = redis::cmd("PTTL");
    cmd.arg(key);
    Call {
        key,
        request: Request::Command(cmd),
        reply: |reply| {
            let pttl: i64 = redis::from_redis_value(reply)?;
            Ok(u64::try_from(pttl).ok().map(Duration::from_millis))
        },
        retry_safe: true,
        acknowledged: None,
    }
}

/// Admits slot `token` into the pool if it has room; `true` when admitted.
pub(crate) fn pool_acquire<'k>(
    key: &'k str,
    token: &str,
    max_size: usize,
    slot_ttl: Option<Duration>,
) -> Call<'k, bool> {
    let mut call = script(
        &scripts::POOL_ACQUIRE,
        key,
        &[
            token.as_bytes(),
            max_size.to_string().as_bytes(),
            ttl_arg(slot_ttl).as_bytes(),
        ],
    );
    call.retry_safe = false;
    call
}

/// Removes slot `token` from the pool, announcing the release; `true` when it was there.
pub(crate) fn pool_release<'k>(key: &'k str, token: &str) -> Call<'k, bool> {
    script(
        &scripts::POOL_RELEASE,
        key,
        &[token.as_bytes(), channel(key).as_bytes()],
    )
}

/// The number of unexpired slots in the pool.
pub(crate) fn pool_size(key: &str) -> Call<'_, usize> {
    script(&scripts::POOL_SIZE, key, &[])
}

/// Reads `key` and, when it is missing, takes the lease `lease_key` (see
/// [`scripts::CLAIM_MISS`]). Not retry-safe: a lease taken by a lost first attempt would
/// answer the second "busy", by our own token.
pub(crate) fn claim_miss<'k>(
    key: &'k str,
    lease_key: &str,
    token: &[u8],
    lease: Duration,
) -> Call<'k, MissClaim> {
    let millis = ttl_millis(Some(lease))
        .unwrap_or(MAX_TTL_MILLIS)
        .to_string();
    let mut call = script_on(
        &scripts::CLAIM_MISS,
        key,
        &[lease_key],
        &[token, millis.as_bytes()],
        miss_claim,
    );
    call.retry_safe = false;
    call
}

fn miss_claim(reply: Value) -> RedisResult<MissClaim> {
    let Value::Array(items) = reply else {
        return Err(unexpected());
    };
    let mut items = items.into_iter();
    match (items.next(), items.next()) {
        (Some(Value::Int(1)), Some(value)) => Ok(MissClaim::Value(redis::from_redis_value(value)?)),
        (Some(Value::Int(2)), None) => Ok(MissClaim::Leased),
        (Some(Value::Int(3)), Some(Value::Int(pttl))) => Ok(MissClaim::Busy(
            u64::try_from(pttl).ok().map(Duration::from_millis),
        )),
        _ => Err(unexpected()),
    }
}

fn unexpected() -> redis::RedisError {
    redis::RedisError::from((ErrorKind::Parse, "unexpected reply to the miss claim"))
}

/// Stores `value` and frees the lease if it holds `token`, announcing on the lease's
/// channel (see [`scripts::SET_AND_RELEASE`]); `true` when the lease was still ours.
pub(crate) fn set_and_release<'k>(
    key: &'k str,
    value: &[u8],
    ttl: Option<Duration>,
    lease_key: &str,
    token: &[u8],
) -> Call<'k, bool> {
    script_on(
        &scripts::SET_AND_RELEASE,
        key,
        &[lease_key],
        &[
            value,
            ttl_arg(ttl).as_bytes(),
            token,
            channel(lease_key).as_bytes(),
        ],
        parse::<bool>,
    )
}

/// The breaker's probe: the cheapest command routed like `key` (to its slot's node).
pub(crate) fn probe(key: &str) -> Call<'_, bool> {
    let mut cmd = redis::cmd("EXISTS");
    cmd.arg(key);
    command(key, cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds_and_never_reach_zero() {
        assert_eq!(ttl_millis(None), None);
        assert_eq!(ttl_millis(Some(Duration::ZERO)), Some(1));
        assert_eq!(ttl_millis(Some(Duration::from_micros(1))), Some(1));
        assert_eq!(ttl_millis(Some(Duration::from_micros(1_001))), Some(2));
        assert_eq!(ttl_millis(Some(Duration::from_secs(3))), Some(3_000));
    }

    #[test]
    fn only_an_acquire_that_wrote_needs_replicas_to_acknowledge_it() {
        let acks = ReplicaAcks {
            replicas: 1,
            timeout: Duration::MAX,
        };
        let call = set("k", b"v", None, true).acknowledged(acks, delete_if_equals("k", b"v"));
        assert!(!call.is_retry_safe());
        let acknowledgement = call.acknowledged.as_ref().unwrap();
        assert!(
            acknowledgement.enough(&Value::Nil, 0),
            "SET NX found the key"
        );
        assert!(
            acknowledgement.enough(&Value::Int(0), 0),
            "the pool was full"
        );
        assert!(!acknowledgement.enough(&Value::Okay, 0));
        assert!(acknowledgement.enough(&Value::Okay, 1));
        let message = acknowledgement.shortfall(0).to_string();
        assert!(message.contains("0 of 1 replica"), "{message}");
    }

    #[test]
    fn a_miss_claim_reads_each_reply_of_its_script() {
        let value = Value::Array(vec![Value::Int(1), Value::BulkString(b"v".to_vec())]);
        assert_eq!(miss_claim(value).unwrap(), MissClaim::Value(b"v".to_vec()));
        assert_eq!(
            miss_claim(Value::Array(vec![Value::Int(2)])).unwrap(),
            MissClaim::Leased
        );
        let busy = Value::Array(vec![Value::Int(3), Value::Int(1_500)]);
        assert_eq!(
            miss_claim(busy).unwrap(),
            MissClaim::Busy(Some(Duration::from_millis(1_500)))
        );
        let forever = Value::Array(vec![Value::Int(3), Value::Int(-1)]);
        assert_eq!(miss_claim(forever).unwrap(), MissClaim::Busy(None));
        assert!(miss_claim(Value::Nil).is_err());
        assert!(miss_claim(Value::Array(vec![Value::Int(9)])).is_err());
    }

    #[test]
    fn a_value_with_ttl_reads_both_replies_and_absence_either_way() {
        let reply = |value: Value, pttl: i64| Value::Array(vec![value, Value::Int(pttl)]);
        let value = || Value::BulkString(b"v".to_vec());
        assert_eq!(
            value_with_ttl(reply(value(), 1_500)).unwrap(),
            Some((b"v".to_vec(), Some(Duration::from_millis(1_500))))
        );
        assert_eq!(
            value_with_ttl(reply(value(), -1)).unwrap(),
            Some((b"v".to_vec(), None))
        );
        assert_eq!(
            value_with_ttl(reply(value(), -2)).unwrap(),
            None,
            "expired meanwhile"
        );
        assert_eq!(value_with_ttl(reply(Value::Nil, -2)).unwrap(), None);
        assert!(value_with_ttl(Value::Nil).is_err());
    }

    #[test]
    fn ttls_beyond_what_redis_represents_mean_never() {
        let max = Duration::from_millis(MAX_TTL_MILLIS);
        assert_eq!(ttl_millis(Some(max)), Some(MAX_TTL_MILLIS));
        assert_eq!(ttl_millis(Some(max + Duration::from_millis(1))), None);
        assert_eq!(ttl_millis(Some(Duration::MAX)), None);
        assert_eq!(ttl_arg(Some(Duration::MAX)), "");
    }
}
