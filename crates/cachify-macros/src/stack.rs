//! Stacked attributes: `#[cached(..)] #[cached(..)] fn f` or `#[lock(..)] #[cached(..)]`.
//!
//! The compiler expands the outermost attribute first and hands it the item with the
//! others still on it. Wrapping the body in place would run the inner layer *outside*
//! the outer one and give both layers a companion module named `f`. So the outer
//! expansion splits the item: a hidden inner function `__cachify_inner_f` keeps the
//! original body and the remaining attributes (the compiler expands those next), and
//! the outer function's body becomes a call to it. The outer layer's companions then
//! chain to, or forward, the inner layer's (`f::reset` clears both layers).

use proc_macro2::{Ident, TokenStream};
use quote::format_ident;
use syn::ItemFn;

use crate::args::Args;
use crate::attribute::{Attribute, CompanionKind};
use crate::key_template::{KeyTemplate, Scope};
use crate::signature::Analysed;

/// The inner half of a split item.
#[derive(Debug)]
pub struct Inner {
    /// The hidden inner function, carrying the remaining attributes.
    pub item: ItemFn,
    /// Its name, `__cachify_inner_{f}`.
    pub ident: Ident,
    /// Which of our attributes it carries.
    pub attrs: Vec<Attribute>,
    /// The `clear` it has, if a `#[cached]` is among them: refused when that layer's key
    /// opens with a placeholder, so a forwarder is refused where it is called too.
    pub clear: CompanionKind,
}

