//! Lease extension: keeping a held lock alive while its guard lives (`auto_extend`).
//!
//! Every `exp / 3` the lease resets the lock's expiry to `exp`, but only while the key
//! still holds the guard's token (`expire_if_equals`), so a lease never revives or
//! prolongs somebody else's lock. Two missed renewals in a row still leave a third of
//! `exp` before the lock could expire.
//!
//! Every lease is a task on cachify's releaser (see [`crate::detached`]), sync leases
//! included (their renewals run on its blocking pool): no thread per lease, and no
//! dependence on the caller's runtime being polled. A renewal that finds the lock gone,
//! or failures that last past `exp`, end the lease and mark it lost
//! ([`Lease::lost`]); so does a renewal still unanswered when `exp` has passed since the
//! last confirmed one (the lock may have expired and been taken meanwhile).
//!
//! Stopping is synchronous with the release: a guard first stops its lease and waits for
//! any renewal in flight, then deletes the key. Otherwise a non-atomic custom backend
//! (whose default `expire_if_equals` is a read then a write) could write the token back
//! just after the release deleted it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::ticket::Ticket;
use crate::detached::{self, Settle};
use crate::error::Error;

/// The shortest renewal period, so a tiny `exp` cannot turn a lease into a busy loop.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// Which client renews: the one the lock was taken with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Renewal {
    Blocking,
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Renewing,
    Lost,
}

/// A running lease; clones share it.
#[derive(Clone)]
pub(crate) struct Lease {
    /// Set to `true` to stop; all clones gone stops it too.
    stop: Arc<watch::Sender<bool>>,
    /// Closed when the renewal task has ended, however it ended.
    status: watch::Receiver<Status>,
}

impl Lease {
    /// Starts renewing `ticket`'s lock; `None` when the lock never expires.
    pub(crate) fn start(ticket: &Ticket, renewal: Renewal) -> Result<Option<Self>, Error> {
        let Some(exp) = ticket.exp() else {
            return Ok(None);
        };
        let (stop, stopped) = watch::channel(false);
        let (status, status_rx) = watch::channel(Status::Renewing);
        detached::spawn(renew(ticket.clone(), renewal, exp, stopped, status))?;
        Ok(Some(Self {
            stop: Arc::new(stop),
            status: status_rx,
        }))
    }

    /// Whether the lease found the lock lost: taken by someone else, force-released,
    /// or unrenewable for longer than `exp`.
    pub(crate) fn lost(&self) -> bool {
        *self.status.borrow() == Status::Lost
    }

    /// Resolves when the lease finds the lock lost; never, if the lease ends otherwise.
    pub(crate) async fn wait_lost(&self) {
        let mut status = self.status.clone();
        if status
            .wait_for(|status| *status == Status::Lost)
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }

    /// Stops renewing; the returned future resolves once no renewal is in flight.
    pub(crate) fn stop(&self) -> Settle {
        self.stop.send_replace(true);
        let mut status = self.status.clone();
        Box::pin(async move { while status.changed().await.is_ok() {} })
    }
}

/// The renewal task.
async fn renew(
    ticket: Ticket,
    renewal: Renewal,
    exp: Duration,
    mut stopped: watch::Receiver<bool>,
    status: watch::Sender<Status>,
) {
    let period = (exp / 3).max(MIN_PERIOD);
    let mut confirmed = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(period) => {}
        }
        let extend = extend(&ticket, renewal);
        tokio::pin!(extend);
        let overdue = async {
            match confirmed.checked_add(exp) {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            biased;
            outcome = &mut extend => outcome,
            () = overdue => {
                status.send_replace(Status::Lost);
                // Still awaited: a release waits for the renewal in flight to end.
                let _ = extend.await;
                break;
            }
        };
        match outcome {
            Ok(true) => confirmed = Instant::now(),
            Ok(false) => {
                ticket.log_lost();
                status.send_replace(Status::Lost);
                break;
            }
            Err(error) => {
                tracing::warn!(target: crate::events::TARGET, key = %ticket.key(), %error, "could not extend lock");
                if confirmed.elapsed() >= exp {
                    status.send_replace(Status::Lost);
                    break;
                }
            }
        }
    }
    // `status` drops here: what `Lease::stop` waits for.
}

/// One renewal, on the client the lock was taken with.
async fn extend(ticket: &Ticket, renewal: Renewal) -> Result<bool, Error> {
    match renewal {
        Renewal::Async => ticket.extend_async().await,
        Renewal::Blocking => {
            let ticket = ticket.clone();
            detached::run_blocking(move || ticket.extend_blocking()).await
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("lost", &self.lost()).finish()
    }
}
