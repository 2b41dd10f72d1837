//! How a computed value is written: its lifetime (`ttl`, shortened by a random part of
//! `ttl_jitter`), and whether it carries its write time (functions with `refresh`).
//!
//! `ttl_jitter` shortens, never lengthens: each store lives `ttl - U[0, ttl_jitter]`, so
//! `ttl` stays the most a value can be stale, and keys written together expire spread
//! over `ttl_jitter`. Options that cannot hold (a `refresh` with no ttl or not below
//! `ttl - ttl_jitter`, a `ttl_jitter` not below the ttl) are [`Error::InvalidOption`]:
//! logged as an error the first time a value is stored, and the option is ignored
//! (`#[cached]` never fails because of its cache).

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, SystemTime};

use super::stamp;
use crate::error::Error;
use crate::expiry::Expiry;

/// How the values of one call are stored, resolved against the instance's defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Storing {
    ttl: Option<Duration>,
    /// Below `ttl`, or zero.
    jitter: Duration,
    /// With `refresh`: values carry their write time.
    stamped: bool,
}

/// `#[cached]`'s storage options, as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) ttl: Expiry,
    pub(crate) ttl_jitter: Expiry,
    pub(crate) refresh: Expiry,
}

impl Options {
    /// How to store, with `default_ttl` for an omitted ttl; invalid options are logged
    /// and ignored.
    pub(crate) fn storing(self, default_ttl: Option<Duration>) -> Storing {
        let ttl = self.ttl.resolve(default_ttl);
        let jitter = jitter(ttl, self.ttl_jitter).unwrap_or_else(|error| {
            invalid(&error);
            Duration::ZERO
        });
        let stamped = refresh_age(ttl, jitter, self.refresh)
            .inspect_err(invalid)
            .is_ok_and(|age| age.is_some());
        Storing {
            ttl,
            jitter,
            stamped,
        }
    }

    /// After how long a stored value is refreshed on its next hit; `None` without a
    /// valid `refresh` (silently: the store logs it).
    #[inline]
    pub(crate) fn refresh_after(self, default_ttl: Option<Duration>) -> Option<Duration> {
        if self.refresh == Expiry::Default {
            return None;
        }
        let ttl = self.ttl.resolve(default_ttl);
        let jitter = jitter(ttl, self.ttl_jitter).unwrap_or_default();
        refresh_age(ttl, jitter, self.refresh).ok().flatten()
    }
}

impl Storing {
    /// The lifetime of the next value stored: the ttl less a random part of the jitter.
    pub(crate) fn lifetime(&self) -> Option<Duration> {
        let ttl = self.ttl?;
        if self.jitter.is_zero() {
            return Some(ttl);
        }
        let most = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        Some(ttl.saturating_sub(Duration::from_nanos(fastrand::u64(0..=most))))
    }

    /// The bytes to store for the codec's `encoded` value.
    pub(crate) fn seal(&self, encoded: Vec<u8>) -> Arc<[u8]> {
        if self.stamped {
            Arc::from(stamp::stamped(encoded, SystemTime::now()))
        } else {
            Arc::from(encoded)
        }
    }
}

/// The refresh age `refresh` means with the resolved `ttl` and `jitter`: `None` when
/// omitted or `None`; an error when there is no ttl to refresh before, or it is not
/// below the shortest lifetime, `ttl - jitter` (a value would expire before it is due).
fn refresh_age(
    ttl: Option<Duration>,
    jitter: Duration,
    refresh: Expiry,
) -> Result<Option<Duration>, Error> {
    let Expiry::After(age) = refresh else {
        return Ok(None);
    };
    match ttl {
        Some(ttl) if age < ttl.saturating_sub(jitter) => Ok(Some(age)),
        Some(ttl) if age < ttl => Err(Error::InvalidOption {
            option: "refresh",
            reason: "must be less than the ttl less ttl_jitter (a value may live only that long)",
        }),
        Some(_) => Err(Error::InvalidOption {
            option: "refresh",
            reason: "must be less than the ttl (the value is refreshed before it expires)",
        }),
        None => Err(Error::InvalidOption {
            option: "refresh",
            reason: "needs a ttl (a value that never expires has nothing to refresh before)",
        }),
    }
}

