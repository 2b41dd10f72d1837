//! `#[once]` on a background job: a scheduler fires every 100 ms, a run takes 250 ms, and
//! runs that would overlap the one in progress are skipped instead of piling up.
//!
//! Run with `cargo run --example once`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cachify::once;

static RUNS: AtomicU32 = AtomicU32::new(0);

/// Returns whether this call did the work (`false`: skipped, a run was in progress).
#[once(key = "sync-inventory", return_on_locked = false)]
async fn sync_inventory(tick: u32) -> bool {
    let run = RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    println!("tick {tick}: run #{run} started");
    tokio::time::sleep(Duration::from_millis(250)).await; // the actual job
    println!("tick {tick}: run #{run} finished");
    true
}

#[tokio::main]
async fn main() {
    cachify::init_cachify();

    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut jobs = Vec::new();
    for tick in 1..=10 {
        ticks.tick().await;
        jobs.push(tokio::spawn(sync_inventory(tick)));
    }
    let mut skipped = 0;
    for job in jobs {
        if !job.await.expect("job panicked") {
            skipped += 1;
        }
    }
    println!(
        "10 ticks: {} runs, {skipped} skipped because a run was in progress",
        RUNS.load(Ordering::SeqCst)
    );
}
