// `#[lock]` on sync and async functions and methods, its companions and options.
// Included by one binary per backend, which defines `fn backend() -> support::Backend`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachify::{lock, Cachify, Error};
use tokio::sync::Notify;

const PATIENCE: Duration = Duration::from_secs(10);

// --- seed: "Lock - Using Lock as a Decorator" ------------------------------------------

static SEED: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-decorator"));

/// Stands in for `asyncio.sleep(arg)`: a call says when it has started and runs until
/// the test lets it finish, so the example's timing is events, not sleeps.
#[derive(Default)]
struct Gate {
    started: Notify,
    finish: Notify,
}

fn gate(arg: u64) -> Arc<Gate> {
    static GATES: LazyLock<Mutex<HashMap<u64, Arc<Gate>>>> = LazyLock::new(Default::default);
    Arc::clone(GATES.lock().unwrap().entry(arg).or_default())
}

#[lock(key = "sleep_for_lock-{arg}", nowait = true, cachify = SEED)]
async fn sleep_for(arg: u64) -> Result<(), Error> {
    let gate = gate(arg);
    gate.started.notify_one();
    gate.finish.notified().await;
    Ok(())
}

#[tokio::test]
async fn seed_example_prints_what_py_cachify_prints() -> Result<(), Error> {
    let mut printed = Vec::new();

    let three = tokio::spawn(sleep_for(3));
    gate(3).started.notified().await;
    printed.push(format!("Sleep for is locked for argument 3: {}", sleep_for::is_locked(3).await?));
    printed.push(format!("Sleep for is locked for argument 4: {}", sleep_for::is_locked(4).await?));

    let five = tokio::spawn(sleep_for(5));
    gate(5).started.notified().await;
    printed.push(format!("Sleep for is locked for argument 5: {}", sleep_for::is_locked(5).await?));
    sleep_for::release(5).await?;
    printed.push(format!("Sleep for is locked for argument 5: {}", sleep_for::is_locked(5).await?));
    gate(5).finish.notify_one();
    five.await.unwrap()?;

    // asyncio.gather(sleep_for(1), sleep_for(1)): whichever call is refused lets the
    // other one finish.
    let call = || async {
        let outcome = sleep_for(1).await;
        if outcome.is_err() {
            gate(1).finish.notify_one();
        }
        outcome
    };
    let (first, second) = tokio::join!(call(), call());
    let refused = first.and(second).unwrap_err();
    printed.push(format!("Exception: {refused}"));

    assert_eq!(
        printed,
        [
            "Sleep for is locked for argument 3: true",
            "Sleep for is locked for argument 4: false",
            "Sleep for is locked for argument 5: true",
            "Sleep for is locked for argument 5: false",
            "Exception: sleep_for_lock-1 is already locked!",
        ]
    );
    gate(3).finish.notify_one();
    three.await.unwrap()?;
    assert!(!sleep_for::is_locked(3).await?);
    Ok(())
}

// --- sync functions, custom errors, early returns and panics ---------------------------

static SYNC: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-sync"));

#[derive(Debug)]
enum AppError {
    Cachify(Error),
    Invalid(&'static str),
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        AppError::Cachify(error)
    }
}

static HELD: Barrier = Barrier::new(2);

/// Holds its lock until the test has looked (two rendezvous on `HELD`).
#[lock(key = "import-{source}", cachify = SYNC)]
fn import(source: &str) -> Result<usize, AppError> {
    HELD.wait();
    HELD.wait();
    Ok(source.len())
}

#[test]
fn a_sync_call_holds_its_lock_and_refuses_a_concurrent_call() {
    let running = std::thread::spawn(|| import("orders"));
    HELD.wait();
    assert!(import::is_locked("orders").unwrap());
    assert!(!import::is_locked("users").unwrap());
    match import("orders") {
        Err(AppError::Cachify(Error::Locked { key })) => assert_eq!(key, "import-orders"),
        other => panic!("expected Locked, got {other:?}"),
    }
    HELD.wait();
    assert_eq!(running.join().unwrap().unwrap(), 6);
    assert!(!import::is_locked("orders").unwrap());
}

