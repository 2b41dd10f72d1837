//! Pool acquire + release cycles on the memory backend: one thread, two threads sharing
//! one pool, async, and the traits' default (meta-locked) implementation on a minimal
//! client for comparison with the atomic override.
//!
//! `cargo bench --bench pool -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use cachify::{BackendError, Cachify, SyncClient};
use criterion::{criterion_group, criterion_main, Criterion};

/// Room for every thread: the benchmark measures admissions, not refusals.
const MAX_SIZE: usize = 4;

fn one_thread(c: &mut Criterion) {
    let cachify = Cachify::builder().build();
    let pool = cachify.pool("bench", MAX_SIZE);
    c.bench_function("pool/memory/acquire+release/1 thread", |b| {
        b.iter(|| pool.acquire().unwrap().release().unwrap())
    });
}

/// Two threads cycling on the same pool key; the figure is the wall time for both
/// threads to complete one cycle each.
fn two_threads(c: &mut Criterion) {
    let cachify = Cachify::builder().build();
    let pool = cachify.pool("bench", MAX_SIZE);
    c.bench_function("pool/memory/acquire+release/2 threads, one pool", |b| {
        b.iter_custom(|iters| {
            let start = Arc::new(Barrier::new(3));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, start) = (pool.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        for _ in 0..iters {
                            pool.acquire().unwrap().release().unwrap();
                        }
                    })
                })
                .collect();
            start.wait();
            let began = Instant::now();
            for worker in workers {
                worker.join().unwrap();
            }
            began.elapsed()
        })
    });
}

fn async_one_task(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cachify = Cachify::builder().build();
    let pool = cachify.pool("bench", MAX_SIZE);
    // `block_on` per cycle (a few tens of ns on a current-thread runtime) is included.
    c.bench_function("pool/memory/acquire_async+release_async/1 task", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let slot = pool.acquire_async().await.unwrap();
                slot.release_async().await.unwrap();
            })
        })
    });
}

/// A client with only `get` / `set` / `delete`: pools run on the default meta-locked
/// read-modify-write.
#[derive(Default)]
struct Minimal(Mutex<Entries>);

/// Value and deadline per key.
type Entries = HashMap<String, (Vec<u8>, Option<Instant>)>;

impl SyncClient for Minimal {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let map = self.0.lock().unwrap();
        let live = map
            .get(key)
            .filter(|(_, deadline)| deadline.is_none_or(|d| d > Instant::now()));
        Ok(live.map(|(value, _)| value.clone()))
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let mut map = self.0.lock().unwrap();
        let now = Instant::now();
        if nx
            && map
                .get(key)
                .is_some_and(|(_, deadline)| deadline.is_none_or(|d| d > now))
        {
            return Ok(false);
        }
        map.insert(key.to_owned(), (value.to_vec(), ttl.map(|ttl| now + ttl)));
        Ok(true)
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut map = self.0.lock().unwrap();
        Ok(keys
            .iter()
            .filter(|key| map.remove(**key).is_some())
            .count() as u64)
    }
}

fn default_implementation(c: &mut Criterion) {
    let cachify = Cachify::builder().sync_client(Minimal::default()).build();
    let pool = cachify.pool("bench", MAX_SIZE);
    c.bench_function(
        "pool/minimal client (default impl)/acquire+release/1 thread",
        |b| b.iter(|| pool.acquire().unwrap().release().unwrap()),
    );
}

criterion_group!(
    benches,
    one_thread,
    two_threads,
    async_one_task,
    default_implementation
);
criterion_main!(benches);
