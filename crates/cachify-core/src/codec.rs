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
//! # use cachify_core as cachify;
//! use std::collections::BTreeMap;
//! use cachify::codec;
//!
//! let scores = BTreeMap::from([("ann".to_owned(), 3u32), ("bob".to_owned(), 5)]);
//! let bytes = codec::encode(&scores)?;
//! assert_eq!(codec::decode::<BTreeMap<String, u32>>(&bytes)?, scores);
//! # Ok::<(), cachify::CodecError>(())
//! ```

#[cfg(feature = "py-cachify")]
pub mod pickle;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The envelope version written in front of every encoded value.
///
/// ```
/// # use cachify_core as cachify;
/// let bytes = cachify::codec::encode("hello").unwrap();
/// assert_eq!(bytes[0], cachify::codec::FORMAT_VERSION);
/// ```
pub const FORMAT_VERSION: u8 = 1;

/// Encodes `value` for storage.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
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
/// # use cachify_core as cachify;
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

/// How an instance's cached values are encoded: chosen by its
/// [`Layout`](crate::instance::Layout).
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::codec::Format;
/// let bytes = Format::MessagePack.encode(&7u8)?;
/// assert_eq!(Format::MessagePack.decode::<u8>(&bytes)?, 7);
/// # Ok::<(), cachify::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// [`encode`] / [`decode`]: MessagePack in a versioned envelope.
    MessagePack,
    /// [`pickle::encode`] / [`pickle::decode`]: what py-cachify stores.
    #[cfg(feature = "py-cachify")]
    Pickle,
}

impl Format {
    /// Encodes `value` in this format.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let bytes = cachify::codec::Format::MessagePack.encode("hi")?;
    /// assert_eq!(bytes[0], cachify::codec::FORMAT_VERSION);
    /// # Ok::<(), cachify::CodecError>(())
    /// ```
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        match self {
            Format::MessagePack => encode(value),
            #[cfg(feature = "py-cachify")]
            Format::Pickle => pickle::encode(value),
        }
    }

    /// Decodes bytes written in this format.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// assert!(cachify::codec::Format::MessagePack.decode::<u8>(b"").is_err());
    /// ```
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Format::MessagePack => decode(bytes),
            #[cfg(feature = "py-cachify")]
            Format::Pickle => pickle::decode(bytes),
        }
    }
}

/// A value that could not be encoded, or stored bytes that could not be decoded.
///
/// `#[cached]` treats a decode failure as a miss; the error surfaces only from the
/// explicit [`crate::codec`] functions.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::{codec, CodecError};
///
/// let err = codec::decode::<String>(&[codec::FORMAT_VERSION, 0xc1]).unwrap_err();
/// assert!(matches!(err, CodecError::Decode(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The value's `Serialize` impl failed.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use serde::ser::{Error as _, Serialize, Serializer};
    ///
    /// struct Unencodable;
    /// impl Serialize for Unencodable {
    ///     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
    ///         Err(S::Error::custom("not today"))
    ///     }
    /// }
    ///
    /// let err = cachify::codec::encode(&Unencodable).unwrap_err();
    /// assert!(matches!(err, cachify::CodecError::Encode(_)));
    /// ```
    #[error("cannot encode value: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bytes are not a MessagePack value of the expected type.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let bytes = cachify::codec::encode("not a number").unwrap();
    /// let err = cachify::codec::decode::<u64>(&bytes).unwrap_err();
    /// assert!(matches!(err, cachify::CodecError::Decode(_)));
    /// ```
    #[error("cannot decode value: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// The bytes are empty or carry an envelope version this build does not know.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{codec, CodecError};
    ///
    /// assert!(matches!(codec::decode::<u32>(&[]), Err(CodecError::Envelope(None))));
    /// assert!(matches!(codec::decode::<u32>(&[99, 1]), Err(CodecError::Envelope(Some(99)))));
    /// ```
    #[error("unknown envelope version {0:?}, expected {expected}", expected = FORMAT_VERSION)]
    Envelope(Option<u8>),
    /// A value that has no pickle form, or a pickle that is not a value of the expected
    /// type: among them every pickled Python object other than the built-in types, which
    /// is refused, never constructed (see [`pickle`]).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::{codec::pickle, CodecError};
    /// // `datetime.date(2024, 1, 2)` as Python pickles it: a call of a global.
    /// let date = b"\x80\x04\x95 \x00\x00\x00\x00\x00\x00\x00\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94C\x04\x07\xe8\x01\x02\x94\x85\x94R\x94.";
    /// let err = pickle::decode::<String>(date).unwrap_err();
    /// assert!(matches!(err, CodecError::Pickle(_)));
    /// ```
    #[cfg(feature = "py-cachify")]
    #[error("pickle: {0}")]
    Pickle(pickle::PickleError),
}
