//! The near cache: decoded values of a Redis-backed instance kept in the process, so that
//! a hit touches no socket, and kept coherent by the server (Redis client-side caching:
//! `CLIENT TRACKING` on a RESP3 connection, whose invalidation pushes remove the near
//! copies of keys written, deleted or expired anywhere).
//!
//! Guarantees:
//! - A near copy is only ever filled from a read that no invalidation overtook: a read
//!   takes a ticket first, and the fill is dropped when an invalidation of its key (or a
//!   flush) came in meanwhile ([`coherence`]).
//! - While any tracking connection is down, the near cache is empty and bypassed: reads go
//!   to the server until tracking is established again.
//! - A near copy expires when its key does on the server (the fill reads `PTTL` with the
//!   value, in the same round trip).
//! - It is bounded by entries and bytes, like a [`MemoryClient`](crate::MemoryClient).

mod cache;
mod coherence;
mod config;
mod source;

pub(crate) use cache::Near;
pub use cache::NearCacheStatus;
pub(crate) use coherence::Ticket;
pub use config::NearCache;
pub(crate) use source::{Invalidations, NearSource, TrackingHandle, ValueWithTtl};
