//! The pool operations provided to backends that only have `get` / `set` / `delete`.
//!
//! The pool is one encoded value: a [`SlotTable`] of wall-clock deadlines (milliseconds
//! since the Unix epoch, shared by every process). Changes happen under a meta-lock
//! taken with `set(nx)` on `{key}:guard`, which expires by itself after [`GUARD_TTL`] so
//! a process that dies inside the critical section cannot wedge the pool.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::slot_table::SlotTable;
use super::{AsyncClient, SyncClient};
use crate::codec;
use crate::error::BackendError;

/// How long the meta-lock lives if its holder never releases it.
const GUARD_TTL: Duration = Duration::from_secs(5);
/// How long to keep trying for the meta-lock before reporting the pool as unreachable.
const GUARD_PATIENCE: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_micros(200);
const MAX_BACKOFF: Duration = Duration::from_millis(20);

/// A pool's table, with deadlines in Unix milliseconds.
pub(crate) type Slots = SlotTable<u64>;

/// A slot admitted now for `ttl` expires at this Unix millisecond (`None`: never).
pub(crate) fn deadline(now: u64, ttl: Option<Duration>) -> Option<u64> {
    let ttl = u64::try_from(ttl?.as_millis()).ok()?;
    now.checked_add(ttl)
}

pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Decodes a stored slot set; no value is an empty pool.
pub(crate) fn read(bytes: Option<&[u8]>) -> Result<Slots, BackendError> {
    match bytes {
        None => Ok(Slots::default()),
        Some(bytes) => codec::decode(bytes).map_err(BackendError::new),
    }
}

/// What to do with the stored value after `change` ran on it.
enum Write {
    Keep,
    Delete,
    Store(Vec<u8>, Option<Duration>),
}

fn write(slots: &Slots) -> Result<Write, BackendError> {
    if !slots.changed() {
        return Ok(Write::Keep);
    }
    if slots.is_empty() {
        return Ok(Write::Delete);
    }
    let bytes = codec::encode(slots).map_err(BackendError::new)?;
    // The value lives until its last slot expires, or forever.
    let ttl = slots
        .last_expiry()
        .map(|last| Duration::from_millis(last.saturating_sub(unix_millis()).max(1)));
    Ok(Write::Store(bytes, ttl))
}

/// The meta-lock's release failed after the change was stored: report the change, not
/// the failure, which only delays others until the meta-lock expires.
fn log_unreleased_guard(key: &str, error: &BackendError) {
    tracing::warn!(target: crate::events::TARGET, storage_key = key,
        %error,
        "could not release a pool meta-lock; it expires in {GUARD_TTL:?}"
    );
}

fn guard_key(key: &str) -> String {
    format!("{key}:guard")
}

fn guard_token() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().to_vec()
}

fn patience_exhausted(key: &str) -> BackendError {
    BackendError::new(format!(
        "pool {key}: meta-lock still held after {GUARD_PATIENCE:?}"
    ))
}

/// Runs `change` on the pool at `key` under the meta-lock, blocking while it is taken.
pub(crate) fn with_guard_blocking<C, R>(
    client: &C,
    key: &str,
    change: impl FnOnce(&mut Slots) -> Result<R, BackendError>,
) -> Result<R, BackendError>
where
    C: SyncClient + ?Sized,
{
    let guard = guard_key(key);
    let token = guard_token();
    let give_up = std::time::Instant::now() + GUARD_PATIENCE;
    let mut backoff = FIRST_BACKOFF;
    while !client.set(&guard, &token, Some(GUARD_TTL), true)? {
        if std::time::Instant::now() >= give_up {
            return Err(patience_exhausted(key));
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let outcome = (|| {
        let mut slots = read(client.get(key)?.as_deref())?;
        let result = change(&mut slots)?;
        match write(&slots)? {
            Write::Keep => {}
            Write::Store(bytes, ttl) => {
                client.set_pinned(key, &bytes, ttl)?;
            }
            Write::Delete => {
                client.delete(&[key])?;
            }
        }
        Ok(result)
    })();
    if let Err(error) = client.delete_if_equals(&guard, &token) {
        log_unreleased_guard(key, &error);
    }
    outcome
}

/// [`with_guard_blocking`] for async clients.
pub(crate) async fn with_guard_async<C, R>(
    client: &C,
    key: &str,
    change: impl FnOnce(&mut Slots) -> Result<R, BackendError> + Send,
) -> Result<R, BackendError>
where
    C: AsyncClient + ?Sized,
{
    let guard = guard_key(key);
    let token = guard_token();
    let give_up = tokio::time::Instant::now() + GUARD_PATIENCE;
    let mut backoff = FIRST_BACKOFF;
    while !client.set(&guard, &token, Some(GUARD_TTL), true).await? {
        if tokio::time::Instant::now() >= give_up {
            return Err(patience_exhausted(key));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let outcome = async {
        let mut slots = read(client.get(key).await?.as_deref())?;
        let result = change(&mut slots)?;
        match write(&slots)? {
            Write::Keep => {}
            Write::Store(bytes, ttl) => {
                client.set_pinned(key, &bytes, ttl).await?;
            }
            Write::Delete => {
                client.delete(&[key]).await?;
            }
        }
        Ok(result)
    }
    .await;
    if let Err(error) = client.delete_if_equals(&guard, &token).await {
        log_unreleased_guard(key, &error);
    }
    outcome
}
