//! The `metrics` feature: every counted event also goes to the [`metrics`] facade, so
//! whatever recorder the application installed (a Prometheus exporter, StatsD, ...)
//! gets cachify's numbers with no code of the application's.
//!
//! Counters (one per [`Stats`](crate::Stats) field) and histograms in seconds, all
//! labelled `function` (the decorated function's path; empty for a lock or pool used
//! without an attribute) and `prefix` (the instance's prefix):
//!
//! | metric | kind | counts |
//! |---|---|---|
//! | `cachify_cache_hits` | counter | `Stats::hits` |
//! | `cachify_cache_misses` | counter | `Stats::misses` |
//! | `cachify_cache_errors` | counter | `Stats::errors` |
//! | `cachify_cache_near_hits` | counter | `Stats::near_hits` |
//! | `cachify_cache_stores` | counter | `Stats::stores` |
//! | `cachify_cache_refreshes` | counter | `Stats::refreshes` |
//! | `cachify_lock_acquisitions` | counter | `Stats::lock_acquisitions` |
//! | `cachify_lock_waits` | counter | `Stats::lock_waits` |
//! | `cachify_lock_refusals` | counter | `Stats::lock_refusals` |
//! | `cachify_pool_acquisitions` | counter | `Stats::slot_acquisitions` |
//! | `cachify_pool_waits` | counter | `Stats::slot_waits` |
//! | `cachify_pool_full` | counter | `Stats::pool_full` |
//! | `cachify_lock_wait_seconds` | histogram | how long an acquisition that waited for a lock waited |
//! | `cachify_pool_wait_seconds` | histogram | the same for a pool slot |
//! | `cachify_miss_body_seconds` | histogram | how long the function ran on a miss |
//!
//! Cost: the metric keys of a (function, prefix) pair are built once and kept beside
//! its counters, so an event is one call to the recorder (which hashes the key and
//! finds its series); that is why it is a feature: the built-in counters alone are a
//! load and a store on the thread's own row. Counter handles are not kept, since a
//! recorder installed later would never see them.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, SharedString};

use crate::stats::Event;

/// What every metric of one event is labelled with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels<'a> {
    pub(crate) function: &'static str,
    pub(crate) prefix: &'a str,
}

/// Every metric's key for one pair of [`Labels`], built on its first event.
#[derive(Debug)]
pub(crate) struct Keys {
    prefix: SharedString,
    function: &'static str,
    counters: [Key; Event::COUNT],
    body_time: Key,
    lock_wait: Key,
    pool_wait: Key,
}

impl Keys {
    fn new(labels: Labels<'_>) -> Self {
        let prefix = SharedString::from(labels.prefix.to_owned());
        let key = |name: &'static str| {
            Key::from_parts(
                name,
                vec![
                    Label::from_static_parts("function", labels.function),
                    Label::new("prefix", prefix.clone()),
                ],
            )
        };
        Self {
            counters: Event::ALL.map(|event| key(counter_name(event))),
            body_time: key("cachify_miss_body_seconds"),
            lock_wait: key("cachify_lock_wait_seconds"),
            pool_wait: key("cachify_pool_wait_seconds"),
            function: labels.function,
            prefix,
        }
    }

    fn labels_are(&self, labels: Labels<'_>) -> bool {
        self.function == labels.function && *self.prefix == *labels.prefix
    }
}

/// The keys of one function (or of an instance's undecorated calls), kept in its
/// counters. A function used through instances of different prefixes keeps the first
/// pair's keys and builds the others' for each event.
#[derive(Debug, Default)]
pub(crate) struct KeyCache(OnceLock<Keys>);

impl KeyCache {
    pub(crate) const fn new() -> Self {
        Self(OnceLock::new())
    }

    fn with<T>(&self, labels: Labels<'_>, use_keys: impl FnOnce(&Keys) -> T) -> T {
        let kept = self.0.get_or_init(|| Keys::new(labels));
        if kept.labels_are(labels) {
            use_keys(kept)
        } else {
            use_keys(&Keys::new(labels))
        }
    }
}

/// What the `metrics!` macros would pass as the call site: cachify's own.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The name of the counter of `event`.
fn counter_name(event: Event) -> &'static str {
    match event {
        Event::Hit => "cachify_cache_hits",
        Event::Miss => "cachify_cache_misses",
        Event::Error => "cachify_cache_errors",
        Event::NearHit => "cachify_cache_near_hits",
        Event::Store => "cachify_cache_stores",
        Event::Refresh => "cachify_cache_refreshes",
        Event::LockAcquired => "cachify_lock_acquisitions",
        Event::LockWait => "cachify_lock_waits",
        Event::LockRefused => "cachify_lock_refusals",
        Event::SlotAcquired => "cachify_pool_acquisitions",
        Event::SlotWait => "cachify_pool_waits",
        Event::PoolFull => "cachify_pool_full",
    }
}

pub(crate) fn count(keys: &KeyCache, labels: Labels<'_>, event: Event) {
    keys.with(labels, |keys| {
        let key = &keys.counters[event as usize];
        metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA)).increment(1);
    });
}

pub(crate) fn body_time(keys: &KeyCache, labels: Labels<'_>, took: Duration) {
    keys.with(labels, |keys| record(&keys.body_time, took));
}

pub(crate) fn wait_time(keys: &KeyCache, labels: Labels<'_>, slot: bool, waited: Duration) {
    keys.with(labels, |keys| {
        record(
            if slot {
                &keys.pool_wait
            } else {
                &keys.lock_wait
            },
            waited,
        );
    });
}

fn record(key: &Key, took: Duration) {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA)).record(took);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{Counter, Gauge, Histogram, KeyName, Recorder, Unit};

    use super::*;
    use crate::stats::{Counters, FnStats, Tally};

    /// Keeps each counter it is asked for, by key.
    #[derive(Default)]
    struct Counting(Mutex<HashMap<Key, Arc<AtomicU64>>>);

    impl Counting {
        fn value(&self, name: &str, function: &str, prefix: &str) -> u64 {
            let wanted = Key::from_parts(
                name.to_owned(),
                vec![
                    Label::new("function", function.to_owned()),
                    Label::new("prefix", prefix.to_owned()),
                ],
            );
            self.0
                .lock()
                .unwrap()
                .get(&wanted)
                .map_or(0, |counter| counter.load(Ordering::Relaxed))
        }
    }

    impl Recorder for Counting {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut counters = self.0.lock().unwrap();
            Counter::from_arc(counters.entry(key.clone()).or_default().clone())
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    /// The keys are kept, not the counters: events before a recorder exists go nowhere,
    /// and every one after reaches it, labelled with the function and each prefix.
    #[test]
    fn kept_keys_reach_a_recorder_installed_later_with_their_labels() {
        static COUNTERS: Counters = Counters::new();
        static FIND: FnStats = FnStats::new("app::repo", false, "find", &COUNTERS);
        let (first, second) = (Counters::new(), Counters::new());
        let function = FIND.of_method("app::repo::Pg");
        Tally::new(Some(function), &first, "A-").count(Event::Hit);
        let recorder = Counting::default();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..3 {
                Tally::new(Some(function), &first, "A-").count(Event::Hit);
            }
            Tally::new(Some(function), &second, "B-").count(Event::Hit);
            Tally::new(None, &second, "B-").count(Event::LockAcquired);
        });
        let hits = |prefix| recorder.value("cachify_cache_hits", "app::repo::Pg::find", prefix);
        assert_eq!((hits("A-"), hits("B-")), (3, 1));
        assert_eq!(recorder.value("cachify_lock_acquisitions", "", "B-"), 1);
    }
}
