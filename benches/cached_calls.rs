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

use std::hint::black_box;

const KEYS: u64 = 1024;

#[cachify::cached(key = "square-{n}")]
fn cachify_square(n: u64) -> u64 {
    n * n
}

fn main() {
    // The first number on the command line; cargo adds `--bench`.
    let calls: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(100_000);
    cachify::init_cachify();
    for n in 0..KEYS {
        cachify_square(n);
    }
    for i in 0..calls {
        black_box(cachify_square(black_box(i % KEYS)));
    }
}
