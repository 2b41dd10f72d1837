//! Where refreshes run: a small multi-thread tokio runtime of cachify's own
//! (`cachify-refresh` threads), started on first use and kept for as long as the process
//! lives.
//!
//! Async functions refresh as tasks on it, so a refresh never depends on the caller's
//! runtime, which may have ended by then; with [`ASYNC_WORKERS`] workers, one async body
//! that blocks does not stop the others, and `block_in_place` works in it. Sync functions
//! refresh on its blocking pool: at most [`SYNC_REFRESHES`] at once
//! (`cachify-refresh-sync` threads). It is not the releaser's runtime: refreshes run the
//! application's functions, and a slow or blocking one must not delay a lock's release
//! or its lease's renewal.
//!
//! Bounded: at most [`MAX_PENDING`] refreshes of each kind are queued or running. A
//! refresh beyond that is dropped (logged once): its value just expires with its ttl,
//! as without `refresh`, rather than queue without end behind a slow database.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::Runtime;

/// The most sync functions refreshing at once.
const SYNC_REFRESHES: usize = 4;
/// The runtime's workers, for async refreshes.
const ASYNC_WORKERS: usize = 2;
/// The most refreshes of one kind (sync, async) queued or running.
pub(super) const MAX_PENDING: usize = 256;
/// How long after a failed start the runtime is not tried again.
const RETRY_START_AFTER: Duration = Duration::from_secs(5);

/// Refreshes queued or running, by kind.
static SYNC_PENDING: AtomicUsize = AtomicUsize::new(0);
static ASYNC_PENDING: AtomicUsize = AtomicUsize::new(0);

/// The refresh runtime; `None` while it cannot be started (then nothing refreshes and
/// values expire with their ttl, as without `refresh`; the start is tried again later).
fn runtime() -> Option<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    static LAST_FAILURE: Mutex<Option<Instant>> = Mutex::new(None);
    if let Some(runtime) = RUNTIME.get() {
        return Some(runtime);
    }
    let mut last_failure = LAST_FAILURE.lock();
    if let Some(runtime) = RUNTIME.get() {
        return Some(runtime);
    }
    if last_failure.is_some_and(|at| at.elapsed() < RETRY_START_AFTER) {
        return None;
    }
    // A multi-thread runtime runs on threads of its own: building it here, on the
    // caller's thread (maybe inside async code), starts nothing that could block it.
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ASYNC_WORKERS)
        .thread_name("cachify-refresh")
        .max_blocking_threads(SYNC_REFRESHES)
        .enable_all()
        .build();
    match built {
        Ok(runtime) => {
            // Under the lock nobody else sets it; were it set, dropping a runtime
            // inside async code would panic, shutting it down in the background does not.
            if let Err(extra) = RUNTIME.set(runtime) {
                extra.shutdown_background();
            }
            RUNTIME.get()
        }
        Err(error) => {
            *last_failure = Some(Instant::now());
            tracing::error!(target: crate::events::TARGET, %error, "cannot start cachify's refresh runtime; cached values will expire instead of being refreshed");
            None
        }
    }
}

/// One place among a kind's [`MAX_PENDING`], given back when dropped.
struct Slot(&'static AtomicUsize);

impl Slot {
    fn take(pending: &'static AtomicUsize) -> Option<Self> {
        // ordering: a counter bounding a queue; no other memory depends on it.
        let taken = pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_PENDING).then_some(n + 1)
            })
            .is_ok();
        if taken {
            return Some(Self(pending));
        }
        static SAID: AtomicBool = AtomicBool::new(false);
        if !SAID.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: crate::events::TARGET, max = MAX_PENDING, "too many cache refreshes queued; dropping refreshes (values expire with their ttl instead); said once");
        }
        None
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Starts `work` as a task on the refresh runtime; `false` when it was dropped (the
/// runtime is not running, or too many refreshes are pending).
pub(super) fn spawn(work: impl Future<Output = ()> + Send + 'static) -> bool {
    let Some(slot) = Slot::take(&ASYNC_PENDING) else {
        return false;
    };
    let Some(runtime) = runtime() else {
        return false;
    };
    runtime.spawn(async move {
        let _slot = slot;
        work.await;
    });
    true
}

/// Starts the blocking `work` on the refresh pool; `false` when it was dropped (see
/// [`spawn`]).
pub(super) fn spawn_blocking(work: impl FnOnce() + Send + 'static) -> bool {
    let Some(slot) = Slot::take(&SYNC_PENDING) else {
        return false;
    };
    let Some(runtime) = runtime() else {
        return false;
    };
    runtime.spawn_blocking(move || {
        let _slot = slot;
        work();
    });
    true
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
