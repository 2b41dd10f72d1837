//! Deleting by pattern in memory: a walk over the store's keys that takes no lock and
//! only collects the selected ones, then each removed under its own shard lock, so a
//! scan of millions of keys never holds up a reader and holds up a writer for one
//! removal at a time.

use std::sync::Arc;

use crate::error::BackendError;
use crate::glob::KeySelection;

use super::store::Store;

/// Removes the live keys that `selection` selects, waking their waiters; returns how
/// many.
///
/// The walk pins the map (nothing it retires meanwhile can be freed) only while it
/// reads; the removals run after it, unpinned between keys. The cost is the selected
/// keys' copies, held until they are removed.
pub(super) fn delete_matching(store: &Store, selection: &KeySelection<'_>) -> u64 {
    let mut selected = Vec::new();
    store.for_each_key(|key| {
        if selection.selects(key.as_bytes()) {
            selected.push(key.to_owned());
        }
    });
    let mut deleted = 0;
    for key in selected {
        if store.write(&key, |writing, now| writing.remove(&key, now)) {
            deleted += 1;
            store.hub.notify(&key);
        }
    }
    deleted
}

/// [`delete_matching`] on tokio's blocking pool when called from a tokio runtime, so a
/// scan of a big store does not hold up the caller's executor thread; inline elsewhere.
/// The scan runs to its end even if the caller stops waiting for it.
pub(super) async fn delete_matching_async(
    store: &Arc<Store>,
    selection: &KeySelection<'_>,
) -> Result<u64, BackendError> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(delete_matching(store, selection));
    };
    let store = Arc::clone(store);
    let (pattern, suffix, protected) = selection.parts();
    let (pattern, suffix) = (pattern.to_owned(), suffix.to_owned());
    let protected: Vec<String> = protected.iter().map(|&marker| marker.to_owned()).collect();
    runtime
        .spawn_blocking(move || {
            let protected: Vec<&str> = protected.iter().map(String::as_str).collect();
            let selection = KeySelection::new(&pattern)
                .ending_with(&suffix)
                .protecting(&protected);
            delete_matching(&store, &selection)
        })
        .await
        .map_err(|error| BackendError::new(format!("the pattern deletion failed: {error}")))
}
