//! Redis glob patterns, as `SCAN ... MATCH` reads them: matching, and escaping literal
//! text into a pattern.
//!
//! The syntax is Redis's (`stringmatchlen`), byte for byte, so the memory backend deletes
//! exactly the keys Redis would: `*` any run of bytes, `?` one byte, `[abc]` / `[a-z]` /
//! `[^a]` one byte of (or not of) a set, `\x` the byte `x` itself. A pattern that ends
//! inside `[...]` keeps what it has; a reversed range `[z-a]` is `[a-z]`. Like Redis, the
//! empty key matches no pattern but the empty one. Range bounds compare as signed bytes,
//! as Redis does on x86 and x86-64 (its `char` is signed there): in `[a-é]` the range
//! runs from `é`'s first UTF-8 byte (negative) up to `a`, so it holds `A` but not `b`.
//! [`check`] refuses what Redis would read leniently (an unterminated set, a trailing
//! `\`), and a [`KeySelection`] says which keys a pattern deletion deletes.
//!
//! # Examples
//!
//! ```
//! # use cachify_core as cachify;
//! use cachify::glob;
//!
//! assert!(glob::matches("user-7-*", "user-7-profile"));
//! assert!(!glob::matches("user-7-*", "user-70-profile"));
//! let pattern = format!("{}*", glob::escape("odd[key]*"));
//! assert!(glob::matches(&pattern, "odd[key]*-1"));
//! assert!(!glob::matches(&pattern, "oddk]-1"));
//! ```

/// How deep `*`s may nest before a pattern is refused as abusive (Redis's own bound):
/// each `*` recurses once, and a pattern is user input.
const MAX_NESTING: usize = 1000;

/// Whether `key` matches the Redis glob `pattern`.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::glob::matches;
///
/// assert!(matches("h?llo", "hello"));
/// assert!(matches("h[ae]llo", "hallo"));
/// assert!(!matches("h[^e]llo", "hello"));
/// assert!(matches("h[a-b]llo", "hbllo"));
/// assert!(matches(r"h\*llo", "h*llo"));
/// ```
pub fn matches(pattern: &str, key: &str) -> bool {
    matches_bytes(pattern.as_bytes(), key.as_bytes())
}

fn matches_bytes(pattern: &[u8], key: &[u8]) -> bool {
    let mut give_up = false;
    matches_from(pattern, key, &mut give_up, 0)
}

/// `Ok` if every token of `pattern` is complete: no `[` left open, no lone `\` at its
/// end. Redis reads those leniently (an open set ends with the pattern, a trailing `\`
/// is literal), so text appended after such a pattern would join the set or be escaped
/// instead of being matched as written; a pattern deletion refuses them.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::glob::check;
///
/// assert!(check("user-[0-9]*").is_ok());
/// assert!(check(r"odd\[").is_ok());
/// assert!(check("user-[7").is_err());
/// assert!(check("user\\").is_err());
/// ```
pub fn check(pattern: &str) -> Result<(), &'static str> {
    let mut rest = pattern.as_bytes();
    while let Some((&token, after)) = rest.split_first() {
        rest = match token {
            b'\\' if after.is_empty() => return Err("a pattern must not end in a lone `\\`"),
            b'\\' => &after[1..],
            b'[' => match in_set(after, 0) {
                (_, rest, true) => rest,
                (_, _, false) => return Err("a pattern must close every `[` with `]`"),
            },
            _ => after,
        };
    }
    Ok(())
}

/// Which keys a pattern deletion deletes: those matching a glob that also end with a
/// required suffix and contain none of a list of protected markers (the namespaces of
/// locks and pools, which a deletion of cached values must never touch).
///
/// A backend implementing [`SyncClient::delete_matching`](crate::SyncClient::delete_matching)
/// lists candidate keys (for instance by `SCAN ... MATCH` [`pattern`](Self::pattern)) and
/// deletes those [`selects`](Self::selects) accepts.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::glob::KeySelection;
///
/// let selection = KeySelection::new("APP-user-*").protecting(&["lock:", "pool:"]);
/// assert!(selection.selects(b"APP-user-7"));
/// assert!(!selection.selects(b"APP-user-lock:job"));
/// assert!(!selection.selects(b"APP-report"));
/// let py = KeySelection::new("PYC-user-*-cached").ending_with("-cached");
/// assert!(py.selects(b"PYC-user-7-cached"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct KeySelection<'a> {
    pattern: &'a str,
    suffix: &'a str,
    protected: &'a [&'a str],
}