/// Splits `item` when another of our attributes remains on it; `item` becomes the outer
/// function (its body a call to the inner one).
///
/// Attributes before the first remaining attribute of ours (docs, lints, ...) stay on the
/// outer function; that one and everything after it move to the inner function.
pub fn split(item: &mut ItemFn, sig: &Analysed) -> Option<Inner> {
    let first = item
        .attrs
        .iter()
        .position(|attr| Attribute::of(attr).is_some())?;
    let moved: Vec<syn::Attribute> = item.attrs.split_off(first);
    let attrs = moved.iter().filter_map(Attribute::of).collect();
    let clear = clear_of(&moved, sig);
    let ident = inner_ident(&sig.name.to_string());
    let mut inner = item.clone();
    inner.attrs = moved;
    inner.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = ident.clone();
    let call = sig.call_generic(&ident, turbofish(item));
    *item.block = syn::parse_quote!({ #call });
    Some(Inner {
        item: inner,
        ident,
        attrs,
        clear,
    })
}

/// The hidden inner function of `name`: `__cachify_inner_{name}`, and for a layer that is
/// itself an inner function (three attributes or more) `{name}_inner`, so that no name
/// holds a double underscore mid-word (not snake case: a lint on the user's crate).
fn inner_ident(name: &str) -> Ident {
    match layer_of(name) {
        // `__cachify_inner_f`, `__cachify_inner2_f`, ...: the depth, not a suffix, so no
        // layer of `f` is ever named like a layer of another function (`f_inner`).
        Some((depth, base)) => format_ident!("{INNER}{}_{base}", depth + 1),
        None => format_ident!("{INNER}_{name}"),
    }
}

/// What every hidden layer's name starts with.
const INNER: &str = "__cachify_inner";

/// The depth and the function's own name of a hidden layer's name; `None` for a name
/// of the user's.
fn layer_of(name: &str) -> Option<(u32, &str)> {
    let (digits, base) = name.strip_prefix(INNER)?.split_once('_')?;
    let depth = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    Some((depth, base))
}

/// The function's own name, also from a hidden layer's name (for labels).
pub fn base_name(name: &str) -> &str {
    layer_of(name).map_or(name, |(_, base)| base)
}

/// `::<T, N>` naming the function's type and const parameters, so that a call of a hidden
/// layer needs no inference (`fn rows<T: Table>() -> Vec<T::Row>` has none to offer);
/// `None` without such parameters, or with an `impl Trait` argument (whose functions take
/// no explicit arguments).
fn turbofish(item: &ItemFn) -> Option<TokenStream> {
    let params: Vec<&Ident> = item
        .sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(ty) => Some(&ty.ident),
            syn::GenericParam::Const(constant) => Some(&constant.ident),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    let impl_trait = item.sig.inputs.iter().any(|input| {
        matches!(input, syn::FnArg::Typed(arg) if matches!(&*arg.ty, syn::Type::ImplTrait(_)))
    });
    (!params.is_empty() && !impl_trait).then(|| quote::quote!(::<#(#params),*>))
}

/// The `clear` companion of the `#[cached]` layers among `attrs`, which clears them all:
/// refused when any of their keys has no literal start. A key that does not compile is
/// reported by that layer's own expansion, whose stubs define a plain `clear`.
fn clear_of(attrs: &[syn::Attribute], sig: &Analysed) -> CompanionKind {
    let refused = attrs
        .iter()
        .filter(|attr| Attribute::of(attr) == Some(Attribute::Cached))
        .any(|attr| opens_with_a_placeholder(attr, sig));
    if refused {
        CompanionKind::ClearRefused
    } else {
        CompanionKind::Clear
    }
}

/// Whether the key of the `#[cached]` attribute `attr` compiles to a template that opens
/// with a placeholder.
fn opens_with_a_placeholder(attr: &syn::Attribute, sig: &Analysed) -> bool {
    let syn::Meta::List(list) = &attr.meta else {
        return false;
    };
    let Some(key) = Args::parse(list.tokens.clone(), &Attribute::Cached.accepts())
        .ok()
        .and_then(|args| args.key)
    else {
        return false;
    };
    let names = sig.arg_names();
    let scope = Scope {
        args: &names,
        has_receiver: sig.is_method(),
        fn_name: &sig.name,
    };
    KeyTemplate::compile(&key, scope).is_ok_and(|template| template.literal_start().0.is_empty())
}

/// Moves `item`'s body into a hidden inner function that carries no attribute of ours
/// (only lint levels, which the body may rely on); `item`'s body becomes a call to it.
pub fn hide_body(item: &mut ItemFn, sig: &Analysed) -> Inner {
    let ident = inner_ident(&sig.name.to_string());
    let mut inner = item.clone();
    inner.attrs.retain(|attr| {
        ["allow", "expect", "warn", "deny"]
            .iter()
            .any(|lint| attr.path().is_ident(lint))
    });
    inner.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    // Under a stacked layer `f` is `__cachify_inner_f` already: three underscores.
    inner
        .attrs
        .push(syn::parse_quote!(#[allow(non_snake_case)]));
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = ident.clone();
    let call = sig.call_generic(&ident, turbofish(item));
    *item.block = syn::parse_quote!({ #call });
    Inner {
        item: inner,
        ident,
        attrs: Vec::new(),
        clear: CompanionKind::Clear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
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
        assert_eq!(inner.attrs, [Attribute::Cached]);
        assert_eq!(inner.clear, CompanionKind::Clear);
        assert_eq!(inner.item.attrs.len(), 3, "cached, inline, doc(hidden)");
        let body = &item.block;
        assert_eq!(
            quote!(#body).to_string(),
            quote!({ __cachify_inner_get(id).await }).to_string()
        );
    }

    #[test]
    fn an_inner_key_opening_with_a_placeholder_refuses_clear() {
        let mut item: ItemFn = parse_quote! {
            #[lock(key = "l-{id}")]
            #[cached(key = "{id}-v")]
            fn get(id: u32) -> u32 { id }
        };
        let sig = Analysed::new(&item.sig, "lock").unwrap();
        item.attrs.remove(0);
        let inner = split(&mut item, &sig).unwrap();
        assert_eq!(inner.clear, CompanionKind::ClearRefused);
    }

    #[test]
    fn a_deeper_cached_key_opening_with_a_placeholder_refuses_clear() {
        let mut item: ItemFn = parse_quote! {
            #[lock(key = "l-{id}")]
            #[cached(key = "v-{id}")]
            #[cached(key = "{id}-v")]
            fn get(id: u32) -> u32 { id }
        };
        let sig = Analysed::new(&item.sig, "lock").unwrap();
        item.attrs.remove(0);
        let inner = split(&mut item, &sig).unwrap();
        assert_eq!(inner.clear, CompanionKind::ClearRefused);
    }

    #[test]
    fn a_third_layer_gets_a_snake_case_name_no_other_function_can_have() {
        assert_eq!(inner_ident("get"), "__cachify_inner_get");
        assert_eq!(inner_ident("__cachify_inner_get"), "__cachify_inner2_get");
        assert_eq!(inner_ident("__cachify_inner2_get"), "__cachify_inner3_get");
        // `get_inner`'s second layer is not `get`'s third.
        assert_eq!(
            inner_ident("__cachify_inner_get_inner"),
            "__cachify_inner2_get_inner"
        );
        assert_eq!(base_name("__cachify_inner3_get"), "get");
        assert_eq!(base_name("get_inner"), "get_inner");
    }

    #[test]
    fn a_generic_layer_is_called_with_its_type_and_const_parameters() {
        let item: ItemFn = parse_quote!(
            fn rows<'a, T: Table, const N: usize>(id: u32) -> Vec<T::Row> {}
        );
        let fish = turbofish(&item).unwrap().to_string();
        assert_eq!(fish, ":: < T , N >");
        let item: ItemFn = parse_quote!(
            fn rows<T: Table>(t: impl Into<T>) {}
        );
        assert!(
            turbofish(&item).is_none(),
            "impl Trait arguments take no explicit ones"
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
