// The `#[pooled]` suite against `backend()`. Included by one binary per backend
// (`tests/pooled_<backend>.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, LazyLock};
use std::time::Duration;

use cachify::{pooled, Cachify, Error};

/// Holds every slot of a pool from outside, so the next call finds it full.
fn fill(cachify: &Cachify, key: &str, max_size: usize) -> Vec<cachify::PoolSlot> {
    (0..max_size)
        .map(|_| cachify.pool(key, max_size).acquire().unwrap())
        .collect()
}

// --- py-cachify's example: `process_task` with `on_full = handle_full` -----------------

static WORKERS: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-workers"));

#[derive(Debug, PartialEq)]
struct Outcome {
    user_id: String,
    task_data: Option<String>,
    status: &'static str,
}

fn handle_full(user_id: String, _task_data: String) -> Outcome {
    // Could reschedule, log, or return cached data.
    Outcome { user_id, task_data: None, status: "queued" }
}

#[pooled(key = "worker-pool-{user_id}", max_size = 3, on_full = handle_full, cachify = WORKERS)]
async fn process_task(user_id: String, task_data: String) -> Outcome {
    Outcome { user_id, task_data: Some(task_data), status: "completed" }
}

#[tokio::test]
async fn seed_example_process_task_calls_handle_full_when_full() {
    // The generated future is `Send`: it can be spawned, and so can the companion's.
    let done = tokio::spawn(process_task("123".into(), "payload".into()))
        .await
        .unwrap();
    assert_eq!(tokio::spawn(process_task::size("123".into(), String::new())).await.unwrap().unwrap(), 0);
    assert_eq!(done.status, "completed");
    assert_eq!(done.task_data.as_deref(), Some("payload"));

    let held = fill(&WORKERS, "worker-pool-123", 3);
    assert_eq!(process_task::size("123".into(), "x".into()).await.unwrap(), 3);
    let queued = process_task("123".into(), "payload".into()).await;
    assert_eq!(
        queued,
        Outcome { user_id: "123".into(), task_data: None, status: "queued" }
    );
    // Another user's pool is separate.
    assert_eq!(process_task("456".into(), "p".into()).await.status, "completed");
    drop(held);
    assert_eq!(process_task::size("123".into(), String::new()).await.unwrap(), 0);
    assert_eq!(process_task("123".into(), "again".into()).await.status, "completed");
}

// --- the bound holds through the macro ---------------------------------------------------

static BOUNDED: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-bounded"));
static INSIDE: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);

/// `true` when the body ran; `Default::default()` (`false`) when the pool was full.
#[pooled(key = "bounded", max_size = 3, cachify = BOUNDED)]
fn bounded_work() -> bool {
    let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    std::thread::yield_now();
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    true
}

