//! The guards of a held lock: [`LockGuard`] (sync) and [`AsyncLockGuard`].
//!
//! A guard owns its [`Ticket`] (instance, key, token), not a borrow of the `Lock`, so
//! `let _g = cachify::lock("k").acquire()?;` holds the lock to the end of the scope and a
//! guard can move into a spawned task. Releasing is owner-checked (compare-and-delete of
//! the token) and happens exactly once: explicitly, or from `Drop`, through the
//! [`Armed`] claim that the acquisition created before asking the backend.

use std::fmt;

use super::lease::{Lease, Renewal};
use super::ticket::Ticket;
use crate::detached::{Armed, Async, Blocking, Claim, Settle, Side};
use crate::error::Error;
use crate::instance::Cachify;

/// What a guard gives back: its ticket, and the lease renewing it, if any; and the
/// fencing token the backend gave this holder.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    ticket: Ticket,
    lease: Option<Lease>,
    fencing_token: u64,
}

impl Held {
    pub(crate) fn new(ticket: Ticket) -> Self {
        Self {
            ticket,
            lease: None,
            fencing_token: 0,
        }
    }

    pub(crate) fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// Stops the lease without waiting for a renewal in flight, for a give-back that a
    /// late renewal cannot undo: the renewal is a token-checked `expire_if_equals`, so
    /// on a backend where that is atomic it finds the key gone and writes nothing. Saves
    /// the give-back two hops to the releaser thread and back.
    pub(crate) fn stop_lease(&mut self) {
        if let Some(lease) = self.lease.take() {
            drop(lease.stop());
        }
    }
}

impl Claim for Held {
    fn storage_key(&self) -> &str {
        self.ticket.storage_key()
    }

    fn cachify(&self) -> &Cachify {
        self.ticket.cachify()
    }

    fn settle(&self) -> Option<Settle> {
        self.lease.as_ref().map(Lease::stop)
    }

    fn give_back_blocking(&self) -> Result<bool, Error> {
        self.ticket.give_back_blocking()
    }

    async fn give_back_async(&self) -> Result<bool, Error> {
        self.ticket.give_back_async().await
    }

    fn log_release(&self, outcome: Result<bool, Error>) {
        self.ticket.log_release(outcome);
    }

    fn log_gone(&self) {
        self.ticket.log_lost();
    }
}

/// Starts the lease of an admitted claim if asked to; on failure the claim is dropped,
/// which gives the lock back: without its lease the caller's long job could lose the
/// lock midway, better say so than hold it unprotected.
fn lease<S: Side>(
    mut claim: Armed<Held, S>,
    fencing_token: u64,
    auto_extend: bool,
    renewal: Renewal,
) -> Result<Armed<Held, S>, Error> {
    claim.confirm();
    claim.claim_mut().fencing_token = fencing_token;
    if auto_extend {
        let lease = Lease::start(claim.claim().ticket(), renewal)?;
        claim.claim_mut().lease = lease;
    }
    Ok(claim)
}

/// Confirms a taken claim and starts renewing it: the lease of a fleet-wide cache miss.
pub(crate) fn renewed<S: Side>(
    claim: Armed<Held, S>,
    renewal: Renewal,
) -> Result<Armed<Held, S>, Error> {
    lease(claim, 0, true, renewal)
}

fn lease_lost(held: &Held) -> bool {
    held.lease.as_ref().is_some_and(Lease::lost)
}

/// A held lock, from [`Lock::acquire`](super::Lock::acquire); released when dropped,
/// also while unwinding from a panic.
///
/// Dropping releases through the instance's sync client and logs a failure (the lock
/// then expires with its `exp`); [`release`](Self::release) reports it instead. Dropped
/// inside async code (a sync `#[lock]` function called from a task, say), the release
/// is handed to cachify's releaser thread rather than blocking a runtime worker for a
/// round trip.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::Cachify::builder().build();
/// let guard = cachify.lock("invoice-7").acquire()?;
/// assert_eq!(guard.key(), "invoice-7");
/// guard.release()?;
/// assert!(!cachify.lock("invoice-7").is_locked()?);
/// # Ok::<(), cachify::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    claim: Armed<Held, Blocking>,
}

impl LockGuard {
    /// Confirms a taken claim with its fencing token; starts its lease with `auto_extend`.
    pub(super) fn hold(
        claim: Armed<Held, Blocking>,
        fencing_token: u64,
        auto_extend: bool,
    ) -> Result<Self, Error> {
        let claim = lease(claim, fencing_token, auto_extend, Renewal::Blocking)?;
        // Counted only now: a lease that failed to start gave the lock back.
        claim.claim().ticket().taken();
        Ok(Self { claim })
    }

