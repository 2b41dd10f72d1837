//! Compiles every attribute on every everyday function shape with `deny(warnings)` and
//! clippy's lints denied (`scripts/test` runs clippy on test files with `-D warnings`):
//! attribute × sync/async × free function/method × one-expression/multi-statement body,
//! plus the shapes of issue-free Rust services: tuple fields in keys, positional keys,
//! durations from constants and floats, associated functions, trait impls under
//! `#[cachify::companions]` (native `async fn` and `#[async_trait]`), `Result` aliases.
//! The test then calls each once.

#![deny(warnings)]
#![deny(clippy::all)]

use std::time::Duration;

use cachify::{cached, lock, once, pooled, Error};

#[cached("cached_sync_one-{a}")]
fn cached_sync_one(a: u32) -> u32 {
    a + 1
}

// Opens with a placeholder: its `clear` companion is refused where called, silently here.
#[cached("{a}-cached_placeholder_first")]
fn cached_placeholder_first(a: u32) -> u32 {
    a + 1
}

#[cached("cached_sync_multi-{a}")]
fn cached_sync_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

#[cached("cached_async_one-{a}")]
async fn cached_async_one(a: u32) -> u32 {
    a + 1
}

#[cached("cached_async_multi-{a}")]
async fn cached_async_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

#[lock("lock_sync_one-{a}")]
fn lock_sync_one(a: u32) -> Result<u32, Error> {
    Ok(a + 1)
}

#[lock("lock_sync_multi-{a}")]
fn lock_sync_multi(a: u32) -> Result<u32, Error> {
    let b = a * 2;
    Ok(b + 1)
}

#[lock("lock_async_one-{a}")]
async fn lock_async_one(a: u32) -> Result<u32, Error> {
    Ok(a + 1)
}

#[lock("lock_async_multi-{a}")]
async fn lock_async_multi(a: u32) -> Result<u32, Error> {
    let b = a * 2;
    Ok(b + 1)
}

#[once("once_sync_one-{a}")]
fn once_sync_one(a: u32) -> u32 {
    a + 1
}

#[once("once_sync_multi-{a}")]
fn once_sync_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

#[once("once_async_one-{a}")]
async fn once_async_one(a: u32) -> u32 {
    a + 1
}

#[once("once_async_multi-{a}")]
async fn once_async_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

#[pooled("pooled_sync_one-{a}", max_size = 2)]
fn pooled_sync_one(a: u32) -> u32 {
    a + 1
}

#[pooled("pooled_sync_multi-{a}", max_size = 2)]
fn pooled_sync_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

#[pooled("pooled_async_one-{a}", max_size = 2)]
async fn pooled_async_one(a: u32) -> u32 {
    a + 1
}

#[pooled("pooled_async_multi-{a}", max_size = 2)]
async fn pooled_async_multi(a: u32) -> u32 {
    let b = a * 2;
    b + 1
}

struct Service(u32);

impl Service {
    #[cached("cached_sync_one-{self.0}-{a}")]
    fn cached_sync_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[cached("cached_sync_multi-{self.0}-{a}")]
    fn cached_sync_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }

    #[cached("cached_async_one-{self.0}-{a}")]
    async fn cached_async_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[cached("cached_async_multi-{self.0}-{a}")]
    async fn cached_async_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }

    #[lock("lock_sync_one-{self.0}-{a}")]
    fn lock_sync_one(&self, a: u32) -> Result<u32, Error> {
        Ok(a + 1)
    }

    #[lock("lock_sync_multi-{self.0}-{a}")]
    fn lock_sync_multi(&self, a: u32) -> Result<u32, Error> {
        let b = a * 2;
        Ok(b + 1)
    }

    #[lock("lock_async_one-{self.0}-{a}")]
    async fn lock_async_one(&self, a: u32) -> Result<u32, Error> {
        Ok(a + 1)
    }

    #[lock("lock_async_multi-{self.0}-{a}")]
    async fn lock_async_multi(&self, a: u32) -> Result<u32, Error> {
        let b = a * 2;
        Ok(b + 1)
    }

    #[once("once_sync_one-{self.0}-{a}")]
    fn once_sync_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[once("once_sync_multi-{self.0}-{a}")]
    fn once_sync_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }

    #[once("once_async_one-{self.0}-{a}")]
    async fn once_async_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[once("once_async_multi-{self.0}-{a}")]
    async fn once_async_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }

    #[pooled("pooled_sync_one-{self.0}-{a}", max_size = 2)]
    fn pooled_sync_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[pooled("pooled_sync_multi-{self.0}-{a}", max_size = 2)]
    fn pooled_sync_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }

    #[pooled("pooled_async_one-{self.0}-{a}", max_size = 2)]
    async fn pooled_async_one(&self, a: u32) -> u32 {
        a + 1
    }

    #[pooled("pooled_async_multi-{self.0}-{a}", max_size = 2)]
    async fn pooled_async_multi(&self, a: u32) -> u32 {
        let b = a * 2;
        b + 1
    }
}

