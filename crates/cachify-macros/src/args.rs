//! The options of `#[cached]`, `#[lock]`, `#[once]` and `#[pooled]`: one parser for all.
//!
//! Each attribute declares an [`Accepts`] table (which options it takes, which it
//! requires); the parser peeks only those keywords, so a misspelt or foreign option gets
//! syn's "expected one of `key`, `ttl`, ..." at that very token, listing exactly what
//! this attribute accepts. A repeated option is an error at its second occurrence. The
//! key may also come first without its name, as py-cachify writes it: `#[cached("k-{a}")]`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitBool, LitFloat, LitInt, LitStr, Path, Token, UnOp};

use crate::attribute::Attribute;

mod kw {
    syn::custom_keyword!(key);
    syn::custom_keyword!(ttl);
    syn::custom_keyword!(ttl_jitter);
    syn::custom_keyword!(refresh);
    syn::custom_keyword!(exp);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(slot_exp);
    syn::custom_keyword!(cachify);
    syn::custom_keyword!(enc_dec);
    syn::custom_keyword!(nowait);
    syn::custom_keyword!(raise_on_locked);
    syn::custom_keyword!(return_on_locked);
    syn::custom_keyword!(max_size);
    syn::custom_keyword!(on_full);
    syn::custom_keyword!(raise_on_full);
    syn::custom_keyword!(auto_extend);
}

/// Every option any attribute knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    Key,
    Ttl,
    TtlJitter,
    Refresh,
    Exp,
    Timeout,
    SlotExp,
    Cachify,
    EncDec,
    Nowait,
    RaiseOnLocked,
    ReturnOnLocked,
    MaxSize,
    OnFull,
    RaiseOnFull,
    AutoExtend,
}

impl Opt {
    pub fn name(self) -> &'static str {
        match self {
            Opt::Key => "key",
            Opt::Ttl => "ttl",
            Opt::TtlJitter => "ttl_jitter",
            Opt::Refresh => "refresh",
            Opt::Exp => "exp",
            Opt::Timeout => "timeout",
            Opt::SlotExp => "slot_exp",
            Opt::Cachify => "cachify",
            Opt::EncDec => "enc_dec",
            Opt::Nowait => "nowait",
            Opt::RaiseOnLocked => "raise_on_locked",
            Opt::ReturnOnLocked => "return_on_locked",
            Opt::MaxSize => "max_size",
            Opt::OnFull => "on_full",
            Opt::RaiseOnFull => "raise_on_full",
            Opt::AutoExtend => "auto_extend",
        }
    }

    /// The option as a missing-option message shows it.
    fn example(self) -> &'static str {
        match self {
            Opt::Key => "key = \"user-{user_id}\"",
            Opt::MaxSize => "max_size = 5",
            _ => self.name(),
        }
    }

    /// Peeks this option's keyword, recording it in the lookahead's "expected" list.
    fn peek(self, lookahead: &syn::parse::Lookahead1<'_>) -> bool {
        match self {
            Opt::Key => lookahead.peek(kw::key),
            Opt::Ttl => lookahead.peek(kw::ttl),
            Opt::TtlJitter => lookahead.peek(kw::ttl_jitter),
            Opt::Refresh => lookahead.peek(kw::refresh),
            Opt::Exp => lookahead.peek(kw::exp),
            Opt::Timeout => lookahead.peek(kw::timeout),
            Opt::SlotExp => lookahead.peek(kw::slot_exp),
            Opt::Cachify => lookahead.peek(kw::cachify),
            Opt::EncDec => lookahead.peek(kw::enc_dec),
            Opt::Nowait => lookahead.peek(kw::nowait),
            Opt::RaiseOnLocked => lookahead.peek(kw::raise_on_locked),
            Opt::ReturnOnLocked => lookahead.peek(kw::return_on_locked),
            Opt::MaxSize => lookahead.peek(kw::max_size),
            Opt::OnFull => lookahead.peek(kw::on_full),
            Opt::RaiseOnFull => lookahead.peek(kw::raise_on_full),
            Opt::AutoExtend => lookahead.peek(kw::auto_extend),
        }
    }
}

