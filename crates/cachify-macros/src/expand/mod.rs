//! parse → validate → expand, shared by every attribute.
//!
//! [`run`] is the one entry point: it prepares a [`Target`] (options parsed against the
//! attribute's [`Accepts`] table, signature analysed, key template compiled, stacked
//! attributes split off), hands it to the attribute's own `expand` function, and on any
//! error emits the user's item unchanged followed by the `compile_error!`s, so the user
//! sees the real mistakes rather than a cascade of "cannot find function" errors.

pub mod cached;
pub mod pooled;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::args::{Accepts, Args, Expiry};
use crate::companions::{self, Companion, Placement};
use crate::key_template::{KeyTemplate, Scope};
use crate::signature::{combine, Analysed};
use crate::stack::{self, Inner};

/// An attribute's expansion: from a prepared target to the final tokens.
pub type Expand = fn(Target) -> syn::Result<TokenStream>;

/// Runs one attribute macro.
pub fn run(
    accepts: &Accepts,
    expand: Expand,
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let item = TokenStream::from(item);
    let result = Target::prepare(accepts, args.into(), item.clone()).and_then(expand);
    match result {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let mut tokens = item;
            tokens.extend(error.into_compile_error());
            tokens.into()
        }
    }
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
    /// The compiled `key` option, when the attribute has one.
    pub key: Option<KeyTemplate>,
    /// The inner layer, when another of our attributes was stacked under this one.
    pub inner: Option<Inner>,
}

impl Target {
    fn prepare(accepts: &Accepts, args: TokenStream, item: TokenStream) -> syn::Result<Self> {
        let mut item: ItemFn = syn::parse2(item).map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("#[{}] goes on a `fn` or an `async fn`", accepts.attr),
            )
        })?;
        let mut errors = None;
        let args = Args::parse(args, accepts)
            .map_err(|e| combine(&mut errors, e))
            .ok();
        let sig = Analysed::new(&item.sig, accepts.attr)
            .map_err(|e| combine(&mut errors, e))
            .ok();
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
        if let Some(errors) = errors {
            return Err(errors);
        }
        let (args, sig) = (args.expect("no error"), sig.expect("no error"));
        let inner = stack::split(&mut item, &sig);
        Ok(Self {
            args,
            item,
            sig,
            key,
            inner,
        })
    }

    /// Where companions of this function go.
    pub fn placement(&self) -> Placement {
        Placement::of(&self.sig)
    }

    /// The key template; attributes that require `key` can rely on it.
    pub fn key(&self) -> &KeyTemplate {
        self.key.as_ref().expect("`key` is a required option")
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

    /// The final tokens: the outer function with `body`, its companions (forwarding to a
    /// stacked inner layer's), and the inner layer's function.
    pub fn finish(self, body: TokenStream, own: &[Companion]) -> TokenStream {
        let ItemFn {
            attrs, vis, sig, ..
        } = &self.item;
        let inner = self
            .inner
            .as_ref()
            .map(|inner| (&inner.ident, inner.attrs.as_slice()));
        let companions = companions::emit(&self.item, &self.sig, own, inner);
        let inner_item = self
            .inner
            .as_ref()
            .map(|inner| inner.item.to_token_stream());
        quote! {
            #(#attrs)*
            #vis #sig {
                #body
            }
            #companions
            #inner_item
        }
    }
}

/// `::cachify::__private::Expiry` for an expiry option (`None` when omitted: the
/// instance's default applies).
pub fn expiry(option: Option<&Expiry>) -> TokenStream {
    match option {
        None => quote!(::cachify::__private::Expiry::Default),
        Some(Expiry::Never(span)) => quote_spanned!(*span=> ::cachify::__private::Expiry::Never),
        Some(Expiry::Seconds(lit)) => quote_spanned!(lit.span()=>
            ::cachify::__private::Expiry::After(::core::time::Duration::from_secs(#lit))
        ),
        Some(Expiry::Duration(expr)) => quote_spanned!(expr.span()=>
            <::cachify::__private::Expiry as ::core::convert::From<_>>::from(#expr)
        ),
    }
}

/// An identifier no user code can clash with.
pub fn private_ident(name: &str) -> syn::Ident {
    syn::Ident::new(&format!("__cachify_{name}"), Span::call_site())
}
