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

/// `key` followed by `suffix`, in `key`'s hash slot: suffixed as it is when `key` has a
/// hash tag, else tagged with the whole of `key`; `None` for an empty key or one whose
/// braces make no tag (no sibling can be put in its slot by name).
pub(crate) fn same_slot_sibling(key: &str, suffix: &str) -> Option<String> {
    if hash_tag(key.as_bytes()).is_some() {
        // Suffixing keeps the first hash tag, hence the slot.
        return Some(format!("{key}{suffix}"));
    }
    if key.is_empty() || key.contains(['{', '}']) {
        return None;
    }
    // No tag: the key hashes whole, and the sibling's tag is exactly that whole key.
    Some(format!("{key}{suffix}{{{key}}}"))
}

#[cfg(test)]
mod tests {
    use super::{hash_tag, same_slot_sibling};

    #[test]
    fn a_sibling_keeps_the_tag_or_tags_itself_with_the_whole_key() {
        assert_eq!(same_slot_sibling("a{u1}", ":x").as_deref(), Some("a{u1}:x"));
        assert_eq!(
            same_slot_sibling("lock:job", ":x").as_deref(),
            Some("lock:job:x{lock:job}")
        );
        assert_eq!(same_slot_sibling("a{b", ":x"), None);
        assert_eq!(same_slot_sibling("", ":x"), None);
    }

    #[test]
    fn the_tag_is_the_first_non_empty_braced_part() {
        assert_eq!(hash_tag(b"a{user-1}b"), Some(&b"user-1"[..]));
        assert_eq!(hash_tag(b"{a}{b}"), Some(&b"a"[..]));
        assert_eq!(hash_tag(b"plain"), None);
        assert_eq!(hash_tag(b"{}x"), None, "an empty tag hashes the whole key");
        assert_eq!(hash_tag(b"a{b"), None);
    }
}
