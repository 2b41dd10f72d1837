// Over 500 lines: the counters and the rows threads own, with the unit tests of the rows' guarantees, which need their private items.
//! Counters of what the cache, lock and pool engines did: per decorated function and per
//! instance, readable as a [`Stats`] snapshot (`f::stats()`, [`Cachify::stats`]), and,
//! with the `metrics` feature, emitted through the [`metrics`](https://docs.rs/metrics)
//! crate.
//!
//! [`Cachify::stats`]: crate::Cachify::stats
//!
//! Each decorated function owns one `static` [`FnStats`] (made by its attribute macro;
//! the instantiations of a generic function, or of a method of a generic type, share
//! it), each instance one block of [`Counters`]. An event adds one to both, with no lookup
//! and no atomic read-modify-write: a block holds a row of counters per thread (32 rows,
//! each on cache lines of its own; threads beyond 32 share one more row, added to
//! atomically, and take a row of their own as soon as one is freed), a thread owns its
//! row while it lives, and a snapshot sums the rows.
//!
//! `// ordering:` every counter is independent and only ever added to, so `Relaxed` is
//! enough for exact totals: a row has one writer at a time, and the shared row takes
//! atomic adds. A snapshot reads the counters one by one, so while calls run it may
//! show, say, a hit counted and the miss of another call not yet; once the calls are
//! done (their threads joined, their futures awaited), it is exact.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

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
    /// Hits served by the near cache, without a round trip (counted in `hits` too).
    pub near_hits: u64,
    /// Values written to the cache after a miss.
    pub stores: u64,
    /// Background refreshes started (`#[cached(refresh = ..)]`), whatever their outcome.
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
            Event::NearHit => &mut self.near_hits,
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
    NearHit,
    Store,
    Refresh,
    LockAcquired,
    LockWait,
    LockRefused,
    SlotAcquired,
    SlotWait,
    PoolFull,
}

