// `#[once]`: py-cachify's four examples, release on every way a call can end, and
// companions. Included by one binary per backend, which defines
// `fn backend() -> support::Backend`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, LazyLock};
use std::time::{Duration, Instant};

use cachify::{once, Cachify, Error};
use tokio::sync::Notify;

const PATIENCE: Duration = Duration::from_secs(10);

static ONCE: LazyLock<Cachify> = LazyLock::new(|| backend().instance("once"));

// --- seed example 1: an async function with a constant key -----------------------------

static LONG_RUNNING: LazyLock<(Notify, Notify)> = LazyLock::new(Default::default);

#[once(key = "long_running_function", cachify = ONCE)]
async fn long_running_function() -> String {
    let (entered, proceed) = &*LONG_RUNNING;
    entered.notify_one();
    proceed.notified().await;
    "done".to_owned()
}

#[tokio::test]
async fn seed_1_a_concurrent_call_exits_silently_with_the_default() -> Result<(), Error> {
    let (entered, proceed) = &*LONG_RUNNING;
    let running = tokio::spawn(long_running_function());
    entered.notified().await;
    assert!(long_running_function::is_locked().await?);
    assert_eq!(long_running_function().await, "", "skipped: String::default()");
    proceed.notify_one();
    assert_eq!(running.await.unwrap(), "done");
    assert!(!long_running_function::is_locked().await?);
    Ok(())
}

// --- seed example 2: a key built from an argument's fields -----------------------------

#[derive(Debug, Clone, Copy)]
struct Date {
    year: u16,
    month: u8,
    day: u8,
}

static TRANSACTIONS: Barrier = Barrier::new(2);
static CREATED: AtomicUsize = AtomicUsize::new(0);

#[once(key = "create-transactions-{for_date.year}-{for_date.month}-{for_date.day}", cachify = ONCE)]
fn create_transactions(for_date: Date) {
    if for_date.day == 1 {
        TRANSACTIONS.wait();
        TRANSACTIONS.wait();
    }
    CREATED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn seed_2_one_run_per_date_at_a_time() -> Result<(), Error> {
    let first = Date { year: 2024, month: 5, day: 1 };
    let running = std::thread::spawn(move || create_transactions(first));
    TRANSACTIONS.wait();
    assert!(ONCE.lock("create-transactions-2024-5-1").is_locked()?);
    create_transactions(first); // skipped: the same date is running
    create_transactions(Date { day: 2, ..first }); // another date runs
    assert_eq!(CREATED.load(Ordering::SeqCst), 1);
    TRANSACTIONS.wait();
    running.join().unwrap();
    assert_eq!(CREATED.load(Ordering::SeqCst), 2);
    assert!(!create_transactions::is_locked(first)?);
    create_transactions(Date { day: 3, ..first });
    assert_eq!(CREATED.load(Ordering::SeqCst), 3);
    Ok(())
}

// --- seed example 3: return_on_locked -----------------------------------------------------

static ANOTHER: Barrier = Barrier::new(2);

#[once(key = "another_long_running_task", return_on_locked = "In progress", cachify = ONCE)]
fn another_long_running_function() -> &'static str {
    ANOTHER.wait();
    ANOTHER.wait();
    "Completed"
}

#[test]
fn seed_3_a_concurrent_call_returns_return_on_locked() {
    let running = std::thread::spawn(another_long_running_function);
    ANOTHER.wait();
    assert_eq!(another_long_running_function(), "In progress");
    ANOTHER.wait();
    assert_eq!(running.join().unwrap(), "Completed");
}

// --- seed example 4: raise_on_locked --------------------------------------------------------

static ONE_MORE: Barrier = Barrier::new(2);

#[once(key = "exception_if_more_than_one_is_running", raise_on_locked = true, cachify = ONCE)]
fn one_more_long_running_function() -> Result<(), Error> {
    ONE_MORE.wait();
    ONE_MORE.wait();
    Ok(())
}

