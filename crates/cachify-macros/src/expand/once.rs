//! `#[once]`: run the body unless another call holds the key, in which case return at
//! once: `return_on_locked`, else `Default::default()` (`Ok(Default::default())` for a
//! `Result`), or with `raise_on_locked = true` `Err(cachify::Error::Locked { .. }.into())`.
//!
//! The lock is py-cachify's: `nowait`, the instance's `default_lock_expiration`, released
//! when the body returns, errs, panics or is cancelled (the guarded body of `#[lock]`).
//! A failure to reach the lock backend is an `Err(..into())` in a `Result` function; in
//! any other function it is logged and the call is skipped (fail closed: never two runs).

use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ReturnType;

use super::lock::{companions, err_into, guarded_body, require_result, spec};
use super::Target;
use crate::args::{Accepts, Opt};
use crate::companions::Placement;

/// The options of `#[once]`.
pub const ACCEPTS: Accepts = Accepts {
    attr: "once",
    allowed: &[
        Opt::Key,
        Opt::RaiseOnLocked,
        Opt::ReturnOnLocked,
        Opt::Cachify,
    ],
    required: &[Opt::Key],
};

/// Expands `#[once]`.
pub fn expand(target: Target) -> syn::Result<TokenStream> {
    let raise = target
        .args
        .raise_on_locked
        .as_ref()
        .is_some_and(|raise| raise.value);
    if raise {
        check_raise(&target)?;
    }
    let on_locked = on_locked(&target);
    let is_result = target.sig.output.is_result();
    let refused = |error: &Ident| {
        let err = err_into(&target, error);
        if raise {
            quote!(return #err)
        } else if is_result {
            quote! {
                match ::cachify::__private::lock::skip_or_fail(#error) {
                    ::core::result::Result::Ok(()) => return #on_locked,
                    ::core::result::Result::Err(#error) => return #err,
                }
            }
        } else {
            quote! {{
                ::cachify::__private::lock::fail_closed(#error);
                return #on_locked;
            }}
        }
    };
    let body = guarded_body(&target, &spec(&target, Placement::Impl), refused);
    let companions = companions(&target);
    Ok(target.finish(body, &companions))
}

fn check_raise(target: &Target) -> syn::Result<()> {
    require_result(
        target,
        "#[once(raise_on_locked = true)] needs a `Result<T, E>` return type with \
         `E: From<cachify::Error>`: a call made while another holds the key returns \
         `Err(cachify::Error::Locked { .. }.into())`",
    )?;
    match &target.args.return_on_locked {
        Some(expr) => Err(syn::Error::new(
            expr.span(),
            "`return_on_locked` is never returned with `raise_on_locked = true`; keep one of them",
        )),
        None => Ok(()),
    }
}

/// What a call returns while another holds the key.
fn on_locked(target: &Target) -> TokenStream {
    if let Some(expr) = &target.args.return_on_locked {
        return quote_spanned!(expr.span()=> #expr);
    }
    let span = match &target.item.sig.output {
        ReturnType::Default => target.item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    if target.sig.output.is_result() {
        quote_spanned!(span=> ::core::result::Result::Ok(::core::default::Default::default()))
    } else {
        quote_spanned!(span=> ::core::default::Default::default())
    }
}
