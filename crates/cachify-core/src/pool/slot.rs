//! The guards of a held pool slot: [`PoolSlot`] (sync) and [`AsyncPoolSlot`].
//!
//! A guard owns its [`Seat`] (instance, key, token), not a borrow of the `Pool`, so
//! `let _slot = cachify::pool("k", 3).acquire()?;` holds the slot to the end of the scope
//! and a slot can move into a spawned task. Releasing frees exactly this slot (by its
//! token) and happens once: explicitly, or from `Drop`.
//!
//! A guard is created *before* the backend admits its token, so an acquisition that is
//! cancelled (or fails) after the backend may have admitted it still frees the slot when
//! the guard is dropped; a token that was never admitted is disarmed instead.

use std::fmt;

use super::seat::Seat;
use crate::detached;
use crate::error::Error;

/// A held pool slot, from [`Pool::acquire`](super::Pool::acquire); released when
/// dropped, also while unwinding from a panic.
///
/// Dropping releases through the instance's sync client and logs a failure (the slot
/// then stops counting after its `slot_exp`); [`release`](Self::release) reports it
/// instead.
///
/// # Examples
///
/// ```
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
    seat: Seat,
    /// Whether dropping must free the token: from before admission until released.
    armed: bool,
}

impl PoolSlot {
    /// A guard for `seat`, armed before the backend is asked to admit it.
    pub(super) fn pending(seat: Seat) -> Self {
        Self { seat, armed: true }
    }

    pub(super) fn seat(&self) -> &Seat {
        &self.seat
    }

    /// The backend refused the token: there is no slot to free.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }

    /// The pool key as written by the caller.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("exports", 2).acquire()?;
    /// assert_eq!(slot.key(), "exports");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn key(&self) -> &str {
        self.seat.key()
    }

    /// Releases the slot now, reporting a backend failure. Releasing a slot that already
    /// expired is not an error: there is nothing left to free.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("k", 1).acquire()?;
    /// slot.release()?;
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        // Disarmed first: a failed release is reported here, not retried by `Drop`.
        self.armed = false;
        if !self.seat.give_back_blocking()? {
            self.seat.log_expired();
        }
        Ok(())
    }
}

impl Drop for PoolSlot {
    fn drop(&mut self) {
        if self.armed {
            self.seat.log_release(self.seat.give_back_blocking());
        }
    }
}

impl fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSlot")
            .field("seat", &self.seat)
            .field("armed", &self.armed)
            .finish()
    }
}

/// A held pool slot, from [`Pool::acquire_async`](super::Pool::acquire_async); release
/// it with [`release_async`](Self::release_async).
///
/// A slot that is dropped instead (its future was cancelled by a `timeout` or a
/// `select!`, or its task panicked) is still released: the release is spawned on the
/// current tokio runtime, so the drop never blocks it, or run on a small runtime of its
/// own where there is none.
///
/// # Examples
///
/// ```
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
    seat: Seat,
    /// Whether dropping must free the token: from before admission until released.
    armed: bool,
}

impl AsyncPoolSlot {
    /// A guard for `seat`, armed before the backend is asked to admit it.
    pub(super) fn pending(seat: Seat) -> Self {
        Self { seat, armed: true }
    }

    pub(super) fn seat(&self) -> &Seat {
        &self.seat
    }

    /// The backend refused the token: there is no slot to free.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }

    /// The pool key as written by the caller.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("uploads", 4).acquire_async().await?;
    /// assert_eq!(slot.key(), "uploads");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        self.seat.key()
    }

    /// Releases the slot now, reporting a backend failure. Releasing a slot that already
    /// expired is not an error.
    ///
    /// If this future is itself cancelled, the slot is still released in the background.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("k", 1).acquire_async().await?;
    /// slot.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(mut self) -> Result<(), Error> {
        // Still armed while the release is in flight, so cancelling this future leaves
        // the release to `Drop`; disarmed once it answered, so a failure is reported
        // here rather than retried.
        let released = self.seat.give_back_async().await;
        self.armed = false;
        if !released? {
            self.seat.log_expired();
        }
        Ok(())
    }
}

impl Drop for AsyncPoolSlot {
    fn drop(&mut self) {
        if self.armed {
            let seat = self.seat.clone();
            detached::finish(async move {
                let outcome = seat.give_back_async().await;
                seat.log_release(outcome);
            });
        }
    }
}

impl fmt::Debug for AsyncPoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPoolSlot")
            .field("seat", &self.seat)
            .field("armed", &self.armed)
            .finish()
    }
}
