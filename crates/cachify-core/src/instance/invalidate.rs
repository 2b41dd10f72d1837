//! Invalidation by pattern: deleting the cached values of an instance whose keys match a
//! Redis glob, sync and async, never its locks or pools.

use super::{Cachify, Layout, Operation};
use crate::error::Error;
use crate::glob;

impl Cachify {
    /// Deletes the cached values of this instance whose key (as the function's key
    /// template renders it, without the prefix) matches the Redis glob `pattern`;
    /// returns how many it deleted.
    ///
    /// `*` matches any text, `?` one byte, `[a-z]` / `[^a]` one byte of (or not of) a
    /// set, `\*` a literal `*` (see [`glob`]; [`glob::escape`] quotes a
    /// value). The prefix is put in front by cachify, escaped, so the keys of an instance
    /// whose prefix is not a prefix of this one's are never touched. Locks and pools of
    /// the instance are kept; so is a cached value whose key starts with `lock:` or
    /// `pool:` (stored where a lock or pool would be).
    ///
    /// Cost: the backend walks its whole keyspace, whatever the pattern: a `SCAN` of
    /// every key on Redis (of every master on a cluster) with an `UNLINK` per batch of
    /// matches. Other clients are served between batches. Values written while it runs
    /// may or may not be deleted. On a failure part-way (a node down, a timeout) the
    /// error is returned and some keys may already be deleted: call it again.
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
    /// # Ok::<(), cachify::Error>(())
    /// ```
    pub fn delete_matching(&self, pattern: &str) -> Result<u64, Error> {
        let (storage_pattern, except) = self.cache_pattern(pattern);
        let except: Vec<&str> = except.iter().map(String::as_str).collect();
        Ok(self
            .sync_client()
            .delete_matching(&storage_pattern, &except)?)
    }

    /// [`delete_matching`](Self::delete_matching) for async code, on the async client.
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
        let (storage_pattern, except) = self.cache_pattern(pattern);
        let except: Vec<&str> = except.iter().map(String::as_str).collect();
        Ok(self
            .async_client()
            .delete_matching(&storage_pattern, &except)
            .await?)
    }

    /// The pattern of storage keys for `pattern`, and the prefixes of this instance's
    /// lock and pool keys, which it must not delete. Under py-cachify's layout a cached
    /// value's key ends in `-cached` and locks and pools share the namespace, so the
    /// suffix, not a prefix, tells them apart.
    fn cache_pattern(&self, pattern: &str) -> (String, Vec<String>) {
        let mut storage_pattern = glob::escape(self.prefix()) + pattern;
        self.layout()
            .push_postfix(Operation::Cached, &mut storage_pattern);
        let except = match self.layout() {
            Layout::Cachify => vec![self.lock_key(""), self.pool_key("")],
            #[cfg(feature = "py-cachify")]
            Layout::PyCachify => Vec::new(),
        };
        (storage_pattern, except)
    }
}
