//! Fast rendering of the common key placeholders.
//!
//! A key like `"square-{n}"` is rendered on every call, hit or miss. Through
//! `format_args!` an integer costs the whole `fmt` machinery (a `Formatter`, padding
//! checks, a dynamic `write_str` per piece): about three quarters of a memory hit. The
//! generated code instead asks [`KeyPart`] first: integers and strings are written
//! directly (integers with `itoa`, byte for byte what `Display` writes); any other type
//! answers `false` and the placeholder goes through `format_args!` as before, which is
//! also where a type that is not `Display` is reported.
//!
//! The choice is made at compile time by method resolution ("autoref specialisation"):
//! `(&KeyPart(&x)).write_key(buf)` finds [`Direct`] when `x`'s type implements
//! [`DirectKey`], and falls back to [`ViaDisplay`] one auto-reference later.

/// One placeholder's value, borrowed for rendering.
#[derive(Debug)]
pub struct KeyPart<'a, T: ?Sized>(pub &'a T);

/// Types written into a key without `fmt`, exactly as their `Display` writes them.
pub trait DirectKey {
    /// Appends `self` as `Display` would.
    fn push_to(&self, buf: &mut String);
}

macro_rules! direct_integers {
    ($($int:ty),*) => {$(
        impl DirectKey for $int {
            // `#[inline]` across crates: the generated code calls it on every hit.
            #[inline]
            fn push_to(&self, buf: &mut String) {
                buf.push_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}

direct_integers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

impl DirectKey for str {
    #[inline]
    fn push_to(&self, buf: &mut String) {
        buf.push_str(self);
    }
}

impl DirectKey for String {
    #[inline]
    fn push_to(&self, buf: &mut String) {
        buf.push_str(self);
    }
}

impl<T: DirectKey + ?Sized> DirectKey for &T {
    #[inline]
    fn push_to(&self, buf: &mut String) {
        (**self).push_to(buf);
    }
}

/// The direct path, picked for [`DirectKey`] types.
pub trait Direct {
    /// Writes the part; always `true`.
    fn write_key(&self, buf: &mut String) -> bool;
}

impl<T: DirectKey + ?Sized> Direct for KeyPart<'_, T> {
    #[inline]
    fn write_key(&self, buf: &mut String) -> bool {
        self.0.push_to(buf);
        true
    }
}

/// The fallback for every other type: writes nothing, so the caller formats it.
pub trait ViaDisplay {
    /// Always `false`.
    fn write_key(&self, buf: &mut String) -> bool;
}

impl<T: ?Sized> ViaDisplay for &KeyPart<'_, T> {
    #[inline]
    fn write_key(&self, _buf: &mut String) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render<T: std::fmt::Display + DirectKey + ?Sized>(value: &T) -> (String, String) {
        let mut direct = String::new();
        // Spelled as the generated code spells it, where the borrow picks the impl.
        #[allow(clippy::needless_borrow)]
        let written = (&KeyPart(value)).write_key(&mut direct);
        assert!(written);
        (direct, value.to_string())
    }

    #[test]
    fn direct_parts_match_display() {
        for (direct, display) in [
            render(&0u64),
            render(&u64::MAX),
            render(&i64::MIN),
            render(&-7i8),
            render(&u128::MAX),
            render("é-{x}"),
            render(&String::from("s")),
            render(&&5usize),
        ] {
            assert_eq!(direct, display);
        }
    }

    #[test]
    fn other_types_fall_back() {
        let mut buf = String::new();
        assert!(!(&KeyPart(&1.5f64)).write_key(&mut buf));
        assert!(buf.is_empty());
    }
}
