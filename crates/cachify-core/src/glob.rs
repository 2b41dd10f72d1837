//! Redis glob patterns, as `SCAN ... MATCH` reads them: matching, and escaping literal
//! text into a pattern.
//!
//! The syntax is Redis's (`stringmatchlen`), byte for byte, so the memory backend deletes
//! exactly the keys Redis would: `*` any run of bytes, `?` one byte, `[abc]` / `[a-z]` /
//! `[^a]` one byte of (or not of) a set, `\x` the byte `x` itself. A pattern that ends
//! inside `[...]` keeps what it has; a reversed range `[z-a]` is `[a-z]`. Like Redis, the
//! empty key matches no pattern but the empty one.
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
    let mut give_up = false;
    matches_from(pattern.as_bytes(), key.as_bytes(), &mut give_up, 0)
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
            b'[' => in_set(&pattern[1..], byte),
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

/// Whether `byte` is in the set that `set` opens (just after its `[`), and the pattern
/// after the set.
fn in_set(mut set: &[u8], byte: u8) -> (bool, &[u8]) {
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
            [b']', rest @ ..] => return (matched != negated, rest),
            // Unterminated: the set is what was read.
            [] => return (matched != negated, set),
            [start, b'-', end, rest @ ..] => {
                let (low, high) = if start <= end {
                    (*start, *end)
                } else {
                    (*end, *start)
                };
                matched |= (low..=high).contains(&byte);
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
    fn abusive_nesting_is_refused_not_overflowed() {
        let pattern = "a*".repeat(MAX_NESTING * 4);
        let key = "a".repeat(MAX_NESTING * 4 + 1);
        // Redis answers no match past its nesting bound; so do we, without overflowing.
        assert!(!matches(&pattern, &key));
    }
}
