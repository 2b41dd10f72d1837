//! Key templates: `"user-{user_id}"` compiled, at compile time, into a `format_args!` over
//! the function's arguments.
//!
//! The syntax is Rust's format syntax restricted to the arguments: `{a}` (by name), `{}`
//! (the next argument in order, receiver excluded), `{0}` (by index), field access
//! `{self.id}` / `{for_date.year}`, any format spec after a colon (`{x:?}`, `{n:04}`), and
//! `{{` / `}}` for literal braces. Every placeholder becomes a plain `{}`-style hole whose
//! argument expression carries the key literal's span, so a type that is not `Display`
//! is reported at the key. A placeholder that names no argument is an error listing the
//! arguments there are.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::LitStr;

/// A compiled key template.
#[derive(Debug)]
pub struct KeyTemplate {
    /// The format string handed to `format_args!`: the literal text plus `{}` / `{:spec}`.
    format: String,
    /// One argument expression per hole, e.g. `a`, `self.id`, `for_date.year`.
    holes: Vec<Vec<String>>,
    span: Span,
}

/// What a template may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The function's argument names, in order, receiver excluded.
    pub args: &'a [Ident],
    /// Whether `self` is an argument.
    pub has_receiver: bool,
    /// The function's name, for messages.
    pub fn_name: &'a Ident,
}

impl KeyTemplate {
    /// Compiles `lit` against the arguments in `scope`.
    pub fn compile(lit: &LitStr, scope: Scope<'_>) -> syn::Result<Self> {
        let names: Vec<String> = scope.args.iter().map(Ident::to_string).collect();
        let (format, holes) = compile_str(&lit.value(), &names, scope.has_receiver)
            .map_err(|message| syn::Error::new(lit.span(), message.render(scope)))?;
        Ok(Self {
            format,
            holes,
            span: lit.span(),
        })
    }

