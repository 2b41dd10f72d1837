//! parse → validate → expand, shared by every attribute.
//!
//! [`run`] is the entry point of the function attributes: [`Target::prepare`] parses the
//! options against the attribute's table, analyses the signature, compiles the key
//! template and runs the attribute's validation, collecting every error into one report;
//! then the attribute's `expand` builds the wrapper and companions. On any error the
//! user's item is emitted unchanged, followed by the `compile_error!`s and stub
//! companions, so the user sees the real mistakes and no cascade of "cannot find" errors.

pub mod cached;
pub mod lock;
pub mod once;
pub mod pooled;
mod refresh;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::args::{Args, Expiry};
use crate::attribute::Attribute;
use crate::companions::{self, Companion, InnerLayer, Placement};
use crate::key_template::{KeyTemplate, Scope};
use crate::signature::{combine, Analysed};
use crate::stack::{self, Inner};

/// Whether an identifier in `tokens` satisfies `matches`.
pub fn names_any(tokens: TokenStream, matches: &dyn Fn(&str) -> bool) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => matches(&ident.to_string()),
        proc_macro2::TokenTree::Group(group) => names_any(group.stream(), matches),
        _ => false,
    })
}

/// What the surroundings tell an expansion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The function is in an `impl` block (`#[cachify::companions]` knows it).
    pub in_impl: bool,
    /// That block is a trait `impl`.
    pub trait_impl: bool,
    /// That block has type parameters (so `Self` may name one).
    pub generic_self: bool,
    /// The function's return type names one of them.
    pub returns_impl_parameter: bool,
}

/// One expanded function.
#[derive(Debug)]
pub struct Expansion {
    /// The function with its wrapper body, signature untouched.
    pub function: TokenStream,
    /// Its companions (and forwarders to the inner layer's).
    pub companions: TokenStream,
    /// The hidden inner layer, still carrying the remaining attributes.
    pub inner: Option<ItemFn>,
}

impl ToTokens for Expansion {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.function.to_tokens(tokens);
        self.companions.to_tokens(tokens);
        self.inner.to_tokens(tokens);
    }
}

/// Runs one function attribute macro.
pub fn run(
    attr: Attribute,
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let item = TokenStream::from(item);
    let parsed: ItemFn = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let message = format!("#[{}] goes on a `fn` or an `async fn`", attr.name());
            let error = syn::Error::new(error.span(), message).into_compile_error();
            return quote!(#item #error).into();
        }
    };
    match expand(attr, args.into(), parsed.clone(), Context::default()) {
        Ok(expansion) => expansion.into_token_stream().into(),
        Err(error) => {
            let error = error.into_compile_error();
            // Another of our attributes left on the item makes its own companions.
            let stacked = parsed.attrs.iter().any(|a| Attribute::of(a).is_some());
            let stubs = (!stacked).then(|| companions::stubs(attr, &parsed.sig, false));
            quote!(#item #error #stubs).into()
        }
    }
}

/// Expands `attr` with `args` on `item`.
pub fn expand(
    attr: Attribute,
    args: TokenStream,
    item: ItemFn,
    context: Context,
) -> syn::Result<Expansion> {
    let target = Target::prepare(attr, args, item, context)?;
    Ok(match attr {
        Attribute::Cached => cached::expand(target),
        Attribute::Lock => lock::expand(target),
        Attribute::Once => once::expand(target),
        Attribute::Pooled => pooled::expand(target),
    })
}

/// Everything an attribute's expansion works from.
#[derive(Debug)]
pub struct Target {
    /// The attribute's options.
    pub args: Args,
    /// The function to wrap. When attributes are stacked its body is already a call to
    /// the inner layer.
    pub item: ItemFn,
    /// Its analysed signature.
    pub sig: Analysed,
    /// The compiled `key` option (every attribute requires one).
    key: KeyTemplate,
    /// The inner layer, when another of our attributes was stacked under this one.
    pub inner: Option<Inner>,
    /// What the surroundings told.
    context: Context,
}