    /// The key as written by the caller.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("invoice-7").acquire()?;
    /// assert_eq!(guard.key(), "invoice-7");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn key(&self) -> &str {
        self.claim.claim().ticket.key()
    }

    /// Whether the `auto_extend` lease found the lock lost: expired, force-released or
    /// taken by someone else before a renewal. Always `false` without `auto_extend`.
    ///
    /// A long job can check it between steps and stop when it no longer holds the lock.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let lock = cachify.lock("import").exp(Duration::from_secs(10)).auto_extend(true);
    /// let guard = lock.acquire()?;
    /// for step in 0..3 {
    ///     if guard.lease_lost() {
    ///         break; // someone else may be running the import now
    ///     }
    ///     let _ = step; // ... one step of the job ...
    /// }
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn lease_lost(&self) -> bool {
        lease_lost(self.claim.claim())
    }

    /// This holder's fencing token: larger than the token of every earlier holder of
    /// this lock's key, on every backend that counts holders (memory, Redis, Cluster);
    /// 0 on a custom backend that does not (see [`SyncClient::lock_acquire`]).
    ///
    /// Send it with every write to the resource the lock protects, and have the
    /// resource refuse a token smaller than the largest it has seen: a holder whose
    /// lock expired while it stalled then cannot overwrite its successor's work (see
    /// the locks chapter, "Fencing tokens").
    ///
    /// [`SyncClient::lock_acquire`]: crate::SyncClient::lock_acquire
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let first = cachify.lock("ledger").acquire()?;
    /// let first_token = first.fencing_token();
    /// first.release()?;
    /// let second = cachify.lock("ledger").acquire()?;
    /// assert!(second.fencing_token() > first_token);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn fencing_token(&self) -> u64 {
        self.claim.claim().fencing_token
    }

    /// Releases the lock now, reporting a backend failure. Releasing a lock that already
    /// expired or was force-released is not an error: there is nothing left to free.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("k").acquire()?;
    /// guard.release()?;
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        self.claim.release()
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("claim", &self.claim)
            .finish()
    }
}

/// A held lock, from [`Lock::acquire_async`](super::Lock::acquire_async); release it
/// with [`release_async`](Self::release_async).
///
/// A guard that is dropped instead (its future was cancelled by a `timeout` or a
/// `select!`, its task panicked, its runtime shut down) still releases the lock: at once
/// on the memory backend, otherwise on cachify's releaser thread, which needs neither
/// the caller's runtime nor the drop to wait.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
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
    claim: Armed<Held, Async>,
}

impl AsyncLockGuard {
    /// Confirms a taken claim with its fencing token; starts its lease with `auto_extend`.
    pub(super) fn hold(
        claim: Armed<Held, Async>,
        fencing_token: u64,
        auto_extend: bool,
    ) -> Result<Self, Error> {
        let claim = lease(claim, fencing_token, auto_extend, Renewal::Async)?;
        // Counted only now: a lease that failed to start gave the lock back.
        claim.claim().ticket().taken();
        Ok(Self { claim })
    }

    /// The key as written by the caller.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("invoice-7").acquire_async().await?;
    /// assert_eq!(guard.key(), "invoice-7");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        self.claim.claim().ticket.key()
    }

    /// Whether the `auto_extend` lease found the lock lost: expired, force-released or
    /// taken by someone else before a renewal. Always `false` without `auto_extend`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let lock = cachify.lock("import").exp(Duration::from_secs(10)).auto_extend(true);
    /// let guard = lock.acquire_async().await?;
    /// assert!(!guard.lease_lost());
    /// # Ok(())
    /// # }
    /// ```
    pub fn lease_lost(&self) -> bool {
        lease_lost(self.claim.claim())
    }

    /// This holder's fencing token; see [`LockGuard::fencing_token`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let first = cachify.lock("ledger").acquire_async().await?;
    /// let first_token = first.fencing_token();
    /// first.release_async().await?;
    /// let second = cachify.lock("ledger").acquire_async().await?;
    /// assert!(second.fencing_token() > first_token);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fencing_token(&self) -> u64 {
        self.claim.claim().fencing_token
    }

    /// Resolves when the `auto_extend` lease finds the lock lost (see
    /// [`lease_lost`](Self::lease_lost)); never without `auto_extend`. Race it against
    /// the job to stop the job when the lock is gone.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let lock = cachify.lock("import").exp(Duration::from_secs(10)).auto_extend(true);
    /// let guard = lock.acquire_async().await?;
    /// let job = async { /* ... the long import ... */ };
    /// let finished = tokio::select! {
    ///     () = job => true,
    ///     () = guard.wait_lease_lost() => false, // the lock is gone: stop the import
    /// };
    /// assert!(finished);
    /// guard.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_lease_lost(&self) {
        match &self.claim.claim().lease {
            Some(lease) => lease.wait_lost().await,
            None => std::future::pending().await,
        }
    }

    /// Releases the lock now, reporting a backend failure. Releasing a lock that already
    /// expired or was force-released is not an error.
    ///
    /// Cancel-safe: if this future is dropped before it completes, the guard's `Drop`
    /// still releases the lock in the background.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("k").acquire_async().await?;
    /// guard.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(mut self) -> Result<(), Error> {
        self.claim.release().await
    }
}

impl fmt::Debug for AsyncLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLockGuard")
            .field("claim", &self.claim)
            .finish()
    }
}
