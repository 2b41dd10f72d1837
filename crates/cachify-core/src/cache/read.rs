//! Reading a key's cached value for a lookup: from the decoded store when the instance
//! has one (its memory backend's entries, or its near cache in front of Redis), else as
//! bytes from the backend.
//!
//! A decoded store hands out clones of the value decoded by the entry's first typed read
//! ([`Keep`]); a near cache that lacks the value reads it through, with its remaining
//! lifetime, and keeps it unless an invalidation overtook the read
//! ([`Near::fill`](crate::near::Near)).

#[cfg(feature = "redis")]
use std::time::Instant;

use super::keep::Keep;
use super::stamp;
use super::value::ValueCodec;
use crate::backend::MemoryClient;
use crate::error::BackendError;
use crate::instance::{Cachify, DecodedStore};
#[cfg(feature = "redis")]
use crate::near::{Near, ValueWithTtl};
use crate::stats::{Event, Tally};

/// One lookup's read of one key.
pub(super) struct Read<'a, C, K> {
    pub(super) tally: Tally<'a>,
    pub(super) cachify: &'a Cachify,
    pub(super) key: &'a str,
    pub(super) codec: &'a C,
    pub(super) keep: &'a K,
}

impl<C, K> Read<'_, C, K> {
    /// The value, from a sync caller (`buf` takes the bytes read from a backend);
    /// `on_hit` gets the stored bytes of a value found.
    #[inline]
    pub(super) fn sync<V>(&self, buf: &mut Vec<u8>, on_hit: impl FnOnce(&[u8])) -> Option<V>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        match self.cachify.decoded_store() {
            Some(DecodedStore::Memory(memory)) => self.kept(memory, on_hit).flatten(),
            #[cfg(feature = "redis")]
            Some(DecodedStore::Near(near)) => {
                let mut on_hit = Some(on_hit);
                if let Some(hit) = self.near_hit(near, &mut on_hit) {
                    return Some(hit);
                }
                let (ticket, sent) = (near.ticket(self.key), Instant::now());
                let read = near.source().get_with_ttl_blocking(self.key);
                self.read_through(near, (ticket, sent), read, on_hit)
            }
            None => self.bytes_sync(buf, on_hit),
        }
    }

    /// The async twin of [`Read::sync`].
    pub(super) async fn async_<V>(&self, on_hit: impl FnOnce(&[u8])) -> Option<V>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        match self.cachify.decoded_store() {
            Some(DecodedStore::Memory(memory)) => self.kept(memory, on_hit).flatten(),
            #[cfg(feature = "redis")]
            Some(DecodedStore::Near(near)) => {
                let mut on_hit = Some(on_hit);
                if let Some(hit) = self.near_hit(near, &mut on_hit) {
                    return Some(hit);
                }
                let (ticket, sent) = (near.ticket(self.key), Instant::now());
                let read = near.source().get_with_ttl(self.key).await;
                self.read_through(near, (ticket, sent), read, on_hit)
            }
            None => self.bytes_async(on_hit).await,
        }
    }

    /// What the decoded store answers without I/O: a hit; a miss, when the store is the
    /// backend itself (memory); `None` when only the backend can tell (no decoded store,
    /// or a near cache that lacks the value or is not serving).
    pub(super) fn now<V>(&self, on_hit: impl FnOnce(&[u8])) -> Option<Option<V>>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        match self.cachify.decoded_store()? {
            DecodedStore::Memory(memory) => Some(self.kept(memory, on_hit).flatten()),
            #[cfg(feature = "redis")]
            DecodedStore::Near(near) => self.near_hit(near, &mut Some(on_hit)).map(Some),
        }
    }

    /// The value in `store`'s entry: `None` when there is none, `Some(None)` when it
    /// does not decode.
    #[inline]
    fn kept<V>(&self, store: &MemoryClient, on_hit: impl FnOnce(&[u8])) -> Option<Option<V>>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        store.read_decoded(self.key, |bytes, slot| {
            let value = match self.keep.kept(slot) {
                Some(value) => value,
                None => {
                    let value = self.decode(bytes)?;
                    if let Some(copy) = self.keep.copy(&value) {
                        // Another reader may have filled it meanwhile, with the same value.
                        let _filled = slot.set(copy);
                    }
                    value
                }
            };
            on_hit(bytes);
            Some(value)
        })
    }

    /// The near cache's value, when it serves one.
    #[cfg(feature = "redis")]
    fn near_hit<V>(&self, near: &Near, on_hit: &mut Option<impl FnOnce(&[u8])>) -> Option<V>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        let values = near.serving()?;
        let found = self.kept(&values, |bytes| {
            if let Some(on_hit) = on_hit.take() {
                on_hit(bytes);
            }
        })?;
        match found {
            Some(value) => {
                self.tally.count(Event::NearHit);
                Some(value)
            }
            None => {
                // Read through, and keep what the server has instead.
                near.invalidate(self.key);
                None
            }
        }
    }

    /// The value a near cache lacked, as the server answered `read` (sent at `sent`,
    /// after `ticket` was taken); kept in the near cache unless the ticket was
    /// overtaken.
    #[cfg(feature = "redis")]
    fn read_through<V>(
        &self,
        near: &Near,
        (ticket, sent): (Option<crate::near::Ticket>, Instant),
        read: Result<Option<ValueWithTtl>, BackendError>,
        on_hit: Option<impl FnOnce(&[u8])>,
    ) -> Option<V>
    where
        C: ValueCodec<V>,
        K: Keep<V>,
    {
        let (bytes, ttl) = match read {
            Ok(found) => found?,
            Err(error) => return self.failed(&error),
        };
        let value = self.decode(&bytes)?;
        if let Some(ticket) = ticket {
            let copy = self.keep.copy(&value);
            near.fill(ticket, self.key, &bytes, copy, (sent, ttl));
        }
        if let Some(on_hit) = on_hit {
            on_hit(&bytes);
        }
        Some(value)
    }

    fn bytes_sync<V>(&self, buf: &mut Vec<u8>, on_hit: impl FnOnce(&[u8])) -> Option<V>
    where
        C: ValueCodec<V>,
    {
        match self.cachify.sync_client().get_into(self.key, buf) {
            Ok(true) => self.decode(buf).inspect(|_| on_hit(buf)),
            Ok(false) => None,
            Err(error) => self.failed(&error),
        }
    }

    async fn bytes_async<V>(&self, on_hit: impl FnOnce(&[u8])) -> Option<V>
    where
        C: ValueCodec<V>,
    {
        match self.cachify.async_client().get(self.key).await {
            Ok(Some(bytes)) => self.decode(&bytes).inspect(|_| on_hit(&bytes)),
            Ok(None) => None,
            Err(error) => self.failed(&error),
        }
    }

    /// A read that failed: logged and counted, and a miss.
    fn failed<V>(&self, error: &BackendError) -> Option<V> {
        self.tally.count(Event::Error);
        tracing::warn!(target: crate::events::TARGET, storage_key = %self.key, %error, "cache read failed; running the function");
        None
    }

    /// `bytes` decoded; `None` (logged and counted) when they do not decode.
    pub(super) fn decode<V>(&self, bytes: &[u8]) -> Option<V>
    where
        C: ValueCodec<V>,
    {
        decode(self.tally, self.key, self.codec, self.cachify, bytes)
    }
}

/// `bytes` stored under `key` decoded; `None` (logged and counted) when they do not.
pub(super) fn decode<V, C: ValueCodec<V>>(
    tally: Tally<'_>,
    key: &str,
    codec: &C,
    cachify: &Cachify,
    bytes: &[u8],
) -> Option<V> {
    let format = cachify.layout().format();
    let payload = stamp::payload(bytes);
    // A value that merely ends like a stamp (the user's bytes) decodes whole.
    let decoded = codec
        .decode(payload, format)
        .or_else(|error| match payload.len() {
            len if len == bytes.len() => Err(error),
            _ => codec.decode(bytes, format),
        });
    match decoded {
        Ok(value) => Some(value),
        Err(error) => {
            tally.count(Event::Error);
            tracing::warn!(target: crate::events::TARGET, storage_key = %key, %error, "stored value does not decode; recomputing it");
            None
        }
    }
}