#[test]
fn pooled_threads_never_exceed_max_size() {
    const THREADS: usize = 16;
    const CALLS: usize = 200;
    let start = Arc::new(Barrier::new(THREADS));
    let ran = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (start, ran) = (start.clone(), ran.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..CALLS {
                    if bounded_work() {
                        ran.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(ran.load(Ordering::SeqCst) > 0);
    assert!(MOST.load(Ordering::SeqCst) <= 3, "{} at once", MOST.load(Ordering::SeqCst));
    assert_eq!(bounded_work::size().unwrap(), 0);
}

// --- what a full pool returns ------------------------------------------------------------

static FULL: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-full"));

#[pooled(key = "default-{n}", max_size = 1, cachify = FULL)]
fn counted(n: u32) -> u32 {
    n * 10
}

#[pooled(key = "option-{n}", max_size = 1, cachify = FULL)]
async fn maybe(n: u32) -> Option<String> {
    Some(format!("ran {n}"))
}

#[derive(Debug, PartialEq)]
enum AppError {
    Cachify(String),
    Own,
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        AppError::Cachify(error.to_string())
    }
}

#[pooled(key = "strict", max_size = 1, raise_on_full = true, cachify = FULL)]
async fn strict_task() -> Result<&'static str, AppError> {
    Ok("done")
}

#[pooled(key = "strict-sync", max_size = 1, raise_on_full = true, cachify = FULL)]
fn strict_sync(fail: bool) -> Result<u8, Error> {
    if fail {
        return Err(Error::NotInitialized);
    }
    Ok(7)
}

#[pooled(key = "lenient", max_size = 1, cachify = FULL)]
fn lenient(fail: bool) -> Result<Vec<u8>, AppError> {
    if fail {
        Err(AppError::Own)?;
    }
    Ok(vec![1])
}

#[test]
fn a_full_pool_returns_default() {
    assert_eq!(counted(4), 40);
    let _held = fill(&FULL, "default-4", 1);
    assert_eq!(counted(4), 0);
    assert_eq!(counted(5), 50, "other arguments, other pool");
}

#[tokio::test]
async fn a_full_pool_returns_none_for_an_option() {
    let _held = fill(&FULL, "option-1", 1);
    assert_eq!(maybe(1).await, None);
    assert_eq!(maybe(2).await.as_deref(), Some("ran 2"));
}

#[tokio::test]
async fn raise_on_full_returns_pool_full_through_from() {
    assert_eq!(strict_task().await, Ok("done"));
    let _held = fill(&FULL, "strict", 1);
    let expected = Error::PoolFull { key: "strict".into(), max_size: 1 }.to_string();
    assert_eq!(strict_task().await, Err(AppError::Cachify(expected)));
}

#[test]
fn raise_on_full_in_a_sync_fn_and_errors_of_the_body_pass_through() {
    assert_eq!(strict_sync(false).unwrap(), 7);
    assert!(matches!(strict_sync(true), Err(Error::NotInitialized)));
    assert_eq!(strict_sync::size(false).unwrap(), 0, "an early return released the slot");
    let _held = fill(&FULL, "strict-sync", 1);
    match strict_sync(false) {
        Err(Error::PoolFull { key, max_size }) => assert_eq!((key.as_str(), max_size), ("strict-sync", 1)),
        other => panic!("expected PoolFull, got {other:?}"),
    }
}

#[test]
fn a_result_fn_without_raise_returns_ok_default_when_full() {
    assert_eq!(lenient(false), Ok(vec![1]));
    assert_eq!(lenient(true), Err(AppError::Own), "`?` in the body still works");
    let _held = fill(&FULL, "lenient", 1);
    assert_eq!(lenient(false), Ok(Vec::new()));
}

// --- methods -----------------------------------------------------------------------------

static SERVICES: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-methods"));

struct ApiClient {
    tenant: u32,
}

impl ApiClient {
    fn busy(&self, user_id: &str) -> String {
        format!("busy {}/{user_id}", self.tenant)
    }

    #[pooled(key = "api-{self.tenant}-{user_id}", max_size = 2, on_full = Self::busy, cachify = SERVICES)]
    fn call(&self, user_id: &str) -> String {
        format!("called {}/{user_id}", self.tenant)
    }

    #[pooled(key = "api-async-{self.tenant}", max_size = 1, slot_exp = 30, cachify = SERVICES)]
    async fn call_async(&self, n: u8) -> u8 {
        n + self.tenant as u8
    }
}

#[test]
fn methods_take_the_receiver_first_in_on_full_and_have_size_siblings() {
    let client = ApiClient { tenant: 9 };
    assert_eq!(client.call("ann"), "called 9/ann");
    let held = fill(&SERVICES, "api-9-ann", 2);
    assert_eq!(client.call_size("ann").unwrap(), 2);
    assert_eq!(client.call("ann"), "busy 9/ann");
    assert_eq!(client.call("bob"), "called 9/bob");
    drop(held);
    assert_eq!(client.call_size("ann").unwrap(), 0);
}

#[tokio::test]
async fn async_methods_release_after_the_call() {
    let client = ApiClient { tenant: 1 };
    // Back to back: each call's slot is released before it returns.
    for n in 0..5 {
        assert_eq!(client.call_async(n).await, n + 1);
    }
    assert_eq!(client.call_async_size(0).await.unwrap(), 0);
    let _held = fill(&SERVICES, "api-async-1", 1);
    assert_eq!(client.call_async(3).await, 0);
}

// --- slot_exp, release on panic and on cancellation --------------------------------------

static LIFECYCLE: LazyLock<Cachify> = LazyLock::new(|| {
    backend()
        .builder("pooled-lifecycle")
        .lock_poll_interval(Duration::from_millis(20))
        .build()
});

#[pooled(key = "short", max_size = 1, slot_exp = Duration::from_millis(200), cachify = LIFECYCLE)]
async fn short_lived(entered: tokio::sync::oneshot::Sender<()>, finish: tokio::sync::oneshot::Receiver<()>) -> bool {
    entered.send(()).unwrap();
    finish.await.unwrap();
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_exp_frees_the_place_of_a_long_call() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel();
    let call = tokio::spawn(short_lived(entered_tx, finish_rx));
    entered_rx.await.unwrap();
    // The running call's slot expires after 200 ms although the call goes on.
    let pool = LIFECYCLE.pool("short", 1).nowait(false).timeout(Duration::from_secs(20));
    let slot = pool.acquire_async().await.expect("the slot expired");
    finish_tx.send(()).unwrap();
    assert!(call.await.unwrap());
    slot.release_async().await.unwrap();
}

#[pooled(key = "forever", max_size = 1, slot_exp = None, cachify = LIFECYCLE)]
fn forever() -> u8 {
    1
}

#[test]
fn slot_exp_none_compiles_and_runs() {
    assert_eq!(forever(), 1);
    assert_eq!(forever::size().unwrap(), 0);
}

#[pooled(key = "panics", max_size = 1, cachify = LIFECYCLE)]
fn panics() -> u8 {
    panic!("the body fails")
}

#[test]
fn a_panicking_call_releases_its_slot() {
    assert!(std::thread::spawn(panics).join().is_err());
    assert_eq!(panics::size().unwrap(), 0);
}

#[pooled(key = "hangs", max_size = 1, cachify = LIFECYCLE)]
async fn hangs(entered: tokio::sync::oneshot::Sender<()>) -> u8 {
    entered.send(()).unwrap();
    std::future::pending::<()>().await;
    1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_releases_its_slot() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let call = tokio::spawn(hangs(entered_tx));
    entered_rx.await.unwrap();
    assert_eq!(hangs::size(tokio::sync::oneshot::channel().0).await.unwrap(), 1);
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    let pool = LIFECYCLE.pool("hangs", 1).nowait(false).timeout(Duration::from_secs(20));
    assert!(pool.acquire_async().await.is_ok(), "the cancelled call's slot was freed");
}

// --- generics and borrowed arguments -----------------------------------------------------

static GENERIC: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-generic"));

fn describe_full<T: std::fmt::Display>(item: &T, _tags: &[&str]) -> String {
    format!("full: {item}")
}

#[pooled(key = "gen-{item}", max_size = 1, on_full = describe_full, cachify = GENERIC)]
fn describe<T: std::fmt::Display>(item: &T, tags: &[&str]) -> String {
    format!("{item} {}", tags.join(","))
}

#[test]
fn generic_functions_with_borrowed_arguments() {
    assert_eq!(describe(&42, &["a", "b"]), "42 a,b");
    let _held = fill(&GENERIC, "gen-42", 1);
    assert_eq!(describe(&42, &[]), "full: 42");
}

// --- positional key over a tuple argument ---------------------------------------------------

static TENANTS: LazyLock<Cachify> = LazyLock::new(|| backend().instance("pooled-tenants"));

#[pooled("tenant-{pair.0}", max_size = 1, cachify = TENANTS)]
fn per_tenant(pair: (u32, u32)) -> u32 {
    pair.1
}

#[test]
fn a_positional_key_over_a_tuple_field() {
    assert_eq!(per_tenant((1, 5)), 5);
    let _held = fill(&TENANTS, "tenant-1", 1);
    assert_eq!(per_tenant((1, 5)), 0, "tenant 1 is full: the default");
    assert_eq!(per_tenant((2, 5)), 5);
    assert_eq!(per_tenant::size((1, 0)).unwrap(), 1);
}
