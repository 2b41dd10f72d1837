//! Distributed locks: the [`Lock`] handle, the guards that hold one, and the lease that
//! keeps a long holder's lock alive.
//!
//! A lock is one key holding a token that is unique to one acquisition, stored with
//! `set(nx = true)` and an expiry, so a holder that dies frees it after `exp`.
//! Guarantees beyond py-cachify's (which deletes the key unconditionally):
//! - a guard releases only its own lock: release is a compare-and-delete of its token, so
//!   a holder that overstayed its `exp` never frees the next holder's lock;
//! - a waiter is woken by the release itself (the backend's [`watch`]), polling only as
//!   the fallback, and never sleeps past the holder's expiry;
//! - a guard releases on drop, also while unwinding from a panic, and an async guard
//!   whose future is cancelled, or whose runtime ends, releases without blocking the
//!   runtime (see [`crate::detached`] for where releases run);
//! - an acquisition that is cancelled, or whose reply is lost, leaves no lock behind: its
//!   claim is armed before `SET NX` is sent, and gives the token back if it was stored;
//! - `auto_extend` keeps renewing the expiry while the guard lives, owner-checked too;
//! - every guard carries a fencing token that strictly increases across the holders of
//!   its key (the backend's [`lock_acquire`]), so a resource can refuse a holder whose
//!   lock expired under it.
//!
//! The force-[`Lock::release`] functions stay unconditional, as py-cachify documents.
//!
//! [`watch`]: crate::SyncClient::watch
//! [`lock_acquire`]: crate::SyncClient::lock_acquire

pub mod for_macros;
mod guard;
mod lease;
mod ticket;

use std::time::Duration;

pub(crate) use guard::{renewed, Held};
pub use guard::{AsyncLockGuard, LockGuard};
pub(crate) use lease::Renewal;
pub(crate) use ticket::lifetime;
pub(crate) use ticket::Ticket;

use crate::detached::{self, Armed};
use crate::error::Error;
use crate::instance::{Cachify, Selector};
use crate::stats::FnStats;
use crate::wait::{retry_async, retry_blocking, Patience};

/// A lock on the global instance (py-cachify's `lock(key)`), configured with the
/// builder methods of [`Lock`].
///
/// It never fails itself: the global instance is looked up when the lock is used, so
/// using it before [`init_cachify`](crate::init_cachify) makes `acquire`, `is_locked`
/// and `release` return [`Error::NotInitialized`].
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// cachify::init_cachify();
///
/// let _guard = cachify::lock("nightly-import").acquire()?;
/// assert!(cachify::lock("nightly-import").is_locked()?);
/// # Ok::<(), cachify::Error>(())
/// ```
pub fn lock(key: impl Into<String>) -> Lock {
    Lock::new(Selector::Global, key.into())
}

/// A named distributed lock and how to take it: from [`lock()`] or [`Cachify::lock`].
///
/// `Lock` is only a description (key and options); acquiring it returns a guard that
/// owns the held lock and releases it when dropped. One `Lock` can be acquired many
/// times, by several threads or tasks (it is `Clone`).
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`nowait`](Self::nowait) | `true` | fail at once when held, instead of waiting |
/// | [`timeout`](Self::timeout) | `None` | how long a waiting acquire waits (`None`: forever) |
/// | [`exp`](Self::exp) | the instance's `default_lock_expiration` | how long the lock lives if never released (`None`: forever) |
/// | [`auto_extend`](Self::auto_extend) | `false` | renew `exp` while the guard lives |
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::{Cachify, Error};
///
/// let cachify = Cachify::builder().build();
/// let lock = cachify.lock("report-42").exp(Duration::from_secs(60));
///
/// let guard = lock.acquire()?;
/// let second = lock.acquire();
/// assert!(matches!(second, Err(Error::Locked { ref key }) if key == "report-42"));
/// drop(guard);
/// assert!(!lock.is_locked()?);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a lock does nothing until it is acquired"]
pub struct Lock {
    instance: Selector<Cachify>,
    key: String,
    nowait: bool,
    timeout: Option<Duration>,
    /// `None`: the instance's default; `Some(None)`: never expires.
    exp: Option<Option<Duration>>,
    auto_extend: bool,
    /// The decorated function this lock guards (set by `#[lock]` / `#[once]`).
    counted: Option<&'static FnStats>,
}

