//! What `#[pooled]`'s generated code calls, re-exported as `cachify::__private::pooled`.
//! Not a public API.
//!
//! The generated function builds its [`Pool`] from the public API (`pool(key, n)` or
//! `instance.pool(key, n)`, then `slot_exp`), takes a slot, runs the body and releases;
//! the helpers below decide what a refusal means for the function's return type.

use std::future::Future;

pub use super::{pool, AsyncPoolSlot, Pool, PoolSlot};
use crate::error::Error;

/// Pins an async body's output type, so that `?` and `return` inside it infer.
pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Releases after the body: its result is what the caller gets, so a failed release is
/// logged (the slot then stops counting after its `slot_exp`).
pub async fn release(slot: AsyncPoolSlot) {
    let key = slot.key().to_owned();
    if let Err(error) = slot.release_async().await {
        tracing::warn!(target: crate::events::TARGET, %key,
            %error,
            "could not release pool slot after the call; it will expire with its slot_exp"
        );
    }
}

/// The caller's error type from a cachify error.
pub fn convert<E: From<Error>>(error: Error) -> E {
    E::from(error)
}

/// A refusal in a function that returns a `Result`: `Ok` when the pool is full (the call
/// is skipped), `Err` for a failure the caller must see.
pub fn full_or_fail(error: Error) -> Result<(), Error> {
    match error {
        Error::PoolFull { .. } => Ok(()),
        error => Err(error),
    }
}

/// A refusal in a function that cannot return an error: every failure skips the call as
/// if the pool were full (fail closed), logged; a missing global instance is a
/// programming error and panics, saying what to do.
pub fn fail_closed(error: Error) {
    match error {
        Error::PoolFull { .. } => {}
        Error::NotInitialized => panic!(
            "cachify is not initialized: call cachify::init_cachify() (or \
             Cachify::builder()...init()) before calling a #[pooled] function"
        ),
        error => {
            tracing::warn!(target: crate::events::TARGET, %error, "#[pooled] could not take a slot; treating the pool as full");
        }
    }
}
