//! What the expansions need to know about the annotated function's signature: its
//! receiver, its argument names, its asyncness and the shape of its return type.
//!
//! Arguments must be plain names (`a: T`, `mut a: T`): key templates and companions refer
//! to them by name. The return type and its span are computed here once. Whether it is a
//! `Result` is *not* decided here: an alias can hide one, so the generated code lets the
//! compiler choose by type (`cachify::__private::{Returns, cache::ShapeOf}`). What the
//! syntax does tell is what certainly is not a `Result` (`()`, `impl Trait`, a reference,
//! a tuple) and whether the value borrows (a reference or a lifetime in it).

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, Pat, ReturnType, Signature, Type};

/// How the function takes `self`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// A free function (or an associated function without `self`).
    None,
    /// `&self` or `&mut self` (or `self: &Self`).
    Ref,
    /// `self`, `mut self`, `self: Box<Self>`, ...
    Value,
}

/// The return type's syntactic shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnKind {
    /// No return type, or `()`.
    Unit,
    /// `impl Trait`: it cannot be named in the body.
    ImplTrait,
    /// A path type (`u32`, `Result<T, E>`, `Outcome<T>`, `Self`): maybe a `Result`.
    Path,
    /// Anything else (a reference, a tuple, an array, ...): certainly not a `Result`.
    Other,
}

/// The return type, analysed once.
#[derive(Debug, Clone)]
pub struct Output {
    /// As written, `()` when omitted.
    pub ty: Type,
    /// Where problems with it are reported: the type, or the function's name if omitted.
    pub span: Span,
    pub kind: ReturnKind,
    /// Whether it borrows: a reference or a lifetime other than `'static` in it.
    pub borrows: bool,
    /// The function's type parameter it is, or whose associated type it is (`T`,
    /// `T::Output`): its shape is only known where the function is called.
    pub generic: Option<Ident>,
}

impl Output {
    fn new(sig: &Signature) -> Self {
        let ty: Type = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        let span = match &sig.output {
            ReturnType::Default => sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        };
        let kind = match peel(&ty) {
            Type::Tuple(tuple) if tuple.elems.is_empty() => ReturnKind::Unit,
            Type::ImplTrait(_) => ReturnKind::ImplTrait,
            Type::Path(path) if !is_known_non_result(&path.path) => ReturnKind::Path,
            _ => ReturnKind::Other,
        };
        let borrows = borrows(ty.to_token_stream());
        let generic = type_parameter_of(peel(&ty), &sig.generics);
        Self {
            ty,
            span,
            kind,
            borrows,
            generic,
        }
    }

    /// Whether this can be a `Result` (the compiler decides).
    pub fn may_be_result(&self) -> bool {
        self.kind == ReturnKind::Path
    }

    /// The type as the body may name it; `_` for `impl Trait`.
    pub fn nameable(&self) -> TokenStream {
        match self.kind {
            ReturnKind::ImplTrait => quote::quote!(_),
            _ => self.ty.to_token_stream(),
        }
    }
}

/// Primitive and common standard types, which no alias can be: `u32`, `String`, `Vec<T>`..
fn is_known_non_result(path: &syn::Path) -> bool {
    const KNOWN: &[&str] = &[
        "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
        "i64", "i128", "isize", "f32", "f64", "String", "Vec", "Option", "HashMap", "BTreeMap",
        "HashSet", "BTreeSet", "VecDeque", "Box", "Arc", "Rc",
    ];
    path.segments
        .last()
        .is_some_and(|last| KNOWN.iter().any(|known| last.ident == known))
}

/// `(T)` and invisible groups are `T`.
/// The type parameter of `generics` that `ty` is (`T`), or whose associated type it is
/// (`T::Output`, `<T as Trait>::Output`).
fn type_parameter_of(ty: &Type, generics: &syn::Generics) -> Option<Ident> {
    let Type::Path(path) = ty else { return None };
    let first = match &path.qself {
        Some(qself) => match peel(&qself.ty) {
            Type::Path(inner) if inner.qself.is_none() && inner.path.segments.len() == 1 => {
                inner.path.segments.first()?
            }
            _ => return None,
        },
        None => {
            let first = path.path.segments.first()?;
            let bare = path.path.segments.len() == 1;
            if path.path.leading_colon.is_some() || (bare && !first.arguments.is_empty()) {
                return None;
            }
            first
        }
    };
    generics
        .type_params()
        .find(|param| param.ident == first.ident)
        .map(|param| param.ident.clone())
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => peel(&inner.elem),
        Type::Group(inner) => peel(&inner.elem),
        ty => ty,
    }
}

