//! The guards of a held pool slot: [`PoolSlot`] (sync) and [`AsyncPoolSlot`].
//!
//! A guard owns its [`Seat`] (instance, key, token), not a borrow of the `Pool`, so
//! `let _slot = cachify::pool("k", 3).acquire()?;` holds the slot to the end of the scope
//! and a slot can move into a spawned task. Releasing frees exactly this slot (by its
//! token) and happens once: explicitly, or from `Drop`.
//!
//! The claim is [`Armed`] *before* the backend admits its token, so an acquisition that
//! is cancelled (or fails) after the backend may have admitted it still frees the slot;
//! a token that was refused is disarmed instead.

use std::fmt;

use super::seat::Seat;
use crate::detached::{Armed, Async, Blocking, Claim};
use crate::error::Error;
use crate::instance::Cachify;

impl Claim for Seat {
    fn storage_key(&self) -> &str {
        Seat::storage_key(self)
    }

    fn cachify(&self) -> &Cachify {
        Seat::cachify(self)
    }

    fn give_back_blocking(&self) -> Result<bool, Error> {
        Seat::give_back_blocking(self)
    }

    async fn give_back_async(&self) -> Result<bool, Error> {
        Seat::give_back_async(self).await
    }

    fn log_release(&self, outcome: Result<bool, Error>) {
        Seat::log_release(self, outcome);
    }

    fn log_gone(&self) {
        self.log_expired();
    }
}

/// A held pool slot, from [`Pool::acquire`](super::Pool::acquire); released when
/// dropped, also while unwinding from a panic.
///
/// Dropping releases through the instance's sync client and logs a failure (the slot
/// then stops counting after its `slot_exp`); [`release`](Self::release) reports it
/// instead. Dropped inside async code, the release is handed to cachify's releaser
/// thread rather than blocking a runtime worker for a round trip.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::Cachify::builder().build();
/// let pool = cachify.pool("exports", 2);
/// let slot = pool.acquire()?;
/// assert_eq!(slot.key(), "exports");
/// assert_eq!(pool.size()?, 1);
/// slot.release()?;
/// assert_eq!(pool.size()?, 0);
/// # Ok::<(), cachify::Error>(())
/// ```
#[must_use = "the slot is released as soon as the guard is dropped"]
pub struct PoolSlot {
    claim: Armed<Seat, Blocking>,
}

impl PoolSlot {
    /// The guard of an admitted claim.
    pub(super) fn hold(mut claim: Armed<Seat, Blocking>) -> Self {
        claim.confirm();
        Self { claim }
    }

    /// The pool key as written by the caller.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("exports", 2).acquire()?;
    /// assert_eq!(slot.key(), "exports");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn key(&self) -> &str {
        self.claim.claim().key()
    }

    /// Releases the slot now, reporting a backend failure. Releasing a slot that already
    /// expired is not an error: there is nothing left to free.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("k", 1).acquire()?;
    /// slot.release()?;
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        self.claim.release()
    }
}

impl fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSlot")
            .field("claim", &self.claim)
            .finish()
    }
}

/// A held pool slot, from [`Pool::acquire_async`](super::Pool::acquire_async); release
/// it with [`release_async`](Self::release_async).
///
/// A slot that is dropped instead (its future was cancelled by a `timeout` or a
/// `select!`, its task panicked, its runtime shut down) is still released: at once on
/// the memory backend, otherwise on cachify's releaser thread, which needs neither the
/// caller's runtime nor the drop to wait.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cachify::Error> {
/// let cachify = cachify::Cachify::builder().build();
/// let pool = cachify.pool("uploads", 4);
/// let slot = pool.acquire_async().await?;
/// let moved = tokio::spawn(async move {
///     // ... the slot travels with the work ...
///     slot.release_async().await
/// });
/// moved.await.expect("task panicked")?;
/// assert_eq!(pool.size_async().await?, 0);
/// # Ok(())
/// # }
/// ```
#[must_use = "the slot is released as soon as the guard is dropped"]
pub struct AsyncPoolSlot {
    claim: Armed<Seat, Async>,
}

impl AsyncPoolSlot {
    /// The guard of an admitted claim.
    pub(super) fn hold(mut claim: Armed<Seat, Async>) -> Self {
        claim.confirm();
        Self { claim }
    }

    /// The pool key as written by the caller.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("uploads", 4).acquire_async().await?;
    /// assert_eq!(slot.key(), "uploads");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        self.claim.claim().key()
    }

    /// Releases the slot now, reporting a backend failure. Releasing a slot that already
    /// expired is not an error.
    ///
    /// If this future is itself cancelled, the slot is still released in the background.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("k", 1).acquire_async().await?;
    /// slot.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(mut self) -> Result<(), Error> {
        self.claim.release().await
    }
}

impl fmt::Debug for AsyncPoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPoolSlot")
            .field("claim", &self.claim)
            .finish()
    }
}
