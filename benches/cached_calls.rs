//! A fixed number of memory hits of `#[cached] fn(u64) -> u64`, for instruction counts.
//!
//! Criterion's timings move with the machine's load; an instruction count does not.
//! Run it twice under callgrind with different call counts and divide the difference
//! of the totals by the difference of the counts: the instructions of one hit.
//!
//! ```text
//! cargo bench --bench cached_calls --no-run
//! valgrind --tool=callgrind target/release/deps/cached_calls-* 100000
//! ```
//!
//! A second number sets how many keys the calls cycle through (default 1 024): with one
//! key every hit finds its entry in the L1 cache, which tells the time the instructions
//! take from the time spent waiting on memory.

use std::hint::black_box;

const KEYS: u64 = 1024;

#[cachify::cached(key = "square-{n}")]
fn cachify_square(n: u64) -> u64 {
    n * n
}

fn main() {
    // The first number on the command line; cargo adds `--bench`.
    let mut numbers = std::env::args().skip(1).filter_map(|arg| arg.parse().ok());
    let calls: u64 = numbers.next().unwrap_or(100_000);
    let keys: u64 = numbers.next().unwrap_or(KEYS).max(1);
    cachify::init_cachify();
    for n in 0..keys {
        cachify_square(n);
    }
    for i in 0..calls {
        black_box(cachify_square(black_box(i % keys)));
    }
}
