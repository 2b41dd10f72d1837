//! Key templates: `"user-{user_id}"` compiled once, at compile time, into typed pieces
//! (literal text and holes over the function's arguments), from which the expansions
//! emit a `format_args!` or statements that write the key into a buffer.
//!
//! The syntax is Rust's format syntax restricted to the arguments: `{a}` (by name), `{}`
//! (the next argument in order, receiver excluded), `{0}` (by index), field access
//! `{self.id}` / `{for_date.year}` / tuple fields `{self.0}` / `{pair.1}`, any format
//! spec after a colon (`{x:?}`, `{n:04}`), and `{{` / `}}` for literal braces. A hole's
//! expression carries the key literal's span, so a type that is not `Display` is
//! reported at the key. Any malformed placeholder is an error at the key listing the
//! arguments there are: [`parse`] is a pure function that never panics, whatever the
//! text (a property test below feeds it arbitrary strings).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{LitStr, Member};

/// A compiled key template.
#[derive(Debug)]
pub struct KeyTemplate {
    pieces: Vec<Piece>,
    span: Span,
}

/// A piece of a key.
#[derive(Debug)]
enum Piece {
    /// Literal text, braces unescaped.
    Text(String),
    /// A value rendered with its format spec (empty for a plain `{}`).
    Hole(Hole),
}

/// `{root.path..:spec}` resolved against the arguments.
#[derive(Debug)]
struct Hole {
    /// `self` or the argument.
    root: Ident,
    /// The fields after it, named or tuple indices.
    path: Vec<Member>,
    spec: String,
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
        let span = lit.span();
        let raw = parse(&lit.value()).map_err(|e| syn::Error::new(span, e.render(scope)))?;
        let pieces =
            resolve(raw, scope, span).map_err(|e| syn::Error::new(span, e.render(scope)))?;
        Ok(Self { pieces, span })
    }

    /// `::core::format_args!("...", a, self.id)`, spanned at the key.
    pub fn format_args(&self) -> TokenStream {
        let mut format = String::new();
        let mut holes = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => format.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Piece::Hole(hole) => {
                    format.push_str(&hole.format_str());
                    holes.push(hole.expr(self.span));
                }
            }
        }
        let format = LitStr::new(&format, self.span);
        quote_spanned!(self.span=> ::core::format_args!(#format #(, #holes)*))
    }

    /// The literal text every rendered key starts with (empty when the template opens
    /// with a placeholder), and whether placeholders follow it.
    pub fn literal_start(&self) -> (String, bool) {
        let mut literal = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => literal.push_str(text),
                Piece::Hole(_) => return (literal, true),
            }
        }
        (literal, false)
    }

    /// Statements that write the key into `buf` (a `&mut String` binding): literal text
    /// with `push_str`, plain placeholders through `KeyPart` (integers and strings
    /// without `fmt`), the others (and any type `KeyPart` does not know) through
    /// `format_args!`, which is where a type that is not `Display` is reported.
    pub fn write_into(&self, buf: &Ident) -> TokenStream {
        let pieces = self.pieces.iter().map(|piece| match piece {
            Piece::Text(text) => quote!(#buf.push_str(#text);),
            Piece::Hole(hole) => {
                let expr = hole.expr(self.span);
                let format = LitStr::new(&hole.format_str(), self.span);
                // A failing `Display` impl leaves a partial key; that is the impl's bug
                // to fix, not a reason to fail the call.
                let formatted = quote_spanned!(self.span=>
                    let _ = ::core::fmt::Write::write_fmt(#buf, ::core::format_args!(#format, #expr));
                );
                if !hole.spec.is_empty() {
                    return formatted;
                }
                quote! {
                    #[allow(unused_imports)]
                    use ::cachify::__private::cache::{Direct as _, ViaDisplay as _};
                    if !(&::cachify::__private::cache::KeyPart(&#expr)).write_key(#buf) {
                        #formatted
                    }
                }
            }
        });
        quote!(#({ #pieces })*)
    }
}

impl Hole {
    /// `{}` or `{:spec}`.
    fn format_str(&self) -> String {
        if self.spec.is_empty() {
            "{}".into()
        } else {
            format!("{{:{}}}", self.spec)
        }
    }

    /// `a`, `self.id`, `pair.0`.
    fn expr(&self, span: Span) -> TokenStream {
        let root = &self.root;
        let path = self.path.iter().map(|member| match member {
            Member::Named(ident) => quote_spanned!(span=> .#ident),
            Member::Unnamed(index) => quote_spanned!(span=> .#index),
        });
        quote!(#root #(#path)*)
    }
}

/// A piece as written, before it is resolved against the arguments.
#[derive(Debug, PartialEq)]
enum RawPiece {
    Text(String),
    Hole { target: Target, spec: String },
}

/// What a placeholder names.
#[derive(Debug, PartialEq)]
enum Target {
    /// `{}`: the next argument.
    Next,
    /// `{2}`.
    Index(usize),
    /// `{name.field.0}`: a root (an argument or `self`) and fields.
    Path(String, Vec<Field>),
}

/// A field after the root.
#[derive(Debug, PartialEq)]
enum Field {
    /// Parsed by syn, never built with `Ident::new` (which panics on what it rejects).
    Named(Ident),
    Index(u32),
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
            TemplateError::NoReceiver => format!(
                "key placeholder uses `self` but `{}` has no receiver; {available}",
                scope.fn_name
            ),
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
                 or a field path such as `{{self.id}}` or `{{pair.0}}`; {available}"
            ),
        }
    }
}

/// The pure first half of [`KeyTemplate::compile`]: text in, pieces out. Never panics.
fn parse(template: &str) -> Result<Vec<RawPiece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
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
            '}' => return Err(TemplateError::UnmatchedClose),
            '{' => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') => return Err(TemplateError::BadPlaceholder(body + "{")),
                        Some(c) => body.push(c),
                        None => return Err(TemplateError::Unclosed),
                    }
                }
                if !text.is_empty() {
                    pieces.push(RawPiece::Text(std::mem::take(&mut text)));
                }
                let (target, spec) = body.split_once(':').unwrap_or((&body, ""));
                pieces.push(RawPiece::Hole {
                    target: parse_target(target.trim())?,
                    spec: spec.to_owned(),
                });
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(RawPiece::Text(text));
    }
    Ok(pieces)
}

