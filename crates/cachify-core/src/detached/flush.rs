//! Waiting, before the process exits, for the releases handed off so far.
//!
//! Dropped guards and slots are released on cachify's releaser threads when their drop
//! cannot wait (see the [module](super)), and those threads die with the process: a
//! release still in flight when `main` returns may never reach the backend. Calling a
//! flush at the end of `main` closes that window, the way tracing or error-reporting
//! clients flush before exit.

use std::time::{Duration, Instant};

use super::{in_flight, releaser};

/// Blocks until every release handed off so far (dropped guards and slots, cancelled
/// acquisitions) has reached its backend, or until `timeout`; whether all had.
///
/// Call it at the end of `main`, after the last guard is dropped: a release handed to
/// cachify's releaser threads is otherwise lost if the process exits first, and the
/// lock or slot then stays held until its `exp` / `slot_exp`. Releases done inline
/// (`release()`, a sync guard dropped outside any runtime) need no flush.
///
/// `Duration::ZERO` only checks; a timeout too large to represent waits as long as it
/// takes. It never fails: a release that cannot finish (a backend that is down) makes it
/// return `false` at the timeout. From async code, prefer [`flush_releases_async`],
/// which does not block the runtime's thread.
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), cachify::Error> {
/// cachify::init_cachify();
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// runtime.block_on(async {
///     let _guard = cachify::lock("nightly-report").acquire_async().await?;
///     // ... work under the lock; the guard is dropped at the end of the block
///     Ok::<_, cachify::Error>(())
/// })?;
/// drop(runtime);
/// assert!(cachify::flush_releases(Duration::from_secs(5)));
/// # Ok(())
/// # }
/// ```
pub fn flush_releases(timeout: Duration) -> bool {
    if in_flight::none() {
        return true;
    }
    in_flight::wait_all_blocking(Instant::now().checked_add(timeout))
}

/// Waits until every release handed off so far (dropped guards and slots, cancelled
/// acquisitions) has reached its backend, or until `timeout`; whether all had.
///
/// The async [`flush_releases`]: the same contract, without blocking the thread. It
/// runs on any executor and needs no timer of the caller's runtime. Call it as the last
/// step of an async `main`, once the guards are out of scope.
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), cachify::Error> {
///     cachify::init_cachify();
///     {
///         let _slot = cachify::pool("exports", 4).acquire_async().await?;
///         // ... work holding the slot; `?` could leave this block early, too
///     }
///     if !cachify::flush_releases_async(Duration::from_secs(5)).await {
///         eprintln!("some locks or slots will only be freed by their expiry");
///     }
///     Ok(())
/// }
/// ```
pub async fn flush_releases_async(timeout: Duration) -> bool {
    if in_flight::none() {
        return true;
    }
    if timeout.is_zero() {
        return false;
    }
    // The time limit runs on the releaser's timer: the caller's runtime may have none.
    let Some(alarm) = releaser::sleep(timeout) else {
        return in_flight::none();
    };
    tokio::select! {
        biased;
        () = in_flight::wait_all() => true,
        () = alarm => in_flight::none(),
    }
}
