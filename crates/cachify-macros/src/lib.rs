//! The attribute macros of [cachify](https://docs.rs/cachify): `#[cached]`, `#[lock]`,
//! `#[once]` and `#[pooled]`. Use them through the `cachify` crate.
//!
//! # How the crate is organised
//!
//! Every function attribute goes through the same pipeline, `expand::run`:
//!
//! 1. **parse**: `args` parses the options against the attribute's table
//!    (`attribute::Attribute::accepts`: allowed and required options; the key may come
//!    first without its name); `signature` analyses the function once (receiver, plain
//!    argument names, asyncness, whether it sits in an `impl`, the return type and its
//!    span); `key_template` compiles the key into typed pieces over the arguments.
//! 2. **validate**: each attribute's `validate` checks its options against the
//!    signature. Parse and validation errors are reported together, after the unchanged
//!    item and stub companions (one error, not a cascade).
//! 3. **expand**: `stack` splits off a hidden inner function when another of our
//!    attributes is stacked under this one; the attribute's `expand/<name>.rs` builds the
//!    wrapper body and its companions (`reset`, `is_locked`, ...); `Target::finish`
//!    emits the function with its signature untouched, the companions (`companions`: a
//!    module `f` for free functions, functions `f_<name>` in an `impl`) and the inner
//!    layer.
//!
//! `#[cachify::companions]` (`impl_block`) runs the same pipeline on the functions of an
//! `impl` block and moves their companions into an inherent `impl` beside it.
//!
//! Whether a return type is a `Result` is decided by the compiler, on the type, in the
//! generated code (`cachify::__private::{Returns, cache::ShapeOf}`): an alias never
//! hides one.
//!
//! # Adding an attribute
//!
//! 1. Add it to `attribute::Attribute` (its name, options, companions) and any new
//!    option to `args::Opt` and the parser's `kw` list.
//! 2. Create `expand/<name>.rs` with `validate` and `expand(target: Target) -> Expansion`,
//!    building the body from `target.key()`, `target.source(..)`, `expand::expiry(..)`,
//!    `expand::refusal(..)`, `target.sig` and `target.item.block`, naming only
//!    `::cachify::__private::…`, `::core::…`, `::std::…`, with `__cachify_` bindings
//!    (`expand::private_ident`).
//! 3. Route its `#[proc_macro_attribute]` below through `expand::run` and add trybuild
//!    cases under `tests/ui/<name>/` for its diagnostics.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod attribute;
mod companions;
mod expand;
mod impl_block;
mod key_template;
mod signature;
mod stack;
mod stats;

use attribute::Attribute;

