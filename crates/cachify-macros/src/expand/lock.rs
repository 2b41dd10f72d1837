//! `#[lock]`: take the lock on the rendered key, run the body, release.
//!
//! A call that cannot take the lock (held with `nowait`, timeout passed, backend down)
//! returns `Err(cachify::Error.into())`, so the function must return `Result<T, E>` with
//! `E: From<cachify::Error>`; the compiler checks that on the type, whatever alias names
//! it. The pieces shared with `#[once]` (the guarded body and the `is_locked` /
//! `release` companions) live here too.
//!
//! A sync body's statements run after the guard is bound: `return`, `?` and panics all
//! drop the guard, which releases. An async body runs in an `async move` block so the
//! release can be awaited after it; if the caller drops the future instead, the guard's
//! `Drop` releases in the background.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::{expiry, flag, private_ident, raise, Expansion, Target};
use crate::attribute::{Attribute, CompanionKind};
use crate::companions::{Companion, Placement};
use crate::signature::Analysed;

/// `#[lock]` needs a return type that can be a `Result`.
pub fn validate(sig: &Analysed) -> syn::Result<()> {
    require_result(
        sig,
        "#[lock] needs a `Result<T, E>` return type with `E: From<cachify::Error>`: \
         a call that cannot take the lock returns `Err(cachify::Error::Locked { .. }.into())`",
    )
}

/// Expands `#[lock]`.
pub fn expand(target: Target) -> Expansion {
    let spec = spec(&target, Placement::Impl, Attribute::Lock);
    let body = guarded_body(&target, &spec, |error| raise(&target, error));
    let companions = companions(&target, Attribute::Lock);
    target.finish(body, &companions)
}

/// A compile error at the return type when it certainly is not a `Result` (`()`, a
/// tuple, a reference, `impl Trait`); a path type is checked by the compiler instead,
/// which sees through aliases.
pub fn require_result(sig: &Analysed, message: &str) -> syn::Result<()> {
    if sig.output.may_be_result() {
        Ok(())
    } else {
        Err(syn::Error::new(sig.output.span, message))
    }
}

/// `LockSpec { .. }` with the function's options, its instance seen from `placement`;
/// `attribute` is `Lock` or `Once` (py-cachify's layout names their keys apart).
pub fn spec(target: &Target, placement: Placement, attribute: Attribute) -> TokenStream {
    let source = target.source(placement);
    let nowait = flag(target.args.nowait.as_ref(), true);
    let auto_extend = flag(target.args.auto_extend.as_ref(), false);
    let timeout = expiry(target.args.timeout.as_ref());
    let exp = expiry(target.args.exp.as_ref());
    let operation = match attribute {
        Attribute::Once => quote!(Once),
        _ => quote!(Lock),
    };
    let counters = target.counters(placement);
    quote! {
        ::cachify::__private::lock::LockSpec {
            source: #source,
            nowait: #nowait,
            timeout: #timeout,
            exp: #exp,
            auto_extend: #auto_extend,
            operation: ::cachify::__private::Operation::#operation,
            stats: #counters,
        }
    }
}

/// `spec.lock(rendered key)`. The key is rendered in a statement of its own: the
/// `format_args!` temporaries are not `Send` and must not live across an `.await`.
fn lock_expr(target: &Target, spec: &TokenStream) -> TokenStream {
    let args = target.key().format_args();
    let key = private_ident("key");
    quote!({
        let #key = ::std::fmt::format(#args);
        #spec.lock(#key)
    })
}

/// The wrapper body: acquire, run the original body, release. When acquiring fails,
/// `refused(error)` must diverge (`return ..`); it sees the `cachify::Error` as `error`.
pub fn guarded_body(
    target: &Target,
    spec: &TokenStream,
    refused: impl FnOnce(&Ident) -> TokenStream,
) -> TokenStream {
    let lock = lock_expr(target, spec);
    let (guard, error, result) = (
        private_ident("guard"),
        private_ident("error"),
        private_ident("result"),
    );
    let refused = refused(&error);
    if target.sig.is_async {
        let ret = target.sig.output.nameable();
        let block = &target.item.block;
        quote! {
            let #guard = match #lock.acquire_async().await {
                ::core::result::Result::Ok(#guard) => #guard,
                ::core::result::Result::Err(#error) => #refused,
            };
            let #result = ::cachify::__private::typed::<#ret, _>(async move #block).await;
            ::cachify::__private::lock::release(#guard).await;
            #result
        }
    } else {
        let statements = target.body_statements();
        quote! {
            let #guard = match #lock.acquire() {
                ::core::result::Result::Ok(#guard) => #guard,
                ::core::result::Result::Err(#error) => #refused,
            };
            #statements
        }
    }
}

/// `is_locked(args..)` and `release(args..)` (force release), with the function's
/// asyncness.
pub fn companions(target: &Target, attribute: Attribute) -> Vec<Companion> {
    let lock = lock_expr(target, &spec(target, target.placement(), attribute));
    let name = &target.sig.name;
    let (is_locked, release) = if target.sig.is_async {
        (
            quote!(#lock.is_locked_async().await),
            quote!(#lock.release_async().await),
        )
    } else {
        (quote!(#lock.is_locked()), quote!(#lock.release()))
    };
    vec![
        Companion {
            kind: CompanionKind::IsLocked,
            doc: format!("Whether a call of `{name}` with these arguments holds its lock now."),
            body: is_locked,
        },
        Companion {
            kind: CompanionKind::Release,
            doc: format!(
                "Frees the lock of `{name}` for these arguments, whoever holds it \
                 (a forced release)."
            ),
            body: release,
        },
    ]
}
