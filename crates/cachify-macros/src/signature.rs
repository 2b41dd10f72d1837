//! What the expansions need to know about the annotated function's signature: its
//! receiver, its argument names, its asyncness and the shape of its return type.
//!
//! Arguments must be plain names (`a: T`, `mut a: T`): key templates and companions refer
//! to them by name. The return type is classified syntactically: a path whose last
//! segment is `Result` is a `Result` (its first generic argument is the `Ok` type, which
//! covers `io::Result<T>` and `anyhow::Result<T>`), likewise `Option`.

use proc_macro2::Ident;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Pat, PathArguments, ReturnType, Signature, Type};

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

/// The return type's shape.
#[derive(Debug, Clone)]
pub enum ReturnKind {
    /// No return type, or `()`.
    Unit,
    /// `Result<T, ..>`: `ok` is `T`.
    Result { ok: Type },
    /// `Option<T>`.
    Option { some: Type },
    /// Anything else.
    Plain(Type),
}

impl ReturnKind {
    /// The type a cache stores: the `Ok` type of a `Result`, the whole type otherwise.
    pub fn stored_type(&self) -> Type {
        match self {
            ReturnKind::Unit => syn::parse_quote!(()),
            ReturnKind::Result { ok } => ok.clone(),
            ReturnKind::Option { some } => syn::parse_quote!(::core::option::Option<#some>),
            ReturnKind::Plain(ty) => ty.clone(),
        }
    }

    /// Whether this is a `Result`.
    pub fn is_result(&self) -> bool {
        matches!(self, ReturnKind::Result { .. })
    }
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
    pub output: ReturnKind,
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
            output: classify(&sig.output),
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

fn classify(output: &ReturnType) -> ReturnKind {
    let ReturnType::Type(_, ty) = output else {
        return ReturnKind::Unit;
    };
    if matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        return ReturnKind::Unit;
    }
    match wrapper_arg(ty, "Result") {
        Some(ok) => ReturnKind::Result { ok },
        None => match wrapper_arg(ty, "Option") {
            Some(some) => ReturnKind::Option { some },
            None => ReturnKind::Plain((**ty).clone()),
        },
    }
}

/// The first generic type argument of `ty` when its last path segment is `name`.
fn wrapper_arg(ty: &Type, name: &str) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(generics) = &last.arguments else {
        return None;
    };
    generics.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    })
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
        assert!(sig.is_async && !sig.is_method());
        assert_eq!(sig.arg_names(), ["a", "b"]);
        let ReturnKind::Result { ok } = sig.output else {
            panic!("not a result")
        };
        assert_eq!(quote::quote!(#ok).to_string(), "u8");
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
    fn return_kinds() {
        assert!(matches!(
            analyse(parse_quote!(fn f())).unwrap().output,
            ReturnKind::Unit
        ));
        assert!(matches!(
            analyse(parse_quote!(fn f() -> ())).unwrap().output,
            ReturnKind::Unit
        ));
        assert!(matches!(
            analyse(parse_quote!(fn f() -> Option<u8>)).unwrap().output,
            ReturnKind::Option { .. }
        ));
        assert!(matches!(
            analyse(parse_quote!(fn f() -> Vec<u8>)).unwrap().output,
            ReturnKind::Plain(_)
        ));
    }

    #[test]
    fn patterns_are_rejected_together() {
        let err = analyse(parse_quote!(fn f((a, b): (u8, u8), _: u8, ref c: u8))).unwrap_err();
        assert_eq!(err.into_iter().count(), 3);
    }
}
