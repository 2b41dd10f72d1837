//! [`MissClaim`]: what a miss learns when it asks the backend to compute a key.

use std::time::Duration;

/// What [`SyncClient::claim_miss`](super::SyncClient::claim_miss) found: the value, the
/// lease, or someone else's lease.
///
/// # Examples
///
/// A backend shared by several processes answers with the state of the key and of its
/// lease, in one round trip where it can:
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::backend::MissClaim;
///
/// fn describe(claim: &MissClaim) -> String {
///     match claim {
///         MissClaim::Value(bytes) => format!("stored meanwhile: {} bytes", bytes.len()),
///         MissClaim::Leased => "compute it, then set_and_release".to_owned(),
///         MissClaim::Busy(left) => format!("another caller computes it (lease: {left:?})"),
///         _ => "unknown".to_owned(),
///     }
/// }
/// assert_eq!(describe(&MissClaim::Busy(Some(Duration::from_secs(2)))), "another caller computes it (lease: Some(2s))");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissClaim {
    /// The key has a value now (someone stored it since the miss).
    Value(Vec<u8>),
    /// The key has no value and the lease was free: the caller holds it now.
    Leased,
    /// The key has no value and someone else holds the lease, for at most this long
    /// (`None`: the backend cannot tell).
    Busy(Option<Duration>),
}
