//! How long something lives, as an attribute option says it: `ttl = 300` (seconds),
//! `timeout = 0.5` (seconds, as a float), `ttl = None` (never),
//! `ttl = Duration::from_millis(200)`, `ttl = TTL_SECS` (any integer-typed expression:
//! seconds), or omitted (the instance's default). Shared by every attribute with an
//! expiry-like option.

use std::time::Duration;

/// An expiry as written on an attribute, resolved against an instance's default.
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::__private::Expiry;
///
/// let default = Some(Duration::from_secs(60));
/// assert_eq!(Expiry::Default.resolve(default), default);
/// assert_eq!(Expiry::Never.resolve(default), None);
/// assert_eq!(Expiry::of(1).resolve(default), Some(Duration::from_secs(1)));
/// assert_eq!(Expiry::of(0.5).resolve(default), Some(Duration::from_millis(500)));
/// assert_eq!(Expiry::of(None::<Duration>).resolve(default), None);
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
    /// The expiry an option's value means; see [`IntoExpiry`].
    pub fn of(value: impl IntoExpiry) -> Self {
        value.into_expiry()
    }

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

/// A value an expiry-like option (`ttl`, `exp`, `timeout`, `slot_exp`) accepts: an
/// integer or a float is seconds, a `Duration` is itself, an `Option<Duration>` is
/// "never" when `None`.
///
/// A value no duration can hold (a negative or NaN number of seconds) cannot panic a
/// call: it is logged as an error and the instance's default applies. Seconds beyond
/// what a `Duration` holds mean "never expires".
///
/// ```
/// # use cachify_core as cachify;
/// use std::time::Duration;
/// use cachify::__private::{Expiry, IntoExpiry};
///
/// const TTL_SECS: u64 = 300;
/// assert_eq!(TTL_SECS.into_expiry(), Expiry::After(Duration::from_secs(300)));
/// assert_eq!((-1.0f64).into_expiry(), Expiry::Default);
/// assert_eq!(f64::INFINITY.into_expiry(), Expiry::Never);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a duration",
    label = "expected seconds (an integer or a float), a `Duration`, an `Option<Duration>` or `None`",
    note = "write e.g. `ttl = 300`, `timeout = 0.5`, `ttl = TTL_SECS` or `ttl = Duration::from_millis(200)`"
)]
pub trait IntoExpiry {
    /// The expiry this value means.
    fn into_expiry(self) -> Expiry;
}

impl IntoExpiry for Duration {
    fn into_expiry(self) -> Expiry {
        Expiry::After(self)
    }
}

impl IntoExpiry for Option<Duration> {
    fn into_expiry(self) -> Expiry {
        self.map_or(Expiry::Never, Expiry::After)
    }
}

macro_rules! unsigned_seconds {
    ($($int:ty),*) => {$(
        impl IntoExpiry for $int {
            fn into_expiry(self) -> Expiry {
                // Seconds beyond u64 are "never expires", as any too-long duration is.
                u64::try_from(self).map_or(Expiry::Never, |secs| {
                    Expiry::After(Duration::from_secs(secs))
                })
            }
        }
    )*};
}

macro_rules! signed_seconds {
    ($($int:ty),*) => {$(
        impl IntoExpiry for $int {
            fn into_expiry(self) -> Expiry {
                match u128::try_from(self) {
                    Ok(secs) => secs.into_expiry(),
                    Err(_) => invalid(&self),
                }
            }
        }
    )*};
}

unsigned_seconds!(u8, u16, u32, u64, u128, usize);
signed_seconds!(i8, i16, i32, i64, i128, isize);

impl IntoExpiry for f64 {
    fn into_expiry(self) -> Expiry {
        if self.is_nan() || self < 0.0 {
            return invalid(&self);
        }
        Duration::try_from_secs_f64(self).map_or(Expiry::Never, Expiry::After)
    }
}

impl IntoExpiry for f32 {
    fn into_expiry(self) -> Expiry {
        f64::from(self).into_expiry()
    }
}

/// A number of seconds no duration can hold: logged, and the instance's default applies.
fn invalid(seconds: &dyn std::fmt::Display) -> Expiry {
    tracing::error!(
        target: crate::events::TARGET,
        %seconds,
        "an expiry option is negative or not a number; using the instance's default"
    );
    Expiry::Default
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats_are_seconds() {
        assert_eq!(
            300u64.into_expiry(),
            Expiry::After(Duration::from_secs(300))
        );
        assert_eq!(Expiry::of(2), Expiry::After(Duration::from_secs(2)));
        assert_eq!(7i64.into_expiry(), Expiry::After(Duration::from_secs(7)));
        assert_eq!(
            0.25f32.into_expiry(),
            Expiry::After(Duration::from_millis(250))
        );
        assert_eq!(u128::MAX.into_expiry(), Expiry::Never);
        assert_eq!(1e300f64.into_expiry(), Expiry::Never);
    }

    #[test]
    fn impossible_seconds_fall_back_to_the_default() {
        assert_eq!((-1i32).into_expiry(), Expiry::Default);
        assert_eq!(f64::NAN.into_expiry(), Expiry::Default);
        assert_eq!((-0.5f64).into_expiry(), Expiry::Default);
    }

    #[test]
    fn durations_and_options() {
        let second = Duration::from_secs(1);
        assert_eq!(second.into_expiry(), Expiry::After(second));
        assert_eq!(Some(second).into_expiry(), Expiry::After(second));
        assert_eq!(None::<Duration>.into_expiry(), Expiry::Never);
    }
}
