//! Two stacked `#[cached]` layers: a short-lived local instance over the global one
//! (which would be Redis in production). `reset` clears both.
//!
//! Run with `cargo run --example multi_layer`.

use std::sync::LazyLock;
use std::time::Duration;

use cachify::{cached, Cachify};

static LOCAL: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("L1-")
        .default_cache_ttl(Duration::from_secs(5))
        .build()
});

#[cached(key = "l1-user-{user_id}", cachify = LOCAL)]
#[cached(key = "l2-user-{user_id}", ttl = 300)]
async fn get_user(user_id: u64) -> String {
    println!("  fetching user {user_id} from the database");
    format!("user {user_id}")
}

#[tokio::main]
async fn main() -> Result<(), cachify::Error> {
    let global = cachify::init_cachify();

    println!("{}", get_user(42).await);
    println!("{} (outer layer)", get_user(42).await);

    // The outer layer forgets (its 5 s ttl would do the same): the inner one answers.
    LOCAL
        .async_client()
        .delete(&[&LOCAL.cache_key("l1-user-42")])
        .await?;
    println!("{} (inner layer)", get_user(42).await);

    get_user::reset(42).await?;
    let inner = global
        .async_client()
        .get(&global.cache_key("l2-user-42"))
        .await?;
    println!("after reset, inner layer holds: {inner:?}");
    println!("{} (fetched again)", get_user(42).await);
    Ok(())
}
