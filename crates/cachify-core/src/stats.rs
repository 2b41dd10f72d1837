//! Counters of what the cache, lock and pool engines did: per decorated function and per
//! instance, readable as a [`Stats`] snapshot (`f::stats()`, [`Cachify::stats`]), and,
//! with the `metrics` feature, emitted through the [`metrics`](https://docs.rs/metrics)
//! crate.
//!
//! [`Cachify::stats`]: crate::Cachify::stats
//!
//! Each decorated function owns one `static` [`FnStats`] (made by its attribute macro),
//! each instance one block of counters. An event adds one to both: two relaxed atomic
//! adds, no lookup. A block holds one row of counters per thread (up to 8 rows, which
//! threads share beyond that), each row 128 bytes aligned, so that neither two
//! functions nor two threads calling one function write to the same cache line (two
//! adjacent lines on x86, which prefetches in pairs); a snapshot sums the rows.
//!
//! `// ordering:` every counter is independent and only ever added to, so `Relaxed` is
//! enough for exact totals: a read-modify-write never loses an add, whatever the
//! ordering. A snapshot reads the counters one by one, so while calls run it may show,
//! say, a hit counted and the miss of another call not yet; once calls are done, it is
//! exact.

use std::fmt;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of the counters of a decorated function (`f::stats()`) or of an instance
/// ([`Cachify::stats`](crate::Cachify::stats)).
///
/// Counters start at zero when the process starts (a function's) or when the instance is
/// built, and only grow. Two snapshots subtract field by field ([`Stats::since`]).
///
/// ```
/// # use cachify_core as cachify;
/// let cachify = cachify::Cachify::builder().build();
/// let stats: cachify::Stats = cachify.stats();
/// assert_eq!(stats.hits + stats.misses, 0);
/// assert_eq!(stats, cachify::Stats::default());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// `#[cached]` calls that found their value.
    pub hits: u64,
    /// `#[cached]` calls that found none (or one that no longer decodes) and ran, or
    /// waited for, the function.
    pub misses: u64,
    /// Cache failures that `#[cached]` failed open on: a read or a store the backend
    /// failed, a stored value that does not decode, a result that does not encode. The
    /// call still returned the function's result.
    pub errors: u64,
    /// Values written to the cache after a miss.
    pub stores: u64,
    /// Values refreshed before they expired. Always 0 until refresh-before-expiry exists.
    pub refreshes: u64,
    /// Locks taken (at once or after a wait).
    pub lock_acquisitions: u64,
    /// Lock acquisitions that found the lock held and started waiting (`nowait(false)`).
    pub lock_waits: u64,
    /// Lock acquisitions that gave up: held with `nowait`, or the timeout passed (a
    /// `#[once]` call skipped is one).
    pub lock_refusals: u64,
    /// Pool slots taken (at once or after a wait).
    pub slot_acquisitions: u64,
    /// Slot acquisitions that found the pool full and started waiting.
    pub slot_waits: u64,
    /// Slot acquisitions that gave up because the pool was full.
    pub pool_full: u64,
}

impl Stats {
    /// What happened between `earlier` and this snapshot, field by field (saturating).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// let before = cachify.stats();
    /// let during = cachify.stats().since(&before);
    /// assert_eq!(during, cachify::Stats::default());
    /// ```
    #[must_use]
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats::from_fn(|event| self.get(event).saturating_sub(earlier.get(event)))
    }

    fn from_fn(mut value: impl FnMut(Event) -> u64) -> Stats {
        let mut stats = Stats::default();
        for event in Event::ALL {
            *stats.field(event) = value(event);
        }
        stats
    }

    fn get(mut self, event: Event) -> u64 {
        *self.field(event)
    }

    fn field(&mut self, event: Event) -> &mut u64 {
        match event {
            Event::Hit => &mut self.hits,
            Event::Miss => &mut self.misses,
            Event::Error => &mut self.errors,
            Event::Store => &mut self.stores,
            Event::Refresh => &mut self.refreshes,
            Event::LockAcquired => &mut self.lock_acquisitions,
            Event::LockWait => &mut self.lock_waits,
            Event::LockRefused => &mut self.lock_refusals,
            Event::SlotAcquired => &mut self.slot_acquisitions,
            Event::SlotWait => &mut self.slot_waits,
            Event::PoolFull => &mut self.pool_full,
        }
    }
}

impl std::ops::Add for Stats {
    type Output = Stats;

    /// The sum, field by field (saturating): the layers of a stacked function add up.
    fn add(self, other: Stats) -> Stats {
        Stats::from_fn(|event| self.get(event).saturating_add(other.get(event)))
    }
}

/// One thing an engine counts: a field of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Hit,
    Miss,
    Error,
    Store,
    #[allow(dead_code)] // counted once refresh-before-expiry exists
    Refresh,
    LockAcquired,
    LockWait,
    LockRefused,
    SlotAcquired,
    SlotWait,
    PoolFull,
}

impl Event {
    const COUNT: usize = 11;
    const ALL: [Event; Event::COUNT] = [
        Event::Hit,
        Event::Miss,
        Event::Error,
        Event::Store,
        Event::Refresh,
        Event::LockAcquired,
        Event::LockWait,
        Event::LockRefused,
        Event::SlotAcquired,
        Event::SlotWait,
        Event::PoolFull,
    ];
}

/// How many rows of counters a block has: threads add to different rows (see [`row`]).
const ROWS: usize = 8;

