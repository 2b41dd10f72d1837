//! Test hooks of the near cache's Redis side, re-exported as
//! `cachify::__private::near_tracking`: a client's `GET`+`PTTL` reads, and its tracking
//! connections reporting to a recorder. Not a public API.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{BackendError, Error};
use crate::near::{Invalidations, NearSource, TrackingHandle};

/// What the tracking connections reported, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Every node tracks.
    Ready,
    /// A node stopped tracking.
    Lost,
    /// These storage keys changed.
    Invalidated(Vec<Vec<u8>>),
    /// Every key may have changed (a flush).
    InvalidatedAll,
}

/// The Redis side of a near cache, reached from tests.
///
/// ```no_run
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::__private::near_tracking::{Event, NearProbe};
///
/// let client = cachify::RedisClient::open("redis://127.0.0.1:6379")?;
/// let tracked = NearProbe::redis(&client).track("app:", Duration::from_secs(1))?;
/// assert_eq!(tracked.next_event(Duration::from_secs(5)), Some(Event::Ready));
/// # Ok::<(), cachify::Error>(())
/// ```
pub struct NearProbe {
    source: Arc<dyn NearSource>,
}

impl NearProbe {
    /// The near source of a standalone (or Sentinel-managed) client.
    pub fn redis(client: &crate::RedisClient) -> Self {
        Self {
            source: client.near_source(),
        }
    }

    /// The near source of a cluster client.
    #[cfg(feature = "redis-cluster")]
    pub fn cluster(client: &crate::RedisClusterClient) -> Self {
        Self {
            source: client.near_source(),
        }
    }

    /// `GET` and `PTTL` of `key` in one round trip, blocking.
    pub fn get_with_ttl_blocking(
        &self,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Option<Duration>)>, BackendError> {
        self.source.get_with_ttl_blocking(key)
    }

    /// `GET` and `PTTL` of `key` in one round trip.
    pub async fn get_with_ttl(
        &self,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Option<Duration>)>, BackendError> {
        self.source.get_with_ttl(key).await
    }

    /// Tracks the keys under `prefix`, recording what is reported until the result is
    /// dropped.
    pub fn track(&self, prefix: &str, check_interval: Duration) -> Result<Tracked, Error> {
        let (sender, events) = channel();
        let recorder = Arc::new(Recorder(Mutex::new(sender)));
        let sink: Arc<dyn Invalidations> = Arc::clone(&recorder) as _;
        let handle = self.source.start_tracking(prefix, check_interval, sink)?;
        Ok(Tracked {
            events: Mutex::new(events),
            _handle: handle,
            _recorder: recorder,
        })
    }
}

/// Tracking in progress: its events, until dropped.
pub struct Tracked {
    events: Mutex<Receiver<Event>>,
    // Dropped first: the tasks stop before the recorder goes.
    _handle: TrackingHandle,
    /// The tasks hold the sink weakly: this keeps it.
    _recorder: Arc<Recorder>,
}

impl Tracked {
    /// The next event, waiting at most `patience`.
    pub fn next_event(&self, patience: Duration) -> Option<Event> {
        match self.events.lock().recv_timeout(patience) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Skips events until one matches `wanted`, within `patience` in all; returns the
    /// events skipped, or `None` when none matched in time.
    pub fn wait_for(
        &self,
        patience: Duration,
        mut wanted: impl FnMut(&Event) -> bool,
    ) -> Option<Vec<Event>> {
        let deadline = std::time::Instant::now() + patience;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.next_event(left)?;
            if wanted(&event) {
                return Some(skipped);
            }
            skipped.push(event);
        }
    }
}

struct Recorder(Mutex<Sender<Event>>);

impl Recorder {
    fn record(&self, event: Event) {
        let _ = self.0.lock().send(event);
    }
}

impl Invalidations for Recorder {
    fn tracking_ready(&self) {
        self.record(Event::Ready);
    }

    fn tracking_lost(&self) {
        self.record(Event::Lost);
    }

    fn invalidate(&self, keys: &[&[u8]]) {
        self.record(Event::Invalidated(
            keys.iter().map(|key| key.to_vec()).collect(),
        ));
    }

    fn invalidate_all(&self) {
        self.record(Event::InvalidatedAll);
    }
}
