//! The one error type of cachify, and the wrapper for whatever a backend reports.
//!
//! Messages follow py-cachify where its text is the contract (`"{key} is already locked!"`),
//! so logs and alerts written against py-cachify keep matching.
//!
//! # Examples
//!
//! ```
//! # use cachify_core as cachify;
//! use cachify::Error;
//!
//! let cachify = cachify::Cachify::builder().build();
//! let _held = cachify.lock("job").acquire()?;
//! match cachify.lock("job").acquire() {
//!     Ok(_guard) => unreachable!("the lock is held"),
//!     Err(Error::Locked { key }) => println!("{key} is busy, try later"),
//!     Err(other) => return Err(other),
//! }
//! # Ok::<(), Error>(())
//! ```

use std::error::Error as StdError;
use std::fmt;

// Defined by the codec; also here, where it was first published.
pub use crate::codec::CodecError;

/// Everything that can go wrong in cachify.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// let err = cachify::Error::Locked { key: "report-42".into() };
/// assert_eq!(err.to_string(), "report-42 is already locked!");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lock (or `#[once]` key) is held by someone else and could not be acquired
    /// without waiting, or within the timeout. `key` is the key as the caller wrote it.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _held = cachify.lock("job").acquire()?;
    /// match cachify.lock("job").acquire() {
    ///     Err(cachify::Error::Locked { key }) => assert_eq!(key, "job"),
    ///     other => panic!("expected Locked, got {other:?}"),
    /// }
    /// # Ok::<(), cachify::Error>(())
    /// ```
    #[error("{key} is already locked!")]
    Locked {
        /// The lock key, without the instance prefix.
        key: String,
    },
    /// A pool has `max_size` live slots and admits nobody else until one is released
    /// or expires. `key` is the key as the caller wrote it.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let _slot = cachify.pool("api", 1).acquire()?;
    /// let full = cachify.pool("api", 1).acquire().unwrap_err();
    /// assert!(matches!(full, cachify::Error::PoolFull { ref key, max_size: 1 } if key == "api"));
    /// assert_eq!(full.to_string(), "api is full (max_size=1)");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    #[error("{key} is full (max_size={max_size})")]
    PoolFull {
        /// The pool key, without the instance prefix.
        key: String,
        /// The pool's capacity.
        max_size: usize,
    },
    /// The global instance was used before `cachify::init_cachify()` (or
    /// `Cachify::builder()...init()`) registered one.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// // In a program that never called `init_cachify()`:
    /// let err = cachify::lock("job").is_locked().unwrap_err();
    /// assert!(matches!(err, cachify::Error::NotInitialized));
    /// ```
    #[error("cachify is not initialized: call cachify::init_cachify() (or Cachify::builder()...init()) first")]
    NotInitialized,
    /// `try_init` found a global instance already registered and left it in place.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// cachify::init_cachify();
    /// let err = cachify::try_init_cachify().unwrap_err();
    /// assert!(matches!(err, cachify::Error::AlreadyInitialized));
    /// ```
    #[error(
        "cachify is already initialized: the global instance was kept (init_cachify() replaces it)"
    )]
    AlreadyInitialized,
    /// An option was given a value it cannot take, such as a zero lock `exp` (a lock
    /// that expires as it is taken would exclude nobody).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// let cachify = cachify::Cachify::builder().build();
    /// let err = cachify.lock("job").exp(Duration::ZERO).acquire().unwrap_err();
    /// assert!(matches!(err, cachify::Error::InvalidOption { option: "exp", .. }));
    /// assert_eq!(err.to_string(), "invalid exp: must be more than zero (None: never expires)");
    /// ```
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// The option, as its builder method is named.
        option: &'static str,
        /// What the option accepts.
        reason: &'static str,
    },
    /// The backend failed: connection lost, wrong data type, script error, ...
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let err = cachify::Error::from(cachify::BackendError::new("connection refused"));
    /// assert!(matches!(err, cachify::Error::Backend(_)));
    /// assert_eq!(err.to_string(), "backend error: connection refused");
    /// ```
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A value could not be encoded for storage, or stored bytes could not be decoded.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let codec_error = cachify::codec::decode::<u32>(&[]).unwrap_err();
    /// let err = cachify::Error::from(codec_error);
    /// assert!(matches!(err, cachify::Error::Codec(_)));
    /// ```
    #[error("codec error: {0}")]
    Codec(#[from] CodecError),
}

