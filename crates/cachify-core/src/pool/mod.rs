//! Resource pools: at most `max_size` holders of one key at a time, across threads, tasks
//! and processes sharing a backend. The [`Pool`] handle, and the slot guards it hands out.
//!
//! A pool is a set of slots stored under one key; a slot is a unique token with its own
//! expiry. Guarantees:
//! - never more than `max_size` live slots: admission drops expired slots and adds the
//!   token only while fewer than `max_size` are live, in **one atomic backend call**
//!   ([`pool_acquire`]); releasing is one more ([`pool_release`]). py-cachify instead
//!   rewrites a pickled slot dict under a polling meta-lock: about nine round trips per
//!   enter and exit on Redis, and 100 ms stalls under contention;
//! - a holder that crashes (or leaks its guard) stops counting after `slot_exp`, and its
//!   place can be taken; expiry never interrupts running code, it only frees the count;
//! - a slot is released on drop, also while unwinding from a panic, and an async slot
//!   whose acquisition or holder is cancelled is released without blocking the runtime;
//! - a waiting acquisition (`nowait(false)`) is woken by a release (the backend's
//!   [`watch`]), polling at the instance's `lock_poll_interval` only as the fallback, and
//!   never sleeping past the soonest slot expiry the backend reports.
//!
//! A pool with `max_size = 0` is always full: acquiring fails at once with
//! [`Error::PoolFull`], without waiting, since no release could ever make room.
//!
//! [`pool_acquire`]: crate::SyncClient::pool_acquire
//! [`pool_release`]: crate::SyncClient::pool_release
//! [`watch`]: crate::SyncClient::watch

#[doc(hidden)]
pub mod for_macros;
#[cfg(feature = "py-cachify")]
mod py_state;
mod seat;
mod slot;

use std::time::Duration;

use seat::Seat;
pub use slot::{AsyncPoolSlot, PoolSlot};

use crate::detached::{self, Armed};
use crate::error::Error;
use crate::instance::{Cachify, Selector};
use crate::stats::FnStats;
use crate::wait::{retry_async, retry_blocking, Patience};

/// A pool on the global instance (py-cachify's `pool(key, max_size)`), configured with
/// the builder methods of [`Pool`].
///
/// It never fails itself: the global instance is looked up when the pool is used, so
/// using it before [`init_cachify`](crate::init_cachify) makes `acquire` and `size`
/// return [`Error::NotInitialized`].
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// cachify::init_cachify();
///
/// let _slot = cachify::pool("api-pool-7", 5).acquire()?;
/// assert_eq!(cachify::pool("api-pool-7", 5).size()?, 1);
/// # Ok::<(), cachify::Error>(())
/// ```
pub fn pool(key: impl Into<String>, max_size: usize) -> Pool {
    Pool::new(Selector::Global, key.into(), max_size)
}

/// A named pool of at most `max_size` concurrent holders, and how to enter it: from
/// [`pool()`] or [`Cachify::pool`].
///
/// `Pool` is only a description (key, size and options); acquiring returns a slot guard
/// that owns the slot and frees it when dropped. One `Pool` can be acquired many times,
/// by several threads or tasks (it is `Clone`). Every caller of one key should pass the
/// same `max_size`: each admission is checked against the size its caller passes.
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`slot_exp`](Self::slot_exp) | the instance's `default_pool_slot_expiration` (600 s) | how long a slot counts if never released (`None`: forever) |
/// | [`nowait`](Self::nowait) | `true` | fail at once when full, instead of waiting |
/// | [`timeout`](Self::timeout) | `None` | how long a waiting acquire waits (`None`: forever) |
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::{Cachify, Error};
///
/// let cachify = Cachify::builder().build();
/// let pool = cachify.pool("workers", 2).slot_exp(Duration::from_secs(60));
///
/// let first = pool.acquire()?;
/// let second = pool.acquire()?;
/// let third = pool.acquire();
/// assert!(matches!(third, Err(Error::PoolFull { ref key, max_size: 2 }) if key == "workers"));
/// drop(first);
/// assert_eq!(pool.size()?, 1);
/// # drop(second);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a pool does nothing until it is acquired"]
pub struct Pool {
    instance: Selector<Cachify>,
    key: String,
    max_size: usize,
    nowait: bool,
    timeout: Option<Duration>,
    /// `None`: the instance's default; `Some(None)`: never expires.
    slot_exp: Option<Option<Duration>>,
    /// The decorated function this pool bounds (set by `#[pooled]`).
    counted: Option<&'static FnStats>,
}

