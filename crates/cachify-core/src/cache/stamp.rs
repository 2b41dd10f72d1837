//! The write time of a stored value, for `refresh`: its age decides whether a hit starts
//! a refresh, without a second round trip to ask the backend for the key's remaining ttl.
//!
//! A stamped value is `[STAMPED][written at: u64 big-endian, Unix milliseconds][codec bytes]`.
//! Values of functions without `refresh` are stored as the codec wrote them, unchanged;
//! every reader strips a stamp first ([`payload`]), so a key shared by functions with and
//! without `refresh` decodes for both. The codec's bytes start with its format version
//! ([`crate::codec::FORMAT_VERSION`]), which [`STAMPED`] never equals.
//!
//! Ages are wall-clock differences: across processes sharing a server, clock skew moves
//! the moment of a refresh by the skew; a stamp from the future reads as age zero.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first byte of a stamped value.
const STAMPED: u8 = 0xA5;
/// The tag and the write time.
const HEADER: usize = 1 + 8;

/// `encoded` stamped with the time `at`.
pub(crate) fn stamped(encoded: &[u8], at: SystemTime) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + encoded.len());
    bytes.push(STAMPED);
    bytes.extend_from_slice(&unix_millis(at).to_be_bytes());
    bytes.extend_from_slice(encoded);
    bytes
}

/// The codec's bytes of a stored value, stamped or not.
#[inline]
pub(crate) fn payload(stored: &[u8]) -> &[u8] {
    match stored.first() {
        Some(&STAMPED) => stored.get(HEADER..).unwrap_or_default(),
        _ => stored,
    }
}

/// How old a stored value is at `now`; `None` when it carries no stamp (written by a
/// function without `refresh`, or by an older version).
pub(crate) fn age(stored: &[u8], now: SystemTime) -> Option<Duration> {
    let (&STAMPED, rest) = stored.split_first()? else {
        return None;
    };
    let written: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    let written = u64::from_be_bytes(written);
    Some(Duration::from_millis(
        unix_millis(now).saturating_sub(written),
    ))
}

/// Milliseconds since the Unix epoch; zero for a clock set before it.
fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_records_the_write_time_and_keeps_the_payload() {
        let at = UNIX_EPOCH + Duration::from_secs(1_000);
        let stored = stamped(b"\x01value", at);
        assert_eq!(payload(&stored), b"\x01value");
        let later = at + Duration::from_millis(1_500);
        assert_eq!(age(&stored, later), Some(Duration::from_millis(1_500)));
        assert_eq!(
            age(&stored, at - Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn unstamped_and_truncated_values_have_no_age() {
        assert_eq!(payload(b"\x01value"), b"\x01value");
        assert_eq!(age(b"\x01value", SystemTime::now()), None);
        assert_eq!(age(&[STAMPED, 0, 0], SystemTime::now()), None);
        assert_eq!(payload(&[STAMPED, 0, 0]), b"");
        assert_eq!(age(b"", SystemTime::now()), None);
    }

    #[test]
    fn the_tag_is_not_a_codec_version() {
        assert_ne!(STAMPED, crate::codec::FORMAT_VERSION);
    }
}
