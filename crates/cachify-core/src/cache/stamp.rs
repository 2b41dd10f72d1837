//! The write time of a stored value, for `refresh`: its age decides whether a hit starts
//! a refresh, without a second round trip to ask the backend for the key's remaining ttl.
//!
//! A stamped value is `[codec bytes][written at: u64 big-endian, Unix ms][MAGIC]`: a
//! trailer, so that readers which know nothing of stamps still read the value. cachify
//! before `refresh` decodes MessagePack with `rmp_serde::from_slice`, and Python's
//! `pickle.loads` stops at the pickle's STOP opcode: both ignore bytes after the value.
//! A rolling deploy or a rollback, and py-cachify processes sharing the keys, thus read
//! refreshed values as hits. Values of functions without `refresh` are stored as the
//! codec wrote them; every reader strips a trailer first ([`payload`]), so a key shared
//! by functions with and without `refresh` decodes for both.
//!
//! A value without a stamp (written by a function without `refresh`, by an older version,
//! or by py-cachify) is not due: it expires with its ttl, and the next miss stores a
//! stamped one. Treating it as due would make every process refresh every key at once
//! on the first deploy of `refresh`.
//!
//! Ages are wall-clock differences: across processes sharing a server, clock skew moves
//! the moment of a refresh by the skew. A stamp from the future (a writer whose clock runs
//! ahead, or ours stepped back) is fresh: the value still ends with its ttl. Calling it
//! due instead would make two processes whose clocks differ by more than the refresh age
//! refresh each other's values on every hit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last bytes of a stamped value. Eight of them, so that an unstamped value ends
/// with them by chance once in 2^64 (it would then read as truncated: a miss).
const MAGIC: [u8; 8] = *b"\xA5cfy-ts\x01";
/// The write time and the magic.
const TRAILER: usize = 8 + MAGIC.len();

/// `encoded` stamped with the time `at`.
pub(crate) fn stamped(mut encoded: Vec<u8>, at: SystemTime) -> Vec<u8> {
    encoded.reserve_exact(TRAILER);
    encoded.extend_from_slice(&unix_millis(at).to_be_bytes());
    encoded.extend_from_slice(&MAGIC);
    encoded
}

/// The codec's bytes of a stored value, stamped or not.
#[inline]
pub(crate) fn payload(stored: &[u8]) -> &[u8] {
    split(stored).map_or(stored, |(payload, _)| payload)
}

/// Whether a value stored with its write time is due for a refresh `after` that time,
/// at `now`. Unstamped values are not (see the module docs).
pub(crate) fn is_due(stored: &[u8], after: Duration, now: SystemTime) -> bool {
    let Some((_, written)) = split(stored) else {
        return false;
    };
    let written = UNIX_EPOCH + Duration::from_millis(written);
    match now.duration_since(written) {
        Ok(age) => age >= after,
        Err(_ahead) => false,
    }
}

/// The payload and the write time (Unix ms) of a stamped value.
fn split(stored: &[u8]) -> Option<(&[u8], u64)> {
    let (rest, magic) = stored.split_at_checked(stored.len().checked_sub(MAGIC.len())?)?;
    if magic != MAGIC {
        return None;
    }
    let (payload, written) = rest.split_at_checked(rest.len().checked_sub(8)?)?;
    Some((payload, u64::from_be_bytes(written.try_into().ok()?)))
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
    use crate::codec;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_stamp_records_the_write_time_and_keeps_the_payload() {
        let at = UNIX_EPOCH + 1_000 * SECOND;
        let stored = stamped(b"\x01value".to_vec(), at);
        assert_eq!(payload(&stored), b"\x01value");
        assert!(!is_due(&stored, 2 * SECOND, at + SECOND));
        assert!(is_due(&stored, 2 * SECOND, at + 2 * SECOND));
    }

    #[test]
    fn unstamped_and_truncated_values_are_not_due() {
        let now = SystemTime::now();
        assert_eq!(payload(b"\x01value"), b"\x01value");
        assert!(!is_due(b"\x01value", Duration::ZERO, now));
        assert!(!is_due(&MAGIC, Duration::ZERO, now), "no room for a time");
        assert!(!is_due(b"", Duration::ZERO, now));
        assert_eq!(payload(&MAGIC), &MAGIC[..]);
    }

    #[test]
    fn a_stamp_from_the_future_is_fresh_so_skewed_clocks_do_not_refresh_each_other() {
        let now = UNIX_EPOCH + 1_000 * SECOND;
        let slightly_ahead = stamped(vec![1], now + SECOND);
        assert!(!is_due(&slightly_ahead, 10 * SECOND, now));
        let far_ahead = stamped(vec![1], now + 30 * SECOND);
        assert!(!is_due(&far_ahead, 10 * SECOND, now));
    }

    /// What a binary from before `refresh` does with a stamped value: its decoder
    /// ignores the trailer.
    #[test]
    fn a_messagepack_decoder_unaware_of_stamps_reads_a_stamped_value() {
        let encoded = codec::encode(&("ann", 42_u32)).unwrap();
        let stored = stamped(encoded, SystemTime::now());
        assert_eq!(
            codec::decode::<(String, u32)>(&stored).unwrap(),
            ("ann".to_owned(), 42)
        );
    }
}
