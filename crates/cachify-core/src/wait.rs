//! Waiting for a lock or a pool slot: retry when a release is announced, poll otherwise.
//!
//! Every round first takes a [`ReleaseWatch`](crate::backend::ReleaseWatch) and only
//! then attempts, so a release landing between a failed attempt and the sleep still
//! wakes the waiter. A round sleeps at most the poll interval, the time left before the
//! deadline, and the time left on the holder's key (a holder that died stops counting
//! when its key expires, and nobody announces that).
//!
//! Durations saturate: a `timeout` too large for an `Instant` waits forever, and no
//! single sleep exceeds [`LONGEST_SLEEP`], so `Duration::MAX` as a poll interval is
//! simply a wait for the release.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::backend::{AsyncClient, SyncClient};
use crate::error::Error;
use crate::events::Subject;

/// The longest single sleep: the next round still sleeps again if nothing changed.
const LONGEST_SLEEP: Duration = Duration::from_secs(60 * 60);

/// How long and how often to keep trying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// When to give up; `None`: never.
    pub(crate) deadline: Option<Instant>,
    /// The longest sleep between two attempts.
    pub(crate) poll_interval: Duration,
}

impl Patience {
    /// Patience that lasts `timeout` from now (`None`, or beyond what an `Instant` can
    /// represent: forever).
    pub(crate) fn new(timeout: Option<Duration>, poll_interval: Duration) -> Self {
        Self {
            deadline: timeout.and_then(|timeout| Instant::now().checked_add(timeout)),
            poll_interval,
        }
    }

    /// The next sleep, or `None` once the deadline has passed.
    pub(crate) fn next_sleep(&self, holder_ttl: Option<Duration>) -> Option<Duration> {
        let mut sleep = self.poll_interval.min(LONGEST_SLEEP);
        if let Some(deadline) = self.deadline {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            sleep = sleep.min(left);
        }
        if let Some(ttl) = holder_ttl {
            // Wake just after the expiry rather than just before it.
            sleep = sleep.min(ttl.saturating_add(Duration::from_millis(1)));
        }
        Some(sleep)
    }
}

/// A wait in progress, for its events: when it started and whether a release ended
/// the latest sleep.
struct Waiting {
    since: Instant,
    woken: bool,
}

impl Waiting {
    /// Called after each failed attempt that will sleep: the first one starts the wait.
    fn start(waiting: &mut Option<Waiting>, subject: &Subject<'_>) {
        if waiting.is_none() {
            subject.wait_started();
            *waiting = Some(Waiting {
                since: Instant::now(),
                woken: false,
            });
        }
    }

    /// Records how the latest sleep ended.
    fn slept(waiting: &mut Option<Waiting>, subject: &Subject<'_>, woken: bool) {
        if woken {
            subject.woken();
        }
        if let Some(waiting) = waiting {
            waiting.woken = woken;
        }
    }

    /// An attempt succeeded: reports the wait, if there was one.
    fn done(waiting: Option<Waiting>, subject: &Subject<'_>) {
        if let Some(waiting) = waiting {
            subject.acquired(waiting.since.elapsed(), waiting.woken);
        }
    }
}

/// Calls `attempt` until it yields a value or patience runs out (`Ok(None)`), blocking
/// the thread between attempts. `key` is the storage key whose releases wake us;
/// `subject` names it in the wait's events.
pub(crate) fn retry_blocking<T>(
    client: &dyn SyncClient,
    key: &str,
    subject: Subject<'_>,
    patience: Patience,
    mut attempt: impl FnMut() -> Result<Option<T>, Error>,
) -> Result<Option<T>, Error> {
    let mut waiting = None;
    loop {
        let watch = client.watch(key);
        if let Some(value) = attempt()? {
            Waiting::done(waiting, &subject);
            return Ok(Some(value));
        }
        let Some(sleep) = patience.next_sleep(client.remaining_ttl(key)?) else {
            return Ok(None);
        };
        Waiting::start(&mut waiting, &subject);
        let woken = match watch {
            Some(mut watch) => watch.wait_blocking(sleep),
            None => {
                std::thread::sleep(sleep);
                false
            }
        };
        Waiting::slept(&mut waiting, &subject, woken);
    }
}

/// [`retry_blocking`] for async code: sleeps without blocking the runtime.
pub(crate) async fn retry_async<T, F, Fut>(
    client: &dyn AsyncClient,
    key: &str,
    subject: Subject<'_>,
    patience: Patience,
    mut attempt: F,
) -> Result<Option<T>, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, Error>>,
{
    let mut waiting = None;
    loop {
        let watch = client.watch(key).await;
        if let Some(value) = attempt().await? {
            Waiting::done(waiting, &subject);
            return Ok(Some(value));
        }
        let Some(sleep) = patience.next_sleep(client.remaining_ttl(key).await?) else {
            return Ok(None);
        };
        Waiting::start(&mut waiting, &subject);
        let woken = match watch {
            Some(mut watch) => watch.wait(sleep).await,
            None => {
                tokio::time::sleep(sleep).await;
                false
            }
        };
        Waiting::slept(&mut waiting, &subject, woken);
    }
}
