//! The releaser: where releases and renewals run when their caller cannot wait for them.
//!
//! A current-thread tokio runtime, started on first use on a `cachify-releaser` thread
//! that lives as long as the process, runs cachify's own tasks (detached releases, lease
//! renewals), so none of them depends on the caller's runtime being alive, or polled.
//! Blocking sync-client calls (a sync guard released from async code, every sync lease)
//! run on that runtime's blocking pool: each on a thread of its own, so a call stuck on
//! a hung server delays no other (up to [`BLOCKING_THREADS`] calls at once), and none
//! ever blocks a runtime worker.

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::{BackendError, Error};

/// The most blocking calls that run at once; more wait for a thread. Idle threads end
/// after a few seconds.
const BLOCKING_THREADS: usize = 64;

struct Releaser {
    runtime: Handle,
}

/// The process's releaser; `None` if its threads could not be started.
fn releaser() -> Option<&'static Releaser> {
    static RELEASER: OnceLock<Option<Releaser>> = OnceLock::new();
    RELEASER
        .get_or_init(|| {
            Releaser::start()
                .inspect_err(|error| {
                    tracing::error!(target: crate::events::TARGET, %error, "cannot start cachify's releaser; dropped guards will expire instead of being released");
                })
                .ok()
        })
        .as_ref()
}

impl Releaser {
    fn start() -> std::io::Result<Self> {
        let runtime = background_runtime("cachify-releaser", "cachify-blocking", BLOCKING_THREADS)?;
        Ok(Self { runtime })
    }

    /// Polls `work` once, on the calling thread but in the releaser's runtime context:
    /// work that needs no I/O (the memory backend) is finished before this returns, and
    /// whatever the rest registers (sockets, timers) belongs to the runtime that will
    /// drive it to its end.
    fn poll_once<F: Future + ?Sized>(&self, work: Pin<&mut F>) -> Poll<F::Output> {
        let _context = self.runtime.enter();
        work.poll(&mut Context::from_waker(Waker::noop()))
    }
}

/// A current-thread runtime driven for as long as the process lives by a thread named
/// `thread`, whose blocking pool runs at most `blocking_threads` calls at once on threads
/// named `blocking_thread` (idle ones end after a few seconds).
pub(crate) fn background_runtime(
    thread: &str,
    blocking_thread: &str,
    blocking_threads: usize,
) -> std::io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(blocking_thread)
        .max_blocking_threads(blocking_threads)
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// Runs `work` to its end without the caller's runtime: at once when it needs no I/O,
/// otherwise on the releaser. A caller inside a runtime never waits for it; a caller
/// outside any runtime (a plain thread, which may block) waits until it is done.
pub(crate) fn finish<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if Handle::try_current().is_err() {
        wait(work);
        return;
    }
    let Some(releaser) = releaser() else { return };
    let mut work = Box::pin(work);
    if releaser.poll_once(work.as_mut()).is_pending() {
        releaser.runtime.spawn(work);
    }
}

/// Runs `work` on the releaser, blocking the calling thread until it is done; `None`
/// when it could not run. Never call it from the releaser's own threads.
pub(crate) fn wait<F, T>(work: F) -> Option<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let releaser = releaser()?;
    let mut work = Box::pin(work);
    // While the thread's locals are destroyed (a guard in a `thread_local!`), no runtime
    // can be entered here (`Handle::enter` panics, and a panic there aborts): the
    // releaser polls it from the start.
    let can_enter = !Handle::try_current().is_err_and(|error| error.is_thread_local_destroyed());
    if can_enter {
        if let Poll::Ready(output) = releaser.poll_once(work.as_mut()) {
            return Some(output);
        }
    }
    let (done, outcome) = mpsc::sync_channel(1);
    releaser.runtime.spawn(async move {
        let _ = done.send(work.await);
    });
    outcome.recv().ok()
}

/// A sleep of `duration` on the releaser's timer, which any runtime (or none) can
/// await; `None` when the releaser is not running.
pub(crate) fn sleep(duration: Duration) -> Option<tokio::time::Sleep> {
    let releaser = releaser()?;
    // A sleep belongs to the timer of the runtime it is created in.
    let _context = releaser.runtime.enter();
    Some(tokio::time::sleep(duration))
}

/// Starts `work` on the releaser's runtime.
pub(crate) fn spawn<F>(work: F) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let releaser = releaser().ok_or_else(unavailable)?;
    releaser.runtime.spawn(work);
    Ok(())
}

/// Runs a blocking call on the releaser's blocking pool and awaits its result.
pub(crate) async fn run_blocking<T, F>(call: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let releaser = releaser().ok_or_else(unavailable)?;
    // A panicking backend fails this call only (the pool catches the panic).
    releaser
        .runtime
        .spawn_blocking(call)
        .await
        .map_err(|error| BackendError::new(format!("a blocking backend call failed: {error}")))?
}

fn unavailable() -> Error {
    BackendError::new("cachify's releaser threads are not running").into()
}