/// Caches a function's result under a key rendered from its arguments.
///
/// Used as `#[cachify::cached(key = "...")]` (or `use cachify::cached;`) on a `fn` or
/// `async fn`, free function or method; the function keeps its signature exactly as
/// written. The first call with a key runs the body and stores its result; later calls
/// with the same key return the stored value without running it. The return type must
/// be `serde::Serialize + serde::de::DeserializeOwned` (for `Result<T, E>`, only `T`),
/// unless `enc_dec` converts it.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `key = "..."`, or the key first: `#[cached("...")]` | required | the key, a template over the arguments: `{a}`, `{}`, `{0}`, `{self.id}`, `{self.0}`, `{user.name}`, `{pair.1}`, `{tags:?}`; checked at compile time |
/// | `ttl = 60` / `1.5` / `TTL_SECS` / `None` / `Duration` expr | the instance's `default_cache_ttl` (unset: never expire) | how long a stored value lives: an integer or a float (a literal, a constant, any expression) is seconds, `None` never expires, a `Duration` is itself (or an `Option<Duration>`) |
/// | `ttl_jitter = 6` (same forms as `ttl`) | none | each store lives `ttl` less a uniform random part of `ttl_jitter`, so keys written together do not expire together; must be less than `ttl` |
/// | `refresh = 50` (same forms as `ttl`) | none | a hit on a value older than this returns it at once and refreshes it in the background, once per key across processes sharing Redis; must be below `ttl - ttl_jitter`, and needs arguments that are `Clone + Send + 'static` (no `self`; `&'static str` is fine) |
/// | `enc_dec = (encode, decode)` | serde | `encode: Fn(&T) -> E` before storing, `decode: Fn(E) -> T` after loading; `E` is what gets serialised |
/// | `cachify = PATH` | the global instance | a static that derefs to a `Cachify` |
///
/// # Companions
///
/// - a free function `f` gets a module `f` with `f::reset(args..)`, `f::clear()` and
///   `f::stats()`;
/// - a method `m` gets sibling functions `self.m_reset(args..)`, `Self::m_clear()` and
///   `Self::m_stats()`;
/// - an associated function `load` without `self` gets `Self::load_reset(args..)` (and
///   `load_clear`, `load_stats`) when its signature names `Self` or its `impl` has
///   `#[cachify::companions]`;
/// - in a trait `impl`, put [`macro@companions`] on the `impl`: it moves the companions
///   into an inherent `impl` beside it.
///
/// | companion | takes | returns | does |
/// |---|---|---|---|
/// | `reset` | the function's arguments (and `self`) | `Result<(), cachify::Error>` | deletes the entry of those arguments, from every `#[cached]` layer when several are stacked |
/// | `clear` | nothing | `Result<u64, cachify::Error>` | deletes every value of the function (the keys starting with its template's literal text, by `SCAN` on Redis) from every `#[cached]` layer; returns how many; a compile error to call when a key opens with a placeholder |
/// | `stats` | nothing | `cachify::Stats` | the function's counters in this process (hits, misses, stores, ...), never failing |
///
/// `reset` and `clear` are `async` when the function is; `stats` never is.
///
/// # Behaviour
///
/// - Every stored value is a hit, `None` and `()` included; `Err` is never stored.
/// - Concurrent misses on one key of one instance run the body once (single-flight).
/// - With `refresh`, a hit past the refresh age returns the stored value and one
///   background call replaces it (sync bodies on a small pool, async bodies as a task of
///   cachify's own runtime); a failing refresh keeps the old value until its ttl.
/// - The cache fails open: a backend error or an entry that no longer decodes is logged
///   with `tracing` and the body runs.
/// - Using the global instance before `cachify::init_cachify()` panics, saying so.
/// - Stacking two `#[cached]` makes a multi-layer cache, the outer one consulted first.
/// - Companion modules `use super::*`, so a cached free function must be declared at
///   module level, not inside another function.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cachify::cached;
///
/// #[cached(key = "sum-{a}-{b}", ttl = 60)]
/// fn sum(a: i32, b: i32) -> i32 {
///     println!("computing {a} + {b}");
///     a + b
/// }
///
/// struct Users {
///     tenant: u32,
/// }
///
/// impl Users {
///     #[cached(key = "user-{self.tenant}-{id}", ttl = Duration::from_secs(300))]
///     async fn name(&self, id: u32) -> Result<String, cachify::Error> {
///         Ok(format!("user {id} of tenant {}", self.tenant))
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), cachify::Error> {
///     cachify::init_cachify();
///     assert_eq!(sum(1, 2), 3); // runs the body
///     assert_eq!(sum(1, 2), 3); // from the cache
///     sum::reset(1, 2)?; // the next call runs the body again
///
///     let users = Users { tenant: 7 };
///     assert_eq!(users.name(1).await?, "user 1 of tenant 7");
///     users.name_reset(1).await?;
///     Ok(())
/// }
/// ```
///
/// On a dedicated instance, with a conversion for a type that is not serde-ready:
///
/// ```
/// use std::sync::LazyLock;
/// use cachify::{cached, Cachify};
///
/// struct Celsius(f64);
///
/// static LOCAL: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().prefix("LOCAL-").build());
///
/// #[cached(key = "temperature-{city}", cachify = LOCAL, enc_dec = (|c: &Celsius| c.0, Celsius))]
/// fn temperature(city: &str) -> Celsius {
///     Celsius(if city == "Oslo" { 4.5 } else { 21.0 })
/// }
///
/// fn main() {
///     assert_eq!(temperature("Oslo").0, 4.5);
///     assert_eq!(temperature("Oslo").0, 4.5); // decoded from the stored f64
/// }
/// ```
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Attribute::Cached, args, item)
}

