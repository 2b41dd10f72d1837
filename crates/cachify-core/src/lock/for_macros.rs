//! What `#[lock]` and `#[once]`'s generated code calls, re-exported as
//! `cachify::__private::lock`, and the return-type dispatch that `#[pooled]` shares. Not
//! a public API.
//!
//! A refused call (the key is held, the pool is full, the backend failed) must end in a
//! value of the function's return type, chosen by that *type*, whatever alias spells it:
//! - [`Fallible`]: `Result<T, E>` with `E: From<cachify::Error>` gets `Err(error.into())`
//!   (`#[lock]`, `raise_on_locked`, `raise_on_full` require it);
//! - [`Returns`]: without raise, a `Result` function gets `Err(..)` for a failure and
//!   skips for a held key or a full pool; any other function skips for both, logging the
//!   failure ([`fail_closed`]: never run a guarded body unguarded). The choice is made by
//!   method resolution on the written return type (an inherent method on
//!   `Returns<Result<T, E>>` wins over the [`ReturnsAnything`] trait method on `&Returns<R>`).

use std::future::Future;
use std::marker::PhantomData;

use super::{AsyncLockGuard, Lock};
use crate::error::Error;
use crate::expiry::Expiry;
use crate::instance::selector::Source;
use crate::instance::Operation;
use crate::stats::FnStats;

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
    /// `auto_extend`.
    pub auto_extend: bool,
    /// `#[lock]` or `#[once]`: py-cachify names their keys apart.
    pub operation: Operation,
    /// The function's counters.
    pub stats: &'static FnStats,
}

impl LockSpec<'_> {
    /// The lock on the rendered `key`.
    pub fn lock(&self, key: String) -> Lock {
        let key = self.source.layout().attribute_key(self.operation, key);
        let lock = match self.source {
            Source::Global => super::lock(key),
            Source::Instance(cachify) => cachify.lock(key),
        };
        let timeout = match self.timeout {
            Expiry::After(timeout) => Some(timeout),
            Expiry::Default | Expiry::Never => None,
        };
        let mut lock = lock
            .nowait(self.nowait)
            .timeout(timeout)
            .auto_extend(self.auto_extend);
        lock.counted = Some(self.stats);
        match self.exp {
            Expiry::Default => lock,
            Expiry::Never => lock.exp(None),
            Expiry::After(exp) => lock.exp(exp),
        }
    }
}

/// Releases after the body: its result is what the caller gets, so a failed release is
/// logged (the lock then expires with its `exp`).
pub async fn release(guard: AsyncLockGuard) {
    let key = guard.key().to_owned();
    if let Err(error) = guard.release_async().await {
        tracing::warn!(target: crate::events::TARGET, %key, %error, "could not release lock after the call; it will expire with its exp");
    }
}

