//! The attributes of this crate and the companions each one generates, named once.

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::{Accepts, Opt};

/// One of `#[cached]`, `#[lock]`, `#[once]`, `#[pooled]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Cached,
    Lock,
    Once,
    Pooled,
}

impl Attribute {
    const ALL: [Attribute; 4] = [
        Attribute::Cached,
        Attribute::Lock,
        Attribute::Once,
        Attribute::Pooled,
    ];

    /// `"cached"`, as written in `#[cached]`.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Cached => "cached",
            Attribute::Lock => "lock",
            Attribute::Once => "once",
            Attribute::Pooled => "pooled",
        }
    }

    /// The options it takes.
    pub fn accepts(self) -> Accepts {
        let (allowed, required): (&[Opt], &[Opt]) = match self {
            Attribute::Cached => (
                &[
                    Opt::Key,
                    Opt::Ttl,
                    Opt::TtlJitter,
                    Opt::Refresh,
                    Opt::EncDec,
                    Opt::Cachify,
                ],
                &[Opt::Key],
            ),
            Attribute::Lock => (
                &[
                    Opt::Key,
                    Opt::Nowait,
                    Opt::Timeout,
                    Opt::Exp,
                    Opt::AutoExtend,
                    Opt::Cachify,
                ],
                &[Opt::Key],
            ),
            Attribute::Once => (
                &[
                    Opt::Key,
                    Opt::Exp,
                    Opt::AutoExtend,
                    Opt::RaiseOnLocked,
                    Opt::ReturnOnLocked,
                    Opt::Cachify,
                ],
                &[Opt::Key],
            ),
            Attribute::Pooled => (
                &[
                    Opt::Key,
                    Opt::MaxSize,
                    Opt::SlotExp,
                    Opt::OnFull,
                    Opt::RaiseOnFull,
                    Opt::Cachify,
                ],
                &[Opt::Key, Opt::MaxSize],
            ),
        };
        Accepts {
            attr: self,
            allowed,
            required,
        }
    }

    /// The companions it generates.
    pub fn companions(self) -> &'static [CompanionKind] {
        match self {
            Attribute::Cached => &[
                CompanionKind::Reset,
                CompanionKind::Clear,
                CompanionKind::Stats,
                CompanionKind::Counters,
            ],
            Attribute::Lock | Attribute::Once => &[
                CompanionKind::IsLocked,
                CompanionKind::Release,
                CompanionKind::Stats,
                CompanionKind::Counters,
            ],
            Attribute::Pooled => &[
                CompanionKind::Size,
                CompanionKind::Stats,
                CompanionKind::Counters,
            ],
        }
    }

    /// Which of our attributes `attr` is, if any: `#[cached]` or `#[cachify::cached]`.
    pub fn of(attr: &syn::Attribute) -> Option<Self> {
        let path = attr.path();
        let last = path.segments.last()?;
        let prefix_ok = path.segments.len() == 1
            || (path.segments.len() == 2 && path.segments[0].ident == "cachify");
        if !prefix_ok {
            return None;
        }
        Self::ALL
            .into_iter()
            .find(|attribute| last.ident == attribute.name())
    }
}

/// A companion function's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanionKind {
    Reset,
    /// `#[cached]`'s `clear()`: every value of the function, so it takes no arguments.
    Clear,
    /// `clear()` of a key template that opens with a placeholder: a compile error where
    /// it is called (see [`CompanionKind::refusal`]).
    ClearRefused,
    IsLocked,
    Release,
    Size,
    /// `stats()`: the function's counters, a plain `Stats` (no arguments, no `Result`).
    Stats,
    /// The hidden accessor of the function's `static` counters, which the wrapper and
    /// `stats()` read.
    Counters,
}

impl CompanionKind {
    /// `reset`, `is_locked`, `release`, `size`: the module function's name and the
    /// method's suffix.
    pub fn name(self) -> &'static str {
        match self {
            CompanionKind::Reset => "reset",
            CompanionKind::Clear | CompanionKind::ClearRefused => "clear",
            CompanionKind::IsLocked => "is_locked",
            CompanionKind::Release => "release",
            CompanionKind::Size => "size",
            CompanionKind::Stats => "stats",
            CompanionKind::Counters => "cachify_counters",
        }
    }

    /// What it returns inside `Result<_, cachify::Error>`.
    pub fn ok(self) -> TokenStream {
        match self {
            CompanionKind::Reset | CompanionKind::Release => quote!(()),
            CompanionKind::IsLocked => quote!(bool),
            CompanionKind::Size => quote!(usize),
            CompanionKind::Clear | CompanionKind::ClearRefused => quote!(u64),
            CompanionKind::Stats => quote!(::cachify::Stats),
            CompanionKind::Counters => quote!(&'static ::cachify::__private::FnStats),
        }
    }

    /// Whether it takes the function's receiver, arguments and generics: one call's
    /// companions do, the function-wide `clear` does not.
    pub fn takes_arguments(self) -> bool {
        !matches!(
            self,
            CompanionKind::Clear
                | CompanionKind::ClearRefused
                | CompanionKind::Stats
                | CompanionKind::Counters
        )
    }

    /// A bound that no type meets, checked where the companion is called rather than
    /// where it is defined (a higher-ranked bound is never trivially false), so calling
    /// it is a compile error whose message the bound's trait words.
    pub fn refusal(self) -> Option<TokenStream> {
        (self == CompanionKind::ClearRefused).then(|| {
            quote!(for<'__cachify> &'__cachify (): ::cachify::__private::cache::ClearNeedsLiteralKeyStart)
        })
    }

    /// Whether it is about the function rather than one call: no arguments, no
    /// receiver, not async, and it returns its value rather than a `Result`.
    pub fn per_function(self) -> bool {
        matches!(self, CompanionKind::Stats | CompanionKind::Counters)
    }
}
