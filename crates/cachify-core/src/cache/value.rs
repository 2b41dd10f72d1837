//! What a cached function's result looks like in the cache: which results are stored
//! ([`Shape`]) and how a stored value is turned into bytes and back ([`ValueCodec`]).

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::Format;
use crate::error::CodecError;

/// Which results of a function are stored, and how a stored value becomes a result
/// again. The generated code picks [`Plain`] or [`OkOnly`] by the return *type*
/// ([`ShapeOf`]), so a `Result` behind any alias stores only its `Ok` values.
pub trait Shape<R> {
    /// The stored type.
    type Value;
    /// The part of `result` to store, or `None` when it must not be cached.
    fn cacheable(result: &R) -> Option<&Self::Value>;
    /// The result for a stored value.
    fn from_value(value: Self::Value) -> R;
}

/// Every result is stored, `None`, `()`, `0` and `""` included.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{Plain, Shape};
/// assert_eq!(<Plain as Shape<Option<u8>>>::cacheable(&None), Some(&None));
/// ```
#[derive(Debug)]
pub struct Plain;

impl<R> Shape<R> for Plain {
    type Value = R;

    fn cacheable(result: &R) -> Option<&R> {
        Some(result)
    }

    fn from_value(value: R) -> R {
        value
    }
}

/// For `Result<T, E>`: only `Ok` values are stored; a stored `T` comes back as `Ok`.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{OkOnly, Shape};
/// let err: Result<u8, String> = Err("no".into());
/// assert!(<OkOnly as Shape<Result<u8, String>>>::cacheable(&err).is_none());
/// ```
#[derive(Debug)]
pub struct OkOnly;

impl<T, E> Shape<Result<T, E>> for OkOnly {
    type Value = T;

    fn cacheable(result: &Result<T, E>) -> Option<&T> {
        result.as_ref().ok()
    }

    fn from_value(value: T) -> Result<T, E> {
        Ok(value)
    }
}

/// The [`Shape`] of a function returning `R`, chosen by type: `(&ShapeOf::<R>::new()).shape()`
/// is [`OkOnly`] when `R` is a `Result` (whatever alias names it), else [`Plain`]. The
/// inherent method on `ShapeOf<Result<T, E>>` wins method resolution over the
/// [`AnyShape`] trait method on `&ShapeOf<R>` (one auto-reference further away).
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{AnyShape as _, OkOnly, Plain, ShapeOf};
/// type Outcome<T> = Result<T, std::io::Error>;
/// let _: OkOnly = (&ShapeOf::<Outcome<u8>>::new()).shape();
/// let _: Plain = (&ShapeOf::<Option<u8>>::new()).shape();
/// ```
#[derive(Debug)]
pub struct ShapeOf<R>(PhantomData<fn() -> R>);

impl<R> ShapeOf<R> {
    /// The probe for `R`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> Default for ShapeOf<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> ShapeOf<Result<T, E>> {
    /// A `Result`: only `Ok` values are stored.
    pub fn shape(&self) -> OkOnly {
        OkOnly
    }
}

/// The fallback of [`ShapeOf`]: every other type is stored whole.
pub trait AnyShape {
    /// [`Plain`].
    fn shape(&self) -> Plain;
}

impl<R> AnyShape for &ShapeOf<R> {
    fn shape(&self) -> Plain {
        Plain
    }
}

/// Ties a lookup's shape to the one [`ShapeOf`] chose (the generated code cannot name it).
pub fn shaped<S, R>(
    _shape: S,
    lookup: super::for_macros::Lookup<S, R>,
) -> super::for_macros::Lookup<S, R> {
    lookup
}

/// [`shaped`] for [`CacheSpec::lookup_now`](super::for_macros::CacheSpec::lookup_now).
pub fn shaped_now<S, R>(
    _shape: &S,
    lookup: Result<super::for_macros::Lookup<S, R>, super::Entry>,
) -> Result<super::for_macros::Lookup<S, R>, super::Entry> {
    lookup
}