/// One counter per [`Event`], on a cache line (two, for x86's paired prefetch) of its own.
#[repr(align(128))]
struct Row([AtomicU64; Event::COUNT]);

/// The counters of a function or an instance: [`ROWS`] rows, summed when read.
///
/// One row shared by every thread would make the hit path of two threads calling the
/// same function fight over one cache line (each add takes it exclusive); a thread adds
/// to its own row instead, and rows are only summed by a snapshot.
pub(crate) struct Counters([Row; ROWS]);

impl Counters {
    pub(crate) const fn new() -> Self {
        // A `const` item is copied at each use, which is what an array repeat needs.
        const ZERO: AtomicU64 = AtomicU64::new(0);
        const ROW: Row = Row([ZERO; Event::COUNT]);
        Self([ROW; ROWS])
    }

    #[inline]
    fn add(&self, row: usize, event: Event) {
        // ordering: see the module docs; an independent counter.
        self.0[row % ROWS].0[event as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats::from_fn(|event| {
            self.0
                .iter()
                .map(|row| row.0[event as usize].load(Ordering::Relaxed))
                .fold(0, u64::wrapping_add)
        })
    }
}

/// This thread's row: threads take rows in turn as they first count something.
#[inline]
fn row() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static ROW: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    ROW.try_with(|row| {
        if row.get() == usize::MAX {
            row.set(NEXT.fetch_add(1, Ordering::Relaxed) % ROWS);
        }
        row.get()
    })
    .unwrap_or(0)
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().fmt(f)
    }
}

/// The counters of one decorated function: a `static` its attribute macro creates. Not
/// a public API; read them with the function's `stats()` companion.
pub struct FnStats {
    name: &'static str,
    counters: Counters,
}

impl FnStats {
    /// The counters of the function `name` (its path, as metrics label it).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            counters: Counters::new(),
        }
    }

    /// The function's path, as its metrics are labelled.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A snapshot of the counters.
    pub fn snapshot(&self) -> Stats {
        self.counters.snapshot()
    }
}

impl fmt::Debug for FnStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnStats")
            .field("name", &self.name)
            .field("counters", &self.counters)
            .finish()
    }
}

/// Where one event is counted: its instance's counters, and its function's when a macro
/// made the call. Made by `Cachify::tally`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally<'a> {
    function: Option<&'static FnStats>,
    instance: &'a Counters,
    /// The instance's prefix, for metrics labels.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    prefix: &'a str,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(
        function: Option<&'static FnStats>,
        instance: &'a Counters,
        prefix: &'a str,
    ) -> Self {
        Self {
            function,
            instance,
            prefix,
        }
    }

    /// Counts `event` once, for the function and for the instance.
    #[inline]
    pub(crate) fn count(self, event: Event) {
        let row = row();
        if let Some(function) = self.function {
            function.counters.add(row, event);
        }
        self.instance.add(row, event);
        #[cfg(feature = "metrics")]
        crate::stats_metrics::count(self.labels(), event);
    }

    /// The time a miss's function body started, when something will record it.
    #[inline]
    pub(crate) fn body_started(self) -> BodyTimer {
        BodyTimer::start()
    }

    /// A miss's function body ended: records its duration.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    pub(crate) fn body_done(self, timer: BodyTimer) {
        #[cfg(feature = "metrics")]
        crate::stats_metrics::body_time(self.labels(), timer.0.elapsed());
        #[cfg(not(feature = "metrics"))]
        let _ = timer;
    }

    /// A wait for a lock (`slot`: a pool slot) ended with the acquisition after `waited`.
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    pub(crate) fn waited(self, slot: bool, waited: std::time::Duration) {
        #[cfg(feature = "metrics")]
        crate::stats_metrics::wait_time(self.labels(), slot, waited);
        #[cfg(not(feature = "metrics"))]
        let _ = (slot, waited);
    }

    #[cfg(feature = "metrics")]
    fn labels(self) -> crate::stats_metrics::Labels<'a> {
        crate::stats_metrics::Labels {
            function: self.function.map_or("", FnStats::name),
            prefix: self.prefix,
        }
    }
}

/// When a miss's body started; zero-sized without the `metrics` feature.
#[derive(Debug)]
pub(crate) struct BodyTimer(#[cfg(feature = "metrics")] std::time::Instant);

impl BodyTimer {
    #[inline]
    fn start() -> Self {
        BodyTimer(
            #[cfg(feature = "metrics")]
            std::time::Instant::now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_its_own_field() {
        let counters = Counters::new();
        for (n, event) in Event::ALL.into_iter().enumerate() {
            for row in 0..=n {
                counters.add(row, event);
            }
        }
        let stats = counters.snapshot();
        for (n, event) in Event::ALL.into_iter().enumerate() {
            assert_eq!(stats.get(event), n as u64 + 1, "{event:?}");
        }
        assert_eq!((stats + stats).since(&stats), stats);
    }

    #[test]
    fn counters_of_two_functions_or_threads_do_not_share_a_cache_line() {
        assert!(std::mem::align_of::<FnStats>() >= 128);
        assert!(std::mem::align_of::<Row>() >= 128);
        assert_eq!(std::mem::size_of::<Row>(), 128);
    }

    #[test]
    fn threads_take_rows_in_turn() {
        let rows: Vec<usize> = (0..ROWS)
            .map(|_| std::thread::spawn(row).join().unwrap())
            .collect();
        let mut distinct = rows.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 1, "{rows:?}");
        assert_eq!(row(), row(), "a thread keeps its row");
    }
}