/// What one attribute accepts.
#[derive(Debug)]
pub struct Accepts {
    /// The attribute, for messages.
    pub attr: Attribute,
    pub allowed: &'static [Opt],
    pub required: &'static [Opt],
}

/// An expiry-like option: `ttl`, `exp`, `timeout`, `slot_exp`.
#[derive(Debug, Clone)]
pub enum Expiry {
    /// An integer literal: seconds, as in py-cachify.
    Seconds(LitInt),
    /// A float literal: seconds, as in py-cachify (`timeout = 0.5`).
    FloatSeconds(LitFloat),
    /// `None`: never expires (or: no limit).
    Never(Span),
    /// Any other expression: an integer or float (seconds), a `std::time::Duration` or
    /// an `Option<Duration>`, converted by `cachify::__private::IntoExpiry`.
    Value(Expr),
}

impl Parse for Expiry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let expr: Expr = input.parse()?;
        match &expr {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Int(int) => Ok(Expiry::Seconds(int.clone())),
                Lit::Float(float) => match float.base10_parse::<f64>() {
                    Ok(secs) if secs.is_finite() => Ok(Expiry::FloatSeconds(float.clone())),
                    _ => Err(syn::Error::new(
                        float.span(),
                        "expected a finite number of seconds",
                    )),
                },
                other => Err(syn::Error::new(
                    other.span(),
                    "expected seconds (an integer or a float), `None`, or a `Duration` expression",
                )),
            },
            Expr::Unary(unary)
                if matches!(unary.op, UnOp::Neg(_)) && matches!(&*unary.expr, Expr::Lit(_)) =>
            {
                Err(syn::Error::new(
                    unary.span(),
                    "an expiry cannot be negative; write `None` for \"never expires\"",
                ))
            }
            Expr::Path(path) if path.qself.is_none() && path.path.is_ident("None") => {
                Ok(Expiry::Never(path.span()))
            }
            _ => Ok(Expiry::Value(expr)),
        }
    }
}

impl Expiry {
    /// Parses how long something held lives (`exp`, `slot_exp`): a literal zero, which
    /// every acquire would refuse with `Error::InvalidOption`, is refused here.
    fn parse_lifetime(input: ParseStream<'_>, option: &str) -> syn::Result<Self> {
        let expiry: Self = input.parse()?;
        let zero = match &expiry {
            Expiry::Seconds(int) => int.base10_parse::<u128>().is_ok_and(|secs| secs == 0),
            Expiry::FloatSeconds(float) => {
                float.base10_parse::<f64>().is_ok_and(|secs| secs == 0.0)
            }
            _ => false,
        };
        if zero {
            return Err(syn::Error::new(
                expiry.span(),
                format!(
                    "`{option} = 0` would expire at once, so every acquire would fail; \
                     give a positive number of seconds, or `None` for \"never expires\""
                ),
            ));
        }
        Ok(expiry)
    }

    /// The seconds a literal says; `None` for `None` and expressions.
    pub fn literal_seconds(&self) -> Option<f64> {
        match self {
            Expiry::Seconds(int) => int.base10_parse::<f64>().ok(),
            Expiry::FloatSeconds(float) => float.base10_parse::<f64>().ok(),
            Expiry::Never(_) | Expiry::Value(_) => None,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Expiry::Seconds(int) => int.span(),
            Expiry::FloatSeconds(float) => float.span(),
            Expiry::Never(span) => *span,
            Expiry::Value(expr) => expr.span(),
        }
    }
}

