//! Work that outlives the call that started it: releases from `Drop`, and lease
//! renewals.
//!
//! A guard may be dropped where nothing can await: at the end of `block_on`, while a
//! runtime shuts down, on a runtime that is no longer driven, or a sync guard inside
//! async code, where a blocking round trip would stall a runtime worker. So that work
//! runs on cachify's [releaser]: one process-wide thread driving a tokio runtime of its
//! own, and a bounded pool of threads for blocking (sync-client) calls, both started on
//! first use and never tied to the caller's runtime.
//!
//! A release handed over stays visible to this process: later lock and pool calls on
//! its key wait for it first ([`releases_done`]), so `drop(guard)` followed by
//! `is_locked()` answers `false` wherever the release ran.
//!
//! The guards themselves share one mechanism, [`Armed`]: a [`Claim`] (a lock's token, a
//! pool slot's token) that is released on drop unless it was refused, armed *before* the
//! backend is asked, so that a cancelled or unanswered acquisition still frees what the
//! backend may have stored.
//!
//! The bound: work handed to the releaser dies with the process. A release handed off in
//! the last instants before `main` returns may not reach the backend; the key then
//! expires with its `exp` / `slot_exp` (never, with `None`). Releasing explicitly
//! (`release` / `release_async`), or [flushing](flush) what was handed off, before the
//! end of `main` is the way to be sure.

mod claim;
mod flush;
mod in_flight;
mod releaser;

pub(crate) use claim::{Armed, Async, Blocking, Claim, Settle, Side};
pub use flush::{flush_releases, flush_releases_async};
pub(crate) use in_flight::{
    release_patience, wait as releases_done, wait_blocking as releases_done_blocking,
};
pub(crate) use releaser::{run_blocking, sleep, spawn};