/// Pins an async body's output type, so that `?` and `return` inside it infer.
pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// The error type of a function that returns refusals as errors: it must take a
/// `cachify::Error`.
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` cannot hold a `cachify::Error`",
    label = "a call that cannot run returns `Err(cachify::Error.into())` here",
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

/// A return type that can carry a refusal: a `Result`, whose error type must then take a
/// `cachify::Error` ([`FromCachifyError`], checked where the refusal is built).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a `cachify::Error`",
    label = "a call that cannot run returns `Err(cachify::Error.into())`, so this must be a `Result`",
    note = "#[lock], `raise_on_locked` and `raise_on_full` need a `Result<T, E>` return type with `E: From<cachify::Error>`"
)]
pub trait Fallible {
    /// The error type.
    type Error;
    /// `Err(error)`.
    fn from_error(error: Self::Error) -> Self;
}

impl<T, E> Fallible for Result<T, E> {
    type Error = E;

    fn from_error(error: E) -> Self {
        Err(error)
    }
}

/// `Err(error.into())` as the function's return type `R`.
pub fn refuse<R>(error: Error) -> R
where
    R: Fallible,
    R::Error: FromCachifyError,
{
    R::from_error(R::Error::from_cachify(error))
}

/// The function's return type `R`, for choosing what a refusal returns (see the module
/// docs). `(&Returns::<R>::new()).on_refusal(error, "once")` is `Some(value)` when the
/// call must return `value`, `None` when it is skipped.
#[derive(Debug)]
pub struct Returns<R>(PhantomData<fn() -> R>);

impl<R> Returns<R> {
    /// The probe for `R`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> Default for Returns<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Returns<Result<T, E>> {
    /// A `Result` function: a held key or a full pool skips the call (`None`), any other
    /// failure is the caller's `Err`.
    pub fn on_refusal(&self, error: Error, _attribute: &str) -> Option<Result<T, E>>
    where
        E: FromCachifyError,
    {
        if is_skip(&error) {
            None
        } else {
            Some(Err(E::from_cachify(error)))
        }
    }

    /// What a skipped call returns by default: `Ok(Default::default())`.
    pub fn skipped(&self) -> Result<T, E>
    where
        T: Default,
    {
        Ok(T::default())
    }
}

/// Any other return type: every refusal skips the call, failures logged.
pub trait ReturnsAnything<R> {
    /// Skips the call (`None`) after [`fail_closed`].
    fn on_refusal(&self, error: Error, attribute: &str) -> Option<R>;

    /// What a skipped call returns by default: `Default::default()`.
    fn skipped(&self) -> R
    where
        R: Default;
}

impl<R> ReturnsAnything<R> for &Returns<R> {
    fn on_refusal(&self, error: Error, attribute: &str) -> Option<R> {
        fail_closed(error, attribute);
        None
    }

    fn skipped(&self) -> R
    where
        R: Default,
    {
        R::default()
    }
}

/// Whether `error` only means "someone else has it" (the call is skipped, not failed).
fn is_skip(error: &Error) -> bool {
    matches!(error, Error::Locked { .. } | Error::PoolFull { .. })
}

/// A refusal in a function that cannot return an error: the call is skipped (fail
/// closed, so a guarded body never runs unguarded) and a failure is logged; a missing
/// global instance is a programming error and panics, saying what to do.
pub fn fail_closed(error: Error, attribute: &str) {
    if is_skip(&error) {
        return;
    }
    if let Error::NotInitialized = error {
        panic!(
            "cachify is not initialized: call cachify::init_cachify() (or \
             Cachify::builder()...init()) before calling a #[{attribute}] function"
        );
    }
    if attribute == "pooled" {
        tracing::warn!(target: crate::events::TARGET, %error, "#[pooled] could not take a slot; treating the pool as full");
    } else {
        tracing::warn!(target: crate::events::TARGET, %error, "#[{attribute}] could not take its lock; skipping the call");
    }
}

#[cfg(test)]
// `(&Returns::<R>::new())` is written as the generated code writes it: for a `Result` the
// borrow is redundant, for any other type it is what reaches `ReturnsAnything`.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct MyErr;

    impl From<Error> for MyErr {
        fn from(_: Error) -> Self {
            MyErr
        }
    }

    type Outcome<T> = Result<T, MyErr>;

    #[test]
    fn a_result_behind_an_alias_gets_its_failures() {
        let locked = Error::Locked { key: "k".into() };
        assert_eq!(
            (&Returns::<Outcome<u8>>::new()).on_refusal(locked, "once"),
            None
        );
        let failed = Error::NotInitialized;
        let refused = (&Returns::<Outcome<u8>>::new()).on_refusal(failed, "once");
        assert_eq!(refused, Some(Err(MyErr)));
    }

    #[test]
    fn skipped_calls_return_the_default_by_type() {
        assert_eq!((&Returns::<Outcome<u8>>::new()).skipped(), Ok(0));
        assert_eq!((&Returns::<Option<u8>>::new()).skipped(), None);
    }

    #[test]
    fn other_types_skip() {
        let locked = Error::Locked { key: "k".into() };
        assert_eq!(
            (&Returns::<Option<u8>>::new()).on_refusal(locked, "once"),
            None
        );
    }
}
