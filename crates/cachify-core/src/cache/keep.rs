//! Whether a cached function's decoded values can be kept beside their bytes, and how.
//!
//! A store entry's decoded slot ([`crate::decoded`]) holds a value of any type; a typed
//! read takes a clone of it out. That needs the stored type to be `Clone + Send + Sync +
//! 'static`, which `#[cached]` does not otherwise ask of it. The generated code picks the
//! policy at compile time by method resolution ("autoref specialisation", as in
//! [`key_part`](super::key_part)): `(&keep_of::<_, R>(&shape)).policy()` finds [`ViaClone`]
//! (giving [`Kept`]) when the stored type allows it, and falls back to [`ViaBytes`]
//! (giving [`NotKept`]: every read decodes the bytes, as before) one auto-reference later.

use std::marker::PhantomData;

use super::value::Shape;
use crate::decoded::{Decoded, DecodedSlot};

/// How the values of one function use decoded slots.
pub trait Keep<V> {
    /// A clone of the value in `slot`, when it holds one of type `V`.
    fn kept(&self, slot: &DecodedSlot) -> Option<V>;
    /// A copy of `value` for a decoded slot; `None` when values are not kept.
    fn copy(&self, value: &V) -> Option<Decoded>;
}

/// Values are kept decoded: reads clone them.
#[derive(Debug, Clone, Copy)]
pub struct Kept;

impl<V: Clone + Send + Sync + 'static> Keep<V> for Kept {
    #[inline]
    fn kept(&self, slot: &DecodedSlot) -> Option<V> {
        slot.get()?.get()
    }

    fn copy(&self, value: &V) -> Option<Decoded> {
        Some(Decoded::of(value))
    }
}

/// Values are decoded from their bytes on every read.
#[derive(Debug, Clone, Copy)]
pub struct NotKept;

impl<V> Keep<V> for NotKept {
    #[inline]
    fn kept(&self, _: &DecodedSlot) -> Option<V> {
        None
    }

    fn copy(&self, _: &V) -> Option<Decoded> {
        None
    }
}

/// The stored type `V` of a function, for picking its [`Keep`] policy.
#[derive(Debug)]
pub struct KeepOf<V>(PhantomData<fn() -> V>);

/// The [`KeepOf`] of the type `shape` stores for results of type `R`.
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::__private::cache::{keep_of, Kept, NotKept, OkOnly, Plain, ViaBytes as _, ViaClone as _};
/// # #[allow(clippy::needless_borrow)]
/// let _: Kept = (&keep_of::<_, Result<String, std::io::Error>>(&OkOnly)).policy();
/// struct Opaque;
/// # #[allow(clippy::needless_borrow)]
/// let _: NotKept = (&keep_of::<_, std::rc::Rc<u8>>(&Plain)).policy();
/// ```
pub fn keep_of<S: Shape<R>, R>(_shape: &S) -> KeepOf<S::Value> {
    KeepOf(PhantomData)
}

/// The policy of stored types that can be cloned out of a shared slot.
pub trait ViaClone {
    /// [`Kept`].
    fn policy(&self) -> Kept;
}

impl<V: Clone + Send + Sync + 'static> ViaClone for KeepOf<V> {
    #[inline]
    fn policy(&self) -> Kept {
        Kept
    }
}

/// The fallback for every other stored type.
pub trait ViaBytes {
    /// [`NotKept`].
    fn policy(&self) -> NotKept;
}

impl<V> ViaBytes for &KeepOf<V> {
    #[inline]
    fn policy(&self) -> NotKept {
        NotKept
    }
}
