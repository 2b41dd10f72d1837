//! What the attribute macros' generated code calls. Not a public API: it changes
//! whenever the macros change, and the two crates are released together.

pub use crate::cache::for_macros::Source;
pub use crate::expiry::Expiry;
pub use crate::instance::Cachify;

/// `#[pooled]`.
pub use crate::pool::for_macros as pooled;

/// What `#[cached]` expands to.
pub use crate::cache::for_macros as cache;

/// `#[lock]` and `#[once]`.
pub mod lock {
    use std::future::Future;

    use super::{Expiry, Source};
    use crate::error::Error;
    pub use crate::lock::{AsyncLockGuard, Lock, LockGuard};

    /// The options of one `#[lock]` / `#[once]` function.
    #[derive(Debug, Clone, Copy)]
    pub struct LockSpec<'a> {
        /// The instance.
        pub source: Source<'a>,
        /// `nowait` (`#[once]`: always `true`).
        pub nowait: bool,
        /// `timeout`: `Default` and `Never` wait without limit.
        pub timeout: Expiry,
        /// `exp`.
        pub exp: Expiry,
    }

    impl LockSpec<'_> {
        /// The lock on the rendered `key`.
        pub fn lock(&self, key: String) -> Lock {
            let lock = match self.source {
                Source::Global => crate::lock::lock(key),
                Source::Instance(cachify) => cachify.lock(key),
            };
            let timeout = match self.timeout {
                Expiry::After(timeout) => Some(timeout),
                Expiry::Default | Expiry::Never => None,
            };
            let lock = lock.nowait(self.nowait).timeout(timeout);
            match self.exp {
                Expiry::Default => lock,
                Expiry::Never => lock.exp(None),
                Expiry::After(exp) => lock.exp(exp),
            }
        }
    }

    /// The error type of a `#[lock]` / `#[once]` function: it must take a
    /// `cachify::Error`, because a call that cannot run returns one.
    #[diagnostic::on_unimplemented(
        message = "the error type `{Self}` cannot hold a `cachify::Error`",
        label = "a call that cannot take its lock returns `Err(cachify::Error.into())` here",
        note = "implement `From<cachify::Error>` for `{Self}`, or return `Result<_, cachify::Error>`"
    )]
    pub trait FromCachifyError {
        /// Converts the error.
        fn from_cachify(error: Error) -> Self;
    }

    impl<E: From<Error>> FromCachifyError for E {
        fn from_cachify(error: Error) -> Self {
            E::from(error)
        }
    }

    /// Pins an async body's output type, so that `?` and `return` inside it infer.
    pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
        body
    }

    /// Releases after the body: its result is what the caller gets, so a failed release
    /// is logged (the lock then expires with its `exp`).
    pub async fn release(guard: AsyncLockGuard) {
        let key = guard.key().to_owned();
        if let Err(error) = guard.release_async().await {
            tracing::warn!(target: crate::events::TARGET, %key, %error, "could not release lock after the call; it will expire with its exp");
        }
    }

    /// `#[once]` in a `Result` function: `Ok` to skip the call (the key is held),
    /// `Err` for a failure the caller must see.
    pub fn skip_or_fail(error: Error) -> Result<(), Error> {
        match error {
            Error::Locked { .. } => Ok(()),
            error => Err(error),
        }
    }

    /// `#[once]` in a function that cannot return an error: every failure skips the call
    /// (fail closed), logged; a missing global instance is a programming error and panics.
    pub fn fail_closed(error: Error) {
        match error {
            Error::Locked { .. } => {}
            Error::NotInitialized => panic!(
                "cachify is not initialized: call cachify::init_cachify() (or \
                 Cachify::builder()...init()) before calling a #[once] function"
            ),
            error => {
                tracing::warn!(target: crate::events::TARGET, %error, "#[once] could not take its lock; skipping the call");
            }
        }
    }
}
