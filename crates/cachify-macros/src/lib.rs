//! The attribute macros of [cachify](https://docs.rs/cachify): `#[cached]`, `#[lock]`,
//! `#[once]` and `#[pooled]`. Use them through the `cachify` crate.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

/// Caches a function's result under a key rendered from its arguments.
#[proc_macro_attribute]
pub fn cached(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Runs a function under a lock whose key is rendered from its arguments.
#[proc_macro_attribute]
pub fn lock(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Skips a call while another call with the same key is running.
#[proc_macro_attribute]
pub fn once(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Limits how many calls with the same key run at once.
#[proc_macro_attribute]
pub fn pooled(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
