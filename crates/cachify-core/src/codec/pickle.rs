//! Cached values as Python pickles, the way py-cachify stores them (`pickle.dumps`).
//!
//! Encoding writes pickle protocol 3, which every Python 3 reads; decoding reads
//! protocols 0 to 5, which covers what `pickle.dumps` writes (protocol 4 on Python 3.8
//! to 3.13, 5 from 3.14). Both go through `serde-pickle`, a decoder written in Rust: it
//! interprets the opcodes of the built-in types and never imports a module or calls a
//! function. A pickle that calls a global (a `datetime`, a `Decimal`, any `__reduce__`)
//! is refused with [`CodecError::Pickle`]; an instance of a plain class, pickled as its
//! attribute `dict`, decodes as that dict (into a map or a struct with those fields).
//!
//! | Python | Rust |
//! |---|---|
//! | `None` | `()`, `Option::None` |
//! | `bool` | `bool` |
//! | `int` | `i64`, `u32`, ... (a value out of range is an error) |
//! | `float` | `f64` |
//! | `str` | `String` |
//! | `bytes` | `serde_bytes::ByteBuf` or a `Vec<u8>` field with `#[serde(with = "serde_bytes")]` |
//! | `list` | `Vec<T>` |
//! | `tuple` | tuples (a `Vec<T>` reads one too; Rust writes a tuple for a tuple) |
//! | `dict` | `HashMap<K, V>`, `BTreeMap<K, V>`, structs (by field name) |
//!
//! # Examples
//!
//! ```
//! # use cachify_core as cachify;
//! use cachify::codec::pickle;
//!
//! // What Python's `pickle.dumps((1, "a"))` writes:
//! let from_python = b"\x80\x04\x95\t\x00\x00\x00\x00\x00\x00\x00K\x01\x8c\x01a\x94\x86\x94.";
//! assert_eq!(pickle::decode::<(i64, String)>(from_python)?, (1, "a".to_owned()));
//! let bytes = pickle::encode(&(1i64, "a"))?;
//! assert_eq!(pickle::decode::<(i64, String)>(&bytes)?, (1, "a".to_owned()));
//! # Ok::<(), cachify::CodecError>(())
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_pickle::{DeOptions, SerOptions};

use super::CodecError;

/// Encodes `value` as a pickle (protocol 3).
///
/// ```
/// # use cachify_core as cachify;
/// let bytes = cachify::codec::pickle::encode(&true)?;
/// assert_eq!(bytes, b"\x80\x03\x88.");
/// # Ok::<(), cachify::CodecError>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    // `&T` is sized where `T` may not be (`str`), and serializes as `T` does.
    Ok(serde_pickle::to_vec(&value, SerOptions::new())?)
}

/// Decodes a pickle of the built-in types (protocols 0 to 5) without running any code.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::codec::pickle;
/// assert_eq!(pickle::decode::<i64>(b"\x80\x04K\x01.")?, 1, "Python's pickle.dumps(1)");
/// assert!(pickle::decode::<i64>(b"garbage").is_err());
/// # Ok::<(), cachify::CodecError>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(serde_pickle::from_slice(bytes, DeOptions::new())?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_pickle_that_calls_a_global_is_refused_not_run() {
        // `pickle.dumps(E())` where `E.__reduce__` returns `(os.system, ('touch ...',))`.
        let exploit = b"\x80\x04\x95+\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x10touch /tmp/pwned\x94\x85\x94R\x94.";
        let refused = decode::<String>(exploit).unwrap_err();
        assert!(matches!(refused, CodecError::Pickle(_)), "{refused}");
        assert!(decode::<serde_pickle::Value>(exploit).is_err());
    }

    #[test]
    fn a_plain_object_reads_as_its_attribute_dict() {
        // `pickle.dumps(P(3))` for `@dataclass class P: x: int`.
        let object = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01P\x94\x93\x94)\x81\x94}\x94\x8c\x01x\x94K\x03sb.";
        let fields: HashMap<String, i64> = decode(object).unwrap();
        assert_eq!(fields, HashMap::from([("x".to_owned(), 3)]));
    }
}
