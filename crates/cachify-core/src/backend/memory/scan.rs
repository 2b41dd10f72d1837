//! Deleting by pattern in memory: a walk over the store's keys that takes no lock, each
//! matching key then removed under its own shard lock, so a scan of millions of keys
//! never holds up a reader and holds up a writer for one removal at a time.

use std::sync::Arc;

use crate::error::BackendError;
use crate::glob;

use super::store::Store;

/// Removes the live keys matching `pattern` that start with none of `except_prefixes`,
/// waking their waiters; returns how many.
pub(super) fn delete_matching(store: &Store, pattern: &str, except_prefixes: &[&str]) -> u64 {
    let mut deleted = 0;
    store.for_each_key(|key| {
        let excepted = except_prefixes.iter().any(|prefix| key.starts_with(prefix));
        if excepted || !glob::matches(pattern, key) {
            return;
        }
        if store.write(key, |shard, now| shard.remove(key, now)) {
            deleted += 1;
            store.hub.notify(key);
        }
    });
    deleted
}

/// [`delete_matching`] on tokio's blocking pool when called from a tokio runtime, so a
/// scan of a big store does not hold up the caller's executor thread; inline elsewhere.
/// The scan runs to its end even if the caller stops waiting for it.
pub(super) async fn delete_matching_async(
    store: &Arc<Store>,
    pattern: &str,
    except_prefixes: &[&str],
) -> Result<u64, BackendError> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(delete_matching(store, pattern, except_prefixes));
    };
    let store = Arc::clone(store);
    let pattern = pattern.to_owned();
    let except_prefixes: Vec<String> = except_prefixes.iter().map(|&p| p.to_owned()).collect();
    runtime
        .spawn_blocking(move || {
            let except_prefixes: Vec<&str> = except_prefixes.iter().map(String::as_str).collect();
            delete_matching(&store, &pattern, &except_prefixes)
        })
        .await
        .map_err(|error| BackendError::new(format!("the pattern deletion failed: {error}")))
}
