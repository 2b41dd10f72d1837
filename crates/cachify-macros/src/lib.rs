//! The attribute macros of [cachify](https://docs.rs/cachify): `#[cached]`, `#[lock]`,
//! `#[once]` and `#[pooled]`. Use them through the `cachify` crate.
//!
//! # How the crate is organised
//!
//! Every attribute goes through the same pipeline, `expand::run`:
//!
//! 1. **parse**: `args` parses the options against the attribute's `Accepts` table
//!    (allowed and required options); `signature` analyses the function (receiver,
//!    plain argument names, asyncness, return kind: unit / plain / `Result` / `Option`);
//!    `key_template` compiles `key = "..."` into a `format_args!` over the arguments;
//!    `stack` splits off a hidden inner function when another of our attributes is
//!    stacked under this one. All errors are collected and reported together, after the
//!    unchanged item (one error, not a cascade).
//! 2. **expand**: the attribute's `expand/<name>.rs` turns the prepared `Target` into a
//!    wrapper body plus its companions (`reset`, `is_locked`, ...), and
//!    `Target::finish` emits the function with its signature untouched, the companions
//!    (`companions`: a module `f` for free functions, methods `f_<name>` for methods)
//!    and the inner layer.
//!
//! # Adding an attribute
//!
//! 1. Create `expand/<name>.rs` with `pub const ACCEPTS: Accepts` (its options; add any
//!    new option to `args::Opt` and the parser's `kw` list) and
//!    `pub fn expand(target: Target) -> syn::Result<TokenStream>`.
//! 2. Build the body from `target.key()`, `target.source(..)`, `expand::expiry(..)`,
//!    `target.sig` and `target.item.block`, naming only `::cachify::__private::…`,
//!    `::core::…`, `::std::…`, with `__cachify_` bindings (`expand::private_ident`).
//! 3. Return `target.finish(body, &companions)`; list the attribute's companions and
//!    their `Ok` types in `companions::KNOWN` so stacked layers forward them.
//! 4. Route the `#[proc_macro_attribute]` below through `expand::run` and add trybuild
//!    cases under `tests/ui/` for its diagnostics.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod companions;
mod expand;
mod key_template;
mod signature;
mod stack;

/// Caches a function's result under a key rendered from its arguments.
///
/// See the `cachify` crate's documentation for the options and companions.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(&expand::cached::ACCEPTS, expand::cached::expand, args, item)
}

/// Runs a function under a lock whose key is rendered from its arguments.
///
/// See the `cachify` crate's documentation for the options and companions.
#[proc_macro_attribute]
pub fn lock(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(&expand::lock::ACCEPTS, expand::lock::expand, args, item)
}

/// Skips a call while another call with the same key is running.
///
/// See the `cachify` crate's documentation for the options and companions.
#[proc_macro_attribute]
pub fn once(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(&expand::once::ACCEPTS, expand::once::expand, args, item)
}

/// Limits how many calls with the same key run at once.
///
/// See the `cachify` crate's documentation for the options and companions.
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(&expand::pooled::ACCEPTS, expand::pooled::expand, args, item)
}
