//! `#[lock]`: take the lock on the rendered key, run the body, release.
//!
//! A call that cannot take the lock (held with `nowait`, timeout passed, backend down)
//! returns `Err(cachify::Error.into())`, so the function must return `Result<T, E>` with
//! `E: From<cachify::Error>`. The pieces shared with `#[once]` (the guarded body and the
//! `is_locked` / `release` companions) live here too.
//!
//! A sync body runs inline after the guard is bound: `return`, `?` and panics all drop
//! the guard, which releases. An async body runs in an `async move` block so the release
//! can be awaited after it; if the caller drops the future instead, the guard's `Drop`
//! releases in the background.

use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ReturnType;

use super::{expiry, private_ident, Target};
use crate::args::{Accepts, Opt};
use crate::companions::{Companion, Placement};

/// The options of `#[lock]`.
pub const ACCEPTS: Accepts = Accepts {
    attr: "lock",
    allowed: &[Opt::Key, Opt::Nowait, Opt::Timeout, Opt::Exp, Opt::Cachify],
    required: &[Opt::Key],
};

/// Expands `#[lock]`.
pub fn expand(target: Target) -> syn::Result<TokenStream> {
    require_result(
        &target,
        "#[lock] needs a `Result<T, E>` return type with `E: From<cachify::Error>`: \
         a call that cannot take the lock returns `Err(cachify::Error::Locked { .. }.into())`",
    )?;
    let refused = |error: &Ident| {
        let err = err_into(&target, error);
        quote!(return #err)
    };
    let body = guarded_body(&target, &spec(&target, Placement::Impl), refused);
    let companions = companions(&target);
    Ok(target.finish(body, &companions))
}

/// A compile error at the return type unless the function returns a `Result`.
pub fn require_result(target: &Target, message: &str) -> syn::Result<()> {
    if target.sig.output.is_result() {
        return Ok(());
    }
    let span = match &target.item.sig.output {
        ReturnType::Default => target.item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    Err(syn::Error::new(span, message))
}

/// `Err(error.into())`, spanned at the return type so that a missing
/// `From<cachify::Error>` impl is reported there, in cachify's words.
pub fn err_into(target: &Target, error: &Ident) -> TokenStream {
    let span = match &target.item.sig.output {
        ReturnType::Default => target.item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    quote_spanned!(span=>
        ::core::result::Result::Err(
            ::cachify::__private::lock::FromCachifyError::from_cachify(#error)
        )
    )
}

/// `LockSpec { .. }` with the function's options, its instance seen from `placement`.
pub fn spec(target: &Target, placement: Placement) -> TokenStream {
    let source = target.source(placement);
    let nowait = target
        .args
        .nowait
        .as_ref()
        .map_or_else(|| quote!(true), |nowait| quote!(#nowait));
    let timeout = expiry(target.args.timeout.as_ref());
    let exp = expiry(target.args.exp.as_ref());
    quote! {
        ::cachify::__private::lock::LockSpec {
            source: #source,
            nowait: #nowait,
            timeout: #timeout,
            exp: #exp,
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
    let block = &target.item.block;
    if target.sig.is_async {
        let ret = match &target.item.sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, ty) => quote!(#ty),
        };
        quote! {
            let #guard = match #lock.acquire_async().await {
                ::core::result::Result::Ok(#guard) => #guard,
                ::core::result::Result::Err(#error) => #refused,
            };
            let #result = ::cachify::__private::lock::typed::<#ret, _>(async move #block).await;
            ::cachify::__private::lock::release(#guard).await;
            #result
        }
    } else {
        quote! {
            let #guard = match #lock.acquire() {
                ::core::result::Result::Ok(#guard) => #guard,
                ::core::result::Result::Err(#error) => #refused,
            };
            #block
        }
    }
}

/// `is_locked(args..)` and `release(args..)` (force release), with the function's
/// asyncness.
pub fn companions(target: &Target) -> Vec<Companion> {
    let lock = lock_expr(target, &spec(target, target.placement()));
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
            name: "is_locked",
            doc: format!("Whether a call of `{name}` with these arguments holds its lock now."),
            ok: quote!(bool),
            body: is_locked,
        },
        Companion {
            name: "release",
            doc: format!(
                "Frees the lock of `{name}` for these arguments, whoever holds it \
                 (a forced release)."
            ),
            ok: quote!(()),
            body: release,
        },
    ]
}
