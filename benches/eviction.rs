//! A bounded memory store beside moka, on the same trace at the same capacity, in one run.
//!
//! - **Hit ratio**: a Zipf(0.9) trace of 1 M requests over 100 k keys (seeded, so every
//!   run replays the same one), at a capacity of 10 k entries. Each request reads its key
//!   and stores it on a miss, as `#[cached]` does. Both ratios are printed, then the time
//!   of one replay is measured for each.
//! - **Hit latency**: one read of a warm key on an unbounded store and on a bounded one
//!   (whose reads mark the entry for the eviction hand).
//! - **Resident memory under a flood**: 1 M distinct keys written into a store bounded to
//!   10 k entries; the process's resident set (`/proc/self/statm`) is printed as it goes.

use std::hint::black_box;
use std::time::Duration;

use cachify::{MemoryCapacity, MemoryClient, SyncClient};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Zipf};

const KEYS: usize = 100_000;
const REQUESTS: usize = 1_000_000;
const CAPACITY: usize = 10_000;
const SEED: u64 = 0x5EED_CAC4E;

/// The keys, and the trace as indices into them.
struct Trace {
    keys: Vec<String>,
    requests: Vec<u32>,
}

impl Trace {
    fn zipf() -> Self {
        let zipf = Zipf::new(KEYS as f64, 0.9).expect("valid Zipf parameters");
        let mut rng = StdRng::seed_from_u64(SEED);
        // Ranks 1..=KEYS; rank 1 is the most popular key.
        let requests = (0..REQUESTS)
            .map(|_| zipf.sample(&mut rng) as u32 - 1)
            .collect();
        let keys = (0..KEYS).map(|rank| format!("user:{rank}")).collect();
        Self { keys, requests }
    }

    fn requests(&self) -> impl Iterator<Item = &str> {
        self.requests
            .iter()
            .map(|&rank| self.keys[rank as usize].as_str())
    }
}

fn bounded_store(max_entries: usize) -> MemoryClient {
    MemoryClient::with_capacity(MemoryCapacity::unbounded().max_entries(max_entries))
        .expect("a valid capacity")
}

/// Replays `trace` on a fresh cachify store; the hits.
fn replay_cachify(trace: &Trace) -> usize {
    let store = bounded_store(CAPACITY);
    let mut buf = Vec::new();
    let mut hits = 0;
    for key in trace.requests() {
        if store.get_into(key, &mut buf).expect("memory never fails") {
            hits += 1;
        } else {
            store
                .set(key, b"value", None, false)
                .expect("memory never fails");
        }
    }
    hits
}

/// Replays `trace` on a fresh moka cache; the hits.
fn replay_moka(trace: &Trace) -> usize {
    let cache: moka::sync::Cache<String, Vec<u8>> = moka::sync::Cache::new(CAPACITY as u64);
    let mut hits = 0;
    for key in trace.requests() {
        if cache.get(key).is_some() {
            hits += 1;
        } else {
            cache.insert(key.to_owned(), b"value".to_vec());
        }
    }
    hits
}

fn hit_ratio(c: &mut Criterion) {
    let trace = Trace::zipf();
    let ratio = |hits: usize| 100.0 * hits as f64 / REQUESTS as f64;
    println!(
        "zipf(0.9), {REQUESTS} requests over {KEYS} keys, capacity {CAPACITY}: \
         hit ratio cachify {:.2} %, moka {:.2} %",
        ratio(replay_cachify(&trace)),
        ratio(replay_moka(&trace)),
    );
    let mut group = c.benchmark_group("zipf replay");
    group.sample_size(10);
    group.bench_function("cachify", |b| b.iter(|| black_box(replay_cachify(&trace))));
    group.bench_function("moka", |b| b.iter(|| black_box(replay_moka(&trace))));
    group.finish();
}

fn hit_latency(c: &mut Criterion) {
    let unbounded = MemoryClient::with_capacity(MemoryCapacity::unbounded()).expect("valid");
    let bounded = bounded_store(CAPACITY);
    let keys: Vec<String> = (0..1024).map(|n| format!("square-{n}")).collect();
    for store in [&unbounded, &bounded] {
        for key in &keys {
            store
                .set(key, &[0; 8], None, false)
                .expect("memory never fails");
        }
    }
    let mut group = c.benchmark_group("store hit");
    for (name, store) in [("unbounded", &unbounded), ("bounded", &bounded)] {
        let mut buf = Vec::new();
        let mut n = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                n = (n + 1) % keys.len();
                black_box(
                    store
                        .get_into(&keys[n], &mut buf)
                        .expect("memory never fails"),
                )
            })
        });
    }
    group.finish();
}

/// The resident set size of this process, in MiB.
fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .unwrap_or(f64::NAN);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn flood_resident_memory(_: &mut Criterion) {
    let store = bounded_store(CAPACITY);
    let mut report = Vec::new();
    for i in 0..1_000_000 {
        store
            .set(&format!("flood-{i}"), &[0; 100], None, false)
            .expect("memory never fails");
        if (i + 1) % 200_000 == 0 {
            report.push(format!(
                "{}k keys: {} entries, RSS {:.1} MiB",
                (i + 1) / 1000,
                store.len(),
                resident_mib()
            ));
        }
    }
    println!(
        "flood of 1M distinct keys (100-byte values) at capacity {CAPACITY}: {}",
        report.join("; ")
    );
    drop(store);

    // What one entry costs: the growth of an unbounded store of 1 M of them.
    let before = resident_mib();
    let unbounded = MemoryClient::with_capacity(MemoryCapacity::unbounded()).expect("valid");
    for i in 0..1_000_000 {
        let key = format!("entry-{i:07}");
        unbounded
            .set(&key, &[0; 100], None, false)
            .expect("memory never fails");
    }
    let per_entry = (resident_mib() - before) * 1024.0 * 1024.0 / 1e6;
    println!("unbounded store of 1M entries (13-byte keys, 100-byte values): {per_entry:.0} bytes resident per entry");
    let bounded = bounded_store(2_000_000);
    let before = resident_mib();
    for i in 0..1_000_000 {
        let key = format!("entry-{i:07}");
        bounded
            .set(&key, &[0; 100], None, false)
            .expect("memory never fails");
    }
    let per_entry = (resident_mib() - before) * 1024.0 * 1024.0 / 1e6;
    println!("bounded store (capacity 2M) of the same 1M entries: {per_entry:.0} bytes resident per entry");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = hit_ratio, hit_latency, flood_resident_memory
}
criterion_main!(benches);
