//! `#[cached]`: look the key up; on a hit return the stored value, on a miss run the body
//! (once per key in this process), store what it returned and return it.
//!
//! The body runs inside a closure (`move || -> R { .. }`) or an async block, so a
//! `return` or `?` in it ends the body, not the wrapper, and the value still gets stored.
//! The key is rendered before the body takes ownership of the arguments. Which results
//! are stored is chosen by the return *type* (`ShapeOf`): a `Result` behind any alias
//! stores only its `Ok` values.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{expiry, names_any, private_ident, refresh, Expansion, Target};
use crate::args::Args;
use crate::attribute::CompanionKind;
use crate::companions::{call_inner, Companion, Placement};
use crate::signature::{Analysed, ReturnKind};

/// `#[cached]` stores the return value: it must be a type the cache can own; and its
/// `refresh` and `ttl_jitter` must fit its `ttl`.
pub fn validate(args: &Args, sig: &Analysed) -> syn::Result<()> {
    refresh::validate(args, sig)?;
    let output = &sig.output;
    if output.kind == ReturnKind::ImplTrait {
        return Err(syn::Error::new(
            output.span,
            "#[cached] stores the return value, so it needs a concrete type, not `impl Trait`",
        ));
    }
    if let Some(parameter) = &output.generic {
        return Err(syn::Error::new(
            output.span,
            format!(
                "#[cached] cannot return the type parameter `{parameter}` or a type of it: \
                 which results are stored is decided where the function is defined, so if \
                 `{parameter}` were a `Result`, its `Err` would be cached; spell the shape \
                 out instead, e.g. `Result<T, E>`, `Option<T>` or `Vec<T>` with `T` generic"
            ),
        ));
    }
    if output.borrows {
        return Err(syn::Error::new(
            output.span,
            "#[cached] stores the return value, so it must own its data: return an owned \
             type (e.g. `String` instead of `&str`, `Vec<T>` instead of `&[T]`)",
        ));
    }
    Ok(())
}

/// Expands `#[cached]`.
pub fn expand(target: Target) -> Expansion {
    let body = wrapper_body(&target);
    let reset = reset_companion(&target);
    let clear = clear_companion(&target);
    target.finish(body, &[reset, clear])
}