impl Cachify {
    /// A lock on this instance (py-cachify's `instance.lock(key)`); see [`Lock`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("JOBS-").build();
    /// let guard = cachify.lock("import").acquire()?;
    /// assert!(cachify.lock("import").is_locked()?);
    /// # drop(guard);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn lock(&self, key: impl Into<String>) -> Lock {
        Lock::new(Selector::Instance(self.clone()), key.into())
    }
}

impl Lock {
    fn new(instance: Selector<Cachify>, key: String) -> Self {
        Self {
            instance,
            key,
            nowait: true,
            timeout: None,
            exp: None,
            auto_extend: false,
            counted: None,
        }
    }

    /// Whether acquiring fails at once when the lock is held (`true`, the default) or
    /// waits for its release, up to [`timeout`](Self::timeout).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let waiting = cachify.lock("k").nowait(false).timeout(Duration::from_secs(5));
    /// # let _ = waiting;
    /// ```
    pub fn nowait(mut self, nowait: bool) -> Self {
        self.nowait = nowait;
        self
    }

    /// How long a waiting acquire (`nowait(false)`) waits before failing with
    /// [`Error::Locked`]; `None` (the default) waits until it gets the lock. Ignored with
    /// `nowait(true)`, as in py-cachify.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _ = cachify.lock("k").nowait(false).timeout(Duration::from_millis(250));
    /// let _ = cachify.lock("k").nowait(false).timeout(None); // wait forever
    /// ```
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// How long the lock lives when its holder never releases it (a crash, a lost
    /// process); `None`: until released. Default: the instance's
    /// [`default_lock_expiration`](Cachify::default_lock_expiration) (30 s).
    ///
    /// A zero `exp` makes acquiring fail with [`Error::InvalidOption`] (such a lock
    /// would exclude nobody); one of a century or more (up to `Duration::MAX`) means
    /// never expires.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _ = cachify.lock("k").exp(Duration::from_secs(120));
    /// let _ = cachify.lock("k").exp(None); // held until released
    /// ```
    pub fn exp(mut self, exp: impl Into<Option<Duration>>) -> Self {
        self.exp = Some(exp.into());
        self
    }

