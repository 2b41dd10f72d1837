//! Where refreshes run: `cachify-refresh`, a thread started on first use that drives a
//! current-thread tokio runtime of its own for as long as the process lives.
//!
//! Async functions refresh as tasks on it, so a refresh never depends on the caller's
//! runtime, which may have ended by then. Sync functions refresh on its blocking pool:
//! at most [`SYNC_REFRESHES`] at once (`cachify-refresh-sync` threads), more wait their
//! turn. It is not the releaser's runtime: refreshes run the application's functions,
//! and a slow or blocking one must not delay a lock's release or its lease's renewal.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::Handle;

use crate::detached::background_runtime;

/// The most sync functions refreshing at once.
const SYNC_REFRESHES: usize = 4;

/// The refresh runtime; `None` if its thread could not be started (then nothing refreshes
/// and values expire with their ttl, as without `refresh`).
fn runtime() -> Option<&'static Handle> {
    static RUNTIME: OnceLock<Option<Handle>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            background_runtime("cachify-refresh", "cachify-refresh-sync", SYNC_REFRESHES)
                .inspect_err(|error| {
                    tracing::error!(target: crate::events::TARGET, %error, "cannot start cachify's refresh thread; cached values will expire instead of being refreshed");
                })
                .ok()
        })
        .as_ref()
}

/// Starts `work` as a task on the refresh runtime (dropped when it is not running).
pub(super) fn spawn(work: impl Future<Output = ()> + Send + 'static) {
    if let Some(runtime) = runtime() {
        runtime.spawn(work);
    }
}

/// Starts the blocking `work` on the refresh pool (dropped when it is not running).
pub(super) fn spawn_blocking(work: impl FnOnce() + Send + 'static) {
    if let Some(runtime) = runtime() {
        runtime.spawn_blocking(work);
    }
}

/// A panic's payload.
pub(super) type Panic = Box<dyn Any + Send>;

/// `future`'s output, or its panic.
pub(super) fn catching<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind(Box::pin(future))
}

/// See [`catching`].
pub(super) struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.get_mut().0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
