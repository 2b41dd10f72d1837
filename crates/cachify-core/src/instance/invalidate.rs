//! Invalidation by pattern: deleting the cached values of an instance whose keys match a
//! Redis glob, sync and async, never a lock or a pool of any instance.
//!
//! The rule that keeps locks and pools safe: every lock, fencing counter and pool key
//! of a [`Layout::Cachify`] instance holds `lock:` or `pool:` right after its prefix, and
//! instances may share a store with nested prefixes (`APP-` and `APP-B-`), so a key is
//! never deleted by pattern if it contains `lock:` or `pool:` *anywhere*. Under
//! py-cachify's layout a deleted key must also end in `-cached`, which its cached values
//! alone do.

use super::{Cachify, Layout, Operation};
use crate::error::Error;
use crate::glob::{self, KeySelection};

/// What no key deleted by pattern contains: the namespaces of locks and pools.
const PROTECTED: &[&str] = &["lock:", "pool:"];

impl Cachify {
    /// Deletes the cached values of this instance whose key (as the function's key
    /// template renders it, without the prefix) matches the Redis glob `pattern`;
    /// returns how many it deleted.
    ///
    /// `*` matches any text, `?` one byte, `[a-z]` / `[^a]` one byte of (or not of) a
    /// set, `\*` a literal `*` (see [`glob`]; [`glob::escape`] quotes a value). A
    /// pattern with an unclosed `[` or a lone trailing `\` is refused with
    /// [`Error::InvalidOption`]. The prefix is put in front by cachify, escaped, so only
    /// keys starting with this prefix are candidates: the cached values of an instance
    /// whose prefix extends this one (`APP-B-` under `APP-`) are too.
    ///
    /// Never deleted, whatever the pattern: a key containing `lock:` or `pool:` anywhere
    /// (every lock, fencing counter and pool of every instance of cachify's layout, and
    /// a cached value whose key holds that text); under
    /// [`Layout::PyCachify`](super::Layout) a key that does not end in `-cached`. A lock
    /// or pool taken through the handles of a `Layout::PyCachify` instance (py-cachify's
    /// `lock(key)`, keyed `{prefix}{key}`) carries no such mark: keep that instance's
    /// prefix apart from the prefixes of the instances that delete by pattern.
    ///
    /// An instance with an empty prefix is refused ([`Error::InvalidOption`]): its `*`
    /// would be every key of the database. Call
    /// [`SyncClient::delete_matching`](crate::SyncClient::delete_matching) with a
    /// [`KeySelection`] of your own to take that decision explicitly.
    ///
    /// Cost: the backend walks its whole keyspace, whatever the pattern: a `SCAN` of
    /// every key on Redis (of every master on a cluster) with an `UNLINK` per batch of
    /// matches (per hash slot on a cluster). Other clients are served between batches.
    /// Values written while it runs may or may not be deleted; a call of the function
    /// that was computing while it ran stores its value afterwards. On a failure
    /// part-way (a node down, a timeout, a resharding) the error is returned and some
    /// keys may already be deleted: call it again.
    ///
    /// A custom backend that does not implement
    /// [`SyncClient::delete_matching`](crate::SyncClient::delete_matching) fails with a
    /// [`BackendError`](crate::BackendError).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().prefix("APP-").build();
    /// for key in ["user-7-name", "user-7-mail", "user-70-name"] {
    ///     cachify.sync_client().set(&cachify.cache_key(key), b"v", None, false)?;
    /// }
    /// let _guard = cachify.lock("user-7-job").acquire()?;
    /// assert_eq!(cachify.delete_matching("user-7-*")?, 2);
    /// assert!(cachify.lock("user-7-job").is_locked()?, "locks are not cached values");
    /// assert_eq!(cachify.delete_matching("*")?, 1, "user-70-name");
    /// assert!(cachify.delete_matching("user-[7").is_err(), "an unclosed set");
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn delete_matching(&self, pattern: &str) -> Result<u64, Error> {
        let storage_pattern = self.cache_pattern(pattern)?;
        let selection = self.selection(&storage_pattern);
        let deleted = self.sync_client().delete_matching(&selection);
        self.wrote_many();
        Ok(deleted?)
    }

    /// [`delete_matching`](Self::delete_matching) for async code, on the async client.
    ///
    /// Dropping the future part-way leaves a partial deletion: on Redis the batches
    /// already unlinked stay deleted and the rest are not; in memory the scan runs to
    /// its end on tokio's blocking pool.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cachify::Error> {
    /// let cachify = cachify::Cachify::builder().build();
    /// cachify.async_client().set(&cachify.cache_key("report-2024"), b"v", None, false).await?;
    /// assert_eq!(cachify.delete_matching_async("report-*").await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_matching_async(&self, pattern: &str) -> Result<u64, Error> {
        let storage_pattern = self.cache_pattern(pattern)?;
        let selection = self.selection(&storage_pattern);
        let _flush = self.wrote_many_on_drop();
        Ok(self.async_client().delete_matching(&selection).await?)
    }

    /// The glob of storage keys for `pattern`: the prefix escaped, the pattern, and the
    /// layout's postfix. Refuses a pattern whose last token is incomplete (the postfix
    /// would join it), and a prefix that selects too much or nothing.
    fn cache_pattern(&self, pattern: &str) -> Result<String, Error> {
        let invalid = |option, reason| Error::InvalidOption { option, reason };
        glob::check(pattern).map_err(|reason| invalid("pattern", reason))?;
        let prefix = self.prefix();
        if prefix.is_empty() {
            return Err(invalid(
                "prefix",
                "deleting by pattern needs a prefix: without one, `*` is every key of the store",
            ));
        }
        if PROTECTED.iter().any(|marker| prefix.contains(marker)) {
            return Err(invalid(
                "prefix",
                "deleting by pattern never deletes a key containing `lock:` or `pool:`, and this prefix does",
            ));
        }
        let mut storage_pattern = glob::escape(prefix) + pattern;
        self.layout()
            .push_postfix(Operation::Cached, &mut storage_pattern);
        Ok(storage_pattern)
    }

    /// The keys of `storage_pattern` that are cached values.
    fn selection<'a>(&self, storage_pattern: &'a str) -> KeySelection<'a> {
        let selection = KeySelection::new(storage_pattern).protecting(PROTECTED);
        match self.layout() {
            Layout::Cachify => selection,
            #[cfg(feature = "py-cachify")]
            Layout::PyCachify => selection.ending_with(Operation::Cached.postfix()),
        }
    }
}
