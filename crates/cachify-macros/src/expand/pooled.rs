//! `#[pooled]`: take a slot of the pool named by the rendered key, run the body, release.
//!
//! When the pool is full the body does not run; the function returns instead:
//! - `raise_on_full = true`: `Err(cachify::Error::PoolFull { .. }.into())` (a `Result`
//!   return type is then required, checked here);
//! - `on_full = PATH`: `PATH(args..)`, a plain function taking the same arguments
//!   (receiver first for methods) and returning the same type;
//! - otherwise `Default::default()`.
//!
//! Any other failure (backend down, global not initialised) is `Err(e.into())` in a
//! function returning `Result`; elsewhere it is logged and treated as full (fail closed),
//! except a missing global instance, which panics saying to call `init_cachify()`.
//!
//! A sync body runs inline after the slot is bound: `return`, `?` and panics all drop the
//! slot, which releases. An async body runs in an `async move` block so the release can
//! be awaited after it; if the caller drops the future instead, the slot's `Drop`
//! releases in the background.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use super::{private_ident, Target};
use crate::args::{Accepts, Expiry, Opt};
use crate::companions::{Companion, Placement};
use crate::signature::Receiver;

/// The options of `#[pooled]`.
pub const ACCEPTS: Accepts = Accepts {
    attr: "pooled",
    allowed: &[
        Opt::Key,
        Opt::MaxSize,
        Opt::SlotExp,
        Opt::OnFull,
        Opt::RaiseOnFull,
        Opt::Cachify,
    ],
    required: &[Opt::Key, Opt::MaxSize],
};

/// Expands `#[pooled]`.
pub fn expand(target: Target) -> syn::Result<TokenStream> {
    validate(&target)?;
    let body = wrapper_body(&target);
    let size = size_companion(&target);
    Ok(target.finish(body, &[size]))
}

fn raises(target: &Target) -> bool {
    target
        .args
        .raise_on_full
        .as_ref()
        .is_some_and(|raise| raise.value)
}

fn validate(target: &Target) -> syn::Result<()> {
    let raise = target
        .args
        .raise_on_full
        .as_ref()
        .filter(|raise| raise.value);
    if let (Some(raise), Some(on_full)) = (raise, &target.args.on_full) {
        let mut error = syn::Error::new(
            on_full.span(),
            "#[pooled] takes either `on_full` or `raise_on_full = true`, not both",
        );
        error.combine(syn::Error::new(raise.span(), "`raise_on_full` is set here"));
        return Err(error);
    }
    if raise.is_some() && !target.sig.output.is_result() {
        return Err(syn::Error::new(
            return_span(target),
            "#[pooled(raise_on_full = true)] needs a `Result<T, E>` return type with \
             `E: From<cachify::Error>`: a call that finds the pool full returns \
             `Err(cachify::Error::PoolFull { .. }.into())`",
        ));
    }
    Ok(())
}