/// [`enc_dec`] for the value `shape` stores, so closures need no annotations.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{enc_dec_for, OkOnly, ValueCodec};
/// use cachify::codec::Format::MessagePack;
/// let codec = enc_dec_for::<_, Result<i32, ()>, _, _, _>(&OkOnly, |v| v * 2, |v: i32| v * 3);
/// let bytes = codec.encode(&5, MessagePack).unwrap();
/// assert_eq!(codec.decode(&bytes, MessagePack).unwrap(), 30);
/// ```
pub fn enc_dec_for<S, R, E, F, G>(_shape: &S, encode: F, decode: G) -> EncDec<S::Value, E, F, G>
where
    S: Shape<R>,
    F: Fn(&S::Value) -> E,
    G: Fn(E) -> S::Value,
{
    enc_dec(encode, decode)
}

/// Turns a stored value into bytes and back, in the instance's [`Format`].
pub trait ValueCodec<T> {
    /// The bytes to store for `value`.
    fn encode(&self, value: &T, format: Format) -> Result<Vec<u8>, CodecError>;
    /// The value stored as `bytes`.
    fn decode(&self, bytes: &[u8], format: Format) -> Result<T, CodecError>;
}

/// The default: the value itself goes through the instance's format.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{Serde, ValueCodec};
/// use cachify::codec::Format::MessagePack;
/// let bytes = Serde.encode(&7u64, MessagePack).unwrap();
/// assert_eq!(ValueCodec::<u64>::decode(&Serde, &bytes, MessagePack).unwrap(), 7);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Serde;

impl<T: Serialize + DeserializeOwned> ValueCodec<T> for Serde {
    fn encode(&self, value: &T, format: Format) -> Result<Vec<u8>, CodecError> {
        format.encode(value)
    }

    fn decode(&self, bytes: &[u8], format: Format) -> Result<T, CodecError> {
        format.decode(bytes)
    }
}

/// `enc_dec = (encode, decode)`: `encode` runs on the value before it is stored, `decode`
/// on what was loaded; the intermediate `E` goes through the instance's format.
pub struct EncDec<T, E, F, G> {
    encode: F,
    decode: G,
    types: PhantomData<fn(&T) -> E>,
}

/// Builds an [`EncDec`]; the macro names `T`, so closures need no annotations.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{enc_dec, ValueCodec};
/// use cachify::codec::Format::MessagePack;
/// let codec = enc_dec::<i32, _, _, _>(|v| v * 2, |v: i32| v * 3);
/// let bytes = codec.encode(&5, MessagePack).unwrap();
/// assert_eq!(codec.decode(&bytes, MessagePack).unwrap(), 30);
/// ```
pub fn enc_dec<T, E, F, G>(encode: F, decode: G) -> EncDec<T, E, F, G>
where
    F: Fn(&T) -> E,
    G: Fn(E) -> T,
{
    EncDec {
        encode,
        decode,
        types: PhantomData,
    }
}

impl<T, E, F, G> ValueCodec<T> for EncDec<T, E, F, G>
where
    E: Serialize + DeserializeOwned,
    F: Fn(&T) -> E,
    G: Fn(E) -> T,
{
    fn encode(&self, value: &T, format: Format) -> Result<Vec<u8>, CodecError> {
        format.encode(&(self.encode)(value))
    }

    fn decode(&self, bytes: &[u8], format: Format) -> Result<T, CodecError> {
        format.decode(bytes).map(&self.decode)
    }
}

// Not derived: `T` and `E` need not be `Clone` (a refresh clones the codec into its task).
impl<T, E, F: Clone, G: Clone> Clone for EncDec<T, E, F, G> {
    fn clone(&self) -> Self {
        EncDec {
            encode: self.encode.clone(),
            decode: self.decode.clone(),
            types: PhantomData,
        }
    }
}

impl<T, E, F, G> fmt::Debug for EncDec<T, E, F, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncDec").finish_non_exhaustive()
    }
}
