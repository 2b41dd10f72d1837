//! Pools laid out as py-cachify 3.1 keeps them, so Python and Rust workers share one.
//!
//! py-cachify stores a pool `{key}` as one pickled `PoolState` under `{key}-state` (slot
//! id → expiry, in float Unix seconds, `inf` for never) and changes it only under a
//! meta-lock, `{key}-lock`, taken with `set(nx)` and released by deleting it. Doing the
//! same read-modify-write under the same meta-lock keeps a mixed pool within `max_size`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::{AsyncClient, SyncClient};
use crate::codec::pickle;
use crate::error::BackendError;
use crate::instance::Layout;

/// How long our meta-lock lives if we never release it: the critical section is two
/// round trips, and a crashed holder must not wedge the Python side for long.
const META_LOCK_TTL: Duration = Duration::from_secs(5);
/// How long the value written to announce a release can outlive a crash between its
/// write and its deletion (the deletion is what announces).
const MARKER_TTL: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_micros(200);
const MAX_BACKOFF: Duration = Duration::from_millis(20);

/// What `pickle.dumps(PoolState(...))` starts with: the class (a global) called with
/// no arguments (`NEWOBJ`); its `__dict__` follows, then `BUILD` and `STOP`.
const STATE_HEADER: &[u8] = b"\x80\x03cpy_cachify._backend._pool_state\nPoolState\n)\x81";
const STATE_FOOTER: &[u8] = b"b.";

/// py-cachify's `PoolState.__dict__`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PoolState {
    slots: BTreeMap<String, f64>,
}

impl PoolState {
    /// Decodes a stored state (the object's dict: the pickle decoder constructs
    /// nothing); no value is an empty pool.
    fn read(bytes: Option<&[u8]>) -> Result<Self, BackendError> {
        let Some(bytes) = bytes else {
            return Ok(Self::default());
        };
        pickle::decode(bytes).map_err(|error| {
            BackendError::new(format!(
                "a py-cachify pool state that does not decode: {error}"
            ))
        })
    }

    /// The pickle Python loads as a `PoolState`.
    fn to_pickle(&self) -> Result<Vec<u8>, BackendError> {
        let dict = pickle::encode(self).map_err(BackendError::new)?;
        // `dict` is `PROTO 3`, the dict's opcodes, `STOP`: keep the opcodes.
        let opcodes = dict
            .get(2..dict.len().saturating_sub(1))
            .ok_or_else(|| BackendError::new("pickle too short"))?;
        Ok([STATE_HEADER, opcodes, STATE_FOOTER].concat())
    }