/// A `&` or a lifetime other than `'static` anywhere in `tokens`.
fn borrows(tokens: TokenStream) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '&' => return true,
            TokenTree::Punct(p)
                if p.as_char() == '\''
                    && !matches!(tokens.peek(), Some(TokenTree::Ident(i)) if i == "static") =>
            {
                return true;
            }
            TokenTree::Group(group) if borrows(group.stream()) => return true,
            _ => {}
        }
    }
    false
}

/// Whether `Self` appears in `tokens` (then the function is in an `impl` or a trait).
pub fn mentions_self_type(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "Self",
        TokenTree::Group(group) => mentions_self_type(group.stream()),
        _ => false,
    })
}

/// One named argument.
#[derive(Debug, Clone)]
pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
}

/// The analysed signature.
#[derive(Debug, Clone)]
pub struct Analysed {
    pub name: Ident,
    pub receiver: Receiver,
    pub args: Vec<Arg>,
    pub is_async: bool,
    pub output: Output,
    /// Whether it sits in an `impl` block: it takes `self`, names `Self`, or
    /// `#[cachify::companions]` says so. Its companions are then associated functions.
    pub in_impl: bool,
    /// Whether its companions are `pub` whatever its own visibility: a method of a trait
    /// `impl` has none written, yet is as visible as the trait.
    pub public_companions: bool,
}

