//! What the attribute macros' generated code calls. Not a public API: it changes
//! whenever the macros change, and the two crates are released together.
//!
//! This module only re-exports: each engine keeps what its macro calls in its own
//! `for_macros` module.

pub use crate::cache::for_macros::Source;
pub use crate::expiry::{Expiry, IntoExpiry};
pub use crate::instance::{Cachify, Operation};
/// What a refused call returns, chosen by the function's return type (shared by
/// `#[lock]`, `#[once]` and `#[pooled]`).
pub use crate::lock::for_macros::{
    fail_closed, refuse, typed, Fallible, FromCachifyError, Returns, ReturnsAnything,
};
/// The counters of one decorated function (`static`s each macro creates).
pub use crate::stats::{Counters, FnStats};

/// The macros crate names this constant in every expansion, so a `cachify-macros` of
/// another version than this `cachify-core` fails to compile instead of misbehaving.
pub const VERSION_0_1_0: () = ();

/// `#[pooled]`.
pub use crate::pool::for_macros as pooled;

/// `#[lock]` and `#[once]`.
pub use crate::lock::for_macros as lock;

/// What `#[cached]` expands to.
pub use crate::cache::for_macros as cache;

/// Test hooks of the near cache's tracking connections.
#[cfg(feature = "redis")]
pub use crate::backend::redis::tracking::probe as near_tracking;

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_check_names_this_version() {
        // Rename `VERSION_0_1_0` (and nothing else: the macros derive the name from their
        // own version) when the workspace version changes.
        assert_eq!(env!("CARGO_PKG_VERSION"), "0.1.0");
    }
}
