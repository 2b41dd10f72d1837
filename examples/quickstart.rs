//! cachify in one minute, on the in-memory backend: cache a function, run a critical
//! section under a lock, skip overlapping runs, and cap concurrency with a pool.
//!
//! Run with `cargo run --example quickstart`.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachify::{cached, once, pooled, Error};

static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

/// An expensive computation, cached for five minutes per pair of arguments.
#[cached(key = "sum-{a}-{b}", ttl = 300)]
fn slow_sum(a: u64, b: u64) -> u64 {
    SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
    a + b
}

/// A nightly job: a run that starts while another is going is skipped.
#[once(key = "nightly-report", return_on_locked = "skipped: already running")]
fn nightly_report() -> &'static str {
    // While this run holds the key, a second call is skipped.
    nested_report_attempt()
}

fn nested_report_attempt() -> &'static str {
    println!(
        "  inside the job, a second start says: {}",
        nightly_report()
    );
    "report sent"
}

/// At most two concurrent calls per user to a slow upstream; the rest fail fast.
#[pooled(key = "upstream-{user}", max_size = 2, raise_on_full = true)]
async fn call_upstream(user: u32) -> Result<String, Error> {
    Ok(format!("data for user {user}"))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    cachify::init_cachify();

    println!("== #[cached]");
    println!("slow_sum(2, 3) = {} (computed)", slow_sum(2, 3));
    println!("slow_sum(2, 3) = {} (from the cache)", slow_sum(2, 3));
    slow_sum::reset(2, 3)?;
    println!(
        "slow_sum(2, 3) = {} (computed again after reset)",
        slow_sum(2, 3)
    );
    println!("the body ran {} times", SLOW_CALLS.load(Ordering::SeqCst));

    println!("== locks");
    let guard = cachify::lock("invoice-42").acquire()?;
    println!(
        "holding invoice-42; locked: {}",
        cachify::lock("invoice-42").is_locked()?
    );
    match cachify::lock("invoice-42").acquire() {
        Err(error) => println!("a second acquire fails: {error}"),
        Ok(_) => unreachable!("the lock is held"),
    }
    drop(guard);
    println!(
        "released; locked: {}",
        cachify::lock("invoice-42").is_locked()?
    );

    println!("== #[once]");
    println!("nightly_report() = {}", nightly_report());

    println!("== pools");
    let first = cachify::pool("upstream-7", 2).acquire_async().await?;
    let second = cachify::pool("upstream-7", 2).acquire_async().await?;
    println!(
        "two slots taken, size = {}",
        cachify::pool("upstream-7", 2).size_async().await?
    );
    match call_upstream(7).await {
        Err(error) => println!("a third caller is refused: {error}"),
        Ok(_) => unreachable!("the pool is full"),
    }
    // Dropping a slot also frees it (in the background); releasing awaits it.
    first.release_async().await?;
    second.release_async().await?;
    println!("after release: {}", call_upstream(7).await?);
    Ok(())
}
