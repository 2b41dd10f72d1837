//! The one error type of cachify, and the wrapper for whatever a backend reports.
//!
//! Messages follow py-cachify where its text is the contract (`"{key} is already locked!"`),
//! so logs and alerts written against py-cachify keep matching.

use std::error::Error as StdError;
use std::fmt;

/// Everything that can go wrong in cachify.
///
/// # Examples
///
/// ```
/// let err = cachify::Error::Locked { key: "report-42".into() };
/// assert_eq!(err.to_string(), "report-42 is already locked!");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lock (or `#[once]` key) is held by someone else and could not be acquired
    /// without waiting, or within the timeout. `key` is the key as the caller wrote it.
    #[error("{key} is already locked!")]
    Locked {
        /// The lock key, without the instance prefix.
        key: String,
    },
    /// A pool has `max_size` live slots and admits nobody else until one is released
    /// or expires. `key` is the key as the caller wrote it.
    #[error("{key} is full (max_size={max_size})")]
    PoolFull {
        /// The pool key, without the instance prefix.
        key: String,
        /// The pool's capacity.
        max_size: usize,
    },
    /// The global instance was used before `cachify::init_cachify()` (or
    /// `Cachify::builder()...init()`) registered one.
    #[error("cachify is not initialized: call cachify::init_cachify() (or Cachify::builder()...init()) first")]
    NotInitialized,
    /// The backend failed: connection lost, wrong data type, script error, ...
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A value could not be encoded for storage, or stored bytes could not be decoded.
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
}

impl BackendError {
    /// Wraps a message or an error value.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            source: source.into(),
        }
    }

    /// The wrapped error, to downcast to the backend's own error type.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
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

/// A value that could not be encoded, or stored bytes that could not be decoded.
///
/// `#[cached]` treats a decode failure as a miss; the error surfaces only from the
/// explicit [`crate::codec`] functions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The value's `Serialize` impl failed.
    #[error("cannot encode value: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bytes are not a MessagePack value of the expected type.
    #[error("cannot decode value: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// The bytes are empty or carry an envelope version this build does not know.
    #[error("unknown envelope version {0:?}, expected {expected}", expected = crate::codec::FORMAT_VERSION)]
    Envelope(Option<u8>),
}