impl Event {
    pub(crate) const COUNT: usize = 12;
    pub(crate) const ALL: [Event; Event::COUNT] = [
        Event::Hit,
        Event::Miss,
        Event::Error,
        Event::NearHit,
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

/// How many threads at once get a row of counters of their own; the others share one
/// more row, which they add to atomically.
const OWN_ROWS: usize = 32;

/// One counter per [`Event`], on a cache line (two, for x86's paired prefetch) of its own.
#[repr(align(128))]
struct Row([AtomicU64; Event::COUNT]);

/// The counters of a function or an instance: a row per thread (see `ThreadRow`) and
/// a shared row, summed when read. Not a public API.
///
/// A thread is the only writer of its row, so it adds with a plain load and store: an
/// atomic read-modify-write (`lock xadd`) costs 15 to 30 ns on some virtual machines,
/// ten times a memory hit's budget, and one row shared by every thread would also make
/// two threads calling the same function fight over its cache line.
pub struct Counters {
    rows: [Row; OWN_ROWS + 1],
    /// The metric keys of these counters' events.
    #[cfg(feature = "metrics")]
    keys: crate::stats_metrics::KeyCache,
}

impl Counters {
    /// Zeros (a `static` of them costs no space in the binary).
    pub const fn new() -> Self {
        // An inline `const` is evaluated for each element, which an array repeat of a
        // non-`Copy` value needs.
        Self {
            rows: [const { Row([const { AtomicU64::new(0) }; Event::COUNT]) }; OWN_ROWS + 1],
            #[cfg(feature = "metrics")]
            keys: crate::stats_metrics::KeyCache::new(),
        }
    }

    #[inline]
    fn add(&self, row: Option<usize>, event: Event) {
        match row {
            Some(row) => {
                let counter = &self.rows[row % OWN_ROWS].0[event as usize];
                // ordering: this thread is the row's only writer (`ThreadRow`), so its
                // load sees its own last store and no add is lost; readers only load.
                counter.store(
                    counter.load(Ordering::Relaxed).wrapping_add(1),
                    Ordering::Relaxed,
                );
            }
            None => {
                // ordering: an independent counter, only ever added to (module docs).
                self.rows[OWN_ROWS].0[event as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats::from_fn(|event| {
            self.rows
                .iter()
                .map(|row| row.0[event as usize].load(Ordering::Relaxed))
                .fold(0, u64::wrapping_add)
        })
    }
}

/// The row a thread owns while it lives, if one was free when it first counted; a
/// thread without one asks again every [`RETRY_EVERY`] events, so a row freed by an
/// ended thread is taken up rather than leaving a long-lived thread on the shared row
/// (two `lock xadd` per event, on one contended line) for life.
///
/// Rows go back to their [`RowPool`] when their thread ends; the pool's mutex orders the
/// last store of the old owner before the first load of the next one, so a row never
/// has two writers and never loses an add.
struct ThreadRow {
    pool: &'static RowPool,
    row: Cell<Option<usize>>,
    /// Events left before a thread on the shared row asks its pool again.
    until_retry: Cell<u32>,
}

/// How many events a thread without a row of its own counts between two asks.
const RETRY_EVERY: u32 = 1024;

/// The rows threads can own: those never taken yet, and those whose thread ended.
struct RowPool {
    /// How many rows there are to give (`OWN_ROWS`; fewer in tests).
    rows: usize,
    never_taken: AtomicUsize,
    freed: Mutex<Vec<usize>>,
}

/// The rows of every [`Counters`]: a thread's row index is the same in all of them.
static ROWS: RowPool = RowPool::new(OWN_ROWS);

impl RowPool {
    const fn new(rows: usize) -> Self {
        Self {
            rows,
            never_taken: AtomicUsize::new(0),
            freed: Mutex::new(Vec::new()),
        }
    }

    /// A free row, if any.
    fn take(&self) -> Option<usize> {
        let freed = self
            .freed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        freed.or_else(|| {
            // ordering: only the counter's own value matters (each index is given once).
            let next = self.never_taken.fetch_add(1, Ordering::Relaxed);
            (next < self.rows).then_some(next)
        })
    }

    fn give_back(&self, row: usize) {
        self.freed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(row);
    }
}

impl ThreadRow {
    fn take(pool: &'static RowPool) -> Self {
        Self {
            pool,
            row: Cell::new(pool.take()),
            until_retry: Cell::new(RETRY_EVERY),
        }
    }

    /// The row to add to now.
    #[inline]
    fn current(&self) -> Option<usize> {
        match self.row.get() {
            Some(row) => Some(row),
            None => self.retry(),
        }
    }

    #[cold]
    fn retry(&self) -> Option<usize> {
        let left = self.until_retry.get().saturating_sub(1);
        if left > 0 {
            self.until_retry.set(left);
            return None;
        }
        self.until_retry.set(RETRY_EVERY);
        self.row.set(self.pool.take());
        self.row.get()
    }
}

impl Drop for ThreadRow {
    fn drop(&mut self) {
        if let Some(row) = self.row.get() {
            self.pool.give_back(row);
        }
    }
}

/// This thread's own row; `None`: add to the shared row (every own row is taken, or
/// the thread is ending and its row is already given back).
#[inline]
fn row() -> Option<usize> {
    thread_local! {
        static ROW: ThreadRow = ThreadRow::take(&ROWS);
    }
    ROW.try_with(ThreadRow::current).ok().flatten()
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
    /// `module_path!()` where the macro put this `static`.
    module: &'static str,
    /// That module is the function's companion module (`mod f`), not the function's.
    in_companions: bool,
    /// The function's name as written.
    function: &'static str,
    /// `module::function`, made on first use.
    path: OnceLock<String>,
    counters: &'static Counters,
}

impl FnStats {
    /// The counters of `function`, a `static` in `module` (the function's companion
    /// module when `in_companions`), kept in `counters` (a `static` of zeros of its own,
    /// so that it takes no room in the binary).
    pub const fn new(
        module: &'static str,
        in_companions: bool,
        function: &'static str,
        counters: &'static Counters,
    ) -> Self {
        Self {
            module,
            in_companions,
            function,
            path: OnceLock::new(),
            counters,
        }
    }

    /// These counters, those of a method of `self_type` (`type_name::<Self>()`, which
    /// the method's body can name and a `static` cannot): its path names the type,
    /// `app::repo::Pg::find`, so that two types' `find` in one module stay apart. Every
    /// instantiation of a generic type shares the one `static`, named without arguments.
    #[inline]
    pub fn of_method(&'static self, self_type: &'static str) -> &'static Self {
        self.path.get_or_init(|| {
            format!(
                "{}::{}::{}",
                self.module,
                bare_type(self_type),
                self.function
            )
        });
        self
    }

    /// The function's path (`app::users::find`), as its metrics are labelled.
    pub fn path(&'static self) -> &'static str {
        self.path.get_or_init(|| {
            let module = match self.module.rsplit_once("::") {
                Some((parent, _)) if self.in_companions => parent,
                _ => self.module,
            };
            format!("{module}::{}", self.function)
        })
    }

    /// A snapshot of the counters.
    pub fn snapshot(&self) -> Stats {
        self.counters.snapshot()
    }
}

/// A type's name without its module or generic arguments: `Mem` for `app::Mem<u8>`.
fn bare_type(type_name: &str) -> &str {
    let path = type_name.split('<').next().unwrap_or(type_name);
    let last = path.rsplit("::").next().unwrap_or(path);
    last.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'))
}

impl fmt::Debug for FnStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnStats")
            .field("module", &self.module)
            .field("function", &self.function)
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
        crate::stats_metrics::count(self.keys(), self.labels(), event);
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
        crate::stats_metrics::body_time(self.keys(), self.labels(), timer.0.elapsed());
        #[cfg(not(feature = "metrics"))]
        let _ = timer;
    }

    /// A wait for a lock (`slot`: a pool slot) ended with the acquisition after `waited`.
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    pub(crate) fn waited(self, slot: bool, waited: std::time::Duration) {
        #[cfg(feature = "metrics")]
        crate::stats_metrics::wait_time(self.keys(), self.labels(), slot, waited);
        #[cfg(not(feature = "metrics"))]
        let _ = (slot, waited);
    }

    /// Where the metric keys of this event's labels are kept: beside the function's
    /// counters, or the instance's for an undecorated call.
    #[cfg(feature = "metrics")]
    fn keys(self) -> &'a crate::stats_metrics::KeyCache {
        &self
            .function
            .map_or(self.instance, |function| function.counters)
            .keys
    }

    #[cfg(feature = "metrics")]
    fn labels(self) -> crate::stats_metrics::Labels<'a> {
        crate::stats_metrics::Labels {
            function: self.function.map_or("", FnStats::path),
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
                counters.add(Some(row), event);
            }
            counters.add(None, event);
        }
        let stats = counters.snapshot();
        for (n, event) in Event::ALL.into_iter().enumerate() {
            assert_eq!(stats.get(event), n as u64 + 2, "{event:?}");
        }
        assert_eq!((stats + stats).since(&stats), stats);
    }

