//! One acquisition of a lock: the instance, the keys and the token that proves ownership.
//!
//! Every acquisition draws a fresh random token (a v4 UUID) and stores it as the lock's
//! value. Releasing and extending compare against it atomically on the backend, so a
//! ticket can only ever touch the lock it took itself.

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::events::{self, Kind, Subject};
use crate::instance::Cachify;
use crate::stats::{Event, FnStats, Tally};

/// From this long on, an expiry counts as never: backends cannot represent much more
/// (`Duration::MAX` would overflow an `Instant` and Redis' millisecond expiries).
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Checks the expiry given to option `option` (`exp`, `slot_exp`): zero is an error,
/// a century or more means never (`None`).
pub(crate) fn lifetime(
    option: &'static str,
    exp: Option<Duration>,
) -> Result<Option<Duration>, Error> {
    match exp {
        Some(exp) if exp.is_zero() => Err(Error::InvalidOption {
            option,
            reason: "must be more than zero (None: never expires)",
        }),
        Some(exp) if exp >= FOREVER => Ok(None),
        exp => Ok(exp),
    }
}

/// Everything a guard needs to release or extend its lock, owned (no borrows), so that
/// guards can move into spawned tasks and into detached release futures.
#[derive(Clone)]
pub(crate) struct Ticket {
    cachify: Cachify,
    key: String,
    storage_key: String,
    token: String,
    exp: Option<Duration>,
    /// The decorated function that takes the lock, if a macro does.
    function: Option<&'static FnStats>,
}

impl Ticket {
    pub(crate) fn new(
        cachify: Cachify,
        key: &str,
        exp: Option<Duration>,
        function: Option<&'static FnStats>,
    ) -> Self {
        let storage_key = cachify.lock_key(key);
        let token = cachify.layout().lock_token();
        Self {
            cachify,
            key: key.to_owned(),
            storage_key,
            token,
            exp,
            function,
        }
    }

    /// A ticket for a lock-like claim stored under `storage_key` (a cached value's
    /// lease), named `key` in logs.
    pub(crate) fn for_storage_key(
        cachify: Cachify,
        key: &str,
        storage_key: String,
        exp: Option<Duration>,
    ) -> Self {
        Self {
            storage_key,
            ..Self::new(cachify, key, exp, None)
        }
    }

    /// The token this acquisition stores.
    pub(crate) fn token(&self) -> &[u8] {
        self.token.as_bytes()
    }

    pub(crate) fn cachify(&self) -> &Cachify {
        &self.cachify
    }

    /// The key as the caller wrote it.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The prefixed key the backend stores.
    pub(crate) fn storage_key(&self) -> &str {
        &self.storage_key
    }

    pub(crate) fn exp(&self) -> Option<Duration> {
        self.exp
    }

    /// The error of an acquisition that did not get the lock.
    pub(crate) fn locked(&self) -> Error {
        Error::Locked {
            key: self.key.clone(),
        }
    }

    /// This lock as the events of a wait name it.
    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            kind: Kind::Lock,
            prefix: self.cachify.prefix(),
            key: &self.key,
            tally: self.tally(),
        }
    }

    /// The error of an acquisition that gave up, after logging it.
    pub(crate) fn refused(&self, nowait: bool) -> Error {
        events::lock_refused(self.tally(), self.cachify.prefix(), &self.key, nowait);
        self.locked()
    }

    /// Counts the lock as taken.
    pub(crate) fn taken(&self) {
        self.tally().count(Event::LockAcquired);
    }

    fn tally(&self) -> Tally<'_> {
        self.cachify.tally(self.function)
    }

    /// One attempt to take the lock: its fencing token when taken, `None` when held.
    pub(crate) fn take_blocking(&self) -> Result<Option<u64>, Error> {
        let client = self.cachify.sync_client();
        let token = self.token.as_bytes();
        Ok(client.lock_acquire(&self.storage_key, token, self.exp)?)
    }

    /// The async [`take_blocking`](Self::take_blocking).
    pub(crate) async fn take_async(&self) -> Result<Option<u64>, Error> {
        let client = self.cachify.async_client();
        let token = self.token.as_bytes();
        Ok(client
            .lock_acquire(&self.storage_key, token, self.exp)
            .await?)
    }

    /// Deletes the lock if it still holds this ticket's token; whether it did.
    pub(crate) fn give_back_blocking(&self) -> Result<bool, Error> {
        let client = self.cachify.sync_client();
        Ok(client.delete_if_equals(&self.storage_key, self.token.as_bytes())?)
    }

    /// The async [`give_back_blocking`](Self::give_back_blocking).
    pub(crate) async fn give_back_async(&self) -> Result<bool, Error> {
        let client = self.cachify.async_client();
        let token = self.token.as_bytes();
        Ok(client.delete_if_equals(&self.storage_key, token).await?)
    }

    /// Resets the lock's expiry to `exp` if it still holds this ticket's token.
    pub(crate) fn extend_blocking(&self) -> Result<bool, Error> {
        let client = self.cachify.sync_client();
        Ok(client.expire_if_equals(&self.storage_key, self.token.as_bytes(), self.exp)?)
    }

    /// The async [`extend_blocking`](Self::extend_blocking).
    pub(crate) async fn extend_async(&self) -> Result<bool, Error> {
        let client = self.cachify.async_client();
        let token = self.token.as_bytes();
        Ok(client
            .expire_if_equals(&self.storage_key, token, self.exp)
            .await?)
    }

    /// Logs the outcome of a release that nobody can be told about (from `Drop`).
    pub(crate) fn log_release(&self, outcome: Result<bool, Error>) {
        match outcome {
            Ok(true) => {}
            Ok(false) => self.log_lost(),
            Err(error) => tracing::warn!(target: crate::events::TARGET, key = %self.key,
                %error,
                "could not release lock; it will expire with its exp"
            ),
        }
    }

    /// The lock was no longer ours when we came to release or extend it.
    pub(crate) fn log_lost(&self) {
        // Expected after a force-release, so only a debug event; an expiry under a running
        // job is the case `auto_extend` exists for.
        tracing::debug!(target: crate::events::TARGET, key = %self.key,
            "lock was expired or force-released before its holder ended"
        );
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("key", &self.key)
            .field("storage_key", &self.storage_key)
            .field("token", &self.token)
            .field("exp", &self.exp)
            .finish()
    }
}
