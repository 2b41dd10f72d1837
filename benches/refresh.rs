//! Latency of callers of a key that keeps expiring, with and without `refresh`, on memory
//! and on Redis (a `redis-server` this bench starts itself; skipped when none is
//! installed): 4 threads call a `#[cached]` function whose body takes 50 ms, with
//! `ttl = 1` (and `refresh = 0.5`), one call per millisecond each, for 4 s per case.
//! Prints p50, p99, p99.9 and the maximum of the callers' latencies, and how many calls
//! took the body's time or more. Without `refresh`, every
//! expiry makes the callers of that moment wait for the body; with it, a background
//! refresh replaces the value before it expires and every caller gets a hit.
//!
//! Run with `cargo bench --bench refresh`.

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod server;

use std::sync::{Arc, Barrier, LazyLock};
use std::time::{Duration, Instant};

use cachify::{cached, Cachify};

const BODY: Duration = Duration::from_millis(50);
const RUN: Duration = Duration::from_secs(4);
const THREADS: usize = 4;

static MEMORY: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().build());
static REDIS: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("bench-refresh:")
        .redis(&server::server().url())
        .expect("the bench server's URL is valid")
        .build()
});

#[cached(key = "plain", cachify = MEMORY, ttl = 1)]
fn memory_plain() -> u64 {
    std::thread::sleep(BODY);
    1
}

#[cached(key = "refreshed", cachify = MEMORY, ttl = 1, refresh = 0.5)]
fn memory_refreshed() -> u64 {
    std::thread::sleep(BODY);
    1
}

#[cached(key = "plain", cachify = REDIS, ttl = 1)]
fn redis_plain() -> u64 {
    std::thread::sleep(BODY);
    1
}

#[cached(key = "refreshed", cachify = REDIS, ttl = 1, refresh = 0.5)]
fn redis_refreshed() -> u64 {
    std::thread::sleep(BODY);
    1
}

/// Every caller's latency over [`RUN`].
fn latencies(call: fn() -> u64) -> Vec<Duration> {
    call();
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let end = Instant::now() + RUN;
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let start = Instant::now();
                    std::hint::black_box(call());
                    latencies.push(start.elapsed());
                    std::thread::sleep(Duration::from_millis(1));
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("bench thread"))
        .collect();
    all.sort_unstable();
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn report(case: &str, call: fn() -> u64) {
    let sorted = latencies(call);
    let slow = sorted.iter().filter(|latency| **latency >= BODY).count();
    println!(
        "{case:<24} {:>6} calls  p50 {:>9.1?}  p99 {:>9.1?}  p99.9 {:>9.1?}  max {:>9.1?}  calls >= body: {slow}",
        sorted.len(),
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        percentile(&sorted, 0.999),
        sorted[sorted.len() - 1],
    );
}

fn installed() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs benches with nothing to do.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    println!("{THREADS} threads, body {BODY:?}, ttl 1 s, refresh 0.5 s, {RUN:?} per case");
    report("memory, no refresh", memory_plain);
    report("memory, refresh = 0.5", memory_refreshed);
    if installed() {
        report("redis, no refresh", redis_plain);
        report("redis, refresh = 0.5", redis_refreshed);
    } else {
        println!("redis-server is not installed: Redis cases skipped");
    }
}
