//! What the attribute macros' generated code calls. Not a public API: it changes
//! whenever the macros change, and the two crates are released together.

pub use crate::instance::Cachify;

/// `#[pooled]`.
pub use crate::pool::for_macros as pooled;