    /// Whether a guard keeps renewing the lock's `exp` (every `exp / 3`, only while the
    /// key still holds its token) for as long as it lives, so that a job longer than
    /// `exp` keeps its lock while a crashed holder's lock still expires. Default `false`.
    ///
    /// Renewals run on cachify's releaser thread (one for the whole process, sync and
    /// async guards alike), so they go on even when the caller's runtime is busy or no
    /// longer driven; renewal stops when the guard is released or dropped. A renewal
    /// that finds the lock gone ends the lease: see [`LockGuard::lease_lost`] and
    /// [`AsyncLockGuard::wait_lease_lost`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("long-job").exp(Duration::from_secs(10)).auto_extend(true).acquire()?;
    /// // ... work for as long as it takes ...
    /// drop(guard);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn auto_extend(mut self, auto_extend: bool) -> Self {
        self.auto_extend = auto_extend;
        self
    }

    /// The key as written by the caller (without the instance prefix).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// assert_eq!(cachify.lock("nightly").key(), "nightly");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Takes the lock, blocking the thread while waiting (`nowait(false)`); the guard
    /// releases it when dropped, also on panic.
    ///
    /// Fails with [`Error::Locked`] when the lock is held and `nowait` is set or the
    /// timeout passes.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// {
    ///     let _guard = cachify.lock("section").acquire()?;
    ///     // critical section
    /// }
    /// assert!(!cachify.lock("section").is_locked()?);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<LockGuard, Error> {
        let claim = Armed::pending(Held::new(self.ticket()?));
        // An error leaves `claim` pending (unless its request never ran): its drop
        // deletes the token in case the backend stored it before failing to answer.
        let ticket = claim.claim().ticket();
        detached::releases_done_blocking(
            ticket.cachify(),
            ticket.storage_key(),
            self.release_patience(),
        );
        let taken = if self.nowait {
            ticket.take_blocking()
        } else {
            // Every attempt before the last was answered "held": only the last can fail.
            retry_blocking(
                ticket.cachify().sync_client(),
                ticket.storage_key(),
                ticket.subject(),
                self.patience(ticket),
                || ticket.take_blocking(),
            )
        };
        let fencing_token = match taken {
            Ok(fencing_token) => fencing_token,
            Err(error) => return Err(claim.failed(error)),
        };
        let Some(fencing_token) = fencing_token else {
            let refused = ticket.refused(self.nowait);
            claim.disarm();
            return Err(refused);
        };
        LockGuard::hold(claim, fencing_token, self.auto_extend)
    }

    /// Takes the lock without blocking the runtime while waiting; release the guard with
    /// [`AsyncLockGuard::release_async`]. A guard that is dropped instead (the future
    /// was cancelled, the task panicked) still releases the lock, in the background.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("section").acquire_async().await?;
    /// // critical section
    /// guard.release_async().await?;
    /// assert!(!cachify.lock("section").is_locked_async().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire_async(&self) -> Result<AsyncLockGuard, Error> {
        let claim = Armed::pending(Held::new(self.ticket()?));
        // Cancelled or failed (unless its request never ran), `claim` is dropped pending
        // and deletes the token in the background, in case the backend stored it before
        // we stopped listening.
        let ticket = claim.claim().ticket();
        detached::releases_done(
            ticket.cachify(),
            ticket.storage_key(),
            self.release_patience(),
        )
        .await;
        let taken = if self.nowait {
            ticket.take_async().await
        } else {
            retry_async(
                ticket.cachify().async_client(),
                ticket.storage_key(),
                ticket.subject(),
                self.patience(ticket),
                || ticket.take_async(),
            )
            .await
        };
        let fencing_token = match taken {
            Ok(fencing_token) => fencing_token,
            Err(error) => return Err(claim.failed(error)),
        };
        let Some(fencing_token) = fencing_token else {
            let refused = ticket.refused(self.nowait);
            claim.disarm();
            return Err(refused);
        };
        AsyncLockGuard::hold(claim, fencing_token, self.auto_extend)
    }

    /// Whether anyone holds the lock now (any holder, in any process sharing the backend).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert!(!cachify.lock("k").is_locked()?);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn is_locked(&self) -> Result<bool, Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.lock_key(&self.key);
        detached::releases_done_blocking(&cachify, &storage_key, None);
        Ok(cachify.sync_client().get(&storage_key)?.is_some())
    }

    /// The async [`is_locked`](Self::is_locked) (py-cachify's `is_alocked`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// assert!(!cachify.lock("k").is_locked_async().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn is_locked_async(&self) -> Result<bool, Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.lock_key(&self.key);
        detached::releases_done(&cachify, &storage_key, None).await;
        Ok(cachify.async_client().get(&storage_key).await?.is_some())
    }

    /// Frees the lock whoever holds it (py-cachify's `release`): an administrative
    /// override. The holder's guard then releases nothing when it ends.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let guard = cachify.lock("stuck").acquire()?;
    /// cachify.lock("stuck").release()?;
    /// assert!(!cachify.lock("stuck").is_locked()?);
    /// # drop(guard);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.lock_key(&self.key);
        cachify.sync_client().delete(&[&storage_key])?;
        Ok(())
    }

    /// The async [`release`](Self::release) (py-cachify's `arelease`): unconditional.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// cachify.lock("stuck").release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(&self) -> Result<(), Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.lock_key(&self.key);
        cachify.async_client().delete(&[&storage_key]).await?;
        Ok(())
    }

    /// A fresh acquisition attempt: the instance, the keys, a new token and the expiry.
    fn ticket(&self) -> Result<Ticket, Error> {
        let cachify = self.instance.resolve()?;
        let exp = self
            .exp
            .unwrap_or_else(|| cachify.default_lock_expiration());
        let exp = ticket::lifetime("exp", exp)?;
        Ok(Ticket::new(cachify, &self.key, exp, self.counted))
    }

    /// How long an acquire waits for this process's releases of its lock in flight.
    fn release_patience(&self) -> Option<Duration> {
        detached::release_patience(self.nowait, self.timeout)
    }

    fn patience(&self, ticket: &Ticket) -> Patience {
        Patience::new(self.timeout, ticket.cachify().lock_poll_interval())
    }
}