#[lock(key = "validate-{value}", cachify = SYNC)]
fn validate(value: i64) -> Result<i64, AppError> {
    if value < 0 {
        return Err(AppError::Invalid("negative"));
    }
    let parsed: i64 = value.to_string().parse().map_err(|_| AppError::Invalid("parse"))?;
    if parsed > 100 {
        panic!("too large");
    }
    Ok(parsed)
}

#[test]
fn returns_errors_and_panics_release_the_lock() {
    assert_eq!(validate(7).unwrap(), 7);
    assert!(!validate::is_locked(7).unwrap());
    assert!(matches!(validate(-1), Err(AppError::Invalid("negative"))));
    assert!(!validate::is_locked(-1).unwrap());
    assert!(std::panic::catch_unwind(|| validate(101)).is_err());
    assert!(!validate::is_locked(101).unwrap());
}

#[lock(key = "stuck", cachify = SYNC)]
fn stuck() -> Result<(), Error> {
    Ok(())
}

#[test]
fn release_companion_forces_a_held_lock_free() -> Result<(), Error> {
    let _someone_else = SYNC.lock("stuck").acquire()?;
    assert!(stuck::is_locked()?);
    assert!(matches!(stuck(), Err(Error::Locked { .. })));
    stuck::release()?;
    assert!(!stuck::is_locked()?);
    stuck()
}

// --- options: nowait, timeout, exp -------------------------------------------------------

static OPTIONS: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-options"));

#[lock(key = "patient", nowait = false, timeout = Duration::from_millis(200), cachify = OPTIONS)]
fn patient() -> Result<(), Error> {
    Ok(())
}

#[test]
fn a_waiting_call_gives_up_after_its_timeout() {
    let _held = OPTIONS.lock("patient").acquire().unwrap();
    let started = Instant::now();
    assert!(matches!(patient(), Err(Error::Locked { .. })));
    assert!(started.elapsed() >= Duration::from_millis(200));
}

static SHORT: Barrier = Barrier::new(2);

#[lock(key = "short", exp = Duration::from_millis(300), cachify = OPTIONS)]
fn short_lease() -> Result<(), Error> {
    SHORT.wait();
    SHORT.wait();
    Ok(())
}

#[test]
fn exp_bounds_how_long_a_call_holds_its_lock() -> Result<(), Error> {
    let running = std::thread::spawn(short_lease);
    SHORT.wait();
    // The call is still running, yet its 300 ms lock expires under it.
    let taken_over = OPTIONS.lock("short").nowait(false).timeout(PATIENCE).acquire()?;
    SHORT.wait();
    running.join().unwrap()?;
    assert!(short_lease::is_locked()?, "the overstaying call freed the next holder's lock");
    drop(taken_over);
    Ok(())
}

#[lock(key = "forever", exp = None, cachify = OPTIONS)]
fn forever() -> Result<Option<Duration>, Error> {
    Ok(OPTIONS.sync_client().remaining_ttl(&OPTIONS.lock_key("forever"))?)
}

#[lock(key = "half-minute", exp = 30, cachify = OPTIONS)]
fn half_minute() -> Result<Option<Duration>, Error> {
    Ok(OPTIONS.sync_client().remaining_ttl(&OPTIONS.lock_key("half-minute"))?)
}

#[test]
fn exp_accepts_seconds_and_none() -> Result<(), Error> {
    assert_eq!(forever()?, None);
    if let Some(left) = half_minute()? {
        assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30), "{left:?}");
    }
    Ok(())
}

static COUNTED: AtomicU64 = AtomicU64::new(0);

#[lock(key = "counter", nowait = false, cachify = OPTIONS)]
fn count() -> Result<(), Error> {
    let seen = COUNTED.load(Ordering::SeqCst);
    std::thread::yield_now();
    COUNTED.store(seen + 1, Ordering::SeqCst);
    Ok(())
}

#[test]
fn waiting_calls_never_overlap() {
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| (0..100).try_for_each(|_| count())))
        .collect();
    for thread in threads {
        thread.join().unwrap().unwrap();
    }
    assert_eq!(COUNTED.load(Ordering::SeqCst), 800);
}