/// The jitter `ttl_jitter` means with the resolved `ttl`.
fn jitter(ttl: Option<Duration>, jitter: Expiry) -> Result<Duration, Error> {
    match (ttl, jitter) {
        (Some(ttl), Expiry::After(jitter)) if jitter >= ttl && !jitter.is_zero() => {
            Err(Error::InvalidOption {
                option: "ttl_jitter",
                reason: "must be less than the ttl (each value lives ttl minus up to ttl_jitter)",
            })
        }
        (Some(_), Expiry::After(jitter)) => Ok(jitter),
        _ => Ok(Duration::ZERO),
    }
}

/// Logs an invalid option, once per kind of error: it is found again on every store.
fn invalid(error: &Error) {
    static SAID: Mutex<Vec<(&str, &str)>> = Mutex::new(Vec::new());
    let Error::InvalidOption { option, reason } = error else {
        return;
    };
    let mut said = SAID.lock();
    if said.contains(&(*option, *reason)) {
        return;
    }
    said.push((option, reason));
    tracing::error!(target: crate::events::TARGET, %error, "a #[cached] option is ignored (said once)");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn options(ttl: Expiry, ttl_jitter: Expiry, refresh: Expiry) -> Options {
        Options {
            ttl,
            ttl_jitter,
            refresh,
        }
    }

    #[test]
    fn jittered_lifetimes_stay_within_ttl_minus_jitter_and_ttl() {
        let storing = options(
            Expiry::After(10 * SECOND),
            Expiry::After(SECOND),
            Expiry::Default,
        )
        .storing(None);
        let lifetimes: Vec<Duration> = (0..1_000).filter_map(|_| storing.lifetime()).collect();
        assert!(lifetimes
            .iter()
            .all(|l| (9 * SECOND..=10 * SECOND).contains(l)));
        let (min, max) = (lifetimes.iter().min(), lifetimes.iter().max());
        assert!(
            max.zip(min)
                .is_some_and(|(max, min)| *max - *min > SECOND / 2),
            "spread"
        );
    }

    #[test]
    fn a_jitter_not_below_the_ttl_is_ignored() {
        let storing = options(
            Expiry::After(SECOND),
            Expiry::After(SECOND),
            Expiry::Default,
        )
        .storing(None);
        assert_eq!(storing.lifetime(), Some(SECOND));
        let never = options(Expiry::Never, Expiry::After(SECOND), Expiry::Default).storing(None);
        assert_eq!(never.lifetime(), None);
    }

    #[test]
    fn refresh_must_be_below_an_existing_ttl() {
        let valid = options(
            Expiry::After(SECOND),
            Expiry::Default,
            Expiry::After(SECOND / 2),
        );
        assert_eq!(valid.refresh_after(None), Some(SECOND / 2));
        assert!(valid.storing(None).stamped);
        let not_below = options(
            Expiry::After(SECOND),
            Expiry::Default,
            Expiry::After(SECOND),
        );
        assert_eq!(not_below.refresh_after(None), None);
        assert!(!not_below.storing(None).stamped);
        let no_ttl = options(Expiry::Never, Expiry::Default, Expiry::After(SECOND));
        assert!(matches!(
            refresh_age(None, Duration::ZERO, no_ttl.refresh),
            Err(Error::InvalidOption {
                option: "refresh",
                ..
            })
        ));
        let by_default = options(Expiry::Default, Expiry::Default, Expiry::After(SECOND));
        assert_eq!(by_default.refresh_after(Some(2 * SECOND)), Some(SECOND));
    }

    #[test]
    fn refresh_must_be_below_the_ttl_less_its_jitter() {
        let overlapping = options(
            Expiry::After(60 * SECOND),
            Expiry::After(20 * SECOND),
            Expiry::After(50 * SECOND),
        );
        assert_eq!(overlapping.refresh_after(None), None);
        assert!(!overlapping.storing(None).stamped);
        let fitting = options(
            Expiry::After(60 * SECOND),
            Expiry::After(20 * SECOND),
            Expiry::After(30 * SECOND),
        );
        assert_eq!(fitting.refresh_after(None), Some(30 * SECOND));
    }

    #[test]
    fn values_without_refresh_are_stored_as_encoded() {
        let plain = options(Expiry::After(SECOND), Expiry::Default, Expiry::Default).storing(None);
        assert_eq!(&*plain.seal(vec![1, 2]), &[1, 2]);
        let refreshed = options(
            Expiry::After(SECOND),
            Expiry::Default,
            Expiry::After(SECOND / 2),
        )
        .storing(None);
        let sealed = refreshed.seal(vec![1, 2]);
        assert_eq!(stamp::payload(&sealed), &[1, 2]);
        assert!(stamp::is_due(&sealed, Duration::ZERO, SystemTime::now()));
    }
}
