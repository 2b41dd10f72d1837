//! cachify's `tracing` events, printed by a `tracing-subscriber` fmt layer: a cache miss
//! and hit, a single-flight wait, a lock refused and handed off, a full pool.
//!
//! Every event has the target `cachify` and the fields `key` and `prefix`; this program
//! shows the `debug` ones. Run with `cargo run --example tracing`. In an application,
//! `tracing_subscriber::EnvFilter` and `RUST_LOG=cachify=debug` do the same filtering.

use std::io::IsTerminal;
use std::time::Duration;

use cachify::{cached, Cachify};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

#[cached(key = "square-{n}")]
fn square(n: u64) -> u64 {
    n * n
}

#[cached(key = "slow-square-{n}")]
async fn slow_square(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(50)).await;
    n * n
}

// One thread: a spawned task runs exactly when the main task yields, which makes the
// lock hand-off below happen in the same order on every run.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cachify::Error> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_ansi(std::io::stdout().is_terminal()),
        )
        .with(Targets::new().with_target("cachify", LevelFilter::DEBUG))
        .init();
    let cachify = Cachify::builder().prefix("DEMO-").init();

    println!("-- a miss, then a hit");
    square(4);
    square(4);

    println!("-- two concurrent misses: the second waits for the first");
    let (a, b) = tokio::join!(slow_square(3), slow_square(3));
    assert_eq!((a, b), (9, 9));

    println!("-- a lock: refused, then handed off to a waiter");
    let holder = cachify.lock("report").acquire_async().await?;
    let refused = cachify.lock("report").acquire_async().await;
    assert!(refused.is_err());
    let waiting = cachify
        .lock("report")
        .nowait(false)
        .timeout(Duration::from_secs(5));
    let waiter = tokio::spawn(async move { waiting.acquire_async().await?.release_async().await });
    // Let the waiter try once and start waiting, then release: the release wakes it.
    tokio::task::yield_now().await;
    holder.release_async().await?;
    waiter.await.expect("the waiter ran")?;

    println!("-- a full pool");
    let pool = cachify.pool("exports", 1);
    let _slot = pool.acquire_async().await?;
    let full = pool.acquire_async().await;
    assert!(full.is_err());
    Ok(())
}