/// Runs a function under a distributed lock whose key is rendered from its arguments.
///
/// Used as `#[cachify::lock(key = "...")]` on a `fn` or `async fn` (free function or
/// method) that returns `Result<T, E>` with `E: From<cachify::Error>`: a call that cannot
/// take the lock returns `Err(cachify::Error::Locked { .. }.into())` without running the
/// body, and a backend failure arrives as `Err(..)` too. Any other return type is a
/// compile error that says so. The lock is the same as `cachify::lock(key)`'s, so the
/// two exclude each other.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `key = "..."`, or the key first: `#[lock("...")]` | required | the lock key, a template over the arguments (`{arg}`, `{self.id}`, `{self.0}`, `{x:?}`) |
/// | `nowait = bool` | `true` | `true`: fail at once when held; `false`: wait for the release |
/// | `timeout = 10` / `0.5` / `None` / `Duration` expr | `None` | with `nowait = false`, how long to wait (integer or float: seconds; `None`: as long as it takes) |
/// | `exp = 30` / `None` / `Duration` expr | the instance's `default_lock_expiration` (30 s) | how long the lock lives if the process dies mid-call (integer or float: seconds; `None`: until released) |
/// | `auto_extend = bool` | `false` | renew `exp` while the call runs, so a call longer than `exp` keeps its lock |
/// | `cachify = PATH` | the global instance | a static that derefs to a `Cachify` |
///
/// # Companions
///
/// With the function's arguments and asyncness, returning `Result<_, cachify::Error>`:
///
/// - free function `f`: `f::is_locked(args..)` (whether anyone holds the lock) and
///   `f::release(args..)` (frees it whoever holds it);
/// - method `m`: `self.m_is_locked(args..)` and `self.m_release(args..)`.
///
/// And `f::stats()` (`Self::m_stats()` for a method), taking nothing, never `async`,
/// returning the function's counters in this process as a `cachify::Stats`.
///
/// The lock is released when the body returns, returns an error, panics, or (async)
/// when the call's future is dropped.
///
/// # Examples
///
/// ```
/// use cachify::{lock, Error};
///
/// #[lock(key = "import-{source}", nowait = false, timeout = 10, exp = 60)]
/// fn import(source: &str) -> Result<usize, Error> {
///     // ... one import per source at a time, across every process sharing the backend ...
///     Ok(source.len())
/// }
///
/// fn main() -> Result<(), Error> {
///     cachify::init_cachify();
///     assert_eq!(import("crm")?, 3);
///     assert!(!import::is_locked("crm")?);
///
///     // While someone holds the lock, a `nowait` call is refused:
///     let _held = cachify::lock("report").acquire()?;
///     assert!(matches!(report(), Err(Error::Locked { .. })));
///     Ok(())
/// }
///
/// #[lock(key = "report")]
/// fn report() -> Result<(), Error> {
///     Ok(())
/// }
/// ```
///
/// On an async method:
///
/// ```
/// use cachify::{lock, Error};
///
/// struct Account {
///     id: u32,
/// }
///
/// impl Account {
///     #[lock(key = "account-{self.id}", nowait = false, timeout = 5)]
///     async fn withdraw(&self, amount: u64) -> Result<u64, Error> {
///         Ok(amount)
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     cachify::init_cachify();
///     let account = Account { id: 7 };
///     assert_eq!(account.withdraw(30).await?, 30);
///     assert!(!account.withdraw_is_locked(30).await?);
///     account.withdraw_release(30).await?; // forced release: nothing held, no error
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn lock(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Attribute::Lock, args, item)
}

