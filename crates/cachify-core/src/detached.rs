//! Finishing async work from `Drop`: how an async guard releases when its future is
//! cancelled or its task panics.
//!
//! `Drop` cannot await. Inside a tokio runtime the release is spawned on it, so the drop
//! never blocks a runtime thread; outside any runtime (a guard dropped after its runtime
//! is gone, or moved to a plain thread) it is driven to completion on a small
//! current-thread runtime built for the purpose. If neither works the lock or slot is not
//! lost forever: it expires with its `exp` / `slot_exp`.

use std::future::Future;

/// Runs `work` to completion without blocking the current runtime, if any.
pub(crate) fn finish<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(work);
        }
        Err(_) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(work),
            Err(error) => {
                tracing::warn!(target: crate::events::TARGET, %error, "no runtime to finish a release on; it will expire instead");
            }
        },
    }
}