const TTL_SECS: u64 = 300;
const TIMEOUT: f64 = 0.5;
const SLOT_EXP: Duration = Duration::from_secs(60);

/// An application error and the alias a service spells its results with.
#[derive(Debug)]
struct AppError;

impl From<Error> for AppError {
    fn from(_: Error) -> Self {
        AppError
    }
}

type Outcome<T> = Result<T, AppError>;

#[derive(Debug, Clone, Copy)]
struct UserId(u32);

impl UserId {
    #[cached("user-{self.0}", ttl = TTL_SECS)]
    fn name(&self) -> String {
        format!("user {}", self.0)
    }

    #[lock("user-{self.0}", timeout = TIMEOUT, exp = 2 * TTL_SECS, auto_extend = true)]
    fn rename(&self, name: &str) -> Outcome<usize> {
        Ok(name.len())
    }
}

#[cached("pair-{pair.0}-{pair.1}", ttl = 1.5)]
fn pair_sum(pair: (u32, u32)) -> Outcome<u32> {
    Ok(pair.0 + pair.1)
}

#[once("job-{id}", exp = 30, auto_extend = true)]
async fn long_job(id: u32) -> Outcome<u32> {
    Ok(id)
}

/// A trait's default method: its companions are default methods too.
trait Salute {
    #[cached("salute-{id}")]
    fn salute(&self, id: u32) -> String {
        format!("hello {id}")
    }
}

struct English;

impl Salute for English {}

/// Whole minutes and hours in seconds, as py-cachify writes them: clippy's pedantic
/// `duration_suboptimal_units` must not report the user's literal. It only fires where
/// `Duration::from_mins` exists (Rust 1.91), as in a crate without this workspace's
/// older `rust-version`.
#[clippy::msrv = "1.91"]
#[deny(clippy::duration_suboptimal_units)]
mod whole_minutes {
    use super::{cached, lock, Outcome};

    #[cached("per-minute-{id}", ttl = 60)]
    pub fn per_minute(id: u32) -> u32 {
        id
    }

    #[lock("hourly-{id}", exp = 3600, nowait = false, timeout = 120)]
    pub fn hourly(id: u32) -> Outcome<u32> {
        Ok(id)
    }
}