#[test]
fn seed_4_a_concurrent_call_raises_locked() {
    let running = std::thread::spawn(one_more_long_running_function);
    ONE_MORE.wait();
    let refused = one_more_long_running_function().unwrap_err();
    assert!(matches!(&refused, Error::Locked { key } if key == "exception_if_more_than_one_is_running"));
    assert_eq!(refused.to_string(), "exception_if_more_than_one_is_running is already locked!");
    ONE_MORE.wait();
    running.join().unwrap().unwrap();
}

// --- Result functions without raise ---------------------------------------------------------

#[derive(Debug, PartialEq)]
enum JobError {
    Cachify(String),
    Failed,
}

impl From<Error> for JobError {
    fn from(error: Error) -> Self {
        JobError::Cachify(error.to_string())
    }
}

#[once(key = "sync-order-{order_id}", cachify = ONCE)]
fn sync_order(order_id: u32, fail: bool) -> Result<u32, JobError> {
    if fail {
        return Err(JobError::Failed);
    }
    Ok(order_id * 2)
}

#[test]
fn a_skipped_result_call_is_ok_default_and_an_error_releases() -> Result<(), Error> {
    let _running_elsewhere = ONCE.lock("sync-order-5").acquire()?;
    assert_eq!(sync_order(5, false), Ok(0), "skipped: Ok(Default::default())");
    assert_eq!(sync_order(6, false), Ok(12));
    assert_eq!(sync_order(7, true), Err(JobError::Failed));
    assert!(!sync_order::is_locked(7, true)?, "an Err return released the lock");
    Ok(())
}

// --- release on panic and cancellation --------------------------------------------------------

#[once(key = "fragile", cachify = ONCE)]
fn fragile() -> u8 {
    panic!("the job failed");
}

#[test]
fn a_panicking_call_releases_the_key() -> Result<(), Error> {
    assert!(std::panic::catch_unwind(fragile).is_err());
    assert!(!fragile::is_locked()?);
    Ok(())
}

#[once(key = "nightly-{n}", cachify = ONCE)]
async fn nightly(n: u8, entered: &Notify) -> u8 {
    entered.notify_one();
    std::future::pending::<()>().await;
    n
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_call_releases_the_key() -> Result<(), Error> {
    let entered = Notify::new();
    tokio::select! {
        _ = nightly(1, &entered) => unreachable!("nightly never returns"),
        () = entered.notified() => {}
    }
    // The call's future is gone; its guard's release runs on this runtime.
    let started = Instant::now();
    let again = ONCE.lock("nightly-1").nowait(false).timeout(PATIENCE).acquire_async().await?;
    assert!(started.elapsed() < PATIENCE / 2);
    again.release_async().await?;
    assert!(!nightly::is_locked(1, &entered).await?);
    Ok(())
}

// --- companions ----------------------------------------------------------------------------------

#[test]
fn release_companion_lets_the_next_call_run() -> Result<(), Error> {
    let _stale = ONCE.lock("another_key-9").acquire()?;
    assert_eq!(run_job(9), None);
    run_job::release(9)?;
    assert_eq!(run_job(9), Some(9));
    Ok(())
}

#[once(key = "another_key-{id}", cachify = ONCE)]
fn run_job(id: u32) -> Option<u32> {
    Some(id)
}

// --- positional key over a tuple argument ---------------------------------------------------

#[once("order-{order.0}", cachify = ONCE)]
fn process(order: (u32, &str)) -> Option<u32> {
    Some(order.0)
}

#[test]
fn a_positional_key_over_a_tuple_field() -> Result<(), Error> {
    assert_eq!(process((7, "book")), Some(7));
    let _running = ONCE.lock("order-7").acquire()?;
    assert_eq!(process((7, "pen")), None, "order 7 is running: skipped");
    assert_eq!(process((8, "pen")), Some(8));
    assert!(process::is_locked((7, "any"))?);
    Ok(())
}
