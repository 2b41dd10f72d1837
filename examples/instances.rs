//! Several instances side by side: the global one and independent ones with their own
//! prefix and default ttl. Same key templates, no interference: py-cachify's
//! "Multiple instances and isolation".
//!
//! Run with `cargo run --example instances`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use cachify::{cached, Cachify, MemoryClient, SyncClient};

/// One memory store shared by the two subsystem instances: only their prefixes keep
/// their entries apart (the global instance has a store of its own).
static SHARED: LazyLock<MemoryClient> = LazyLock::new(MemoryClient::new);

/// Users change rarely: cache them until reset.
static USERS: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("USER-")
        .sync_client(SHARED.clone())
        .async_client(SHARED.clone())
        .build()
});

/// Metrics go stale fast: 200 ms unless a function says otherwise.
static METRICS: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("METRICS-")
        .default_cache_ttl(Duration::from_millis(200))
        .sync_client(SHARED.clone())
        .async_client(SHARED.clone())
        .build()
});

static CALLS: AtomicU32 = AtomicU32::new(0);

fn computed(what: &str) -> u32 {
    let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    println!("  computing {what} (call #{n})");
    n
}

// Three functions, one key template ("item-{id}"), three instances.
#[cached(key = "item-{id}")]
fn global_item(id: u32) -> u32 {
    computed(&format!("global item {id}"))
}

#[cached(key = "item-{id}", cachify = USERS)]
fn user_item(id: u32) -> u32 {
    computed(&format!("user item {id}"))
}

#[cached(key = "item-{id}", cachify = METRICS)]
fn metric_item(id: u32) -> u32 {
    computed(&format!("metric item {id}"))
}

fn main() -> Result<(), cachify::Error> {
    let global = Cachify::builder().prefix("GLOBAL-").init();

    println!("first calls: each instance computes its own value");
    let first = (global_item(1), user_item(1), metric_item(1));
    println!(
        "  -> global {}, user {}, metric {}",
        first.0, first.1, first.2
    );

    println!("second calls: all three are hits");
    let second = (global_item(1), user_item(1), metric_item(1));
    println!(
        "  -> global {}, user {}, metric {}",
        second.0, second.1, second.2
    );
    assert_eq!(first, second);

    println!("storage keys of \"item-1\":");
    for cachify in [&global, &*USERS, &*METRICS] {
        let key = cachify.cache_key("item-1");
        let stored = cachify.sync_client().get(&key)?.is_some();
        println!("  {key:<16} stored: {stored}");
    }

    println!("resetting the user entry leaves the others alone");
    user_item::reset(1)?;
    let users_key = USERS.cache_key("item-1");
    let metrics_key = METRICS.cache_key("item-1");
    println!(
        "  in the shared store: {users_key} {}, {metrics_key} {}",
        presence(SHARED.get(&users_key)?),
        presence(SHARED.get(&metrics_key)?),
    );
    println!("  -> user {} (recomputed)", user_item(1));
    println!("  -> global {} (still cached)", global_item(1));

    println!("after 300 ms the metric (default ttl 200 ms) expired, the rest did not");
    std::thread::sleep(Duration::from_millis(300));
    println!("  -> metric {} (recomputed)", metric_item(1));
    println!("  -> user {} (no default ttl: still cached)", user_item(1));

    println!("locks are per instance too");
    let _job = USERS.lock("nightly-job").acquire()?;
    println!(
        "  USER- holds nightly-job; METRICS- nightly-job locked: {}, USER- nightly-job locked: {}",
        METRICS.lock("nightly-job").is_locked()?,
        USERS.lock("nightly-job").is_locked()?,
    );
    println!("{} computations in all", CALLS.load(Ordering::Relaxed));
    Ok(())
}

fn presence(value: Option<Vec<u8>>) -> &'static str {
    if value.is_some() {
        "present"
    } else {
        "absent"
    }
}