    /// `::core::format_args!("...", a, self.id)`, spanned at the key.
    pub fn format_args(&self) -> TokenStream {
        let format = LitStr::new(&self.format, self.span);
        let holes = self.hole_exprs();
        quote_spanned!(self.span=> ::core::format_args!(#format #(, #holes)*))
    }

    /// Statements that write the key into `buf` (a `&mut String` binding): literal text
    /// with `push_str`, plain placeholders through `KeyPart` (integers and strings
    /// without `fmt`), the others (and any type `KeyPart` does not know) through
    /// `format_args!`, which is where a type that is not `Display` is reported.
    pub fn write_into(&self, buf: &Ident) -> TokenStream {
        let holes: Vec<TokenStream> = self.hole_exprs().collect();
        let pieces = split_format(&self.format)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(text) => quote!(#buf.push_str(#text);),
                Piece::Hole { index, spec } => {
                    let hole = &holes[index];
                    let format = LitStr::new(&format!("{{{spec}}}"), self.span);
                    // A failing `Display` impl leaves a partial key; that is the impl's bug
                    // to fix, not a reason to fail the call.
                    let formatted = quote_spanned!(self.span=>
                        let _ = ::core::fmt::Write::write_fmt(
                            #buf,
                            ::core::format_args!(#format, #hole),
                        );
                    );
                    if spec.is_empty() {
                        quote! {
                            #[allow(unused_imports)]
                            use ::cachify::__private::cache::{Direct as _, ViaDisplay as _};
                            if !(&::cachify::__private::cache::KeyPart(&#hole)).write_key(#buf) {
                                #formatted
                            }
                        }
                    } else {
                        formatted
                    }
                }
            });
        quote!(#({ #pieces })*)
    }

    /// One expression per hole, e.g. `a`, `self.id`, `for_date.year`.
    fn hole_exprs(&self) -> impl Iterator<Item = TokenStream> + '_ {
        self.holes.iter().map(|path| {
            let parts = path.iter().map(|part| {
                if part == "self" {
                    quote_spanned!(self.span=> self)
                } else {
                    let ident = Ident::new(part, self.span);
                    quote!(#ident)
                }
            });
            quote!(#(#parts).*)
        })
    }
}

/// A piece of a compiled format string.
#[derive(Debug, PartialEq)]
enum Piece {
    /// Literal text, braces unescaped.
    Text(String),
    /// The `index`th hole, with its `:spec` (empty for a plain `{}`).
    Hole { index: usize, spec: String },
}

/// Splits a format string built by [`compile_str`] into text and holes.
fn split_format(format: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut index = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Hole { index, spec });
                index += 1;
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// Why a template does not compile; rendered with the function's argument list.
#[derive(Debug, PartialEq)]
enum TemplateError {
    UnknownName(String),
    NoReceiver,
    Positional { wanted: usize, have: usize },
    Unclosed,
    UnmatchedClose,
    BadPlaceholder(String),
}

impl TemplateError {
    fn render(&self, scope: Scope<'_>) -> String {
        let mut names: Vec<String> = scope.args.iter().map(|a| format!("`{a}`")).collect();
        if scope.has_receiver {
            names.insert(0, "`self`".into());
        }
        let available = if names.is_empty() {
            format!("`{}` takes no arguments", scope.fn_name)
        } else {
            format!(
                "the arguments of `{}` are {}",
                scope.fn_name,
                names.join(", ")
            )
        };
        match self {
            TemplateError::UnknownName(name) => {
                format!("key placeholder `{{{name}}}` names no argument; {available}")
            }
            TemplateError::NoReceiver => {
                format!(
                    "key placeholder uses `self` but `{}` has no receiver; {available}",
                    scope.fn_name
                )
            }
            TemplateError::Positional { wanted, have } => format!(
                "key placeholder #{} has no matching argument: `{}` takes {have} argument(s) \
                 besides any receiver; {available}",
                wanted + 1,
                scope.fn_name,
            ),
            TemplateError::Unclosed => "unclosed `{` in key; write `{{` for a literal brace".into(),
            TemplateError::UnmatchedClose => {
                "unmatched `}` in key; write `}}` for a literal brace".into()
            }
            TemplateError::BadPlaceholder(text) => format!(
                "invalid key placeholder `{{{text}}}`: expected an argument name, an index, \
                 or a field path such as `{{self.id}}`; {available}"
            ),
        }
    }
}

type Compiled = (String, Vec<Vec<String>>);

/// The pure part of [`KeyTemplate::compile`]: text in, format string and holes out.
fn compile_str(
    template: &str,
    args: &[String],
    has_receiver: bool,
) -> Result<Compiled, TemplateError> {
    let mut format = String::with_capacity(template.len());
    let mut holes = Vec::new();
    let mut next_positional = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                format.push_str("{{");
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                format.push_str("}}");
            }
            '}' => return Err(TemplateError::UnmatchedClose),
            '{' => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => body.push(c),
                        None => return Err(TemplateError::Unclosed),
                    }
                }
                let (target, spec) = match body.split_once(':') {
                    Some((target, spec)) => (target.trim(), Some(spec)),
                    None => (body.trim(), None),
                };
                let path = resolve(target, args, has_receiver, &mut next_positional)?;
                holes.push(path);
                format.push('{');
                if let Some(spec) = spec {
                    format.push(':');
                    format.push_str(spec);
                }
                format.push('}');
            }
            c => format.push(c),
        }
    }
    Ok((format, holes))
}

