//! `#[cachify::companions]` on an `impl` block: expands the attributes of its functions
//! itself and moves their companions (and stacked inner layers) into an inherent
//! `impl Type` beside it.
//!
//! A trait `impl` may hold only the trait's items, so `find_reset` cannot sit next to
//! `find` there; an inherent `impl` can hold anything. The attribute runs before the
//! attributes of the functions inside (an outer attribute expands first), so it sees
//! them unexpanded and expands them with the knowledge that they are in an `impl` (which
//! also gives associated functions without `self` associated companions). Placed above
//! `#[async_trait]`, it expands before async-trait rewrites the `async fn`s.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{ImplItem, ItemFn, ItemImpl, Meta};

use crate::attribute::Attribute;
use crate::companions;
use crate::expand::{self, Context};

/// Runs `#[cachify::companions]`.
pub fn run(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let error = syn::Error::new_spanned(&args, "#[cachify::companions] takes no options");
        let error = error.into_compile_error();
        return quote!(#item #error);
    }
    let mut block: ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(error) => {
            let message = "#[cachify::companions] goes on an `impl` block";
            let error = syn::Error::new(error.span(), message).into_compile_error();
            return quote!(#item #error);
        }
    };
    let context = Context {
        in_impl: true,
        trait_impl: block.trait_.is_some(),
        generic_self: block.generics.type_params().next().is_some(),
        returns_impl_parameter: false,
    };
    let impl_parameters: Vec<String> = block
        .generics
        .type_params()
        .map(|param| param.ident.to_string())
        .collect();
    let mut moved = Vec::new();
    let mut paths = Vec::new();
    for impl_item in &mut block.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        let item = ItemFn {
            attrs: function.attrs.clone(),
            vis: function.vis.clone(),
            sig: function.sig.clone(),
            block: Box::new(function.block.clone()),
        };
        let output = item.sig.output.to_token_stream();
        let context = Context {
            returns_impl_parameter: crate::expand::names_any(output, &|ident| {
                impl_parameters.iter().any(|name| ident == name)
            }),
            ..context
        };
        if let Some(outer) = expand_layers(item, context, &mut moved, &mut paths) {
            *impl_item = ImplItem::Verbatim(outer);
        }
    }
    if moved.is_empty() {
        return block.into_token_stream();
    }
    let (generics, self_ty) = (&block.generics, &block.self_ty);
    let where_clause = &generics.where_clause;
    let cfgs = block
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"));
    let cfgs: Vec<_> = cfgs.collect();
    quote! {
        #block
        #(#cfgs)*
        impl #generics #self_ty #where_clause {
            #(#moved)*
        }
        // The attributes were expanded here, not by the compiler: name their paths so
        // that the user's `use cachify::cached;` counts as used.
        #(#cfgs)*
        const _: () = {
            #(#[allow(unused_imports)] use #paths as _;)*
        };
    }
}

/// Expands the first of our attributes on `item` and, recursively, the inner layers it
/// splits off; pushes companions and inner layers to `moved`. Returns the outer
/// function, or `None` when `item` carries none of our attributes.
fn expand_layers(
    mut item: ItemFn,
    context: Context,
    moved: &mut Vec<TokenStream>,
    paths: &mut Vec<syn::Path>,
) -> Option<TokenStream> {
    let position = item
        .attrs
        .iter()
        .position(|attr| Attribute::of(attr).is_some())?;
    let attr = item.attrs.remove(position);
    let attribute = Attribute::of(&attr)?;
    if !paths.contains(attr.path()) {
        paths.push(attr.path().clone());
    }
    let args = match attr.meta {
        Meta::List(list) => list.tokens,
        Meta::Path(_) => TokenStream::new(),
        Meta::NameValue(value) => {
            let error = syn::Error::new_spanned(value, "expected `#[attribute(options..)]`");
            return Some(failed(attribute, item, error, moved));
        }
    };
    match expand::expand(attribute, args, item.clone(), context) {
        Ok(expansion) => {
            moved.push(expansion.companions);
            if let Some(inner) = expansion.inner {
                let inner = expand_layers(inner.clone(), context, moved, paths)
                    .unwrap_or_else(|| inner.into_token_stream());
                moved.push(inner);
            }
            Some(expansion.function)
        }
        Err(error) => Some(failed(attribute, item, error, moved)),
    }
}

/// The function without our attributes, the error and stub companions.
fn failed(
    attribute: Attribute,
    mut item: ItemFn,
    error: syn::Error,
    moved: &mut Vec<TokenStream>,
) -> TokenStream {
    item.attrs.retain(|attr| Attribute::of(attr).is_none());
    moved.push(error.into_compile_error());
    moved.push(companions::stubs(attribute, &item.sig, true));
    item.into_token_stream()
}