/// Skips a call while another call with the same key is still running.
///
/// Used as `#[cachify::once(key = "...")]` on a `fn` or `async fn` (free function or
/// method), typically a background job that a scheduler may fire again before the
/// previous run ended. The first call takes a lock on the rendered key and runs; a call
/// made while it runs does not run the body and returns at once. The lock is released
/// when the running call ends: it returns, returns an error, panics, or (async) its
/// future is dropped.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `key = "..."`, or the key first: `#[once("...")]` | required | the key template, over the arguments (`{order_id}`, `{self.id}`, `{date.year}`) |
/// | `exp = 30` / `None` / `Duration` expr | the instance's `default_lock_expiration` (30 s) | how long the key is held if the process dies mid-run (integer or float: seconds; `None`: until released) |
/// | `auto_extend = bool` | `false` | renew `exp` while the run lasts, so a job longer than `exp` never runs twice at once |
/// | `return_on_locked = EXPR` | `Default::default()` (`Ok(Default::default())` for a `Result`) | what a skipped call returns: an expression of the return type |
/// | `raise_on_locked = true` | `false` | a skipped call returns `Err(cachify::Error::Locked { .. }.into())`; needs `Result<T, E>` with `E: From<cachify::Error>` |
/// | `cachify = PATH` | the global instance | a static that derefs to a `Cachify` |
///
/// Without `auto_extend`, a run that outlives `exp` loses its key and another call may
/// start: give long jobs `auto_extend = true` (the key is then renewed every `exp / 3`
/// while the run lasts, and still expires within `exp` if the process dies).
///
/// # Companions
///
/// As for `#[lock]`: `f::is_locked(args..)` and `f::release(args..)` for a free function,
/// `self.m_is_locked(args..)` and `self.m_release(args..)` for a method, with the
/// function's arguments and asyncness, returning `Result<_, cachify::Error>`; and
/// `f::stats()` (`Self::m_stats()`), taking nothing, never `async`, returning the
/// function's counters in this process as a `cachify::Stats`.
///
/// # Failures
///
/// A skipped call is not a failure. When the backend fails, a function returning
/// `Result` gets `Err(e.into())`; any other function logs it (`tracing`) and skips the
/// call, as if the key were held: `#[once]` never runs a job unguarded.
///
/// # Examples
///
/// ```
/// use cachify::{once, Error};
///
/// #[once(key = "check-order-{order_id}", return_on_locked = "in progress")]
/// fn check_order(order_id: u64) -> &'static str {
///     let _ = order_id; // ... check the order, update it, save ...
///     "checked"
/// }
///
/// #[once("nightly-export", exp = 60, auto_extend = true, raise_on_locked = true)]
/// async fn nightly_export() -> Result<(), Error> {
///     Ok(())
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     cachify::init_cachify();
///     assert_eq!(check_order(1), "checked");
///
///     // While another worker runs order 1, a call for it is skipped:
///     let _running = cachify::lock("check-order-1").acquire()?;
///     assert_eq!(check_order(1), "in progress");
///     assert!(check_order::is_locked(1)?);
///     assert_eq!(check_order(2), "checked"); // other keys run
///
///     nightly_export().await?;
///     assert!(!nightly_export::is_locked().await?);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn once(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Attribute::Once, args, item)
}