impl<'a> KeySelection<'a> {
    /// The keys matching the Redis glob `pattern`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let selection = cachify::glob::KeySelection::new("user-*");
    /// assert_eq!(selection.pattern(), "user-*");
    /// ```
    pub fn new(pattern: &'a str) -> Self {
        Self {
            pattern,
            suffix: "",
            protected: &[],
        }
    }

    /// Only those of the keys that end with `suffix`.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let selection = cachify::glob::KeySelection::new("*").ending_with("-cached");
    /// assert!(!selection.selects(b"job-lock"));
    /// ```
    pub fn ending_with(self, suffix: &'a str) -> Self {
        Self { suffix, ..self }
    }

    /// None of the keys that contain one of `markers`, wherever it is.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let selection = cachify::glob::KeySelection::new("*").protecting(&["lock:"]);
    /// assert!(!selection.selects(b"APP-B-lock:job"));
    /// ```
    pub fn protecting(self, markers: &'a [&'a str]) -> Self {
        Self {
            protected: markers,
            ..self
        }
    }

    /// The glob, for a store that can filter by it (`SCAN ... MATCH`).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert_eq!(cachify::glob::KeySelection::new("a*").pattern(), "a*");
    /// ```
    pub fn pattern(&self) -> &'a str {
        self.pattern
    }

    /// Whether `key` is selected: it matches the glob, ends with the suffix, and holds
    /// no protected marker.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(cachify::glob::KeySelection::new("a*").selects(b"abc"));
    /// ```
    pub fn selects(&self, key: &[u8]) -> bool {
        self.admits(key) && matches_bytes(self.pattern.as_bytes(), key)
    }

    /// Whether `key`, already known to match the glob (a `SCAN ... MATCH` answer), is
    /// selected: it ends with the suffix and holds no protected marker.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let selection = cachify::glob::KeySelection::new("*").protecting(&["pool:"]);
    /// assert!(!selection.admits(b"pool:api"));
    /// ```
    pub fn admits(&self, key: &[u8]) -> bool {
        key.ends_with(self.suffix.as_bytes())
            && !self
                .protected
                .iter()
                .any(|marker| contains(key, marker.as_bytes()))
    }

    /// The glob, the suffix and the protected markers, to copy a selection elsewhere.
    pub(crate) fn parts(&self) -> (&'a str, &'a str, &'a [&'a str]) {
        (self.pattern, self.suffix, self.protected)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `pattern` literally: every glob metacharacter (`*`, `?`, `[`, `]`, `\`) escaped.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::glob::{escape, matches};
///
/// assert_eq!(escape("a*b"), r"a\*b");
/// assert!(matches(&escape("[x]?"), "[x]?"));
/// assert!(!matches(&escape("[x]?"), "x?"));
/// ```
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for char in text.chars() {
        if matches!(char, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(char);
    }
    escaped
}

/// Redis's `stringmatchlen`. `give_up` is its `skipLongerMatches`: once the rest after a
/// `*` matched nowhere in the string, no earlier `*` can help, which keeps patterns
/// such as `*a*a*a*b` linear instead of exponential.
fn matches_from(mut pattern: &[u8], mut key: &[u8], give_up: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while let (Some(&token), Some(&byte)) = (pattern.first(), key.first()) {
        let (matched, rest) = match token {
            b'*' => {
                while pattern.get(1) == Some(&b'*') {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !key.is_empty() {
                    if matches_from(&pattern[1..], key, give_up, nesting + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    key = &key[1..];
                }
                *give_up = true;
                return false;
            }
            b'?' => (true, &pattern[1..]),
            b'[' => {
                let (matched, rest, _) = in_set(&pattern[1..], byte);
                (matched, rest)
            }
            b'\\' if pattern.len() >= 2 => (pattern[1] == byte, &pattern[2..]),
            literal => (literal == byte, &pattern[1..]),
        };
        if !matched {
            return false;
        }
        pattern = rest;
        key = &key[1..];
        if key.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
        }
    }
    pattern.is_empty() && key.is_empty()
}

/// Whether `byte` is in the set that `set` opens (just after its `[`), the pattern after
/// the set, and whether a `]` closed it.
fn in_set(mut set: &[u8], byte: u8) -> (bool, &[u8], bool) {
    let negated = set.first() == Some(&b'^');
    if negated {
        set = &set[1..];
    }
    let mut matched = false;
    loop {
        set = match set {
            [b'\\', escaped, rest @ ..] => {
                matched |= *escaped == byte;
                rest
            }
            [b']', rest @ ..] => return (matched != negated, rest, true),
            // Unterminated: the set is what was read.
            [] => return (matched != negated, set, false),
            [start, b'-', end, rest @ ..] => {
                // Redis compares `char`s, signed on the x86 servers it mostly runs on.
                let (start, end, signed) = (*start as i8, *end as i8, byte as i8);
                let (low, high) = if start <= end {
                    (start, end)
                } else {
                    (end, start)
                };
                matched |= (low..=high).contains(&signed);
                rest
            }
            [single, rest @ ..] => {
                matched |= *single == byte;
                rest
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_questions_and_sets_match_as_in_redis() {
        let cases = [
            ("*", "abc", true),
            ("*", "", false),
            ("", "", true),
            ("a*", "a", true),
            ("a**", "a", true),
            ("*c", "abc", true),
            ("*b", "abc", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[abc]", "b", true),
            ("[^abc]", "b", false),
            ("[^abc]", "d", true),
            ("[a-c]x", "bx", true),
            ("[c-a]x", "bx", true),
            ("[a-]", "-", false),
            (r"[\]]", "]", true),
            (r"\*", "*", true),
            (r"\*", "a", false),
            ("\\", "\\", true),
            ("[ab", "a", true),
            ("[ab", "c", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
        ];
        for (pattern, key, expected) in cases {
            assert_eq!(
                matches(pattern, key),
                expected,
                "{pattern:?} against {key:?}"
            );
        }
    }

    #[test]
    fn escaped_text_matches_itself_only() {
        for text in ["plain", "a*b?c[d]e\\f", "[^x-y]", "\\", "*"] {
            let pattern = escape(text);
            assert!(matches(&pattern, text), "{pattern:?}");
            assert!(!matches(&pattern, &format!("{text}x")), "{pattern:?}");
        }
        assert!(!matches(&escape("a*"), "abc"));
    }

    #[test]
    fn ranges_compare_signed_bytes_as_redis_on_x86() {
        // 'é' is 0xC3 0xA9: negative as a signed byte, so below 'a'.
        assert!(!matches("[a-\u{e9}]*", "b"));
        assert!(matches("[a-\u{e9}]*", "A"));
        // Its second byte 0xA9 starts the range up to 'c', which holds 'b'.
        assert!(matches("[\u{e9}-c]*", "b"));
    }

    #[test]
    fn open_sets_and_trailing_escapes_are_refused() {
        for bad in ["[7", "user-[^7", r"[a\]", "[a-]", r"a\", r"[\"] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        for good in [
            "", "*", "[7]", r"\[", r"\\", "[]]", "[a-]]", r"[\]]", "x[^a-z]?",
        ] {
            assert!(check(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_selection_keeps_protected_and_unsuffixed_keys() {
        let selection = KeySelection::new("A*")
            .ending_with("-cached")
            .protecting(&["lock:", "pool:"]);
        assert!(selection.selects(b"A-x-cached"));
        assert!(!selection.selects(b"A-x"));
        assert!(!selection.selects(b"A-B-lock:x-cached"));
        assert!(!selection.selects(b"B-x-cached"));
        assert!(
            selection.admits(b"B-x-cached"),
            "admits leaves the glob to SCAN"
        );
    }

    #[test]
    fn abusive_nesting_is_refused_not_overflowed() {
        let pattern = "a*".repeat(MAX_NESTING * 4);
        let key = "a".repeat(MAX_NESTING * 4 + 1);
        // Redis answers no match past its nesting bound; so do we, without overflowing.
        assert!(!matches(&pattern, &key));
    }
}
