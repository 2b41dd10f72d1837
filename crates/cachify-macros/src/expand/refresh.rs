//! `#[cached(refresh = .., ttl_jitter = ..)]`: the checks of those options that can be
//! made at compile time, and the background call a refreshing lookup is handed.
//!
//! A refresh runs the body again after the call that found the value due has returned,
//! on another thread: the body gets clones of the arguments (each `Clone + Send +
//! 'static`, checked by `cachify::__private::cache::refresh_arg` at the argument), never
//! `self` or a borrow (`'static` ones aside). The checks that need values (`refresh <
//! ttl - ttl_jitter` with expressions) are made when a value is stored, as
//! `Error::InvalidOption`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::Target;
use crate::args::{Args, Expiry};
use crate::signature::{combine, Analysed, Receiver};

/// Checks `refresh` and `ttl_jitter` against `ttl` and the signature.
pub fn validate(args: &Args, sig: &Analysed) -> syn::Result<()> {
    let mut errors = None;
    if let Some(jitter) = &args.ttl_jitter {
        if let Err(error) = check_jitter(jitter, args.ttl.as_ref()) {
            combine(&mut errors, error);
        }
    }
    if let Some(refresh) = args
        .refresh
        .as_ref()
        .filter(|r| !matches!(r, Expiry::Never(_)))
    {
        if let Err(error) = check_against_ttl(refresh, args.ttl.as_ref(), args.ttl_jitter.as_ref())
        {
            combine(&mut errors, error);
        }
        if sig.receiver != Receiver::None {
            combine(
                &mut errors,
                syn::Error::new(
                    refresh.span(),
                    "`refresh` calls the function again in the background, after this call \
                 returned, so it cannot take `self`: make it an associated function taking \
                 owned arguments (e.g. an `Arc` of what `self` holds)",
                ),
            );
        }
        for arg in sig
            .args
            .iter()
            .filter(|arg| borrows(arg.ty.to_token_stream()))
        {
            combine(
                &mut errors,
                syn::Error::new(
                    arg.ty.span(),
                    format!(
                        "`refresh` calls the function again in the background, after this call \
                     returned, so `{}` cannot be a borrow: take it owned (e.g. `String` for \
                     `&str`, `Vec<T>` for `&[T]`, `Arc<T>` for `&T`)",
                        arg.ident
                    ),
                ),
            );
        }
    }
    errors.map_or(Ok(()), Err)
}

/// `refresh` must come before the shortest lifetime a value can get: `ttl` less
/// `ttl_jitter`, else some values expire before they are due.
fn check_against_ttl(
    refresh: &Expiry,
    ttl: Option<&Expiry>,
    jitter: Option<&Expiry>,
) -> syn::Result<()> {
    let needs_ttl = || {
        syn::Error::new(
            refresh.span(),
            "`refresh` needs a `ttl` to refresh before, e.g. #[cached(key = \"..\", ttl = 60, refresh = 50)]",
        )
    };
    let ttl = match ttl {
        None | Some(Expiry::Never(_)) => return Err(needs_ttl()),
        Some(ttl) => ttl,
    };
    let jitter_secs = match jitter.map(Expiry::literal_seconds) {
        None => Some(0.0),
        Some(secs) => secs,
    };
    match (refresh.literal_seconds(), ttl.literal_seconds()) {
        (Some(refresh_secs), Some(ttl_secs)) if refresh_secs >= ttl_secs => Err(syn::Error::new(
            refresh.span(),
            "`refresh` must be less than `ttl`: a value is refreshed on a hit after `refresh` \
             seconds, and expires after `ttl`",
        )),
        (Some(refresh_secs), Some(ttl_secs))
            if jitter_secs.is_some_and(|jitter_secs| refresh_secs >= ttl_secs - jitter_secs) =>
        {
            Err(syn::Error::new(
                refresh.span(),
                "`refresh` must be less than `ttl` less `ttl_jitter`: a value may live only \
                 `ttl - ttl_jitter` seconds, and would expire before it is refreshed",
            ))
        }
        _ => Ok(()),
    }
}

fn check_jitter(jitter: &Expiry, ttl: Option<&Expiry>) -> syn::Result<()> {
    if let Some(Expiry::Never(_)) = ttl {
        return Err(syn::Error::new(
            jitter.span(),
            "`ttl_jitter` spreads expiries, but `ttl = None` never expires",
        ));
    }
    match (
        jitter.literal_seconds(),
        ttl.and_then(Expiry::literal_seconds),
    ) {
        (Some(jitter_secs), Some(ttl_secs)) if jitter_secs > 0.0 && jitter_secs >= ttl_secs => {
            Err(syn::Error::new(
                jitter.span(),
                "`ttl_jitter` must be less than `ttl`: each value lives `ttl` less up to \
                 `ttl_jitter`",
            ))
        }
        _ => Ok(()),
    }
}

/// Whether a type holds a borrow (`&`, or a lifetime) other than `'static` ones
/// (`&'static str`, `Cow<'static, str>`, `impl Trait + 'static` may move into a refresh;
/// `RefreshArg` checks the rest).
fn borrows(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(at, token)| match token {
        TokenTree::Punct(punct) if punct.as_char() == '&' => !is_static_lifetime(&tokens[at + 1..]),
        TokenTree::Punct(punct) if punct.as_char() == '\'' => !is_static_lifetime(&tokens[at..]),
        TokenTree::Group(group) => borrows(group.stream()),
        _ => false,
    })
}

/// Whether `tokens` start with `'static`.
fn is_static_lifetime(tokens: &[TokenTree]) -> bool {
    matches!(
        tokens,
        [TokenTree::Punct(tick), TokenTree::Ident(name), ..]
            if tick.as_char() == '\'' && name == "static"
    )
}

/// Whether the function refreshes (`refresh = None` does not).
pub fn enabled(args: &Args) -> bool {
    args.refresh
        .as_ref()
        .is_some_and(|refresh| !matches!(refresh, Expiry::Never(_)))
}

/// `|| { let a = refresh_arg(&a); ..; move || -> R { body } }` (or `async move { body }`):
/// what a refreshing lookup calls to get the background call.
pub fn call(target: &Target) -> TokenStream {
    let clones = target.sig.args.iter().map(|arg| {
        let ident = &arg.ident;
        let clone =
            quote_spanned!(arg.ty.span()=> ::cachify::__private::cache::refresh_arg(&#ident));
        quote! {
            #[allow(unused_mut)]
            let mut #ident = #clone;
        }
    });
    let block = &target.item.block;
    let ret = &target.sig.output.ty;
    let body = if target.sig.is_async {
        quote!(async move #block)
    } else {
        quote!(move || -> #ret #block)
    };
    quote!(|| { #(#clones)* #body })
}
