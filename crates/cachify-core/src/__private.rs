//! What the attribute macros' generated code calls. Not a public API: it changes
//! whenever the macros change, and the two crates are released together.

pub use crate::cache::Source;
pub use crate::expiry::Expiry;
pub use crate::instance::Cachify;

/// `#[pooled]`.
pub use crate::pool::for_macros as pooled;

/// What `#[cached]` expands to.
pub mod cache {
    pub use crate::cache::{
        enc_dec, lookup_sync, CacheSpec, EncDec, Entry, Lookup, Miss, OkOnly, Plain, Serde, Shape,
        ValueCodec,
    };
}