    #[test]
    fn a_path_names_the_function_in_its_own_module() {
        static COUNTERS: Counters = Counters::new();
        static IN_COMPANIONS: FnStats = FnStats::new("app::users::find", true, "find", &COUNTERS);
        static IN_IMPL: FnStats = FnStats::new("app::users", false, "find", &COUNTERS);
        static AT_ROOT: FnStats = FnStats::new("find", true, "find", &COUNTERS);
        assert_eq!(IN_COMPANIONS.path(), "app::users::find");
        assert_eq!(IN_IMPL.path(), "app::users::find");
        assert_eq!(
            AT_ROOT.path(),
            "find::find",
            "no parent to name: kept whole"
        );
    }

    #[test]
    fn a_method_path_names_its_type_without_arguments() {
        static COUNTERS: Counters = Counters::new();
        static PG: FnStats = FnStats::new("app::repo", false, "find", &COUNTERS);
        static MEM: FnStats = FnStats::new("app::repo", false, "find", &COUNTERS);
        assert_eq!(PG.of_method("app::repo::Pg").path(), "app::repo::Pg::find");
        let mem = MEM.of_method("app::repo::Mem<alloc::vec::Vec<u8>>");
        assert_eq!(
            mem.of_method("app::repo::Mem<u8>").path(),
            "app::repo::Mem::find"
        );
        assert_eq!(bare_type("&app::Pg"), "Pg");
    }

