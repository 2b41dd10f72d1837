//! `#[cached]`: look the key up; on a hit return the stored value, on a miss run the body
//! (once per key in this process), store what it returned and return it.
//!
//! The body runs inside a closure (`move || -> R { .. }`) or an async block, so a
//! `return` or `?` in it ends the body, not the wrapper, and the value still gets stored.
//! The key is rendered before the body takes ownership of the arguments.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use super::{expiry, private_ident, Target};
use crate::args::{Accepts, Opt};
use crate::companions::{call_inner, Companion, Placement};
use crate::signature::ReturnKind;

/// The options of `#[cached]`.
pub const ACCEPTS: Accepts = Accepts {
    attr: "cached",
    allowed: &[Opt::Key, Opt::Ttl, Opt::EncDec, Opt::Cachify],
    required: &[Opt::Key],
};

/// Expands `#[cached]`.
pub fn expand(target: Target) -> syn::Result<TokenStream> {
    reject_impl_trait(&target.item.sig.output)?;
    let body = wrapper_body(&target);
    let reset = reset_companion(&target);
    Ok(target.finish(body, &[reset]))
}

fn reject_impl_trait(output: &ReturnType) -> syn::Result<()> {
    match output {
        ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => Err(syn::Error::new(
            ty.span(),
            "#[cached] stores the return value, so it needs a concrete type, not `impl Trait`",
        )),
        _ => Ok(()),
    }
}

/// The return type as written, `()` when omitted.
fn return_type(target: &Target) -> TokenStream {
    match &target.item.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}

fn wrapper_body(target: &Target) -> TokenStream {
    let spec = private_ident("spec");
    let spec_value = spec_tokens(target);
    let ret = return_type(target);
    let shape = if target.sig.output.is_result() {
        quote!(::cachify::__private::cache::OkOnly)
    } else {
        quote!(::cachify::__private::cache::Plain)
    };
    let key = private_ident("key");
    let render = target.key().write_into(&key);
    let render = quote!(|#key: &mut ::std::string::String| { #render });
    let block = &target.item.block;
    let (value, miss) = (private_ident("value"), private_ident("miss"));
    let lookup = if target.sig.is_async {
        let entry = private_ident("entry");
        quote! {
            let #entry = #spec.entry(#render);
            match #entry.lookup_async::<#shape, #ret>(&#spec).await {
                ::cachify::__private::cache::Lookup::Hit(#value) => #value,
                ::cachify::__private::cache::Lookup::Miss(#miss) => {
                    #miss.run_async(&#spec, async move #block).await
                }
            }
        }
    } else {
        quote! {
            match ::cachify::__private::cache::lookup_sync::<#shape, #ret, _>(&#spec, #render) {
                ::cachify::__private::cache::Lookup::Hit(#value) => #value,
                ::cachify::__private::cache::Lookup::Miss(#miss) => {
                    #miss.run_sync(&#spec, move || -> #ret #block)
                }
            }
        }
    };
    quote! {
        let #spec = #spec_value;
        #lookup
    }
}

/// `CacheSpec { source, ttl, codec }` for the wrapper.
fn spec_tokens(target: &Target) -> TokenStream {
    let source = target.source(Placement::Impl);
    let ttl = expiry(target.args.ttl.as_ref());
    let codec = match &target.args.enc_dec {
        None => quote!(::cachify::__private::cache::Serde),
        Some((encode, decode)) => {
            let stored = stored_type(&target.sig.output);
            quote_spanned!(encode.span()=>
                ::cachify::__private::cache::enc_dec::<#stored, _, _, _>(#encode, #decode)
            )
        }
    };
    quote! {
        ::cachify::__private::cache::CacheSpec {
            source: #source,
            ttl: #ttl,
            codec: #codec,
        }
    }
}

fn stored_type(output: &ReturnKind) -> TokenStream {
    let ty = output.stored_type();
    quote!(#ty)
}

/// `reset(args..)`: clears this layer's entry for the arguments, after the inner
/// layers' when attributes are stacked.
fn reset_companion(target: &Target) -> Companion {
    let placement = target.placement();
    let source = target.source(placement);
    let key = private_ident("key");
    let render = target.key().write_into(&key);
    let entry = private_ident("entry");
    let chain = target
        .inner
        .as_ref()
        .filter(|inner| inner.attrs.contains(&"cached"))
        .map(|inner| {
            let call = call_inner(&target.sig, &inner.ident, "reset", &target.sig.arg_names());
            quote!(#call?;)
        });
    let reset = if target.sig.is_async {
        quote!(#entry.reset_async().await)
    } else {
        quote!(#entry.reset_sync())
    };
    let name = &target.sig.name;
    Companion {
        name: "reset",
        doc: format!(
            "Clears the value cached by `{name}` for these arguments \
             (and by every `#[cached]` layer stacked under it)."
        ),
        ok: quote!(()),
        body: quote! {
            let #entry = ::cachify::__private::cache::Entry::new(
                #source,
                |#key: &mut ::std::string::String| { #render },
            )?;
            #chain
            #reset
        },
    }
}
