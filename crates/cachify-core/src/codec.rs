//! How cached values are stored: serde + MessagePack in a one-byte envelope.
//!
//! The envelope is one format-version byte followed by the value encoded with
//! `rmp-serde` in struct-as-map mode (field names are stored), so that `#[serde(flatten)]`,
//! untagged and internally tagged enums, `skip_serializing_if` and self-describing values
//! such as `serde_json::Value` all round-trip, and so that adding an optional field to a
//! cached struct does not make old entries undecodable. Decoding never panics: bytes that
//! are not a value of the expected type are a [`CodecError`].
//!
//! # Examples
//!
//! ```
//! use std::collections::BTreeMap;
//! use cachify::codec;
//!
//! let scores = BTreeMap::from([("ann".to_owned(), 3u32), ("bob".to_owned(), 5)]);
//! let bytes = codec::encode(&scores)?;
//! assert_eq!(codec::decode::<BTreeMap<String, u32>>(&bytes)?, scores);
//! # Ok::<(), cachify::CodecError>(())
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;

/// The envelope version written in front of every encoded value.
///
/// ```
/// let bytes = cachify::codec::encode("hello").unwrap();
/// assert_eq!(bytes[0], cachify::codec::FORMAT_VERSION);
/// ```
pub const FORMAT_VERSION: u8 = 1;

/// Encodes `value` for storage.
///
/// # Examples
///
/// ```
/// use cachify::codec;
///
/// let bytes = codec::encode(&vec![1u32, 2, 3]).unwrap();
/// assert_eq!(bytes[0], codec::FORMAT_VERSION);
/// let back: Vec<u32> = codec::decode(&bytes).unwrap();
/// assert_eq!(back, [1, 2, 3]);
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = vec![FORMAT_VERSION];
    rmp_serde::encode::write_named(&mut bytes, value)?;
    Ok(bytes)
}

/// Decodes bytes written by [`encode`].
///
/// # Examples
///
/// ```
/// use cachify::codec;
///
/// assert!(codec::decode::<u32>(b"garbage").is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, payload)) => Ok(rmp_serde::from_slice(payload)?),
        Some((&other, _)) => Err(CodecError::Envelope(Some(other))),
        None => Err(CodecError::Envelope(None)),
    }
}
