//! Lease extension: keeping a held lock alive while its guard lives (`auto_extend`).
//!
//! Every `exp / 3` the lease resets the lock's expiry to `exp`, but only while the key
//! still holds the guard's token (`expire_if_equals`), so a lease never revives or
//! prolongs somebody else's lock. Two missed renewals in a row still leave a third of
//! `exp` before the lock could expire.
//!
//! Stopping is synchronous with the release: a guard first stops its lease and waits for
//! any renewal in flight, then deletes the key. Otherwise a non-atomic custom backend
//! (whose default `expire_if_equals` is a read then a write) could write the token back
//! just after the release deleted it.

use std::fmt;
use std::future::Future;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use super::ticket::Ticket;
use crate::error::{BackendError, Error};

/// The shortest renewal period, so a tiny `exp` cannot turn a lease into a busy loop.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// How often to renew a lock that expires after `exp`; `None` when it never expires.
fn period(ticket: &Ticket) -> Option<Duration> {
    ticket.exp().map(|exp| (exp / 3).max(MIN_PERIOD))
}

/// What one renewal tells the lease: keep going, or the lock is gone.
fn still_held(ticket: &Ticket, outcome: Result<bool, Error>) -> bool {
    match outcome {
        Ok(true) => true,
        Ok(false) => {
            ticket.log_lost();
            false
        }
        // A transient failure: the next renewal comes well before the expiry.
        Err(error) => {
            tracing::warn!(target: crate::events::TARGET, key = %ticket.key(), %error, "could not extend lock");
            true
        }
    }
}

/// The lease of a sync guard: a thread renewing through the sync client.
pub(crate) struct BlockingLease {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BlockingLease {
    /// Starts renewing `ticket`'s lock; `None` when the lock never expires.
    pub(crate) fn start(ticket: &Ticket) -> Result<Option<Self>, Error> {
        let Some(period) = period(ticket) else {
            return Ok(None);
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let ticket = ticket.clone();
        let thread = std::thread::Builder::new()
            .name("cachify-lease".into())
            .spawn(move || {
                // Nothing is ever sent: the guard hangs up to stop the lease.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if !still_held(&ticket, ticket.extend_blocking()) {
                        break;
                    }
                }
            })
            .map_err(|error| BackendError::new(format!("cannot start lease thread: {error}")))?;
        Ok(Some(Self {
            stop: Some(stop),
            thread: Some(thread),
        }))
    }

    /// Stops renewing, waiting for a renewal in flight; idempotent.
    pub(crate) fn stop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            // The thread only panics if a backend does; the lock then expires with exp.
            let _ = thread.join();
        }
    }
}

impl Drop for BlockingLease {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for BlockingLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingLease")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// The lease of an async guard: a task renewing through the async client.
pub(crate) struct AsyncLease {
    stop: Option<oneshot::Sender<()>>,
    /// Resolves (with an error) when the renewal task has finished, however it ended.
    done: Option<oneshot::Receiver<()>>,
}

impl AsyncLease {
    /// Starts renewing `ticket`'s lock on the current tokio runtime (on a thread of its
    /// own when there is none); `None` when the lock never expires.
    pub(crate) fn start(ticket: &Ticket) -> Result<Option<Self>, Error> {
        let Some(period) = period(ticket) else {
            return Ok(None);
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel::<()>();
        let ticket = ticket.clone();
        let renew = async move {
            // Dropped when this future ends or is dropped with its runtime: that is the
            // signal `stop` waits for.
            let _finished = finished;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(period) => {}
                }
                if !still_held(&ticket, ticket.extend_async().await) {
                    break;
                }
            }
        };
        spawn(renew)?;
        Ok(Some(Self {
            stop: Some(stop),
            done: Some(done),
        }))
    }

    /// Stops renewing, waiting for a renewal in flight; idempotent and cancel-safe.
    pub(crate) async fn stop(&mut self) {
        self.stop = None;
        if let Some(done) = self.done.as_mut() {
            let _ = done.await;
        }
        self.done = None;
    }
}

impl fmt::Debug for AsyncLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLease")
            .field("running", &self.done.is_some())
            .finish()
    }
}

/// Runs `work` in the background: on the current tokio runtime, else on a thread with a
/// small runtime of its own.
fn spawn<F>(work: F) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(work);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| BackendError::new(format!("cannot start lease runtime: {error}")))?;
    std::thread::Builder::new()
        .name("cachify-lease".into())
        .spawn(move || runtime.block_on(work))
        .map_err(|error| BackendError::new(format!("cannot start lease thread: {error}")))?;
    Ok(())
}