/// A failure reported by a backend (`SyncClient` / `AsyncClient`), wrapping its source.
///
/// Custom backends build it from anything error-like: a message or an error value.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::BackendError;
///
/// let from_text = BackendError::new("connection refused");
/// let from_io = BackendError::new(std::io::Error::other("disk on fire"));
/// assert_eq!(from_text.to_string(), "backend error: connection refused");
/// let err: cachify::Error = from_io.into();
/// assert!(matches!(err, cachify::Error::Backend(_)));
/// ```
pub struct BackendError {
    source: Box<dyn StdError + Send + Sync + 'static>,
    /// The request provably never ran on the server (see [`BackendError::unsent`]).
    unsent: bool,
    /// Part of the operation may have run (an earlier step, a retry the client library
    /// made by itself): never unsent, whatever the error says.
    may_have_run: bool,
}

impl BackendError {
    /// Wraps a message or an error value.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let err = cachify::BackendError::new(format!("server {} is read-only", "10.0.0.1"));
    /// assert_eq!(err.to_string(), "backend error: server 10.0.0.1 is read-only");
    /// ```
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            source: source.into(),
            unsent: false,
            may_have_run: false,
        }
    }

    /// A failure of a request that provably never ran on the server (the connection
    /// was refused, a circuit breaker skipped the call): nothing it asked for was
    /// written, so a lock or slot it failed to take is not given back afterwards.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let err = cachify::BackendError::unsent("connection refused");
    /// assert!(err.is_unsent());
    /// assert!(!cachify::BackendError::new("response timed out").is_unsent());
    /// ```
    pub fn unsent(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            unsent: true,
            ..Self::new(source)
        }
    }

    /// Whether the request provably never ran on the server: built with
    /// [`unsent`](Self::unsent), or a redis-rs refusal (of the connection or of the
    /// credentials). A timeout or a connection lost after sending says nothing: the
    /// write may have been applied.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(!cachify::BackendError::new("connection reset").is_unsent());
    /// ```
    pub fn is_unsent(&self) -> bool {
        !self.may_have_run && (self.unsent || never_ran(&*self.source))
    }

    /// This failure, of an operation of which a part may have run on the server: an
    /// earlier step, or a first attempt the client library sent before its retry was
    /// refused. It is then never [`unsent`](Self::is_unsent).
    #[cfg(any(feature = "redis", test))]
    pub(crate) fn may_have_run(mut self) -> Self {
        self.may_have_run = true;
        self
    }

    /// The wrapped error, to downcast to the backend's own error type.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let err = cachify::BackendError::new(std::io::Error::from(std::io::ErrorKind::TimedOut));
    /// let io = err.inner().downcast_ref::<std::io::Error>().expect("an io::Error");
    /// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

/// Whether a failure in `error`'s chain says its request never ran on the server.
fn never_ran(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        #[cfg(feature = "redis")]
        if let Some(redis) = error.downcast_ref::<redis::RedisError>() {
            return redis_never_ran(redis);
        }
        cause = error.source();
    }
    false
}

/// A refused connection sent nothing; a server that refused the credentials (at connect,
/// or on a connection whose user lost them) ran nothing. (Not `NOPERM`: an ACL may refuse
/// the `WAIT` sent after a write it let through.)
#[cfg(feature = "redis")]
fn redis_never_ran(error: &redis::RedisError) -> bool {
    error.is_connection_refusal()
        || error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"))
}

impl Error {
    /// Whether this is a backend failure whose request never ran on the server (see
    /// [`BackendError::is_unsent`]).
    pub(crate) fn is_unsent(&self) -> bool {
        matches!(self, Self::Backend(error) if error.is_unsent())
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackendError").field(&self.source).finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backend error: {}", self.source)
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::BackendError;

    #[test]
    fn a_failure_of_an_operation_that_may_have_run_in_part_is_never_unsent() {
        assert!(BackendError::unsent("connection refused").is_unsent());
        let retried = BackendError::unsent("connection refused").may_have_run();
        assert!(
            !retried.is_unsent(),
            "an earlier step or attempt may have written"
        );
    }
}
