//! `#[once]`: run the body unless another call holds the key, in which case return at
//! once: `return_on_locked`, else `Default::default()` (`Ok(Default::default())` for a
//! `Result`), or with `raise_on_locked = true` `Err(cachify::Error::Locked { .. }.into())`.
//!
//! The lock is py-cachify's: `nowait`, `exp` (default: the instance's
//! `default_lock_expiration`), renewed while the body runs with `auto_extend = true`,
//! released when the body returns, errs, panics or is cancelled (the guarded body of
//! `#[lock]`). A failure to reach the lock backend is an `Err(..into())` in a function
//! returning a `Result` (by type, whatever alias names it); in any other function it is
//! logged and the call is skipped (fail closed: never two runs).

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;

use super::lock::{companions, guarded_body, require_result, spec};
use super::{default_value, raise, refusal, Expansion, Target};
use crate::args::Args;
use crate::attribute::Attribute;
use crate::companions::Placement;
use crate::signature::Analysed;

fn raises(args: &Args) -> bool {
    args.raise_on_locked
        .as_ref()
        .is_some_and(|raise| raise.value)
}

/// `raise_on_locked` needs a `Result` and excludes `return_on_locked`.
pub fn validate(args: &Args, sig: &Analysed) -> syn::Result<()> {
    if !raises(args) {
        return Ok(());
    }
    require_result(
        sig,
        "#[once(raise_on_locked = true)] needs a `Result<T, E>` return type with \
         `E: From<cachify::Error>`: a call made while another holds the key returns \
         `Err(cachify::Error::Locked { .. }.into())`",
    )?;
    match &args.return_on_locked {
        Some(expr) => Err(syn::Error::new(
            expr.span(),
            "`return_on_locked` is never returned with `raise_on_locked = true`; keep one of them",
        )),
        None => Ok(()),
    }
}

/// Expands `#[once]`.
pub fn expand(target: Target) -> Expansion {
    let raise_on_locked = raises(&target.args);
    let spec = spec(&target, Placement::Impl, Attribute::Once);
    let body = guarded_body(&target, &spec, |error| {
        if raise_on_locked {
            raise(&target, error)
        } else {
            refusal(&target, Attribute::Once, error, on_locked(&target))
        }
    });
    let companions = companions(&target, Attribute::Once);
    target.finish(body, &companions)
}

/// What a call returns while another holds the key.
fn on_locked(target: &Target) -> TokenStream {
    match &target.args.return_on_locked {
        Some(expr) => quote_spanned!(expr.span()=> #expr),
        None => default_value(target),
    }
}
