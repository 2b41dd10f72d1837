//! A memory-backend hit of `#[cached] fn(u64) -> u64`, on one thread and on two, side by
//! side with the `cached` crate's `#[cached]` on the same function.
//!
//! Each iteration is one call per thread on a warm key (keys cycle through 1 024 values
//! so the hit path is not one hot map slot). The two-thread cases report throughput in
//! calls per second across both threads; compare it with the one-thread case to read
//! the scaling. A last case has both threads hit one and the same key, where a store
//! that writes shared memory on reads (a lock's reader count) would stop scaling.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const KEYS: u64 = 1024;

#[cachify::cached(key = "square-{n}")]
fn cachify_square(n: u64) -> u64 {
    n * n
}

#[cached::proc_macro::cached]
fn cached_square(n: u64) -> u64 {
    n * n
}

/// Which keys the threads hit.
#[derive(Clone, Copy)]
enum Keys {
    /// Each thread cycles through the warm keys, from its own offset.
    Spread,
    /// Every call hits the same key.
    One,
}

/// Runs `iters` calls of `call` on each of `threads` threads; the wall time.
fn on_threads(threads: usize, iters: u64, call: fn(u64) -> u64, keys: Keys) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for i in 0..iters {
                    let n = match keys {
                        Keys::Spread => (i + t as u64 * 512) % KEYS,
                        Keys::One => 7,
                    };
                    black_box(call(black_box(n)));
                }
                start.elapsed()
            })
        })
        .collect();
    barrier.wait();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

/// The function under test, cached by one library or the other.
type Square = fn(u64) -> u64;

fn memory_hit(c: &mut Criterion) {
    cachify::init_cachify();
    for n in 0..KEYS {
        cachify_square(n);
        cached_square(n);
    }
    let mut group = c.benchmark_group("memory hit fn(u64) -> u64");
    let cases: [(&str, Square); 2] = [("cachify", cachify_square), ("cached crate", cached_square)];
    for (name, call) in cases {
        let runs = [
            (1usize, Keys::Spread, "1 thread"),
            (2, Keys::Spread, "2 threads"),
            (2, Keys::One, "2 threads, one key"),
        ];
        for (threads, keys, label) in runs {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter_custom(|iters| on_threads(threads, iters, call, keys))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, memory_hit);
criterion_main!(benches);