/// The parsed options of one attribute; unset options are `None`.
#[derive(Debug, Default)]
pub struct Args {
    pub key: Option<LitStr>,
    pub ttl: Option<Expiry>,
    pub ttl_jitter: Option<Expiry>,
    pub refresh: Option<Expiry>,
    pub exp: Option<Expiry>,
    pub timeout: Option<Expiry>,
    pub slot_exp: Option<Expiry>,
    pub cachify: Option<Path>,
    pub enc_dec: Option<(Expr, Expr)>,
    pub nowait: Option<LitBool>,
    pub raise_on_locked: Option<LitBool>,
    pub return_on_locked: Option<Expr>,
    pub max_size: Option<Expr>,
    pub on_full: Option<Path>,
    pub raise_on_full: Option<LitBool>,
    pub auto_extend: Option<LitBool>,
}

impl Args {
    /// Parses the attribute's arguments against what it accepts.
    pub fn parse(tokens: proc_macro2::TokenStream, accepts: &Accepts) -> syn::Result<Self> {
        (|input: ParseStream<'_>| Self::parse_stream(input, accepts)).parse2(tokens)
    }

    fn parse_stream(input: ParseStream<'_>, accepts: &Accepts) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<Opt> = Vec::new();
        if input.peek(LitStr) && accepts.allowed.contains(&Opt::Key) {
            args.key = Some(input.parse()?);
            seen.push(Opt::Key);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            let Some(opt) = accepts.allowed.iter().copied().find(|o| o.peek(&lookahead)) else {
                return Err(lookahead.error());
            };
            let name_span = input.span();
            if seen.contains(&opt) {
                return Err(syn::Error::new(
                    name_span,
                    format!("duplicate option `{}`", opt.name()),
                ));
            }
            seen.push(opt);
            // Option names are plain identifiers (none is a Rust keyword).
            input.parse::<syn::Ident>()?;
            input.parse::<Token![=]>()?;
            args.parse_value(opt, input)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        args.check_required(accepts, &seen)?;
        Ok(args)
    }

    fn parse_value(&mut self, opt: Opt, input: ParseStream<'_>) -> syn::Result<()> {
        match opt {
            Opt::Key => self.key = Some(input.parse()?),
            Opt::Ttl => self.ttl = Some(input.parse()?),
            Opt::TtlJitter => self.ttl_jitter = Some(input.parse()?),
            Opt::Refresh => self.refresh = Some(input.parse()?),
            Opt::Exp => self.exp = Some(Expiry::parse_lifetime(input, "exp")?),
            Opt::Timeout => self.timeout = Some(input.parse()?),
            Opt::SlotExp => self.slot_exp = Some(Expiry::parse_lifetime(input, "slot_exp")?),
            Opt::Cachify => self.cachify = Some(input.parse()?),
            Opt::EncDec => self.enc_dec = Some(parse_pair(input)?),
            Opt::Nowait => self.nowait = Some(input.parse()?),
            Opt::RaiseOnLocked => self.raise_on_locked = Some(input.parse()?),
            Opt::ReturnOnLocked => self.return_on_locked = Some(input.parse()?),
            Opt::MaxSize => self.max_size = Some(input.parse()?),
            Opt::OnFull => self.on_full = Some(input.parse()?),
            Opt::RaiseOnFull => self.raise_on_full = Some(input.parse()?),
            Opt::AutoExtend => self.auto_extend = Some(input.parse()?),
        }
        Ok(())
    }

    fn check_required(&self, accepts: &Accepts, seen: &[Opt]) -> syn::Result<()> {
        let missing: Vec<String> = accepts
            .required
            .iter()
            .filter(|opt| !seen.contains(opt))
            .map(|opt| format!("`{}`", opt.name()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let example: Vec<&str> = accepts.required.iter().map(|opt| opt.example()).collect();
        let attr = accepts.attr.name();
        Err(syn::Error::new(
            Span::call_site(),
            format!(
                "#[{attr}] needs {}, e.g. #[{attr}({})]",
                missing.join(" and "),
                example.join(", ")
            ),
        ))
    }
}

/// `(encoder, decoder)`.
fn parse_pair(input: ParseStream<'_>) -> syn::Result<(Expr, Expr)> {
    let content;
    let parens = syn::parenthesized!(content in input);
    let exprs = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    let mut exprs = exprs.into_iter();
    match (exprs.next(), exprs.next(), exprs.next()) {
        (Some(encode), Some(decode), None) => Ok((encode, decode)),
        _ => Err(syn::Error::new(
            parens.span.join(),
            "expected `(encoder, decoder)`: two functions, `Fn(&T) -> E` and `Fn(E) -> T`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    const CACHED: Accepts = Accepts {
        attr: Attribute::Cached,
        allowed: &[Opt::Key, Opt::Ttl, Opt::Cachify, Opt::EncDec],
        required: &[Opt::Key],
    };

    #[test]
    fn parses_every_cached_option() {
        let args = Args::parse(
            quote!(
                key = "k-{a}",
                ttl = 300,
                cachify = crate::L1,
                enc_dec = (enc, dec)
            ),
            &CACHED,
        )
        .unwrap();
        assert_eq!(args.key.unwrap().value(), "k-{a}");
        assert!(matches!(args.ttl, Some(Expiry::Seconds(_))));
        assert!(args.cachify.is_some() && args.enc_dec.is_some());
    }

    #[test]
    fn ttl_forms() {
        let never = Args::parse(quote!(key = "k", ttl = None), &CACHED).unwrap();
        assert!(matches!(never.ttl, Some(Expiry::Never(_))));
        let expr = Args::parse(quote!(key = "k", ttl = Duration::from_millis(5)), &CACHED);
        assert!(matches!(expr.unwrap().ttl, Some(Expiry::Value(_))));
        let float = Args::parse(quote!(key = "k", ttl = 1.5), &CACHED).unwrap();
        assert!(matches!(float.ttl, Some(Expiry::FloatSeconds(_))));
        let constant = Args::parse(quote!(key = "k", ttl = TTL_SECS), &CACHED).unwrap();
        assert!(matches!(constant.ttl, Some(Expiry::Value(_))));
        assert!(Args::parse(quote!(key = "k", ttl = -1), &CACHED).is_err());
        assert!(Args::parse(quote!(key = "k", ttl = "1"), &CACHED).is_err());
    }

    #[test]
    fn positional_key() {
        let args = Args::parse(quote!("k-{a}", ttl = 3), &CACHED).unwrap();
        assert_eq!(args.key.unwrap().value(), "k-{a}");
        let alone = Args::parse(quote!("k"), &CACHED).unwrap();
        assert_eq!(alone.key.unwrap().value(), "k");
        let twice = Args::parse(quote!("k", key = "j"), &CACHED).unwrap_err();
        assert_eq!(twice.to_string(), "duplicate option `key`");
    }

    #[test]
    fn missing_options_are_named_with_an_example() {
        let pooled = Attribute::Pooled.accepts();
        let err = Args::parse(quote!("api"), &pooled).unwrap_err().to_string();
        assert_eq!(
            err,
            "#[pooled] needs `max_size`, e.g. #[pooled(key = \"user-{user_id}\", max_size = 5)]"
        );
    }

    #[test]
    fn unknown_option_lists_the_accepted_ones() {
        let err = Args::parse(quote!(key = "k", tll = 3), &CACHED).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("expected one of"), "{message}");
        assert!(
            message.contains("`ttl`") && message.contains("`enc_dec`"),
            "{message}"
        );
        assert!(!message.contains("max_size"), "{message}");
    }

    #[test]
    fn duplicate_and_missing_options() {
        let dup = Args::parse(quote!(key = "k", ttl = 1, ttl = 2), &CACHED).unwrap_err();
        assert_eq!(dup.to_string(), "duplicate option `ttl`");
        let missing = Args::parse(quote!(ttl = 1), &CACHED).unwrap_err();
        assert!(missing.to_string().contains("needs `key`"));
    }

    #[test]
    fn enc_dec_needs_two_functions() {
        assert!(Args::parse(quote!(key = "k", enc_dec = (a)), &CACHED).is_err());
        assert!(Args::parse(quote!(key = "k", enc_dec = (a, b, c)), &CACHED).is_err());
    }
}