    #[test]
    fn rows_do_not_share_a_cache_line() {
        assert!(std::mem::align_of::<Row>() >= 128);
        assert_eq!(std::mem::size_of::<Row>(), 128);
    }

    #[test]
    fn live_threads_never_share_a_row() {
        let mine = row();
        assert_eq!(row(), mine, "a thread keeps its row");
        let other = std::thread::spawn(row).join().unwrap();
        assert!(mine.is_none() || other != mine, "{mine:?} {other:?}");
    }

    /// 40 threads alive at once, each holding the row it took: every own row goes to one
    /// thread only, and the 8 threads beyond them count on the shared row.
    #[test]
    fn forty_live_threads_get_distinct_rows_and_eight_share() {
        static POOL: RowPool = RowPool::new(OWN_ROWS);
        const THREADS: usize = 40;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let row = ThreadRow::take(&POOL);
                    // Nobody ends (and gives its row back) before everyone has taken one.
                    barrier.wait();
                    row.row.get()
                })
            })
            .collect();
        let rows: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let mut own: Vec<_> = rows.iter().flatten().collect();
        own.sort_unstable();
        own.dedup();
        assert_eq!(own.len(), rows.iter().flatten().count(), "{rows:?}");
        assert_eq!(own.len(), OWN_ROWS, "{rows:?}");
        assert!(rows.iter().filter(|row| row.is_none()).count() >= THREADS - OWN_ROWS);
    }

    /// The shared row's adds are atomic: threads adding at once lose none.
    #[test]
    fn the_shared_row_loses_no_add() {
        const THREADS: u64 = 4;
        const ADDS: u64 = 1_000_000;
        let counters = Counters::new();
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..ADDS {
                        counters.add(None, Event::Hit);
                    }
                });
            }
        });
        assert_eq!(counters.snapshot().hits, THREADS * ADDS);
    }

    /// A row freed by an ended thread goes to the next one, and the counts carry on.
    #[test]
    fn an_ended_threads_row_is_reused_and_its_counts_kept() {
        static POOL: RowPool = RowPool::new(1);
        static COUNTERS: Counters = Counters::new();
        let count = |adds: u64| {
            let row = ThreadRow::take(&POOL);
            for _ in 0..adds {
                COUNTERS.add(row.current(), Event::Miss);
            }
            row.row.get()
        };
        let first = std::thread::spawn(move || count(1000)).join().unwrap();
        let second = std::thread::spawn(move || count(500)).join().unwrap();
        assert_eq!((first, second), (Some(0), Some(0)));
        assert_eq!(COUNTERS.snapshot().misses, 1500);
        assert_eq!(
            COUNTERS.rows[OWN_ROWS].0[Event::Miss as usize].load(Ordering::Relaxed),
            0
        );
    }

    /// A thread that found every row taken takes one freed later, within `RETRY_EVERY`
    /// events.
    #[test]
    fn a_thread_on_the_shared_row_takes_a_freed_row() {
        static POOL: RowPool = RowPool::new(1);
        let owner = ThreadRow::take(&POOL);
        let late = ThreadRow::take(&POOL);
        assert_eq!((owner.current(), late.current()), (Some(0), None));
        drop(owner);
        let retried = (0..RETRY_EVERY).filter_map(|_| late.current()).count();
        assert!(retried > 0, "still on the shared row");
        assert_eq!(late.current(), Some(0));
    }
}