impl Cachify {
    /// A pool of at most `max_size` holders on this instance (py-cachify's
    /// `instance.pool(key, max_size)`); see [`Pool`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("JOBS-").build();
    /// let slot = cachify.pool("encoders", 3).acquire()?;
    /// assert_eq!(cachify.pool("encoders", 3).size()?, 1);
    /// # drop(slot);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn pool(&self, key: impl Into<String>, max_size: usize) -> Pool {
        Pool::new(Selector::Instance(self.clone()), key.into(), max_size)
    }
}

impl Pool {
    fn new(instance: Selector<Cachify>, key: String, max_size: usize) -> Self {
        Self {
            instance,
            key,
            max_size,
            nowait: true,
            timeout: None,
            slot_exp: None,
            counted: None,
        }
    }

    /// How long a slot counts when its holder never releases it (a crash, a leaked
    /// guard); `None`: until released. Default: the instance's
    /// [`default_pool_slot_expiration`](Cachify::default_pool_slot_expiration) (600 s).
    ///
    /// Expiry does not interrupt the holder's work; it only frees its place in the count.
    /// A zero `slot_exp` makes acquiring fail with [`Error::InvalidOption`]; one of a
    /// century or more (up to `Duration::MAX`) means never expires.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _ = cachify.pool("k", 3).slot_exp(Duration::from_secs(30));
    /// let _ = cachify.pool("k", 3).slot_exp(None); // counted until released
    /// ```
    pub fn slot_exp(mut self, slot_exp: impl Into<Option<Duration>>) -> Self {
        self.slot_exp = Some(slot_exp.into());
        self
    }

    /// Whether acquiring fails at once when the pool is full (`true`, the default) or
    /// waits for a slot to be released or to expire, up to [`timeout`](Self::timeout).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _ = cachify.pool("k", 3).nowait(false).timeout(Duration::from_secs(5));
    /// ```
    pub fn nowait(mut self, nowait: bool) -> Self {
        self.nowait = nowait;
        self
    }

