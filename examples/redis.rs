//! Caching values and guarding work with the Redis backend.
//!
//! Run against any Redis (or Valkey, DragonflyDB):
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example redis`
//! (default `redis://127.0.0.1:6379`).

use std::time::Duration;

use cachify::{Cachify, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // One client for both sides; nothing connects until the first command.
    let cachify = Cachify::builder().redis(&url)?.prefix("EXAMPLE-").build();

    // The async side, from this runtime...
    let key = cachify.cache_key("greeting");
    cachify
        .async_client()
        .set(
            &key,
            b"hello from redis",
            Some(Duration::from_secs(60)),
            false,
        )
        .await?;

    // ...and the sync side, from a plain thread, see the same entry.
    let sync = cachify.clone();
    let seen =
        tokio::task::spawn_blocking(move || sync.sync_client().get(&sync.cache_key("greeting")))
            .await
            .expect("the blocking task ran")?;
    println!(
        "cached: {}",
        String::from_utf8_lossy(&seen.unwrap_or_default())
    );

    // The lock primitive underneath `#[lock]`: set-if-absent with an expiry, and a
    // release that deletes only our own token (one Lua script) and wakes waiters.
    let lock = cachify.lock_key("nightly-report");
    let client = cachify.async_client();
    let token = b"worker-1";
    if client
        .set(&lock, token, Some(Duration::from_secs(30)), true)
        .await?
    {
        println!(
            "lock taken; remaining {:?}",
            client.remaining_ttl(&lock).await?
        );
        client.delete_if_equals(&lock, token).await?;
        println!("lock released");
    } else {
        println!("someone else holds the lock");
    }

    // The pool primitive underneath `#[pooled]`: at most 2 slots, each expiring.
    let pool = cachify.pool_key("api");
    let slot = Some(Duration::from_secs(600));
    let first = client.pool_acquire(&pool, "a", 2, slot).await?;
    let second = client.pool_acquire(&pool, "b", 2, slot).await?;
    let third = client.pool_acquire(&pool, "c", 2, slot).await?;
    println!(
        "admitted: {first} {second} {third}; size {}",
        client.pool_size(&pool).await?
    );
    client.pool_release(&pool, "a").await?;
    client.pool_release(&pool, "b").await?;
    Ok(())
}