// --- methods ----------------------------------------------------------------------------

static ACCOUNTS: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-methods"));

struct Account {
    id: u32,
    balance: AtomicU64,
    entered: Notify,
    proceed: Notify,
}

impl Account {
    fn new(id: u32) -> Self {
        Self {
            id,
            balance: AtomicU64::new(100),
            entered: Notify::new(),
            proceed: Notify::new(),
        }
    }

    #[lock(key = "account-{self.id}", cachify = ACCOUNTS)]
    fn withdraw(&self, amount: u64) -> Result<u64, Error> {
        Ok(self.balance.fetch_sub(amount, Ordering::SeqCst) - amount)
    }

    #[lock(key = "account-{self.id}-async", cachify = ACCOUNTS)]
    async fn withdraw_slowly(&self, amount: u64) -> Result<u64, Error> {
        self.entered.notify_one();
        self.proceed.notified().await;
        Ok(self.balance.fetch_sub(amount, Ordering::SeqCst) - amount)
    }
}

#[test]
fn methods_lock_per_receiver_and_get_sibling_companions() -> Result<(), Error> {
    let account = Account::new(7);
    assert_eq!(account.withdraw(30)?, 70);
    assert!(!account.withdraw_is_locked(30)?);
    let _elsewhere = ACCOUNTS.lock("account-7").acquire()?;
    assert!(account.withdraw_is_locked(1)?);
    assert!(Account::new(8).withdraw(1).is_ok(), "another receiver, another key");
    assert!(matches!(account.withdraw(1), Err(Error::Locked { .. })));
    account.withdraw_release(1)?;
    assert_eq!(account.withdraw(20)?, 50);
    Ok(())
}

#[tokio::test]
async fn async_methods_hold_their_lock_across_awaits() -> Result<(), Error> {
    let account = Arc::new(Account::new(9));
    let running = {
        let account = Arc::clone(&account);
        tokio::spawn(async move { account.withdraw_slowly(40).await })
    };
    account.entered.notified().await;
    assert!(account.withdraw_slowly_is_locked(0).await?);
    assert!(matches!(account.withdraw_slowly(1).await, Err(Error::Locked { .. })));
    account.proceed.notify_one();
    assert_eq!(running.await.unwrap()?, 60);
    assert!(!account.withdraw_slowly_is_locked(0).await?, "released when the call returned");
    Ok(())
}

// --- async cancellation ------------------------------------------------------------------

static CANCEL: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-cancel"));

#[lock(key = "report", cachify = CANCEL)]
async fn report(entered: &Notify) -> Result<(), Error> {
    entered.notify_one();
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_call_releases_its_lock() -> Result<(), Error> {
    let entered = Notify::new();
    tokio::select! {
        _ = report(&entered) => unreachable!("report never returns"),
        () = entered.notified() => {}
    }
    // The call's future is gone; its guard's release runs on this runtime.
    let started = Instant::now();
    let again = CANCEL.lock("report").nowait(false).timeout(PATIENCE).acquire_async().await?;
    assert!(started.elapsed() < PATIENCE / 2);
    again.release_async().await
}

// --- positional key, tuple fields, float timeout ------------------------------------------

static SHAPES: LazyLock<Cachify> = LazyLock::new(|| backend().instance("lock-shapes"));

struct Job(u32);

impl Job {
    #[lock("job-{self.0}", nowait = false, timeout = 0.2, cachify = SHAPES)]
    fn run(&self) -> Result<u32, Error> {
        Ok(self.0)
    }
}

#[test]
fn a_positional_key_over_a_tuple_field_with_a_float_timeout() -> Result<(), Error> {
    assert_eq!(Job(3).run()?, 3);
    let held = SHAPES.lock("job-3").acquire()?;
    let started = Instant::now();
    assert!(matches!(Job(3).run(), Err(Error::Locked { .. })));
    assert!(started.elapsed() >= Duration::from_millis(150), "it waited the 0.2 s timeout");
    assert_eq!(Job(4).run()?, 4, "another key");
    drop(held);
    assert_eq!(Job(3).run()?, 3);
    Ok(())
}
