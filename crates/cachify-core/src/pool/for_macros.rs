//! What `#[pooled]`'s generated code calls, re-exported as `cachify::__private::pooled`.
//! Not a public API.
//!
//! The generated function builds its [`Pool`] from a [`PoolSpec`], takes a slot, runs the
//! body and releases; what a refusal returns is the shared return-type dispatch of
//! `cachify::__private` (`Returns`, `refuse`).

use super::{AsyncPoolSlot, Pool};
use crate::expiry::Expiry;
use crate::instance::selector::Source;
use crate::instance::Operation;
use crate::stats::FnStats;

/// The options of one `#[pooled]` function.
#[derive(Debug, Clone, Copy)]
pub struct PoolSpec<'a> {
    /// The instance.
    pub source: Source<'a>,
    /// `max_size`.
    pub max_size: usize,
    /// `slot_exp`.
    pub slot_exp: Expiry,
    /// The function's counters.
    pub stats: &'static FnStats,
}

impl PoolSpec<'_> {
    /// The pool named by the rendered `key`.
    pub fn pool(&self, key: String) -> Pool {
        let key = self.source.layout().attribute_key(Operation::Pool, key);
        let mut pool = match self.source {
            Source::Global => super::pool(key, self.max_size),
            Source::Instance(cachify) => cachify.pool(key, self.max_size),
        };
        pool.counted = Some(self.stats);
        match self.slot_exp {
            Expiry::Default => pool,
            Expiry::Never => pool.slot_exp(None),
            Expiry::After(exp) => pool.slot_exp(exp),
        }
    }
}

/// Releases after the body: its result is what the caller gets, so a failed release is
/// logged (the slot then stops counting after its `slot_exp`).
pub async fn release(slot: AsyncPoolSlot) {
    let key = slot.key().to_owned();
    if let Err(error) = slot.release_async().await {
        tracing::warn!(target: crate::events::TARGET, %key,
            %error,
            "could not release pool slot after the call; it will expire with its slot_exp"
        );
    }
}
