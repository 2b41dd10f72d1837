//! The guards of a held lock: [`LockGuard`] (sync) and [`AsyncLockGuard`].
//!
//! A guard owns its [`Ticket`] (instance, key, token), not a borrow of the `Lock`, so
//! `let _g = cachify::lock("k").acquire()?;` holds the lock to the end of the scope and a
//! guard can move into a spawned task. Releasing is owner-checked (compare-and-delete of
//! the token) and happens exactly once: explicitly, or from `Drop`.

use std::fmt;

use super::lease::{AsyncLease, BlockingLease};
use super::ticket::Ticket;
use crate::detached;
use crate::error::Error;

/// A held lock, from [`Lock::acquire`](super::Lock::acquire); released when dropped,
/// also while unwinding from a panic.
///
/// Dropping releases through the instance's sync client and logs a failure (the lock
/// then expires with its `exp`); [`release`](Self::release) reports it instead.
///
/// # Examples
///
/// ```
/// let cachify = cachify::Cachify::builder().build();
/// let guard = cachify.lock("invoice-7").acquire()?;
/// assert_eq!(guard.key(), "invoice-7");
/// guard.release()?;
/// assert!(!cachify.lock("invoice-7").is_locked()?);
/// # Ok::<(), cachify::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    /// `None` once released.
    ticket: Option<Ticket>,
    lease: Option<BlockingLease>,
}

impl LockGuard {
    pub(super) fn hold(ticket: Ticket, auto_extend: bool) -> Result<Self, Error> {
        let lease = if auto_extend {
            match BlockingLease::start(&ticket) {
                Ok(lease) => lease,
                Err(error) => {
                    // Without its lease the caller's long job could lose the lock midway:
                    // give it back and say so rather than hold it unprotected.
                    ticket.log_release(ticket.give_back_blocking());
                    return Err(error);
                }
            }
        } else {
            None
        };
        Ok(Self {
            ticket: Some(ticket),
            lease,
        })
    }

    /// The key as written by the caller.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("invoice-7").acquire()?;
    /// assert_eq!(guard.key(), "invoice-7");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn key(&self) -> &str {
        self.ticket.as_ref().map_or("", Ticket::key)
    }

    /// Releases the lock now, reporting a backend failure. Releasing a lock that already
    /// expired or was force-released is not an error: there is nothing left to free.
    ///
    /// ```
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("k").acquire()?;
    /// guard.release()?;
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        self.stop_lease();
        match self.ticket.take() {
            Some(ticket) => give_back_blocking(&ticket),
            None => Ok(()),
        }
    }

    fn stop_lease(&mut self) {
        if let Some(mut lease) = self.lease.take() {
            lease.stop();
        }
    }
}

fn give_back_blocking(ticket: &Ticket) -> Result<(), Error> {
    if !ticket.give_back_blocking()? {
        ticket.log_lost();
    }
    Ok(())
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // The lease must be stopped before the delete, see `lease`.
        self.stop_lease();
        if let Some(ticket) = self.ticket.take() {
            ticket.log_release(ticket.give_back_blocking());
        }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("ticket", &self.ticket)
            .field("lease", &self.lease)
            .finish()
    }
}

/// A held lock, from [`Lock::acquire_async`](super::Lock::acquire_async); release it
/// with [`release_async`](Self::release_async).
///
/// A guard that is dropped instead (its future was cancelled by a `timeout` or a
/// `select!`, or its task panicked) still releases the lock: the release is spawned on
/// the current tokio runtime, so the drop never blocks it, or run on a small runtime of
/// its own where there is none.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cachify::Error> {
/// let cachify = cachify::Cachify::builder().build();
/// let guard = cachify.lock("invoice-7").acquire_async().await?;
/// let moved = tokio::spawn(async move {
///     // ... the guard travels with the work ...
///     guard.release_async().await
/// });
/// moved.await.expect("task panicked")?;
/// assert!(!cachify.lock("invoice-7").is_locked_async().await?);
/// # Ok(())
/// # }
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct AsyncLockGuard {
    /// `None` once released.
    ticket: Option<Ticket>,
    lease: Option<AsyncLease>,
}

impl AsyncLockGuard {
    pub(super) fn hold(ticket: Ticket, auto_extend: bool) -> Result<Self, Error> {
        let lease = if auto_extend {
            match AsyncLease::start(&ticket) {
                Ok(lease) => lease,
                Err(error) => {
                    release_detached(ticket, None);
                    return Err(error);
                }
            }
        } else {
            None
        };
        Ok(Self {
            ticket: Some(ticket),
            lease,
        })
    }

    /// The key as written by the caller.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("invoice-7").acquire_async().await?;
    /// assert_eq!(guard.key(), "invoice-7");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        self.ticket.as_ref().map_or("", Ticket::key)
    }

    /// Releases the lock now, reporting a backend failure. Releasing a lock that already
    /// expired or was force-released is not an error.
    ///
    /// Cancel-safe: if this future is dropped before it completes, the guard's `Drop`
    /// still releases the lock in the background.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("k").acquire_async().await?;
    /// guard.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(mut self) -> Result<(), Error> {
        // Everything stays inside `self` until the delete has finished, so a cancelled
        // release leaves the work to `Drop` instead of forgetting it.
        if let Some(lease) = self.lease.as_mut() {
            lease.stop().await;
        }
        self.lease = None;
        let Some(ticket) = self.ticket.as_ref() else {
            return Ok(());
        };
        let owned = ticket.give_back_async().await;
        if let Ok(false) = owned {
            ticket.log_lost();
        }
        self.ticket = None;
        owned.map(drop)
    }
}

/// Releases from a context that cannot await: stops the lease, then compare-and-deletes.
fn release_detached(ticket: Ticket, lease: Option<AsyncLease>) {
    detached::finish(async move {
        if let Some(mut lease) = lease {
            lease.stop().await;
        }
        ticket.log_release(ticket.give_back_async().await);
    });
}

impl Drop for AsyncLockGuard {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            release_detached(ticket, self.lease.take());
        }
    }
}

impl fmt::Debug for AsyncLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLockGuard")
            .field("ticket", &self.ticket)
            .field("lease", &self.lease)
            .finish()
    }
}
