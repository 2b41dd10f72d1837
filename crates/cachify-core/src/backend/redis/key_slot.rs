//! The hash slot of a key (Redis Cluster's CRC16 rule), and sibling keys that share it.
//!
//! A script may only touch keys of one slot on a cluster. A lock's fencing counter lives
//! next to the lock's key, so both must hash alike, whatever the key looks like and
//! without leaving the instance's prefix (an ACL user's `~PREFIX*` covers the keys).

use std::sync::LazyLock;

/// The number of hash slots of a cluster.
const SLOTS: u16 = 16384;
/// The bits of a CRC16 that make the slot (`SLOTS` is a power of two).
const SLOT_BITS: u16 = SLOTS - 1;

/// The hash slot of `key`: CRC16 (XMODEM) of its hash tag, or of the whole key.
pub(crate) fn slot_of(key: &[u8]) -> u16 {
    crc16(0, hash_tag(key).unwrap_or(key)) % SLOTS
}

/// The part between the first `{` and the next `}`, when not empty.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|byte| *byte == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|byte| *byte == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// CRC16 (XMODEM) of `bytes`, continued from `crc`.
fn crc16(crc: u16, bytes: &[u8]) -> u16 {
    bytes.iter().fold(crc, |crc, byte| {
        (0..8).fold(crc ^ (u16::from(*byte) << 8), |crc, _| {
            if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            }
        })
    })
}

/// The four characters a sibling may end with: `@` to `O`, one free nibble each (no
/// brace among them, so they never form a hash tag).
const NIBBLE_BASE: u8 = b'@';

/// `key` + `suffix`, and when that alone would hash elsewhere, `:` and four characters
/// that bring it back to the slot of `key`. The same for every process: a pure function
/// of its arguments.
///
/// How: a key with a hash tag keeps it (the suffix comes after it). Otherwise the
/// sibling hashes whole, and CRC16 is linear over GF(2) (no initial value, no final
/// XOR), so the four characters are found from a table, not searched for.
pub(crate) fn sibling(key: &str, suffix: &str) -> String {
    let mut sibling = String::with_capacity(key.len() + suffix.len() + 5);
    sibling.push_str(key);
    sibling.push_str(suffix);
    let slot = slot_of(key.as_bytes());
    if slot_of(sibling.as_bytes()) == slot {
        return sibling;
    }
    sibling.push(':');
    // crc(s ‖ base ⊕ n) = crc(s ‖ 0000) ⊕ crc(base) ⊕ crc(n), for the four bytes n.
    let shifted = crc16(crc16(0, sibling.as_bytes()), &[0; 4]);
    let base = crc16(0, &[NIBBLE_BASE; 4]);
    let wanted = (slot ^ shifted ^ base) & SLOT_BITS;
    // Every slot has an entry (a unit test checks it); without one the sibling only
    // hashes elsewhere, and a cluster refuses the script (CROSSSLOT) instead of misusing it.
    if let Some(nibbles) = NIBBLES_FOR[usize::from(wanted)] {
        sibling.extend(nibble_bytes(nibbles).map(char::from));
    }
    sibling
}

/// The four suffix bytes of nibbles `n`, most significant first.
fn nibble_bytes(n: u16) -> [u8; 4] {
    [12, 8, 4, 0].map(|shift| NIBBLE_BASE | ((n >> shift) & 0xF) as u8)
}

/// For each value of the slot bits, nibbles `n` whose CRC (of their bare values, without
/// the base) has those bits. Built once, on the first sibling that needs it.
static NIBBLES_FOR: LazyLock<Box<[Option<u16>]>> = LazyLock::new(|| {
    let mut table = vec![None; usize::from(SLOTS)].into_boxed_slice();
    for n in 0..=u16::MAX {
        let bare = nibble_bytes(n).map(|byte| byte ^ NIBBLE_BASE);
        let bits = usize::from(crc16(0, &bare) & SLOT_BITS);
        table[bits].get_or_insert(n);
    }
    table
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_can_be_reached_by_a_sibling() {
        assert!(NIBBLES_FOR.iter().all(Option::is_some));
    }

    #[test]
    fn a_sibling_starts_with_its_key_and_shares_its_slot() {
        for key in [
            "",
            "a",
            "APP-lock:job",
            "APP-lock:{user1}:x",
            "APP-lock:a{}b",
            "APP-lock:x{y",
            "APP-lock:}{",
            "APP-lock:é",
        ] {
            let sibling = sibling(key, ":fence");
            assert!(sibling.starts_with(&format!("{key}:fence")), "{sibling}");
            assert_eq!(
                slot_of(sibling.as_bytes()),
                slot_of(key.as_bytes()),
                "{key}"
            );
        }
        assert_eq!(
            sibling("APP-{t}", ":fence"),
            "APP-{t}:fence",
            "a hash tag suffices"
        );
        assert_eq!(
            sibling("APP-lock:job", ":fence"),
            sibling("APP-lock:job", ":fence")
        );
    }
}
