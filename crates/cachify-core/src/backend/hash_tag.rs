//! Redis Cluster hash tags: the part of a key that decides its hash slot.
//!
//! Kept apart from the cluster client because the cache engine needs it too: the lease
//! of a cached value must share the value's slot, whatever backend runs.

/// The part between the first `{` and the next `}`, when not empty: what a cluster
/// hashes instead of the whole key.
pub(crate) fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|byte| *byte == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|byte| *byte == b'}')?;
    (close > 0).then(|| &rest[..close])
}

#[cfg(test)]
mod tests {
    use super::hash_tag;

    #[test]
    fn the_tag_is_the_first_non_empty_braced_part() {
        assert_eq!(hash_tag(b"a{user-1}b"), Some(&b"user-1"[..]));
        assert_eq!(hash_tag(b"{a}{b}"), Some(&b"a"[..]));
        assert_eq!(hash_tag(b"plain"), None);
        assert_eq!(hash_tag(b"{}x"), None, "an empty tag hashes the whole key");
        assert_eq!(hash_tag(b"a{b"), None);
    }
}
