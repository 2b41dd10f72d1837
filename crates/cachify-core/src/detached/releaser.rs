//! The releaser: where releases and renewals run when their caller cannot wait for them.
//!
//! Two threads, started together on first use and living as long as the process:
//! - `cachify-releaser` drives a current-thread tokio runtime that only runs cachify's
//!   own tasks (detached releases, lease renewals), so none of them depends on the
//!   caller's runtime being alive, or being polled;
//! - `cachify-blocking` runs blocking sync-client calls one after another, so that a
//!   sync guard released from async code, and every sync lease, costs no thread of its
//!   own and never blocks a runtime worker.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{mpsc, OnceLock};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;

use crate::error::{BackendError, Error};

/// A blocking call for the `cachify-blocking` thread.
type Job = Box<dyn FnOnce() + Send>;

struct Releaser {
    runtime: Handle,
    blocking: mpsc::Sender<Job>,
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("cachify-releaser".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        let (blocking, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("cachify-blocking".into())
            .spawn(move || {
                for job in jobs {
                    // A panicking backend must not take every later release down with it.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        Ok(Self {
            runtime: handle,
            blocking,
        })
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

/// Starts `work` on the releaser's runtime.
pub(crate) fn spawn<F>(work: F) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let releaser = releaser().ok_or_else(unavailable)?;
    releaser.runtime.spawn(work);
    Ok(())
}

/// Runs a blocking call on the `cachify-blocking` thread and awaits its result.
pub(crate) async fn run_blocking<T, F>(call: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let releaser = releaser().ok_or_else(unavailable)?;
    let (done, outcome) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(call());
    });
    releaser.blocking.send(job).map_err(|_| unavailable())?;
    outcome.await.map_err(|_| unavailable())?
}

fn unavailable() -> Error {
    BackendError::new("cachify's releaser threads are not running").into()
}