impl Target {
    fn prepare(
        attr: Attribute,
        args: TokenStream,
        mut item: ItemFn,
        context: Context,
    ) -> syn::Result<Self> {
        let mut errors = None;
        let args = Args::parse(args, &attr.accepts())
            .map_err(|e| combine(&mut errors, e))
            .ok();
        let sig = Analysed::new(&item.sig, attr.name())
            .map_err(|e| combine(&mut errors, e))
            .ok()
            .map(|mut sig| {
                sig.in_impl |= context.in_impl;
                sig.public_companions = context.trait_impl;
                sig
            });
        let key = match (&args, &sig) {
            (Some(args), Some(sig)) => args.key.as_ref().and_then(|lit| {
                let names = sig.arg_names();
                let scope = Scope {
                    args: &names,
                    has_receiver: sig.is_method(),
                    fn_name: &sig.name,
                };
                KeyTemplate::compile(lit, scope)
                    .map_err(|e| combine(&mut errors, e))
                    .ok()
            }),
            _ => None,
        };
        if let (Some(args), Some(sig)) = (&args, &sig) {
            if let Err(e) = validate(attr, args, sig) {
                combine(&mut errors, e);
            }
        }
        match (errors, args, sig, key) {
            (None, Some(args), Some(sig), Some(key)) => {
                let inner = stack::split(&mut item, &sig).or_else(|| {
                    // A refreshing body runs from two places (the miss and the refresh):
                    // emitted once, in a hidden function both call.
                    (attr == Attribute::Cached && refresh::enabled(&args))
                        .then(|| stack::hide_body(&mut item, &sig))
                });
                Ok(Self {
                    args,
                    item,
                    sig,
                    key,
                    inner,
                    context,
                })
            }
            (Some(errors), ..) => Err(errors),
            // `key` is required, so a missing key was reported above.
            _ => Err(syn::Error::new(Span::call_site(), "missing `key`")),
        }
    }

    /// Where companions of this function go.
    pub fn placement(&self) -> Placement {
        Placement::of(&self.sig)
    }

    /// The function's `&'static FnStats`, as seen `from` its scope or its companions.
    pub fn counters(&self, from: Placement) -> TokenStream {
        crate::stats::counters(self, from)
    }

    /// The key template.
    pub fn key(&self) -> &KeyTemplate {
        &self.key
    }