fn parse_target(target: &str) -> Result<Target, TemplateError> {
    let bad = || TemplateError::BadPlaceholder(target.to_owned());
    if target.is_empty() {
        return Ok(Target::Next);
    }
    if target.bytes().all(|b| b.is_ascii_digit()) {
        return target.parse().map(Target::Index).map_err(|_| bad());
    }
    let mut parts = target.split('.').map(str::trim);
    let root = parts.next().filter(|root| is_ident(root)).ok_or_else(bad)?;
    let fields = parts
        .map(|field| {
            if is_tuple_index(field) {
                field.parse().map(Field::Index).map_err(|_| bad())
            } else {
                parse_ident(field).map(Field::Named).ok_or_else(bad)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Target::Path(root.to_owned(), fields))
}

/// A root: `self` or an identifier.
fn is_ident(text: &str) -> bool {
    text == "self" || parse_ident(text).is_some()
}

/// An identifier Rust does not reserve, as syn parses it.
fn parse_ident(text: &str) -> Option<Ident> {
    let mut chars = text.chars();
    let lexes = matches!(chars.next(), Some(c) if c == '_' || unicode_ident::is_xid_start(c))
        && chars.all(unicode_ident::is_xid_continue)
        && text != "_";
    // Only text known to lex as one identifier token is handed to the lexer.
    lexes.then(|| syn::parse_str::<Ident>(text).ok()).flatten()
}

/// `0`, `1`, ...: no sign, no leading zero.
fn is_tuple_index(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// The second half: raw pieces resolved against the arguments.
fn resolve(raw: Vec<RawPiece>, scope: Scope<'_>, span: Span) -> Result<Vec<Piece>, TemplateError> {
    let mut next = 0;
    let by_index = |index: usize| {
        scope.args.get(index).ok_or(TemplateError::Positional {
            wanted: index,
            have: scope.args.len(),
        })
    };
    raw.into_iter()
        .map(|piece| {
            let (target, spec) = match piece {
                RawPiece::Text(text) => return Ok(Piece::Text(text)),
                RawPiece::Hole { target, spec } => (target, spec),
            };
            let (root, path) = match target {
                Target::Next => {
                    next += 1;
                    (by_index(next - 1)?.clone(), Vec::new())
                }
                Target::Index(index) => (by_index(index)?.clone(), Vec::new()),
                Target::Path(root, fields) => (resolve_root(&root, &fields, scope)?, fields),
            };
            let mut root = root;
            root.set_span(span);
            let path = path
                .into_iter()
                .map(|field| match field {
                    Field::Named(mut ident) => {
                        ident.set_span(span);
                        Member::Named(ident)
                    }
                    Field::Index(index) => Member::Unnamed(syn::Index { index, span }),
                })
                .collect();
            Ok(Piece::Hole(Hole { root, path, spec }))
        })
        .collect()
}

fn resolve_root(root: &str, fields: &[Field], scope: Scope<'_>) -> Result<Ident, TemplateError> {
    if root == "self" {
        return if scope.has_receiver {
            Ok(Ident::new("self", Span::call_site()))
        } else {
            Err(TemplateError::NoReceiver)
        };
    }
    scope
        .args
        .iter()
        .find(|arg| *arg == root)
        .cloned()
        .ok_or_else(|| {
            let mut written = root.to_owned();
            for field in fields {
                match field {
                    Field::Named(ident) => written.push_str(&format!(".{ident}")),
                    Field::Index(index) => written.push_str(&format!(".{index}")),
                }
            }
            TemplateError::UnknownName(written)
        })
}

#[cfg(test)]
mod tests;
