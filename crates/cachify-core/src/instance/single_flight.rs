//! [`SingleFlight`]: whether concurrent misses of one key are shared within a process
//! or across every process on the backend, and the lease and wait that bound the latter.

use std::time::Duration;

/// How long a fleet-wide leader's lease lasts between renewals, unless configured: a
/// leader killed or frozen is replaced within it.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::{SingleFlight, DEFAULT_FLEET_LEASE};
/// assert_eq!(SingleFlight::fleet().lease_duration(), DEFAULT_FLEET_LEASE);
/// ```
pub const DEFAULT_FLEET_LEASE: Duration = Duration::from_secs(3);

/// How long a process waits for another process's leader before it runs the function
/// itself, unless configured.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::{SingleFlight, DEFAULT_FLEET_WAIT};
/// assert_eq!(SingleFlight::fleet().wait_budget(), DEFAULT_FLEET_WAIT);
/// ```
pub const DEFAULT_FLEET_WAIT: Duration = Duration::from_secs(10);

/// The shortest lease accepted; shorter ones are raised to it (renewals run every third
/// of the lease).
const MIN_FLEET_LEASE: Duration = Duration::from_millis(10);
/// The longest lease accepted: a lease is what replaces a dead leader, so it must end.
const MAX_FLEET_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// How concurrent misses of one `#[cached]` key are shared: within one process
/// ([`per_process`](Self::per_process)), or across every process sharing the backend
/// ([`fleet`](Self::fleet), the default), on backends that can
/// ([`SyncClient::claim_miss`](crate::SyncClient::claim_miss): Redis and Redis Cluster;
/// the memory backend is one process's anyway).
///
/// Fleet-wide, one process's leader takes a short lease next to the key, renewed while
/// the function runs, and the other processes wait for the value, woken when it is
/// stored. A leader that dies is replaced within [`lease`](Self::lease); a leader that
/// ends without a value (an `Err`) frees the waiters at once; a process that has waited
/// [`wait`](Self::wait) runs the function itself.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::{instance::SingleFlight, Cachify};
///
/// let cachify = Cachify::builder()
///     .single_flight(SingleFlight::fleet().lease(Duration::from_secs(1)).wait(Duration::from_secs(30)))
///     .build();
/// assert!(cachify.single_flight().is_fleet_wide());
///
/// let alone = Cachify::builder().single_flight(SingleFlight::per_process()).build();
/// assert!(!alone.single_flight().is_fleet_wide());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleFlight {
    fleet_wide: bool,
    lease: Duration,
    wait: Duration,
}

impl SingleFlight {
    /// One computation per key across the processes sharing the backend (the default),
    /// with a lease of [`DEFAULT_FLEET_LEASE`] and a wait of [`DEFAULT_FLEET_WAIT`].
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::SingleFlight;
    /// assert_eq!(SingleFlight::fleet(), SingleFlight::default());
    /// ```
    pub const fn fleet() -> Self {
        Self {
            fleet_wide: true,
            lease: DEFAULT_FLEET_LEASE,
            wait: DEFAULT_FLEET_WAIT,
        }
    }

    /// One computation per key in each process: processes do not wait for each other.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::SingleFlight;
    /// assert!(!SingleFlight::per_process().is_fleet_wide());
    /// ```
    pub const fn per_process() -> Self {
        Self {
            fleet_wide: false,
            ..Self::fleet()
        }
    }

    /// How long the leader's lease lasts between renewals (every third of it): a
    /// leader killed or frozen is replaced within about this long. Clamped to 10 ms ..=
    /// 24 h.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::instance::SingleFlight;
    /// let flight = SingleFlight::fleet().lease(Duration::from_millis(500));
    /// assert_eq!(flight.lease_duration(), Duration::from_millis(500));
    /// assert_eq!(SingleFlight::fleet().lease(Duration::ZERO).lease_duration(), Duration::from_millis(10));
    /// ```
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(MIN_FLEET_LEASE, MAX_FLEET_LEASE);
        self
    }

    /// How long a process waits for another process's leader before it runs the
    /// function itself: the bound for a leader whose function hangs while its process
    /// lives on (its lease is renewed). `Duration::ZERO`: never wait; `Duration::MAX`:
    /// wait as long as the leader lives.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use std::time::Duration;
    /// use cachify::instance::SingleFlight;
    /// let flight = SingleFlight::fleet().wait(Duration::from_secs(2));
    /// assert_eq!(flight.wait_budget(), Duration::from_secs(2));
    /// ```
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Whether misses are shared across processes.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(cachify::instance::SingleFlight::default().is_fleet_wide());
    /// ```
    pub fn is_fleet_wide(&self) -> bool {
        self.fleet_wide
    }

    /// The leader's lease (see [`lease`](Self::lease)).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::{SingleFlight, DEFAULT_FLEET_LEASE};
    /// assert_eq!(SingleFlight::default().lease_duration(), DEFAULT_FLEET_LEASE);
    /// ```
    pub fn lease_duration(&self) -> Duration {
        self.lease
    }

    /// How long a waiting process waits (see [`wait`](Self::wait)).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::{SingleFlight, DEFAULT_FLEET_WAIT};
    /// assert_eq!(SingleFlight::default().wait_budget(), DEFAULT_FLEET_WAIT);
    /// ```
    pub fn wait_budget(&self) -> Duration {
        self.wait
    }
}

impl Default for SingleFlight {
    fn default() -> Self {
        Self::fleet()
    }
}