/// Limits how many calls with the same key run at once, across threads, tasks and processes.
///
/// Used as `#[cachify::pooled(key = "...", max_size = N)]` on a `fn` or `async fn` (free
/// function or method): each call takes a slot of the pool named by the rendered key for
/// the duration of the body, so at most `max_size` calls per key run at a time. The slot
/// is released when the call ends, however it ends (also when an async call's future is
/// dropped); a holder that dies stops counting after `slot_exp`.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `key = "..."`, or the key first: `#[pooled("...", max_size = 5)]` | required | the pool key, a template over the arguments (`{user_id}`, `{self.id}`, `{x:?}`) |
/// | `max_size = N` | required | at most `N` concurrent calls per rendered key (any `usize` expression) |
/// | `slot_exp = 30` / `None` / `Duration` expr | the instance's `default_pool_slot_expiration` (600 s) | how long a slot counts if never released (integer or float: seconds; `None`: forever) |
/// | `on_full = path` | none | called with the same arguments (receiver first, for methods) instead of the body when the pool is full; a plain fn returning the same type |
/// | `raise_on_full = true` | `false` | a full pool returns `Err(cachify::Error::PoolFull { .. }.into())`; needs `Result<T, E>` with `E: From<cachify::Error>` |
/// | `cachify = PATH` | the global instance | a static that derefs to a `Cachify` |
///
/// With neither `on_full` nor `raise_on_full`, a call that finds the pool full returns
/// `Default::default()` (`Ok(Default::default())` for a `Result`). A backend failure is
/// `Err(e.into())` in a function returning `Result`; any other function logs it and
/// behaves as if the pool were full, so a broken backend never lets more than `max_size`
/// callers through.
///
/// # Companions
///
/// `f::size(args..)` for a free function, `self.m_size(args..)` for a method: how many
/// slots of the pool named by those arguments are held now, as `Result<usize,
/// cachify::Error>` (async when the function is). And `f::stats()` (`Self::m_stats()`),
/// taking nothing, never `async`: the function's counters in this process, as a
/// `cachify::Stats`.
///
/// # Examples
///
/// ```
/// use std::sync::LazyLock;
/// use cachify::{pooled, Cachify, Error};
///
/// static API: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().build());
///
/// fn busy(user_id: u64) -> String {
///     format!("try again later, {user_id}")
/// }
///
/// #[pooled(key = "api-{user_id}", max_size = 2, on_full = busy, cachify = API)]
/// async fn call_api(user_id: u64) -> String {
///     format!("response for {user_id}")
/// }
///
/// #[pooled(key = "exports", max_size = 1, slot_exp = 300, raise_on_full = true, cachify = API)]
/// fn export() -> Result<&'static str, Error> {
///     Ok("exported")
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     assert_eq!(call_api(1).await, "response for 1");
///     assert_eq!(call_api::size(1).await?, 0);
///
///     // Two calls for user 1 are running elsewhere: the next one gets `on_full`'s answer.
///     let _a = API.pool("api-1", 2).acquire()?;
///     let _b = API.pool("api-1", 2).acquire()?;
///     assert_eq!(call_api(1).await, "try again later, 1");
///
///     assert_eq!(export()?, "exported");
///     let _running = API.pool("exports", 1).acquire()?;
///     assert!(matches!(export(), Err(Error::PoolFull { max_size: 1, .. })));
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(Attribute::Pooled, args, item)
}

/// Moves the companions of the attributed functions of an `impl` block into an inherent
/// `impl` beside it, so that `#[cached]`, `#[lock]`, `#[once]` and `#[pooled]` work on
/// the methods of a trait `impl`.
///
/// A trait `impl` may hold only the trait's items, so the companion `find_reset` of a
/// `#[cached]` method `find` cannot sit next to it there (rustc: "method `find_reset` is
/// not a member of trait"). Put `#[cachify::companions]` on the `impl` block: it expands
/// the attributes of the functions inside and puts their companions in an
/// `impl Type { .. }` of its own, so `repo.find_reset(7)` works. It works on inherent
/// `impl` blocks too, where it also gives associated functions without `self` their
/// associated companions (`Account::load_reset(id)`; without it, that needs `Self` in
/// the function's signature). With `#[async_trait]`, place it above `#[async_trait]`.
///
/// # Examples
///
/// ```
/// use cachify::{cached, lock, Error};
///
/// trait Repo {
///     async fn find(&self, id: u32) -> Result<String, Error>;
///     fn rename(&self, id: u32, name: &str) -> Result<(), Error>;
/// }
///
/// struct MemoryRepo;
///
/// #[cachify::companions]
/// impl Repo for MemoryRepo {
///     #[cached("user-{id}")]
///     async fn find(&self, id: u32) -> Result<String, Error> {
///         Ok(format!("user {id}"))
///     }
///
///     #[lock("rename-{id}")]
///     fn rename(&self, id: u32, name: &str) -> Result<(), Error> {
///         let _ = name;
///         Ok(())
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     cachify::init_cachify();
///     let repo = MemoryRepo;
///     assert_eq!(repo.find(7).await?, "user 7");
///     repo.find_reset(7).await?;
///     assert!(!repo.rename_is_locked(7, "x")?);
///     repo.rename(7, "x")
/// }
/// ```
#[proc_macro_attribute]
pub fn companions(args: TokenStream, item: TokenStream) -> TokenStream {
    impl_block::run(args.into(), item.into()).into()
}