impl Analysed {
    /// Analyses `sig`, collecting every unsupported argument pattern into one error.
    pub fn new(sig: &Signature, attr: &str) -> syn::Result<Self> {
        if let Some(variadic) = &sig.variadic {
            return Err(syn::Error::new(
                variadic.span(),
                format!("#[{attr}] does not support variadic functions"),
            ));
        }
        let mut errors: Option<syn::Error> = None;
        let mut receiver = Receiver::None;
        let mut args = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    receiver = if r.reference.is_some() || matches!(&*r.ty, Type::Reference(_)) {
                        Receiver::Ref
                    } else {
                        Receiver::Value
                    };
                }
                FnArg::Typed(typed) => match plain_name(&typed.pat) {
                    Some(ident) => args.push(Arg {
                        ident,
                        ty: (*typed.ty).clone(),
                    }),
                    None => {
                        let error = syn::Error::new(
                            typed.pat.span(),
                            format!(
                                "#[{attr}] needs a plain name for every argument, because key \
                                 templates and companion functions refer to arguments by name; \
                                 bind the pattern inside the body instead"
                            ),
                        );
                        combine(&mut errors, error);
                    }
                },
            }
        }
        if let Some(errors) = errors {
            return Err(errors);
        }
        Ok(Self {
            name: sig.ident.clone(),
            receiver,
            args,
            is_async: sig.asyncness.is_some(),
            output: Output::new(sig),
            in_impl: receiver != Receiver::None || mentions_self_type(sig.to_token_stream()),
            public_companions: false,
        })
    }

    /// The argument names, receiver excluded.
    pub fn arg_names(&self) -> Vec<Ident> {
        self.args.iter().map(|arg| arg.ident.clone()).collect()
    }

    /// Whether this is a method (takes `self` in some form).
    pub fn is_method(&self) -> bool {
        self.receiver != Receiver::None
    }

    /// `__cachify_x`-free call of the function `name` with the same arguments: `name(a)`,
    /// `self.name(a)` or `Self::name(a)`, awaited when async.
    pub fn call(&self, name: &Ident) -> TokenStream {
        self.call_generic(name, None)
    }

    /// [`call`](Self::call) with explicit generic arguments (`::<T>`), when given.
    pub fn call_generic(&self, name: &Ident, turbofish: Option<TokenStream>) -> TokenStream {
        let args = self.arg_names();
        let call = if self.is_method() {
            quote::quote!(self.#name #turbofish (#(#args),*))
        } else if self.in_impl {
            quote::quote!(Self::#name #turbofish (#(#args),*))
        } else {
            quote::quote!(#name #turbofish (#(#args),*))
        };
        if self.is_async {
            quote::quote!(#call.await)
        } else {
            call
        }
    }
}

/// Adds `error` to the collected ones (several errors are reported together).
pub fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(existing) => existing.combine(error),
        None => *errors = Some(error),
    }
}

fn plain_name(pat: &Pat) -> Option<Ident> {
    match pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            Some(ident.ident.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn analyse(sig: Signature) -> syn::Result<Analysed> {
        Analysed::new(&sig, "cached")
    }

    #[test]
    fn free_async_fn_with_result() {
        let sig = analyse(parse_quote!(async fn f(a: i32, mut b: &str) -> io::Result<u8>)).unwrap();
        assert!(sig.is_async && !sig.is_method() && !sig.in_impl);
        assert_eq!(sig.arg_names(), ["a", "b"]);
        assert!(sig.output.may_be_result() && !sig.output.borrows);
    }

    #[test]
    fn receivers() {
        assert_eq!(
            analyse(parse_quote!(fn f(&self))).unwrap().receiver,
            Receiver::Ref
        );
        assert_eq!(
            analyse(parse_quote!(fn f(self: &Self))).unwrap().receiver,
            Receiver::Ref
        );
        assert_eq!(
            analyse(parse_quote!(fn f(self))).unwrap().receiver,
            Receiver::Value
        );
    }

    #[test]
    fn a_return_type_that_is_a_type_parameter_is_named() {
        let generic = |sig: Signature| analyse(sig).unwrap().output.generic.map(|t| t.to_string());
        assert_eq!(generic(parse_quote!(fn f<R>() -> R)).as_deref(), Some("R"));
        assert_eq!(
            generic(parse_quote!(fn f<T: Tr>() -> T::Output)).as_deref(),
            Some("T")
        );
        assert_eq!(
            generic(parse_quote!(fn f<T: Tr>() -> <T as Tr>::Output)).as_deref(),
            Some("T")
        );
        assert_eq!(generic(parse_quote!(fn f<T>() -> Vec<T>)), None);
        assert_eq!(generic(parse_quote!(fn f<T>() -> Option<T>)), None);
        assert_eq!(generic(parse_quote!(fn f<T>() -> Result<T, E>)), None);
        assert_eq!(
            generic(parse_quote!(fn f() -> T)),
            None,
            "not a parameter of f"
        );
    }

    #[test]
    fn return_kinds() {
        let kind = |sig: Signature| analyse(sig).unwrap().output.kind;
        assert_eq!(kind(parse_quote!(fn f())), ReturnKind::Unit);
        assert_eq!(kind(parse_quote!(fn f() -> ())), ReturnKind::Unit);
        assert_eq!(kind(parse_quote!(fn f() -> Outcome<u8>)), ReturnKind::Path);
        assert_eq!(
            kind(parse_quote!(fn f() -> impl Display)),
            ReturnKind::ImplTrait
        );
        assert_eq!(kind(parse_quote!(fn f() -> (u8, u8))), ReturnKind::Other);
        assert_eq!(kind(parse_quote!(fn f() -> u32)), ReturnKind::Other);
        assert_eq!(kind(parse_quote!(fn f() -> Option<u32>)), ReturnKind::Other);
    }

    #[test]
    fn borrowing_returns() {
        let borrows = |sig: Signature| analyse(sig).unwrap().output.borrows;
        assert!(borrows(parse_quote!(fn f(&self) -> &str)));
        assert!(borrows(parse_quote!(fn f(&self) -> Option<Cow<'_, str>>)));
        assert!(!borrows(parse_quote!(fn f() -> Cow<'static, str>)));
        assert!(!borrows(parse_quote!(fn f() -> Vec<u8>)));
    }

    #[test]
    fn functions_naming_self_are_in_an_impl() {
        assert!(
            analyse(parse_quote!(fn load(id: u32) -> Self))
                .unwrap()
                .in_impl
        );
        assert!(analyse(parse_quote!(fn get(&self))).unwrap().in_impl);
        assert!(
            !analyse(parse_quote!(fn load(id: u32) -> Account))
                .unwrap()
                .in_impl
        );
    }

    #[test]
    fn patterns_are_rejected_together() {
        let err = analyse(parse_quote!(fn f((a, b): (u8, u8), _: u8, ref c: u8))).unwrap_err();
        assert_eq!(err.into_iter().count(), 3);
    }
}