/// Where a problem with the return type is reported: the type, or the name if omitted.
fn return_span(target: &Target) -> proc_macro2::Span {
    match &target.item.sig.output {
        ReturnType::Default => target.item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

/// `Err(error.into())`, spanned at the return type so that a missing
/// `From<cachify::Error>` impl is reported there. The conversion goes through a generic
/// helper: a direct `From::from` would trip `clippy::useless_conversion` in the user's
/// crate when the error type is `cachify::Error` itself.
fn err_into(target: &Target, error: &syn::Ident) -> TokenStream {
    quote_spanned!(return_span(target)=>
        ::core::result::Result::Err(::cachify::__private::pooled::convert(#error))
    )
}

/// The `Pool` for the rendered key, as seen from `placement`.
fn pool_expr(target: &Target, placement: Placement) -> TokenStream {
    let key = target.key().format_args();
    let key = quote!(::std::fmt::format(#key));
    let max_size = &target.args.max_size;
    let pool = match &target.args.cachify {
        None => quote!(::cachify::__private::pooled::pool(#key, #max_size)),
        Some(path) => {
            let path = placement.adjust_path(path);
            quote_spanned!(path.span()=>
                ::cachify::__private::Cachify::pool(&#path, #key, #max_size)
            )
        }
    };
    match &target.args.slot_exp {
        None => pool,
        Some(Expiry::Never(span)) => {
            quote_spanned!(*span=> #pool.slot_exp(::core::option::Option::None))
        }
        Some(Expiry::Seconds(secs)) => quote_spanned!(secs.span()=>
            #pool.slot_exp(::core::time::Duration::from_secs(#secs))
        ),
        // A `Duration` or an `Option<Duration>`: `slot_exp` takes either.
        Some(Expiry::Duration(expr)) => quote_spanned!(expr.span()=> #pool.slot_exp(#expr)),
    }
}

/// What a call that found the pool full returns.
fn when_full(target: &Target) -> TokenStream {
    match &target.args.on_full {
        Some(on_full) => {
            let receiver = match target.sig.receiver {
                Receiver::None => None,
                Receiver::Ref | Receiver::Value => Some(quote!(self)),
            };
            let args = target.sig.arg_names();
            let args = receiver
                .into_iter()
                .chain(args.iter().map(|arg| quote!(#arg)));
            quote_spanned!(on_full.span()=> #on_full(#(#args),*))
        }
        None if target.sig.output.is_result() => quote_spanned!(return_span(target)=>
            ::core::result::Result::Ok(::core::default::Default::default())
        ),
        None => quote_spanned!(return_span(target)=> ::core::default::Default::default()),
    }
}

/// The wrapper body: take a slot (refusals return early), run the body, release.
fn wrapper_body(target: &Target) -> TokenStream {
    let pool = pool_expr(target, Placement::Impl);
    let (handle, slot, error, result) = (
        private_ident("pool"),
        private_ident("slot"),
        private_ident("error"),
        private_ident("result"),
    );
    let refused = refused(target, &error);
    let block = &target.item.block;
    if target.sig.is_async {
        let ret = output_type(target);
        // The pool is bound in a statement of its own so the key's `format_args!`
        // temporaries (not `Send`) are gone before the first `.await`.
        quote! {
            let #handle = #pool;
            let #slot = match #handle.acquire_async().await {
                ::core::result::Result::Ok(#slot) => #slot,
                ::core::result::Result::Err(#error) => { #refused }
            };
            let #result = ::cachify::__private::pooled::typed::<#ret, _>(async move #block).await;
            ::cachify::__private::pooled::release(#slot).await;
            #result
        }
    } else {
        quote! {
            let #slot = match #pool.acquire() {
                ::core::result::Result::Ok(#slot) => #slot,
                ::core::result::Result::Err(#error) => { #refused }
            };
            #block
        }
    }
}

/// The refused branch; it always returns.
fn refused(target: &Target, error: &syn::Ident) -> TokenStream {
    let fail = err_into(target, error);
    if raises(target) {
        return quote!(return #fail;);
    }
    let full = when_full(target);
    if target.sig.output.is_result() {
        quote! {
            if let ::core::result::Result::Err(#error) =
                ::cachify::__private::pooled::full_or_fail(#error)
            {
                return #fail;
            }
            return #full;
        }
    } else {
        quote! {
            ::cachify::__private::pooled::fail_closed(#error);
            return #full;
        }
    }
}

/// The return type for the async body's annotation; `_` where it cannot be named.
fn output_type(target: &Target) -> TokenStream {
    match &target.item.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => quote!(_),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}

/// `size(args..)`: how many calls with these arguments hold a slot now.
fn size_companion(target: &Target) -> Companion {
    let pool = pool_expr(target, target.placement());
    let handle = private_ident("pool");
    let size = if target.sig.is_async {
        quote! {
            let #handle = #pool;
            #handle.size_async().await
        }
    } else {
        quote!(#pool.size())
    };
    let name = &target.sig.name;
    Companion {
        name: "size",
        doc: format!(
            "How many calls of `{name}` with these arguments hold a slot of their pool now."
        ),
        ok: quote!(usize),
        body: size,
    }
}
