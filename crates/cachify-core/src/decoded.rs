//! Decoded values kept beside the bytes they were decoded from.
//!
//! A store entry of a cached value (in the memory backend, and in a near cache) has a
//! slot that the first typed read fills with the decoded value; later reads of the same
//! type clone it instead of decoding the bytes again. The slot belongs to the entry, and
//! entries are replaced, never changed, on every write: a decoded value can never
//! outlive the bytes it came from.
//!
//! A value of a primitive type is held in the slot itself ([`Scalar`]): a hit then reads
//! it from the entry's own memory, where a boxed value would cost one more pointer to
//! follow (a likely cache miss when many keys are hot) and a call through `dyn Any` to
//! check its type.

use std::any::Any;
use std::sync::OnceLock;

/// A decoded value, of whatever type the function that read it returns. (`pub` only
/// because the `Keep` trait's methods name it; this module is private.)
pub enum Decoded {
    /// A primitive value, in place.
    Scalar(Scalar),
    /// Any other value.
    Boxed(Box<dyn Any + Send + Sync>),
}

/// The decoded value of one entry, filled by its first typed read.
pub(crate) type DecodedSlot = OnceLock<Decoded>;

impl Decoded {
    /// `value`, in place when it is a primitive.
    pub(crate) fn of<V: Clone + Send + Sync + 'static>(value: &V) -> Self {
        match Scalar::of(value) {
            Some(scalar) => Decoded::Scalar(scalar),
            None => Decoded::Boxed(Box::new(value.clone())),
        }
    }

    /// A clone of the value, when it is a `V`.
    #[inline]
    pub(crate) fn get<V: Clone + 'static>(&self) -> Option<V> {
        match self {
            Decoded::Scalar(scalar) => scalar.get(),
            Decoded::Boxed(boxed) => boxed.downcast_ref::<V>().cloned(),
        }
    }
}

macro_rules! scalars {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A value of a primitive type.
        #[derive(Debug, Clone, Copy)]
        pub enum Scalar {
            $(
                #[allow(missing_docs)]
                $variant($ty),
            )*
        }

        impl Scalar {
            /// `value` as a scalar, when its type is one.
            fn of<V: 'static>(value: &V) -> Option<Self> {
                let value: &dyn Any = value;
                $(
                    if let Some(&inner) = value.downcast_ref::<$ty>() {
                        return Some(Scalar::$variant(inner));
                    }
                )*
                None
            }

            /// The value, when it is a `V`. Each arm's type check is on a concrete type,
            /// so it is decided at compile time: no call through `dyn Any`.
            #[inline]
            fn get<V: Clone + 'static>(&self) -> Option<V> {
                match self {
                    $(Scalar::$variant(inner) => (inner as &dyn Any).downcast_ref::<V>().cloned(),)*
                }
            }
        }
    };
}

scalars!(
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Usize(usize),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Isize(isize),
    F32(f32),
    F64(f64),
    Bool(bool),
    Char(char),
);

#[cfg(test)]
mod tests {
    use super::Decoded;

    #[test]
    fn primitives_are_held_in_place_and_read_back_as_their_own_type_only() {
        let decoded = Decoded::of(&7u64);
        assert!(matches!(decoded, Decoded::Scalar(_)));
        assert_eq!(decoded.get::<u64>(), Some(7));
        assert_eq!(decoded.get::<i64>(), None);
        assert_eq!(decoded.get::<String>(), None);
        assert_eq!(Decoded::of(&-1.5f64).get::<f64>(), Some(-1.5));
        assert_eq!(Decoded::of(&'é').get::<char>(), Some('é'));
    }

    #[test]
    fn other_values_are_boxed() {
        let decoded = Decoded::of(&String::from("a"));
        assert!(matches!(decoded, Decoded::Boxed(_)));
        assert_eq!(decoded.get::<String>().as_deref(), Some("a"));
        assert_eq!(decoded.get::<u64>(), None);
        assert_eq!(Decoded::of(&Some(3u8)).get::<Option<u8>>(), Some(Some(3)));
    }
}