    /// How long a waiting acquire (`nowait(false)`) waits before failing with
    /// [`Error::PoolFull`]; `None` (the default) waits until it gets a slot. Ignored with
    /// `nowait(true)`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _ = cachify.pool("k", 3).nowait(false).timeout(Duration::from_millis(250));
    /// let _ = cachify.pool("k", 3).nowait(false).timeout(None); // wait forever
    /// ```
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// The key as written by the caller (without the instance prefix).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::pool("api", 5).key(), "api");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The most holders the pool admits at once.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::pool("api", 5).max_size(), 5);
    /// ```
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Takes a slot, blocking the thread while waiting (`nowait(false)`); the guard frees
    /// it when dropped, also on panic.
    ///
    /// Fails with [`Error::PoolFull`] when `max_size` slots are live and `nowait` is set
    /// or the timeout passes.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// {
    ///     let _slot = cachify.pool("db", 10).acquire()?;
    ///     // at most 10 threads here at once
    /// }
    /// assert_eq!(cachify.pool("db", 10).size()?, 0);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<PoolSlot, Error> {
        let claim = Armed::pending(self.seat()?);
        // An error leaves `claim` pending (unless its request never ran): its drop frees
        // a token the backend may have admitted before failing to answer.
        let seat = claim.claim();
        detached::releases_done_blocking(
            seat.cachify(),
            seat.storage_key(),
            self.release_patience(),
        );
        let taken = if self.waits() {
            let patience = self.patience(seat);
            retry_blocking(
                seat.cachify().sync_client(),
                seat.storage_key(),
                seat.subject(),
                patience,
                || Ok(seat.take_blocking(patience.deadline)?.then_some(())),
            )
            .map(|admitted| admitted.is_some())
        } else {
            seat.take_blocking(Seat::nowait_deadline())
        };
        let admitted = match taken {
            Ok(admitted) => admitted,
            Err(error) if seat.takes_in_one_request() => return Err(claim.failed(error)),
            Err(error) => return Err(error),
        };
        if !admitted {
            let full = seat.refused(!self.waits());
            claim.disarm();
            return Err(full);
        }
        seat.taken();
        Ok(PoolSlot::hold(claim))
    }

    /// Takes a slot without blocking the runtime while waiting; release it with
    /// [`AsyncPoolSlot::release_async`]. A slot that is dropped instead (the future was
    /// cancelled, the task panicked) is still released, in the background; so is one
    /// whose acquisition was cancelled after the backend admitted it.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// let slot = cachify.pool("db", 10).acquire_async().await?;
    /// // at most 10 tasks here at once
    /// slot.release_async().await?;
    /// assert_eq!(cachify.pool("db", 10).size_async().await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire_async(&self) -> Result<AsyncPoolSlot, Error> {
        let claim = Armed::pending(self.seat()?);
        // Cancelled or failed (unless its request never ran), `claim` is dropped pending
        // and frees the token in the background, in case the backend admitted it before
        // we stopped listening.
        let seat = claim.claim();
        detached::releases_done(seat.cachify(), seat.storage_key(), self.release_patience()).await;
        let taken = if self.waits() {
            let patience = self.patience(seat);
            retry_async(
                seat.cachify().async_client(),
                seat.storage_key(),
                seat.subject(),
                patience,
                || async { Ok(seat.take_async(patience.deadline).await?.then_some(())) },
            )
            .await
            .map(|admitted| admitted.is_some())
        } else {
            seat.take_async(Seat::nowait_deadline()).await
        };
        let admitted = match taken {
            Ok(admitted) => admitted,
            Err(error) if seat.takes_in_one_request() => return Err(claim.failed(error)),
            Err(error) => return Err(error),
        };
        if !admitted {
            let full = seat.refused(!self.waits());
            claim.disarm();
            return Err(full);
        }
        seat.taken();
        Ok(AsyncPoolSlot::hold(claim))
    }

    /// How many live (unexpired) slots the pool holds now, in every process sharing
    /// the backend (py-cachify's `size()`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let pool = cachify.pool("k", 3);
    /// let _slot = pool.acquire()?;
    /// assert_eq!(pool.size()?, 1);
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn size(&self) -> Result<usize, Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.pool_key(&self.key);
        detached::releases_done_blocking(&cachify, &storage_key, None);
        #[cfg(feature = "py-cachify")]
        if cachify.layout() == crate::instance::Layout::PyCachify {
            return Ok(py_state::size_blocking(
                cachify.sync_client(),
                &storage_key,
            )?);
        }
        Ok(cachify.sync_client().pool_size(&storage_key)?)
    }

    /// The async [`size`](Self::size) (py-cachify's `asize()`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// assert_eq!(cachify.pool("k", 3).size_async().await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn size_async(&self) -> Result<usize, Error> {
        let cachify = self.instance.resolve()?;
        let storage_key = cachify.pool_key(&self.key);
        detached::releases_done(&cachify, &storage_key, None).await;
        #[cfg(feature = "py-cachify")]
        if cachify.layout() == crate::instance::Layout::PyCachify {
            return Ok(py_state::size_async(cachify.async_client(), &storage_key).await?);
        }
        Ok(cachify.async_client().pool_size(&storage_key).await?)
    }

    /// A fresh acquisition attempt: the instance, the keys, a new token and the expiry.
    fn seat(&self) -> Result<Seat, Error> {
        let cachify = self.instance.resolve()?;
        let slot_exp = self
            .slot_exp
            .unwrap_or_else(|| cachify.default_pool_slot_expiration());
        let slot_exp = crate::lock::lifetime("slot_exp", slot_exp)?;
        Ok(Seat::new(
            cachify,
            &self.key,
            self.max_size,
            slot_exp,
            self.counted,
        ))
    }

    /// Whether a refused attempt waits and retries. A pool of size 0 never has room,
    /// so waiting on it could only end at the timeout, or never.
    fn waits(&self) -> bool {
        !self.nowait && self.max_size > 0
    }

    /// How long an acquire waits for this process's releases of its slots in flight.
    fn release_patience(&self) -> Option<Duration> {
        detached::release_patience(!self.waits(), self.timeout)
    }

    fn patience(&self, seat: &Seat) -> Patience {
        Patience::new(self.timeout, seat.cachify().lock_poll_interval())
    }
}
