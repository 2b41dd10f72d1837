//! Every attribute's counters: one `static` `FnStats` per decorated function, kept in a
//! hidden companion (`f::cachify_counters()`, `Self::f_cachify_counters()`) that
//! the wrapper hands to the engine, and the `stats()` companion that reads it.
//!
//! The `static` lives in a companion rather than in the wrapper's body because both the
//! wrapper and `stats()` must reach the same one. Stacked layers each count their own
//! events; the outer `stats()` adds the inner layer's, and every layer labels its
//! metrics with the function's name as written (not `__cachify_inner_f`).

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use crate::attribute::CompanionKind;
use crate::companions::{method_name, Companion, Placement};
use crate::expand::Target;

/// The expression of the function's `&'static FnStats`, written `from` the function's own
/// scope (`Placement::Impl`) or from its companion module (`Placement::Module`).
pub fn counters(target: &Target, from: Placement) -> TokenStream {
    let kind = CompanionKind::Counters;
    let name = &target.sig.name;
    match (target.placement(), from) {
        (Placement::Impl, _) => {
            let method = method_name(name, kind);
            quote!(Self::#method())
        }
        (Placement::Module, Placement::Module) => {
            let accessor = format_ident!("{}", kind.name());
            quote!(self::#accessor())
        }
        (Placement::Module, Placement::Impl) => {
            let accessor = format_ident!("{}", kind.name());
            quote!(#name::#accessor())
        }
    }
}

/// `stats()` and the hidden accessor of the `static` it reads.
pub fn companions(target: &Target) -> [Companion; 2] {
    let name = &target.sig.name;
    let label = name.unraw().to_string();
    let label = crate::stack::base_name(&label);
    // In `mod f` (a free function's companions), `module_path!()` ends with `f`.
    let in_companions = target.placement() == Placement::Module;
    // A method's path names its type, which only the body can name (not a `static`).
    let this = match target.placement() {
        Placement::Module => quote!(&STATS),
        Placement::Impl => quote!(STATS.of_method(::core::any::type_name::<Self>())),
    };
    let counters = Companion {
        kind: CompanionKind::Counters,
        doc: format!("The counters of `{label}`, for its wrapper and `stats()`."),
        body: quote! {
            static COUNTERS: ::cachify::__private::Counters = ::cachify::__private::Counters::new();
            static STATS: ::cachify::__private::FnStats = ::cachify::__private::FnStats::new(
                ::core::module_path!(),
                #in_companions,
                #label,
                &COUNTERS,
            );
            #this
        },
    };
    let own = counters_from_companion(target);
    // A body hidden for `refresh` is no layer: it has no counters of its own.
    let inner = target
        .inner
        .as_ref()
        .filter(|inner| !inner.attrs.is_empty())
        .map(|inner| inner_stats(target, &inner.ident))
        .into_iter();
    let stats = Companion {
        kind: CompanionKind::Stats,
        doc: format!(
            "What calls of `{label}` did since the process started: hits, misses, lock \
             and pool counts (every layer's, when attributes are stacked)."
        ),
        body: quote!(#own.snapshot() #(+ #inner)*),
    };
    [stats, counters]
}

/// The counters as `stats()` reaches them.
fn counters_from_companion(target: &Target) -> TokenStream {
    counters(target, target.placement())
}

/// The inner layer's `stats()`, called from the outer one's.
fn inner_stats(target: &Target, inner: &Ident) -> TokenStream {
    match target.placement() {
        Placement::Module => {
            let stats = format_ident!("{}", CompanionKind::Stats.name());
            quote!(super::#inner::#stats())
        }
        Placement::Impl => {
            let method = method_name(inner, CompanionKind::Stats);
            quote!(Self::#method())
        }
    }
}

/// The companion of a function whose expansion failed: zeros.
pub fn stub(name: &Ident, vis: Option<&TokenStream>, kind: CompanionKind) -> TokenStream {
    let ok = kind.ok();
    let body = match kind {
        CompanionKind::Counters => quote! {
            static COUNTERS: ::cachify::__private::Counters = ::cachify::__private::Counters::new();
            static STATS: ::cachify::__private::FnStats =
                ::cachify::__private::FnStats::new("", false, "", &COUNTERS);
            &STATS
        },
        _ => quote!(::core::default::Default::default()),
    };
    quote! {
        #[doc(hidden)]
        #[allow(dead_code)]
        #vis fn #name() -> #ok {
            #body
        }
    }
}
