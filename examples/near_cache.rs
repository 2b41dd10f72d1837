//! A near cache in front of Redis: hits served from the process, kept coherent by the
//! server.
//!
//! Two instances share one Redis: `NEAR` keeps a near cache (this process's view), and
//! `OTHER` stands for another process of the fleet writing to the same keys.
//!
//! Run against any Redis 6 or later:
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example near_cache`
//! (default `redis://127.0.0.1:6379`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachify::{cached, Cachify, NearCache};
use serde::{Deserialize, Serialize};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// This process: decoded values kept in memory, at most 10 000 of them.
static NEAR: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("NEAR-EXAMPLE-")
        .redis(&redis_url())
        .and_then(|builder| builder.near_cache(NearCache::new().max_entries(10_000)))
        .expect("a valid Redis URL")
        .build()
});

/// Another process of the fleet, on the same keys.
static OTHER: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("NEAR-EXAMPLE-")
        .redis(&redis_url())
        .expect("a valid Redis URL")
        .build()
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Price {
    sku: u32,
    cents: u64,
}

static LOOKUPS: AtomicU32 = AtomicU32::new(0);

/// The slow source of truth: every call is a lookup.
fn look_up(sku: u32) -> Price {
    let n = LOOKUPS.fetch_add(1, Ordering::Relaxed) + 1;
    Price {
        sku,
        cents: 1_000 + u64::from(n),
    }
}

#[cached(key = "price-{sku}", ttl = 300, cachify = NEAR)]
fn price(sku: u32) -> Price {
    look_up(sku)
}

#[cached(key = "price-{sku}", ttl = 300, cachify = OTHER)]
fn price_elsewhere(sku: u32) -> Price {
    look_up(sku)
}

fn main() -> Result<(), cachify::Error> {
    // Tracking connects in the background; until it is up, reads go to Redis.
    wait_until("tracking is up", || {
        NEAR.near_cache_status()
            .is_some_and(|status| status.tracking)
    });
    price::reset(7)?;

    // A miss: computed and stored in Redis.
    let first = price(7);
    // The next call reads it from Redis and keeps it near; then calls are served from
    // the process (once the server's report of this process's own store has come by).
    wait_until("a near hit", || {
        price(7) == first && NEAR.stats().near_hits > 0
    });
    let near = price(7);
    assert_eq!(near, first);
    println!(
        "price(7) = {} cents, lookups: {}",
        near.cents,
        LOOKUPS.load(Ordering::Relaxed)
    );
    println!("served from the process: {}", NEAR.stats().near_hits > 0);

    // Another process resets the key: the server tells this one, which drops its copy.
    price_elsewhere::reset(7)?;
    wait_until("the invalidation arrives", || price(7) != near);
    println!(
        "after another process's reset: {} cents, lookups: {}",
        price(7).cents,
        LOOKUPS.load(Ordering::Relaxed)
    );

    let status = NEAR.near_cache_status().expect("a near cache");
    println!(
        "near cache: tracking={} entries={}",
        status.tracking, status.entries
    );
    price::reset(7)?;
    Ok(())
}

/// Polls `done` for up to five seconds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