    /// py-cachify's `cleanup`: drops the slots whose expiry passed.
    fn cleanup(&mut self, now: f64) {
        self.slots.retain(|_, expiry| now <= *expiry);
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

fn state_key(key: &str) -> String {
    format!("{key}-state")
}

fn meta_lock_key(key: &str) -> String {
    format!("{key}-lock")
}

/// py-cachify's meta-lock timeout: `min(30, max(5, max_size * 0.1))` seconds.
fn patience(max_size: usize) -> Duration {
    let secs = (max_size as f64 * 0.1).clamp(5.0, 30.0);
    Duration::from_secs_f64(secs)
}

/// Admits `token`; py-cachify's `_acquire_slot`.
fn admit(state: &mut PoolState, token: &str, max_size: usize, slot_ttl: Option<Duration>) -> bool {
    let now = now_secs();
    state.cleanup(now);
    if state.slots.len() >= max_size {
        return false;
    }
    let expiry = slot_ttl.map_or(f64::INFINITY, |ttl| now + ttl.as_secs_f64());
    state.slots.insert(token.to_owned(), expiry);
    true
}

/// Removes `token`; whether it was there and still counted.
fn remove(state: &mut PoolState, token: &str) -> bool {
    state
        .slots
        .remove(token)
        .is_some_and(|expiry| now_secs() <= expiry)
}

/// How long to wait for the meta-lock: py-cachify's patience, or less if the caller's
/// deadline comes first.
#[derive(Debug, Clone, Copy)]
struct GiveUp {
    at: Instant,
    patience_ends: Instant,
}

impl GiveUp {
    fn new(patience: Duration, deadline: Option<Instant>) -> Self {
        let patience_ends = Instant::now() + patience;
        let at = deadline.map_or(patience_ends, |deadline| deadline.min(patience_ends));
        Self { at, patience_ends }
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The next pause between two attempts: `backoff`, or less before giving up.
    fn pause(&self, backoff: Duration) -> Duration {
        backoff.min(self.at.saturating_duration_since(Instant::now()))
    }

    /// A meta-lock held through py-cachify's whole patience is news (a process that
    /// died inside it); one held past a short deadline (`nowait`) is contention.
    fn log_held(&self, key: &str) {
        if Instant::now() >= self.patience_ends {
            tracing::warn!(target: crate::events::TARGET, storage_key = key,
                "a py-cachify pool meta-lock is held too long (a process died inside it?)");
        } else {
            tracing::debug!(target: crate::events::TARGET, storage_key = key,
                "a py-cachify pool meta-lock is held past this call's deadline");
        }
    }
}

/// Runs `change` on the state of the pool at `key` under py-cachify's meta-lock and
/// stores it (without expiry, as py-cachify does); `None` when the meta-lock could not
/// be had by `give_up` (nothing changed).
///
/// A holder that stalled beyond the meta-lock's expiry must not write a state read
/// before someone else's change: just before the write, the meta-lock's expiry is reset
/// only if it is still ours, and the write is dropped otherwise.
fn with_meta_lock_blocking<C, R>(
    client: &C,
    key: &str,
    give_up: GiveUp,
    change: impl FnOnce(&mut PoolState) -> R,
) -> Result<Option<R>, BackendError>
where
    C: SyncClient + ?Sized,
{
    let meta_lock = meta_lock_key(key);
    let token = Layout::PyCachify.lock_token();
    let mut backoff = FIRST_BACKOFF;
    while !client.set(&meta_lock, token.as_bytes(), Some(META_LOCK_TTL), true)? {
        if give_up.passed() {
            give_up.log_held(key);
            return Ok(None);
        }
        std::thread::sleep(give_up.pause(backoff));
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let state_key = state_key(key);
    let outcome = (|| {
        let mut state = PoolState::read(client.get(&state_key)?.as_deref())?;
        let result = change(&mut state);
        let state = state.to_pickle()?;
        if !client.expire_if_equals(&meta_lock, token.as_bytes(), Some(META_LOCK_TTL))? {
            log_meta_lock_lost(key);
            return Ok(None);
        }
        client.set_pinned(&state_key, &state, None)?;
        Ok(Some(result))
    })();
    if let Err(error) = client.delete_if_equals(&meta_lock, token.as_bytes()) {
        log_unreleased(key, &error);
    }
    outcome
}

/// [`with_meta_lock_blocking`] for async clients.
async fn with_meta_lock_async<C, R>(
    client: &C,
    key: &str,
    give_up: GiveUp,
    change: impl FnOnce(&mut PoolState) -> R + Send,
) -> Result<Option<R>, BackendError>
where
    C: AsyncClient + ?Sized,
{
    let meta_lock = meta_lock_key(key);
    let token = Layout::PyCachify.lock_token();
    let mut backoff = FIRST_BACKOFF;
    while !client
        .set(&meta_lock, token.as_bytes(), Some(META_LOCK_TTL), true)
        .await?
    {
        if give_up.passed() {
            give_up.log_held(key);
            return Ok(None);
        }
        tokio::time::sleep(give_up.pause(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let state_key = state_key(key);
    let outcome = async {
        let mut state = PoolState::read(client.get(&state_key).await?.as_deref())?;
        let result = change(&mut state);
        let state = state.to_pickle()?;
        let still_ours = client
            .expire_if_equals(&meta_lock, token.as_bytes(), Some(META_LOCK_TTL))
            .await?;
        if !still_ours {
            log_meta_lock_lost(key);
            return Ok(None);
        }
        client.set_pinned(&state_key, &state, None).await?;
        Ok(Some(result))
    }
    .await;
    if let Err(error) = client.delete_if_equals(&meta_lock, token.as_bytes()).await {
        log_unreleased(key, &error);
    }
    outcome
}

fn log_meta_lock_lost(key: &str) {
    tracing::warn!(target: crate::events::TARGET, storage_key = key,
        "a py-cachify pool meta-lock expired while held; the change was not written");
}

fn log_unreleased(key: &str, error: &BackendError) {
    tracing::warn!(target: crate::events::TARGET, storage_key = key, %error,
        "could not release a py-cachify pool meta-lock; it expires in {META_LOCK_TTL:?}");
}

/// How long an attempt that must not wait (`nowait`) waits for the meta-lock: the
/// critical section of a live holder is two round trips.
pub(crate) const NOWAIT_META_LOCK_WAIT: Duration = Duration::from_millis(250);

/// Takes a slot in the pool at `key`; whether it was admitted. A meta-lock held past
/// py-cachify's patience or `deadline` is a refusal, like a full pool (as py-cachify's
/// `CachifyPoolFullError`), not a backend error.
pub(crate) fn acquire_blocking(
    client: &dyn SyncClient,
    key: &str,
    token: &str,
    (max_size, slot_ttl): (usize, Option<Duration>),
    deadline: Option<Instant>,
) -> Result<bool, BackendError> {
    let give_up = GiveUp::new(patience(max_size), deadline);
    let admitted = with_meta_lock_blocking(client, key, give_up, |state| {
        admit(state, token, max_size, slot_ttl)
    })?;
    Ok(admitted == Some(true))
}

/// The async [`acquire_blocking`].
pub(crate) async fn acquire_async(
    client: &dyn AsyncClient,
    key: &str,
    token: &str,
    (max_size, slot_ttl): (usize, Option<Duration>),
    deadline: Option<Instant>,
) -> Result<bool, BackendError> {
    let give_up = GiveUp::new(patience(max_size), deadline);
    let admitted = with_meta_lock_async(client, key, give_up, |state| {
        admit(state, token, max_size, slot_ttl)
    })
    .await?;
    Ok(admitted == Some(true))
}

/// How long a release waits for the meta-lock: longer than one of ours can be left
/// behind (by an acquire cancelled while holding it). A release that still finds it
/// held fails, and a dropped slot's release is retried in the background for longer
/// than py-cachify's own meta-lock lives (30 s).
fn release_patience(max_size: usize) -> Duration {
    patience(max_size) + META_LOCK_TTL
}

/// py-cachify announces nothing: a freed slot is announced by writing a value under the
/// pool's own key (which py-cachify leaves empty) and deleting it, which wakes whoever
/// watches that key. A failed announcement leaves the waiters to their polling.
fn log_unannounced(key: &str, announced: Result<bool, BackendError>) {
    if let Err(error) = announced {
        tracing::debug!(target: crate::events::TARGET, storage_key = key, %error,
            "could not announce a freed py-cachify pool slot; waiters will poll");
    }
}

fn meta_lock_held(key: &str) -> BackendError {
    BackendError::new(format!("pool {key}: py-cachify meta-lock still held"))
}

/// Frees `token`'s slot; whether it was there and still counted. A freed slot is
/// announced on `key`, whose releases wake the waiters of this process and others.
pub(crate) fn release_blocking(
    client: &dyn SyncClient,
    key: &str,
    token: &str,
    max_size: usize,
) -> Result<bool, BackendError> {
    let give_up = GiveUp::new(release_patience(max_size), None);
    let freed = with_meta_lock_blocking(client, key, give_up, |state| remove(state, token))?
        .ok_or_else(|| meta_lock_held(key))?;
    if freed {
        let marker = Layout::PyCachify.lock_token();
        // `nx`: never over a lock a Python `lock(key)` holds under the same name.
        let announced = client
            .set(key, marker.as_bytes(), Some(MARKER_TTL), true)
            .and_then(|written| Ok(written && client.delete_if_equals(key, marker.as_bytes())?));
        log_unannounced(key, announced);
    }
    Ok(freed)
}

/// The async [`release_blocking`].
pub(crate) async fn release_async(
    client: &dyn AsyncClient,
    key: &str,
    token: &str,
    max_size: usize,
) -> Result<bool, BackendError> {
    let give_up = GiveUp::new(release_patience(max_size), None);
    let freed = with_meta_lock_async(client, key, give_up, |state| remove(state, token))
        .await?
        .ok_or_else(|| meta_lock_held(key))?;
    if freed {
        let marker = Layout::PyCachify.lock_token();
        let announced = match client
            .set(key, marker.as_bytes(), Some(MARKER_TTL), true)
            .await
        {
            Ok(true) => client.delete_if_equals(key, marker.as_bytes()).await,
            written => written,
        };
        log_unannounced(key, announced);
    }
    Ok(freed)
}

/// The live slots of the pool at `key` (py-cachify's `size()` reads without changing).
pub(crate) fn size_blocking(client: &dyn SyncClient, key: &str) -> Result<usize, BackendError> {
    let mut state = PoolState::read(client.get(&state_key(key))?.as_deref())?;
    state.cleanup(now_secs());
    Ok(state.slots.len())
}

/// The async [`size_blocking`].
pub(crate) async fn size_async(client: &dyn AsyncClient, key: &str) -> Result<usize, BackendError> {
    let mut state = PoolState::read(client.get(&state_key(key)).await?.as_deref())?;
    state.cleanup(now_secs());
    Ok(state.slots.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(PoolState(slots={'abc': 1.5, 'def': float('inf')}))` on Python 3.11.
    const FROM_PYTHON: &[u8] = b"\x80\x04\x95b\x00\x00\x00\x00\x00\x00\x00\x8c\x1fpy_cachify._backend._pool_state\x94\x8c\tPoolState\x94\x93\x94)\x81\x94}\x94\x8c\x05slots\x94}\x94(\x8c\x03abc\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x03def\x94G\x7f\xf0\x00\x00\x00\x00\x00\x00usb.";

    #[test]
    fn reads_the_state_python_writes() {
        let state = PoolState::read(Some(FROM_PYTHON)).unwrap();
        assert_eq!(state.slots.len(), 2);
        assert_eq!(state.slots["abc"], 1.5);
        assert!(state.slots["def"].is_infinite());
    }

    #[test]
    fn writes_a_state_it_reads_back() {
        let mut state = PoolState::default();
        assert!(admit(&mut state, "a", 2, None));
        assert!(admit(&mut state, "b", 2, Some(Duration::from_secs(60))));
        assert!(!admit(&mut state, "c", 2, None), "full");
        let bytes = state.to_pickle().unwrap();
        assert!(bytes.starts_with(STATE_HEADER) && bytes.ends_with(STATE_FOOTER));
        let back = PoolState::read(Some(&bytes)).unwrap();
        assert_eq!(back.slots.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(back.slots["a"].is_infinite());
    }

    #[test]
    fn expired_slots_free_their_place_and_count_for_nothing_on_release() {
        let mut state = PoolState::default();
        state.slots.insert("old".into(), now_secs() - 1.0);
        assert!(
            admit(&mut state, "new", 1, None),
            "the expired slot was dropped"
        );
        state.slots.insert("old".into(), now_secs() - 1.0);
        assert!(!remove(&mut state, "old"));
        assert!(remove(&mut state, "new"));
    }

    #[test]
    fn a_holder_whose_meta_lock_expired_writes_nothing() {
        let memory = crate::MemoryClient::new();
        let client: &dyn SyncClient = &memory;
        let give_up = GiveUp::new(Duration::from_secs(5), None);
        let outcome = with_meta_lock_blocking(client, "stalled", give_up, |state| {
            // Stalled past the meta-lock's expiry; another process took it meanwhile.
            client.delete(&["stalled-lock"]).unwrap();
            assert!(client.set("stalled-lock", b"theirs", None, true).unwrap());
            admit(state, "late", 1, None)
        });
        assert_eq!(outcome.unwrap(), None, "the change is dropped");
        assert_eq!(
            client.get("stalled-state").unwrap(),
            None,
            "nothing written"
        );
        assert_eq!(
            client.get("stalled-lock").unwrap().as_deref(),
            Some(&b"theirs"[..])
        );
    }

    #[test]
    fn a_meta_lock_held_past_the_deadline_refuses_without_error() {
        let memory = crate::MemoryClient::new();
        let client: &dyn SyncClient = &memory;
        assert!(client.set("held-lock", b"python", None, true).unwrap());
        let started = Instant::now();
        let deadline = Some(started + Duration::from_millis(50));
        assert!(!acquire_blocking(client, "held", "t", (1, None), deadline).unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn patience_follows_py_cachify() {
        assert_eq!(patience(10), Duration::from_secs(5));
        assert_eq!(patience(100), Duration::from_secs(10));
        assert_eq!(patience(10_000), Duration::from_secs(30));
    }
}
