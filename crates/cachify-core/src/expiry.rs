//! How long something lives, as an attribute option says it: `ttl = 300` (seconds),
//! `ttl = None` (never), `ttl = Duration::from_millis(200)`, or omitted (the instance's
//! default). Shared by every attribute with an expiry-like option.

use std::time::Duration;

/// An expiry as written on an attribute, resolved against an instance's default.
///
/// ```
/// use std::time::Duration;
/// use cachify::__private::Expiry;
///
/// let default = Some(Duration::from_secs(60));
/// assert_eq!(Expiry::Default.resolve(default), default);
/// assert_eq!(Expiry::Never.resolve(default), None);
/// assert_eq!(Expiry::from(Duration::from_secs(1)).resolve(default), Some(Duration::from_secs(1)));
/// assert_eq!(Expiry::from(None::<Duration>).resolve(default), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Omitted: the instance's default applies.
    Default,
    /// `None`: never expires.
    Never,
    /// An explicit duration.
    After(Duration),
}

impl Expiry {
    /// The effective expiry: an explicit value wins, `Never` is `None`, `Default` is
    /// `default`.
    pub fn resolve(self, default: Option<Duration>) -> Option<Duration> {
        match self {
            Expiry::Default => default,
            Expiry::Never => None,
            Expiry::After(duration) => Some(duration),
        }
    }
}

impl From<Duration> for Expiry {
    fn from(duration: Duration) -> Self {
        Expiry::After(duration)
    }
}

impl From<Option<Duration>> for Expiry {
    fn from(duration: Option<Duration>) -> Self {
        duration.map_or(Expiry::Never, Expiry::After)
    }
}
