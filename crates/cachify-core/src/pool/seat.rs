//! One attempt to take a pool slot: the instance, the keys, and the token that names the
//! slot.
//!
//! Every acquisition draws a fresh random token (a v4 UUID). Admission and release are
//! one atomic backend call each ([`pool_acquire`] / [`pool_release`]) keyed by that
//! token, so a seat can only ever free the slot it took itself, and freeing a slot that
//! was never admitted (or already expired) is a harmless no-op.
//!
//! [`pool_acquire`]: crate::SyncClient::pool_acquire
//! [`pool_release`]: crate::SyncClient::pool_release

use std::fmt;
use std::time::{Duration, Instant};

#[cfg(feature = "py-cachify")]
use super::py_state;
use crate::error::Error;
use crate::events::{self, Kind, Subject};
use crate::instance::Cachify;
use crate::stats::{Event, FnStats, Tally};

/// Everything a slot guard needs to release its slot, owned (no borrows), so guards can
/// move into spawned tasks and into detached release futures.
#[derive(Clone)]
pub(crate) struct Seat {
    cachify: Cachify,
    key: String,
    storage_key: String,
    token: String,
    max_size: usize,
    slot_exp: Option<Duration>,
    /// The decorated function that takes the slot, if a macro does.
    function: Option<&'static FnStats>,
}

impl Seat {
    pub(crate) fn new(
        cachify: Cachify,
        key: &str,
        max_size: usize,
        slot_exp: Option<Duration>,
        function: Option<&'static FnStats>,
    ) -> Self {
        let storage_key = cachify.pool_key(key);
        let token = uuid::Uuid::new_v4().simple().to_string();
        Self {
            cachify,
            key: key.to_owned(),
            storage_key,
            token,
            max_size,
            slot_exp,
            function,
        }
    }

    pub(crate) fn cachify(&self) -> &Cachify {
        &self.cachify
    }

    /// The key as the caller wrote it.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The prefixed key the backend stores the pool under.
    pub(crate) fn storage_key(&self) -> &str {
        &self.storage_key
    }

    /// The error of an acquisition that found the pool full.
    pub(crate) fn full(&self) -> Error {
        Error::PoolFull {
            key: self.key.clone(),
            max_size: self.max_size,
        }
    }

    /// This pool as the events of a wait name it.
    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            kind: Kind::Pool,
            prefix: self.cachify.prefix(),
            key: &self.key,
            tally: self.tally(),
        }
    }

    /// The error of an acquisition that gave up, after logging it.
    pub(crate) fn refused(&self, nowait: bool) -> Error {
        let prefix = self.cachify.prefix();
        events::pool_full(self.tally(), prefix, &self.key, self.max_size, nowait);
        self.full()
    }

    /// The deadline of an attempt that must not wait: only the backend's own
    /// exclusion (py-cachify's meta-lock) is waited for, briefly.
    pub(crate) fn nowait_deadline() -> Option<Instant> {
        #[cfg(feature = "py-cachify")]
        return Instant::now().checked_add(py_state::NOWAIT_META_LOCK_WAIT);
        #[cfg(not(feature = "py-cachify"))]
        Some(Instant::now())
    }

    /// `max_size` and `slot_exp`.
    #[cfg(feature = "py-cachify")]
    fn size(&self) -> (usize, Option<Duration>) {
        (self.max_size, self.slot_exp)
    }

    /// Whether the pool is py-cachify's pickled state rather than the backend's own.
    #[cfg(feature = "py-cachify")]
    fn py_state(&self) -> bool {
        self.cachify.layout() == crate::instance::Layout::PyCachify
    }

    /// Whether a take is one request to the backend, so that its failure tells whether
    /// it ran (py-cachify's state is read and written in several, under its meta-lock;
    /// so is the provided default of a custom client, whose errors are never read as
    /// "never ran" unless they wrap a redis-rs refusal).
    pub(crate) fn takes_in_one_request(&self) -> bool {
        #[cfg(feature = "py-cachify")]
        if self.py_state() {
            return false;
        }
        true
    }

    /// Counts the slot as taken.
    pub(crate) fn taken(&self) {
        self.tally().count(Event::SlotAcquired);
    }

    fn tally(&self) -> Tally<'_> {
        self.cachify.tally(self.function)
    }

    /// One attempt to be admitted; whether it was. `deadline` is when the acquisition
    /// gives up (`None`: never); an attempt that must not wait passes
    /// [`Seat::nowait_deadline`].
    pub(crate) fn take_blocking(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let client = self.cachify.sync_client();
        #[cfg(feature = "py-cachify")]
        if self.py_state() {
            let (key, token, size) = (&self.storage_key, &self.token, self.size());
            return Ok(py_state::acquire_blocking(
                client, key, token, size, deadline,
            )?);
        }
        let _ = deadline;
        Ok(client.pool_acquire(&self.storage_key, &self.token, self.max_size, self.slot_exp)?)
    }

    /// The async [`take_blocking`](Self::take_blocking).
    pub(crate) async fn take_async(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let client = self.cachify.async_client();
        #[cfg(feature = "py-cachify")]
        if self.py_state() {
            let (key, token, size) = (&self.storage_key, &self.token, self.size());
            return Ok(py_state::acquire_async(client, key, token, size, deadline).await?);
        }
        let _ = deadline;
        Ok(client
            .pool_acquire(&self.storage_key, &self.token, self.max_size, self.slot_exp)
            .await?)
    }

    /// Frees this seat's slot; whether it was still in the pool.
    pub(crate) fn give_back_blocking(&self) -> Result<bool, Error> {
        let client = self.cachify.sync_client();
        #[cfg(feature = "py-cachify")]
        if self.py_state() {
            let (key, token, max_size) = (&self.storage_key, &self.token, self.max_size);
            return Ok(py_state::release_blocking(client, key, token, max_size)?);
        }
        Ok(client.pool_release(&self.storage_key, &self.token)?)
    }

    /// The async [`give_back_blocking`](Self::give_back_blocking).
    pub(crate) async fn give_back_async(&self) -> Result<bool, Error> {
        let client = self.cachify.async_client();
        #[cfg(feature = "py-cachify")]
        if self.py_state() {
            let (key, token, max_size) = (&self.storage_key, &self.token, self.max_size);
            return Ok(py_state::release_async(client, key, token, max_size).await?);
        }
        Ok(client.pool_release(&self.storage_key, &self.token).await?)
    }

    /// Logs the outcome of a release that nobody can be told about (from `Drop`).
    pub(crate) fn log_release(&self, outcome: Result<bool, Error>) {
        match outcome {
            Ok(true) => {}
            Ok(false) => self.log_expired(),
            Err(error) => tracing::warn!(target: crate::events::TARGET, key = %self.key,
                %error,
                "could not release pool slot; it will expire with its slot_exp"
            ),
        }
    }

    /// The slot was gone when its holder came to release it: it outlived `slot_exp`,
    /// so for a while the pool may have admitted one holder more than `max_size`.
    pub(crate) fn log_expired(&self) {
        tracing::debug!(target: crate::events::TARGET, key = %self.key,
            slot_exp = ?self.slot_exp,
            "pool slot expired before its holder ended"
        );
    }
}

impl fmt::Debug for Seat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seat")
            .field("key", &self.key)
            .field("storage_key", &self.storage_key)
            .field("token", &self.token)
            .field("max_size", &self.max_size)
            .field("slot_exp", &self.slot_exp)
            .finish()
    }
}
