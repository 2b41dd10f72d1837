//! Stacked attributes: `#[cached(..)] #[cached(..)] fn f` or `#[lock(..)] #[cached(..)]`.
//!
//! The compiler expands the outermost attribute first and hands it the item with the
//! others still on it. Wrapping the body in place would run the inner layer *outside*
//! the outer one and give both layers a companion module named `f`. So the outer
//! expansion splits the item: a hidden inner function `__cachify_inner_f` keeps the
//! original body and the remaining attributes (the compiler expands those next), and
//! the outer function's body becomes a call to it. The outer layer's companions then
//! chain to, or forward, the inner layer's (`f::reset` clears both layers).

use proc_macro2::Ident;
use quote::{format_ident, quote};
use syn::{Attribute, ItemFn};

use crate::signature::Analysed;

/// The attribute names of this crate, as a stacked attribute is recognised.
const OURS: &[&str] = &["cached", "lock", "once", "pooled"];

/// The inner half of a split item.
#[derive(Debug)]
pub struct Inner {
    /// The hidden inner function, carrying the remaining attributes.
    pub item: ItemFn,
    /// Its name, `__cachify_inner_{f}`.
    pub ident: Ident,
    /// Which of our attributes it carries (`"cached"`, `"lock"`, ...).
    pub attrs: Vec<&'static str>,
}

/// Which of our attributes `attr` is, if any: `#[cached]` or `#[cachify::cached]`.
fn ours(attr: &Attribute) -> Option<&'static str> {
    let path = attr.path();
    let last = path.segments.last()?;
    let prefix_ok = path.segments.len() == 1
        || (path.segments.len() == 2 && path.segments[0].ident == "cachify");
    if !prefix_ok {
        return None;
    }
    OURS.iter().copied().find(|name| last.ident == name)
}

/// Splits `item` when another of our attributes remains on it; `item` becomes the outer
/// function (its body a call to the inner one).
///
/// Attributes before the first remaining attribute of ours (docs, lints, ...) stay on the
/// outer function; that one and everything after it move to the inner function.
pub fn split(item: &mut ItemFn, sig: &Analysed) -> Option<Inner> {
    let first = item.attrs.iter().position(|attr| ours(attr).is_some())?;
    let moved: Vec<Attribute> = item.attrs.split_off(first);
    let attrs = moved.iter().filter_map(ours).collect();
    let ident = format_ident!("__cachify_inner_{}", sig.name);
    let mut inner = item.clone();
    inner.attrs = moved;
    inner.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = ident.clone();
    *item.block = call_block(sig, &ident);
    Some(Inner {
        item: inner,
        ident,
        attrs,
    })
}

/// `{ inner(a, b) }`, `{ self.inner(a, b) }`, with `.await` for async functions.
fn call_block(sig: &Analysed, inner: &Ident) -> syn::Block {
    let args = sig.arg_names();
    let call = if sig.is_method() {
        quote!(self.#inner(#(#args),*))
    } else {
        quote!(#inner(#(#args),*))
    };
    let call = if sig.is_async {
        quote!(#call.await)
    } else {
        call
    };
    syn::parse_quote!({ #call })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn splits_at_the_first_remaining_attribute() {
        let mut item: ItemFn = parse_quote! {
            /// Docs stay outside.
            #[cached(key = "l2-{id}")]
            #[inline]
            pub async fn get(id: u32) -> u32 { id }
        };
        let sig = Analysed::new(&item.sig, "cached").unwrap();
        let inner = split(&mut item, &sig).unwrap();
        assert_eq!(item.attrs.len(), 1);
        assert_eq!(inner.attrs, ["cached"]);
        assert_eq!(inner.item.attrs.len(), 3, "cached, inline, doc(hidden)");
        let body = &item.block;
        assert_eq!(
            quote!(#body).to_string(),
            quote!({ __cachify_inner_get(id).await }).to_string()
        );
    }

    #[test]
    fn foreign_attributes_do_not_split() {
        let mut item: ItemFn = parse_quote!(
            #[other::cached]
            #[inline]
            fn f() {}
        );
        let sig = Analysed::new(&item.sig, "cached").unwrap();
        assert!(split(&mut item, &sig).is_none());
    }
}