    /// `::cachify::__private::Source::{Global | Instance(&PATH)}` as seen from `placement`.
    pub fn source(&self, placement: Placement) -> TokenStream {
        match &self.args.cachify {
            None => quote!(::cachify::__private::Source::Global),
            Some(path) => {
                let path = placement.adjust_path(path);
                quote_spanned!(path.span()=> ::cachify::__private::Source::Instance(&#path))
            }
        }
    }

    /// The original body's statements, to splice after the wrapper's own: a block in
    /// tail position would make the user's crate warn (`unused_braces`).
    pub fn body_statements(&self) -> TokenStream {
        let statements = &self.item.block.stmts;
        quote!(#(#statements)*)
    }

    /// The expansion: the outer function with `body`, its companions (forwarding to a
    /// stacked inner layer's), and the inner layer's function.
    pub fn finish(self, body: TokenStream, own: &[Companion]) -> Expansion {
        let ItemFn {
            attrs, vis, sig, ..
        } = &self.item;
        // Inner attributes (`#![allow(..)]` at the top of the body) stay in the body.
        let (inner_attrs, attrs): (Vec<_>, Vec<_>) = attrs
            .iter()
            .partition(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
        // A body hidden for `refresh` carries no layer, hence no companions.
        let inner = self
            .inner
            .as_ref()
            .filter(|inner| !inner.attrs.is_empty())
            .map(|inner| InnerLayer {
                ident: &inner.ident,
                attrs: &inner.attrs,
                clear: inner.clear,
            });
        // The hint comes first, so rustc reports it first in a trait `impl`.
        let mut companions = TokenStream::new();
        if self.placement() == Placement::Impl && !self.context.in_impl {
            companions.extend(companions::trait_impl_hint(&self.sig));
        }
        let own: Vec<Companion> = own
            .iter()
            .map(Companion::clone)
            .chain(crate::stats::companions(&self))
            .collect();
        companions.extend(companions::emit(&self.item, &self.sig, &own, inner));
        let version = version_check();
        let function = quote! {
            #(#attrs)*
            #vis #sig {
                #(#inner_attrs)*
                #version
                #body
            }
        };
        Expansion {
            function,
            companions,
            inner: self.inner.map(|inner| inner.item),
        }
    }
}

/// The checks of one attribute's options against the function, reported with the parse
/// errors.
fn validate(attr: Attribute, args: &Args, sig: &Analysed) -> syn::Result<()> {
    match attr {
        Attribute::Cached => cached::validate(args, sig),
        Attribute::Lock => lock::validate(sig),
        Attribute::Once => once::validate(args, sig),
        Attribute::Pooled => pooled::validate(args, sig),
    }
}

/// A statement naming the `cachify-core` item of this crate's version: a `cachify-macros`
/// and a `cachify-core` of different versions fail to compile together.
fn version_check() -> TokenStream {
    let version = env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_");
    let check = format_ident!("VERSION_{}", version);
    quote!(const _: () = ::cachify::__private::#check;)
}

/// `::cachify::__private::Expiry` for an expiry option (`Default` when omitted: the
/// instance's default applies).
pub fn expiry(option: Option<&Expiry>) -> TokenStream {
    match option {
        None => quote!(::cachify::__private::Expiry::Default),
        Some(Expiry::Never(span)) => quote_spanned!(*span=> ::cachify::__private::Expiry::Never),
        // Through `IntoExpiry` rather than `Duration::from_secs(#lit)`, which clippy's
        // `duration_suboptimal_units` would report on the user's `ttl = 60`.
        Some(Expiry::Seconds(lit)) => quote_spanned!(lit.span()=>
            <u64 as ::cachify::__private::IntoExpiry>::into_expiry(#lit)
        ),
        Some(Expiry::FloatSeconds(lit)) => quote_spanned!(lit.span()=>
            ::cachify::__private::Expiry::of(#lit)
        ),
        Some(Expiry::Value(expr)) => quote_spanned!(expr.span()=>
            ::cachify::__private::Expiry::of(#expr)
        ),
    }
}

/// A `bool` option's value, `default` when omitted.
pub fn flag(option: Option<&syn::LitBool>, default: bool) -> TokenStream {
    match option {
        Some(flag) => quote!(#flag),
        None => quote!(#default),
    }
}

/// An identifier no user code can clash with.
pub fn private_ident(name: &str) -> syn::Ident {
    syn::Ident::new(&format!("__cachify_{name}"), Span::mixed_site())
}

/// What a refused call returns, by the function's return type (see
/// `cachify::__private::Returns`): the caller's `Err` for a failure when it returns a
/// `Result`, else `skipped` (the call is skipped; failures logged).
pub fn refusal(
    target: &Target,
    attr: Attribute,
    error: &syn::Ident,
    skipped: TokenStream,
) -> TokenStream {
    let name = attr.name();
    let output = &target.sig.output;
    if !output.may_be_result() {
        return quote! {{
            ::cachify::__private::fail_closed(#error, #name);
            return #skipped;
        }};
    }
    let ty = &output.ty;
    let returned = private_ident("returned");
    let probe = quote_spanned!(output.span=> (&::cachify::__private::Returns::<#ty>::new()));
    quote! {{
        #[allow(unused_imports)]
        use ::cachify::__private::ReturnsAnything as _;
        if let ::core::option::Option::Some(#returned) = #probe.on_refusal(#error, #name) {
            return #returned;
        }
        return #skipped;
    }}
}

/// `Default::default()`, or `Ok(Default::default())` when the return type is a `Result`.
pub fn default_value(target: &Target) -> TokenStream {
    let output = &target.sig.output;
    if !output.may_be_result() {
        return quote_spanned!(output.span=> ::core::default::Default::default());
    }
    let ty = &output.ty;
    quote_spanned!(output.span=> {
        #[allow(unused_imports)]
        use ::cachify::__private::ReturnsAnything as _;
        (&::cachify::__private::Returns::<#ty>::new()).skipped()
    })
}

/// `return Err(error.into())` as the function's return type, spanned at it so that a
/// return type that cannot carry a `cachify::Error` is reported there.
pub fn raise(target: &Target, error: &syn::Ident) -> TokenStream {
    quote_spanned!(target.sig.output.span=> return ::cachify::__private::refuse(#error))
}
