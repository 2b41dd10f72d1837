//! Cached values as Python pickles, the way py-cachify stores them (`pickle.dumps`).
//!
//! Encoding writes pickle protocol 3, which every Python 3 reads; decoding reads
//! protocols 0 to 5, which covers what `pickle.dumps` writes (protocol 4 on Python 3.8
//! to 3.13, 5 from 3.14). Both go through `serde-pickle`, a decoder written in Rust: it
//! interprets the opcodes of the built-in types and never imports a module or calls a
//! function. A pickle that calls a global (a `datetime`, a `Decimal`, any `__reduce__`)
//! is refused with [`CodecError::Pickle`]; an instance of a plain class, pickled as its
//! attribute `dict`, decodes as that dict (into a map or a struct with those fields). So
//! does an object whose `__reduce__` returns `(cls, args, state)`: the decoder reads its
//! `state`, it does not refuse it (decode into a type that only `state` fits).
//!
//! Before decoding, the opcodes are walked once (`scan`): a pickle whose value would
//! nest deeper than 128 or grow far beyond its size (the decoder copies a shared object
//! at every reference to it, so 30 nested references to a list make 2^30 copies) is
//! refused rather than allowed to exhaust the stack or the memory. Encoding refuses what
//! Python could not read back as written, or Rust from Python: a map key Python cannot
//! hash (a list), an integer beyond `i64` (`u64::MAX`): such a value is not cached.
//!
//! | Python | Rust |
//! |---|---|
//! | `None` | `()`, `Option::None` |
//! | `bool` | `bool` |
//! | `int` | `i64`, `u32`, ... up to `i64::MAX` (a value out of range is an error) |
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

mod scan;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_pickle::{DeOptions, HashableValue, SerOptions, Value};

use super::CodecError;

/// Why a value has no pickle form, or a pickle is not a value of the expected type.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::{codec::pickle, CodecError};
/// let CodecError::Pickle(error) = pickle::encode(&u64::MAX).unwrap_err() else {
///     unreachable!()
/// };
/// assert!(error.to_string().contains("integer"));
/// ```
#[derive(Debug)]
pub struct PickleError(String);

impl PickleError {
    fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PickleError {}

impl From<serde_pickle::Error> for CodecError {
    fn from(error: serde_pickle::Error) -> Self {
        CodecError::Pickle(PickleError::new(error))
    }
}

impl From<PickleError> for CodecError {
    fn from(error: PickleError) -> Self {
        CodecError::Pickle(error)
    }
}

/// Encodes `value` as a pickle (protocol 3), or refuses a value that would not read
/// back: a map key Python cannot hash, an integer beyond `i64`.
///
/// ```
/// # use cachify_core as cachify;
/// let bytes = cachify::codec::pickle::encode(&true)?;
/// assert_eq!(bytes, b"\x80\x03\x88.");
/// # Ok::<(), cachify::CodecError>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    // `&T` is sized where `T` may not be (`str`), and serializes as `T` does. Through a
    // `Value`: building it refuses unhashable keys (a list key would make Python's
    // `pickle.loads` raise `TypeError` on every read).
    let value = serde_pickle::to_value(&value)?;
    refuse_big_integers(&value)?;
    Ok(serde_pickle::value_to_vec(&value, SerOptions::new())?)
}

/// The decoder reads integers up to `i64` only: a larger one would be written, then
/// never read back (a cached value missed forever).
fn refuse_big_integers(value: &Value) -> Result<(), PickleError> {
    let big = match value {
        Value::Int(_) => true,
        Value::List(items) | Value::Tuple(items) => {
            return items.iter().try_for_each(refuse_big_integers)
        }
        Value::Set(items) | Value::FrozenSet(items) => items.iter().any(holds_big_integer),
        Value::Dict(entries) => {
            entries.keys().any(holds_big_integer)
                || entries.values().try_for_each(refuse_big_integers).is_err()
        }
        _ => false,
    };
    match big {
        true => Err(PickleError::new(
            "an integer beyond i64 would not read back",
        )),
        false => Ok(()),
    }
}

fn holds_big_integer(key: &HashableValue) -> bool {
    match key {
        HashableValue::Int(_) => true,
        HashableValue::Tuple(items) => items.iter().any(holds_big_integer),
        HashableValue::FrozenSet(items) => items.iter().any(holds_big_integer),
        _ => false,
    }
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
    scan::check(bytes)?;
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
    fn an_integer_beyond_i64_is_refused_rather_than_never_read_back() {
        assert!(matches!(encode(&u64::MAX), Err(CodecError::Pickle(_))));
        assert!(matches!(
            encode(&vec![(1u64 << 63, 1)]),
            Err(CodecError::Pickle(_))
        ));
        let big_key = HashMap::from([(u64::MAX, 1)]);
        assert!(matches!(encode(&big_key), Err(CodecError::Pickle(_))));
        let largest = i64::MAX as u64;
        assert_eq!(decode::<u64>(&encode(&largest).unwrap()).unwrap(), largest);
    }

    #[test]
    fn a_map_key_python_cannot_hash_is_refused() {
        let list_keys = HashMap::from([(vec![1i64, 2], 3i64)]);
        assert!(matches!(encode(&list_keys), Err(CodecError::Pickle(_))));
        let tuple_keys = HashMap::from([((1i64, 2i64), 3i64)]);
        let back: HashMap<(i64, i64), i64> = decode(&encode(&tuple_keys).unwrap()).unwrap();
        assert_eq!(back, tuple_keys);
    }

    #[test]
    fn a_plain_object_reads_as_its_attribute_dict() {
        // `pickle.dumps(P(3))` for `@dataclass class P: x: int`.
        let object = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01P\x94\x93\x94)\x81\x94}\x94\x8c\x01x\x94K\x03sb.";
        let fields: HashMap<String, i64> = decode(object).unwrap();
        assert_eq!(fields, HashMap::from([("x".to_owned(), 3)]));
    }
}