fn wrapper_body(target: &Target) -> TokenStream {
    let (spec, shape) = (private_ident("spec"), private_ident("shape"));
    let spec_value = spec_tokens(target, &shape);
    let output = &target.sig.output;
    let ret = &output.ty;
    let key = private_ident("key");
    let render = target.key().write_into(&key);
    let render = quote!(|#key: &mut ::std::string::String| { #render });
    let block = &target.item.block;
    // Bound failures (a return type that is not serde-ready) point at the return type.
    let shape_value = quote_spanned!(output.span=>
        (&::cachify::__private::cache::ShapeOf::<#ret>::new()).shape()
    );
    let entry = private_ident("entry");
    let (due, found) = (private_ident("due"), private_ident("found"));
    // With refresh, an async lookup reserves a due refresh, started after its await:
    // the arguments are cloned then, never borrowed across the await.
    let (lookup_sync, lookup_async, start_async, lookup_now) = if refresh::enabled(&target.args) {
        let call = refresh::call(target);
        (
            quote_spanned!(output.span=>
                ::cachify::__private::cache::lookup_sync_refreshing::<_, #ret, _, _, _>(
                    &#spec, #render, #call,
                )
            ),
            quote_spanned!(output.span=>
                #entry.lookup_async_refreshing::<_, #ret, _, _>(&#spec, &mut #due).await
            ),
            quote!(#due.start_async(#call);),
            quote_spanned!(output.span=>
                #spec.lookup_now_refreshing::<_, #ret>(#render, &mut #due)
            ),
        )
    } else {
        (
            quote_spanned!(output.span=>
                ::cachify::__private::cache::lookup_sync::<_, #ret, _, _>(&#spec, #render)
            ),
            quote_spanned!(output.span=> #entry.lookup_async::<_, #ret, _, _>(&#spec).await),
            TokenStream::new(),
            quote_spanned!(output.span=> #spec.lookup_now::<_, #ret>(#render)),
        )
    };
    let lookup_sync = quote_spanned!(output.span=>
        ::cachify::__private::cache::shaped(#shape, #lookup_sync)
    );
    let lookup_async = quote_spanned!(output.span=>
        ::cachify::__private::cache::shaped(#shape, #lookup_async)
    );
    let (value, miss) = (private_ident("value"), private_ident("miss"));
    let lookup = if target.sig.is_async {
        let due_slot = if start_async.is_empty() {
            TokenStream::new()
        } else {
            quote!(let mut #due = ::cachify::__private::cache::DueRefresh::default();)
        };
        // The decoded store answers first, with no I/O and no allocation; only what it
        // cannot tell is looked up through the backend, from an entry that owns its key.
        let now = private_ident("now");
        quote! {
            #due_slot
            let #found = match ::cachify::__private::cache::shaped_now(&#shape, #lookup_now) {
                ::core::result::Result::Ok(#now) => #now,
                ::core::result::Result::Err(#entry) => #lookup_async,
            };
            #start_async
            match #found {
                ::cachify::__private::cache::Lookup::Hit(#value) => #value,
                ::cachify::__private::cache::Lookup::Miss(#miss) => {
                    #miss.run_async(&#spec, async move #block).await
                }
            }
        }
    } else {
        quote! {
            match #lookup_sync {
                ::cachify::__private::cache::Lookup::Hit(#value) => #value,
                ::cachify::__private::cache::Lookup::Miss(#miss) => {
                    #miss.run_sync(&#spec, move || -> #ret #block)
                }
            }
        }
    };
    quote! {
        #[allow(unused_imports)]
        use ::cachify::__private::cache::{AnyShape as _, ViaBytes as _, ViaClone as _};
        let #shape = #shape_value;
        let #spec = #spec_value;
        #lookup
    }
}

/// `CacheSpec { source, ttl, ttl_jitter, refresh, codec }` for the wrapper.
fn spec_tokens(target: &Target, shape: &syn::Ident) -> TokenStream {
    let source = target.source(Placement::Impl);
    let counters = target.counters(Placement::Impl);
    let ttl = expiry(target.args.ttl.as_ref());
    let ttl_jitter = expiry(target.args.ttl_jitter.as_ref());
    let refresh = expiry(target.args.refresh.as_ref());
    let ret = &target.sig.output.ty;
    let keep = if keeps_bytes_only(target) {
        quote!(::cachify::__private::cache::NotKept)
    } else {
        quote!((&::cachify::__private::cache::keep_of::<_, #ret>(&#shape)).policy())
    };
    let codec = match &target.args.enc_dec {
        None => quote!(::cachify::__private::cache::Serde),
        Some((encode, decode)) => quote_spanned!(encode.span()=>
            ::cachify::__private::cache::enc_dec_for::<_, #ret, _, _, _>(&#shape, #encode, #decode)
        ),
    };
    quote! {
        ::cachify::__private::cache::CacheSpec {
            source: #source,
            ttl: #ttl,
            ttl_jitter: #ttl_jitter,
            refresh: #refresh,
            codec: #codec,
            stats: #counters,
            keep: #keep,
        }
    }
}

/// Whether hits must decode the stored bytes instead of cloning a kept decoded value.
///
/// The generated code lets the compiler pick cloning for stored types that are `Clone +
/// Send + Sync + 'static` (`cache::keep`), but that choice cannot fall back on a missing
/// `'static`: lifetimes play no part in method selection, so a generic type without the
/// bound would be a compile error (E0310) instead of a fallback. A return type that may
/// name a type parameter therefore keeps bytes only: one naming the function's own, or
/// `Self`, any type in a generic `impl` under `#[cachify::companions]`, and, for a
/// method whose `impl` the attribute cannot see, a name shaped like a type parameter
/// (`T`, `K2`). So do `enc_dec` functions: their decoder runs on every hit, as written.
fn keeps_bytes_only(target: &Target) -> bool {
    let output = target.sig.output.ty.to_token_stream();
    let generics = &target.item.sig.generics;
    let own: Vec<String> = generics
        .type_params()
        .map(|param| param.ident.to_string())
        .collect();
    let context = &target.context;
    let names_self = crate::signature::mentions_self_type(output.clone());
    target.args.enc_dec.is_some()
        || names_any(output.clone(), &|ident| own.iter().any(|own| ident == own))
        || context.returns_impl_parameter
        || (names_self && (context.generic_self || !context.in_impl))
        || (target.sig.in_impl
            && !context.in_impl
            && names_any(output, &looks_like_a_type_parameter))
}

/// `T`, `K`, `T2`: one capital letter, then digits.
fn looks_like_a_type_parameter(ident: &str) -> bool {
    let mut chars = ident.chars();
    chars.next().is_some_and(|first| first.is_ascii_uppercase())
        && chars.all(|rest| rest.is_ascii_digit())
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
        .filter(|inner| inner.attrs.contains(&crate::attribute::Attribute::Cached))
        .map(|inner| {
            let call = call_inner(&target.sig, &inner.ident, CompanionKind::Reset);
            quote!(#call?;)
        });
    let reset = if target.sig.is_async {
        quote!(#entry.reset_async().await)
    } else {
        quote!(#entry.reset_sync())
    };
    let name = &target.sig.name;
    Companion {
        kind: CompanionKind::Reset,
        doc: format!(
            "Clears the value cached by `{name}` for these arguments \
             (and by every `#[cached]` layer stacked under it)."
        ),
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

/// `clear()`: deletes every value of this layer, by the glob of its key template's
/// literal start, after the inner `#[cached]` layers' when attributes are stacked; returns
/// how many in all. A template that opens with a placeholder has keys that share no text
/// telling them from other functions' keys: its `clear` is refused where it is called, and
/// so is the `clear` of every layer stacked over it (a clear of some layers only would
/// leave the others answering).
fn clear_companion(target: &Target) -> Companion {
    let (literal, has_placeholders) = target.key().literal_start();
    let name = &target.sig.name;
    let inner = target
        .inner
        .as_ref()
        .filter(|inner| inner.attrs.contains(&crate::attribute::Attribute::Cached));
    if literal.is_empty() || inner.is_some_and(|inner| inner.clear == CompanionKind::ClearRefused) {
        return Companion {
            kind: CompanionKind::ClearRefused,
            doc: format!(
                "Not available: the key of `{name}` (or of a `#[cached]` layer stacked \
                 under it) opens with a placeholder, so its values share no text to find \
                 them by. Calling it is a compile error."
            ),
            body: quote!(::cachify::__private::cache::clear_refused()),
        };
    }
    let source = target.source(target.placement());
    let own = if target.sig.is_async {
        quote!(::cachify::__private::cache::clear_async(#source, #literal, #has_placeholders).await)
    } else {
        quote!(::cachify::__private::cache::clear_sync(#source, #literal, #has_placeholders))
    };
    let clear = match inner {
        None => own,
        Some(inner) => {
            let call = call_inner(&target.sig, &inner.ident, CompanionKind::Clear);
            let cleared = private_ident("inner_cleared");
            quote! {
                let #cleared: u64 = #call?;
                ::core::result::Result::Ok(#cleared.saturating_add(#own?))
            }
        }
    };
    let matched = if has_placeholders {
        format!("starts with `{literal}`")
    } else {
        format!("is `{literal}`")
    };
    Companion {
        kind: CompanionKind::Clear,
        doc: format!(
            "Deletes every value cached by `{name}`: each key of this instance that \
             {matched}, whatever the arguments (and the values of every `#[cached]` layer \
             stacked under it); returns how many. A full scan of the backend's keyspace \
             (`SCAN` on Redis): see `Cachify::delete_matching`."
        ),
        body: clear,
    }
}