#[pooled("api-{id}", max_size = 2, slot_exp = SLOT_EXP)]
fn api_call(id: u32) -> Option<u32> {
    Some(id)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Account {
    id: u32,
}

impl Account {
    /// Names `Self`: its companions are associated functions.
    #[cached("account-{id}")]
    fn load(id: u32) -> Self {
        Account { id }
    }
}

#[cachify::companions]
impl Account {
    #[cached("balance-{id}")]
    fn balance(id: u32) -> u64 {
        u64::from(id) * 100
    }
}

trait UserRepo {
    async fn find(&self, id: u32) -> Outcome<String>;
    fn save(&self, id: u32, name: &str) -> Outcome<()>;
}

struct MemoryRepo;

#[cachify::companions]
impl UserRepo for MemoryRepo {
    #[cached("repo-user-{id}")]
    async fn find(&self, id: u32) -> Outcome<String> {
        Ok(format!("user {id}"))
    }

    #[lock("repo-save-{id}")]
    #[cached("repo-save-cache-{id}-{name}")]
    fn save(&self, id: u32, name: &str) -> Outcome<()> {
        let _ = (id, name);
        Ok(())
    }
}

#[async_trait::async_trait]
trait Greeter {
    async fn greet(&self, who: String) -> Outcome<String>;
}

#[cachify::companions]
#[async_trait::async_trait]
impl Greeter for MemoryRepo {
    #[cached("greet-{who}")]
    #[once("greet-once-{who}")]
    async fn greet(&self, who: String) -> Outcome<String> {
        Ok(format!("hello {who}"))
    }
}

/// Attributes imported by name and used only under `#[cachify::companions]`, which
/// expands them itself: their imports still count as used.
mod only_in_impls {
    use cachify::cached;

    pub struct Counter;

    #[cachify::companions]
    impl Counter {
        #[cached("counter-{n}")]
        pub fn double(&self, n: u32) -> u32 {
            n * 2
        }
    }
}

/// A trait implemented in another module: its companions are callable from here.
mod elsewhere {
    use super::Outcome;

    pub trait Lookup {
        fn lookup(&self, id: u32) -> Outcome<u32>;
    }

    pub struct Table;

    #[cachify::companions]
    impl Lookup for Table {
        #[cachify::cached("lookup-{id}")]
        #[cachify::pooled("lookup-pool-{id}", max_size = 4)]
        fn lookup(&self, id: u32) -> Outcome<u32> {
            #![allow(clippy::identity_op)]
            Ok(id + 0)
        }
    }
}

#[tokio::test]
async fn every_shape_compiles_without_warnings_and_runs() {
    cachify::init_cachify();
    let s = Service(7);
    cached_sync_one(1);
    cached_placeholder_first(1);
    assert_eq!(cached_sync_one::clear().unwrap(), 1);
    s.cached_sync_one(1);
    cached_sync_multi(1);
    s.cached_sync_multi(1);
    lock_sync_one(1).unwrap();
    s.lock_sync_one(1).unwrap();
    lock_sync_multi(1).unwrap();
    s.lock_sync_multi(1).unwrap();
    once_sync_one(1);
    s.once_sync_one(1);
    once_sync_multi(1);
    s.once_sync_multi(1);
    pooled_sync_one(1);
    s.pooled_sync_one(1);
    pooled_sync_multi(1);
    s.pooled_sync_multi(1);
    cached_async_one(1).await;
    s.cached_async_one(1).await;
    cached_async_multi(1).await;
    s.cached_async_multi(1).await;
    lock_async_one(1).await.unwrap();
    s.lock_async_one(1).await.unwrap();
    lock_async_multi(1).await.unwrap();
    s.lock_async_multi(1).await.unwrap();
    once_async_one(1).await;
    s.once_async_one(1).await;
    once_async_multi(1).await;
    s.once_async_multi(1).await;
    pooled_async_one(1).await;
    s.pooled_async_one(1).await;
    pooled_async_multi(1).await;
    s.pooled_async_multi(1).await;

    let user = UserId(3);
    assert_eq!(user.name(), "user 3");
    user.name_reset().unwrap();
    assert_eq!(user.rename("x").unwrap(), 1);
    assert!(!user.rename_is_locked("x").unwrap());
    assert_eq!(pair_sum((1, 2)).unwrap(), 3);
    pair_sum::reset((1, 2)).unwrap();
    assert_eq!(long_job(1).await.unwrap(), 1);
    assert!(!long_job::is_locked(1).await.unwrap());
    assert_eq!(English.salute(1), "hello 1");
    English.salute_reset(1).unwrap();
    assert_eq!(whole_minutes::per_minute(1), 1);
    assert_eq!(whole_minutes::hourly(1).unwrap(), 1);
    assert_eq!(api_call(1), Some(1));
    assert_eq!(api_call::size(1).unwrap(), 0);
    assert_eq!(Account::load(4).id, 4);
    Account::load_reset(4).unwrap();
    assert_eq!(Account::balance(2), 200);
    Account::balance_reset(2).unwrap();
    assert_eq!(only_in_impls::Counter.double(2), 4);
    only_in_impls::Counter.double_reset(2).unwrap();
    use elsewhere::Lookup as _;
    assert_eq!(elsewhere::Table.lookup(5).unwrap(), 5);
    elsewhere::Table.lookup_reset(5).unwrap();
    assert_eq!(elsewhere::Table.lookup_size(5).unwrap(), 0);
    let repo = MemoryRepo;
    assert_eq!(repo.find(1).await.unwrap(), "user 1");
    repo.find_reset(1).await.unwrap();
    repo.save(1, "a").unwrap();
    repo.save_reset(1, "a").unwrap();
    assert!(!repo.save_is_locked(1, "a").unwrap());
    assert_eq!(repo.greet("bo".into()).await.unwrap(), "hello bo");
    repo.greet_reset("bo".into()).await.unwrap();
    assert!(!repo.greet_is_locked("bo".into()).await.unwrap());
}
