//! `#[pooled]`: take a slot of the pool named by the rendered key, run the body, release.
//!
//! When the pool is full the body does not run; the function returns instead:
//! - `raise_on_full = true`: `Err(cachify::Error::PoolFull { .. }.into())` (a `Result`
//!   return type is then required);
//! - `on_full = PATH`: `PATH(args..)`, a plain function taking the same arguments
//!   (receiver first for methods) and returning the same type;
//! - otherwise `Default::default()` (`Ok(Default::default())` for a `Result`).
//!
//! Any other failure (backend down, global not initialised) is `Err(e.into())` in a
//! function returning a `Result` (by type, whatever alias names it); elsewhere it is
//! logged and treated as full (fail closed), except a missing global instance, which
//! panics saying to call `init_cachify()`.
//!
//! A sync body's statements run after the slot is bound: `return`, `?` and panics all
//! drop the slot, which releases. An async body runs in an `async move` block so the
//! release can be awaited after it; if the caller drops the future instead, the slot's
//! `Drop` releases in the background.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{default_value, expiry, private_ident, raise, refusal, Expansion, Target};
use crate::args::Args;
use crate::attribute::{Attribute, CompanionKind};
use crate::companions::{Companion, Placement};
use crate::signature::Analysed;

fn raises(args: &Args) -> bool {
    args.raise_on_full.as_ref().is_some_and(|raise| raise.value)
}

/// `raise_on_full` needs a `Result` and excludes `on_full`.
pub fn validate(args: &Args, sig: &Analysed) -> syn::Result<()> {
    let raise = args.raise_on_full.as_ref().filter(|raise| raise.value);
    if let (Some(raise), Some(on_full)) = (raise, &args.on_full) {
        let mut error = syn::Error::new(
            on_full.span(),
            "#[pooled] takes either `on_full` or `raise_on_full = true`, not both",
        );
        error.combine(syn::Error::new(raise.span(), "`raise_on_full` is set here"));
        return Err(error);
    }
    if raise.is_some() {
        super::lock::require_result(
            sig,
            "#[pooled(raise_on_full = true)] needs a `Result<T, E>` return type with \
             `E: From<cachify::Error>`: a call that finds the pool full returns \
             `Err(cachify::Error::PoolFull { .. }.into())`",
        )?;
    }
    Ok(())
}

/// Expands `#[pooled]`.
pub fn expand(target: Target) -> Expansion {
    let body = wrapper_body(&target);
    let size = size_companion(&target);
    target.finish(body, &[size])
}

/// The `Pool` for the rendered key, as seen from `placement`.
fn pool_expr(target: &Target, placement: Placement) -> TokenStream {
    let key = target.key().format_args();
    let source = target.source(placement);
    let max_size = &target.args.max_size;
    let slot_exp = expiry(target.args.slot_exp.as_ref());
    let counters = target.counters(placement);
    quote! {
        (::cachify::__private::pooled::PoolSpec {
            source: #source,
            max_size: #max_size,
            slot_exp: #slot_exp,
            stats: #counters,
        })
        .pool(::std::fmt::format(#key))
    }
}

/// What a call that found the pool full returns.
fn when_full(target: &Target) -> TokenStream {
    let Some(on_full) = &target.args.on_full else {
        return default_value(target);
    };
    let receiver = target.sig.is_method().then(|| quote!(self));
    let args = target.sig.arg_names();
    let args = receiver
        .into_iter()
        .chain(args.iter().map(|arg| quote!(#arg)));
    quote_spanned!(on_full.span()=> #on_full(#(#args),*))
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
    let refused = if raises(&target.args) {
        raise(target, &error)
    } else {
        refusal(target, Attribute::Pooled, &error, when_full(target))
    };
    if target.sig.is_async {
        let ret = target.sig.output.nameable();
        let block = &target.item.block;
        // The pool is bound in a statement of its own so the key's `format_args!`
        // temporaries (not `Send`) are gone before the first `.await`.
        quote! {
            let #handle = #pool;
            let #slot = match #handle.acquire_async().await {
                ::core::result::Result::Ok(#slot) => #slot,
                ::core::result::Result::Err(#error) => #refused,
            };
            let #result = ::cachify::__private::typed::<#ret, _>(async move #block).await;
            ::cachify::__private::pooled::release(#slot).await;
            #result
        }
    } else {
        let statements = target.body_statements();
        quote! {
            let #slot = match #pool.acquire() {
                ::core::result::Result::Ok(#slot) => #slot,
                ::core::result::Result::Err(#error) => #refused,
            };
            #statements
        }
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
        kind: CompanionKind::Size,
        doc: format!(
            "How many calls of `{name}` with these arguments hold a slot of their pool now."
        ),
        body: size,
    }
}