/// The argument path a placeholder's target names.
fn resolve(
    target: &str,
    args: &[String],
    has_receiver: bool,
    next_positional: &mut usize,
) -> Result<Vec<String>, TemplateError> {
    let by_index = |index: usize| {
        args.get(index)
            .map(|arg| vec![arg.clone()])
            .ok_or(TemplateError::Positional {
                wanted: index,
                have: args.len(),
            })
    };
    if target.is_empty() {
        let index = *next_positional;
        *next_positional += 1;
        return by_index(index);
    }
    if let Ok(index) = target.parse::<usize>() {
        return by_index(index);
    }
    let path: Vec<String> = target
        .split('.')
        .map(|part| part.trim().to_owned())
        .collect();
    if !path.iter().skip(1).all(|field| is_field(field)) || !is_ident(&path[0]) {
        return Err(TemplateError::BadPlaceholder(target.to_owned()));
    }
    let root = path[0].as_str();
    if root == "self" {
        return if has_receiver {
            Ok(path)
        } else {
            Err(TemplateError::NoReceiver)
        };
    }
    if !args.iter().any(|arg| arg == root) {
        return Err(TemplateError::UnknownName(target.to_owned()));
    }
    Ok(path)
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A named field or a tuple index (`pair.0`).
fn is_field(text: &str) -> bool {
    is_ident(text) || (!text.is_empty() && text.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(template: &str, args: &[&str], receiver: bool) -> Result<Compiled, TemplateError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        compile_str(template, &args, receiver)
    }

    fn holes(compiled: &Compiled) -> Vec<String> {
        compiled.1.iter().map(|path| path.join(".")).collect()
    }

    #[test]
    fn named_placeholders_become_holes() {
        let out = compile("sum-{a}-{b}", &["a", "b"], false).unwrap();
        assert_eq!(out.0, "sum-{}-{}");
        assert_eq!(holes(&out), ["a", "b"]);
    }

    #[test]
    fn positional_and_indexed_follow_argument_order() {
        let out = compile("{}-{}-{0}", &["a", "b"], true).unwrap();
        assert_eq!(holes(&out), ["a", "b", "a"]);
    }

    #[test]
    fn field_access_and_receiver() {
        let out = compile(
            "{self.id}/{for_date.year}/{pair.0}",
            &["for_date", "pair"],
            true,
        )
        .unwrap();
        assert_eq!(holes(&out), ["self.id", "for_date.year", "pair.0"]);
    }

    #[test]
    fn format_specs_and_escapes_are_kept() {
        let out = compile("{{x}}-{x:?}-{n:04}", &["x", "n"], false).unwrap();
        assert_eq!(out.0, "{{x}}-{:?}-{:04}");
        assert_eq!(holes(&out), ["x", "n"]);
    }

    #[test]
    fn format_strings_split_into_text_and_holes() {
        let out = compile("{{k}}-{a}/{b:?}", &["a", "b"], false).unwrap();
        assert_eq!(
            split_format(&out.0),
            [
                Piece::Text("{k}-".into()),
                Piece::Hole {
                    index: 0,
                    spec: String::new()
                },
                Piece::Text("/".into()),
                Piece::Hole {
                    index: 1,
                    spec: ":?".into()
                },
            ]
        );
    }

    #[test]
    fn constant_key_has_no_holes() {
        let out = compile("sum_two", &["a", "b"], false).unwrap();
        assert_eq!(out, ("sum_two".to_owned(), vec![]));
    }

    #[test]
    fn errors() {
        assert_eq!(
            compile("{c}", &["a"], false),
            Err(TemplateError::UnknownName("c".into()))
        );
        assert_eq!(
            compile("{self.id}", &["a"], false),
            Err(TemplateError::NoReceiver)
        );
        assert_eq!(
            compile("{}-{}", &["a"], false),
            Err(TemplateError::Positional { wanted: 1, have: 1 })
        );
        assert_eq!(compile("{a", &["a"], false), Err(TemplateError::Unclosed));
        assert_eq!(
            compile("a}", &["a"], false),
            Err(TemplateError::UnmatchedClose)
        );
        assert!(matches!(
            compile("{a-b}", &["a"], false),
            Err(TemplateError::BadPlaceholder(_))
        ));
    }

    #[test]
    fn unknown_name_message_lists_the_arguments() {
        let fn_name = Ident::new("sum_two", Span::call_site());
        let args = [
            Ident::new("a", Span::call_site()),
            Ident::new("b", Span::call_site()),
        ];
        let scope = Scope {
            args: &args,
            has_receiver: false,
            fn_name: &fn_name,
        };
        let message = TemplateError::UnknownName("c".into()).render(scope);
        assert_eq!(
            message,
            "key placeholder `{c}` names no argument; the arguments of `sum_two` are `a`, `b`"
        );
    }

    #[test]
    fn format_args_tokens() {
        let fn_name = Ident::new("f", Span::call_site());
        let args = [Ident::new("a", Span::call_site())];
        let scope = Scope {
            args: &args,
            has_receiver: true,
            fn_name: &fn_name,
        };
        let lit = LitStr::new("k-{a}-{self.id:?}", Span::call_site());
        let template = KeyTemplate::compile(&lit, scope).unwrap();
        assert_eq!(
            template.format_args().to_string(),
            quote!(::core::format_args!("k-{}-{:?}", a, self.id)).to_string()
        );
    }
}
