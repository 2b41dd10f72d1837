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
//! Cost: each event is one lookup in the recorder's registry (labels hashed, the prefix
//! copied), which is why it is a feature: the built-in counters alone cost two atomic adds.

use std::time::Duration;

use metrics::Label;

use crate::stats::Event;

/// What every metric of one event is labelled with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels<'a> {
    pub(crate) function: &'static str,
    pub(crate) prefix: &'a str,
}

impl Labels<'_> {
    fn to_metrics(self) -> Vec<Label> {
        vec![
            Label::from_static_parts("function", self.function),
            Label::new("prefix", self.prefix.to_owned()),
        ]
    }
}

/// The name of the counter of `event`.
fn counter_name(event: Event) -> &'static str {
    match event {
        Event::Hit => "cachify_cache_hits",
        Event::Miss => "cachify_cache_misses",
        Event::Error => "cachify_cache_errors",
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

pub(crate) fn count(labels: Labels<'_>, event: Event) {
    metrics::counter!(counter_name(event), labels.to_metrics()).increment(1);
}

pub(crate) fn body_time(labels: Labels<'_>, took: Duration) {
    metrics::histogram!("cachify_miss_body_seconds", labels.to_metrics()).record(took);
}

pub(crate) fn wait_time(labels: Labels<'_>, slot: bool, waited: Duration) {
    let name = if slot {
        "cachify_pool_wait_seconds"
    } else {
        "cachify_lock_wait_seconds"
    };
    metrics::histogram!(name, labels.to_metrics()).record(waited);
}
