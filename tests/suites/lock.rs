// Over 500 lines: a suite run on every backend, one module per behaviour; splitting it would add test binaries (link time) or scatter one subject.
// The lock engine: `Cachify::lock`, its guards, waiting, owner checks, cancellation,
// lease extension and mutual exclusion under load. Included by one binary per backend,
// which defines `fn backend() -> support::Backend`.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachify::backend::ReleaseWatch;
use cachify::{AsyncClient, AsyncLockGuard, BackendError, Cachify, Error, Lock, LockGuard, SyncClient};
use tokio::sync::{mpsc, oneshot};

/// Long enough to never be what frees a lock within a test.
const LONG: Duration = Duration::from_secs(30);
/// The most a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);
/// "Well under a second": a wake-up, not a poll (the poll interval is 10 s).
const PROMPT: Duration = Duration::from_secs(1);

fn locked_key(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Locked { key }) => key,
        other => panic!("expected Error::Locked, got {other:?}"),
    }
}

/// A client that forwards to a backend instance's clients and reports what locks do to
/// it: failed `set(nx)` attempts (a waiter is now watching) and lease renewals.
#[derive(Clone)]
struct Probe {
    inner: Cachify,
    refused: mpsc::UnboundedSender<()>,
    renewals: Arc<AtomicUsize>,
}

struct Probed {
    cachify: Cachify,
    refused: mpsc::UnboundedReceiver<()>,
    renewals: Arc<AtomicUsize>,
}

/// An instance over `backend()` seen through a [`Probe`], polling only every 10 s.
fn probed(test: &str) -> Probed {
    let (refused_tx, refused) = mpsc::unbounded_channel();
    let probe = Probe {
        inner: backend().instance(test),
        refused: refused_tx,
        renewals: Arc::default(),
    };
    let renewals = Arc::clone(&probe.renewals);
    let cachify = Cachify::builder()
        .prefix(support::unique_prefix(test))
        .lock_poll_interval(Duration::from_secs(10))
        .sync_client(probe.clone())
        .async_client(probe)
        .build();
    Probed {
        cachify,
        refused,
        renewals,
    }
}

impl Probe {
    fn saw_set(&self, nx: bool, stored: &Result<bool, BackendError>) {
        if nx && matches!(stored, Ok(false)) {
            let _ = self.refused.send(());
        }
    }
}

impl SyncClient for Probe {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.sync_client().get(key)
    }
    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
        let stored = self.inner.sync_client().set(key, value, ttl, nx);
        self.saw_set(nx, &stored);
        stored
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.inner.sync_client().delete(keys)
    }
    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.inner.sync_client().delete_if_equals(key, expected)
    }
    fn expire_if_equals(&self, key: &str, expected: &[u8], ttl: Option<Duration>) -> Result<bool, BackendError> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.inner.sync_client().expire_if_equals(key, expected, ttl)
    }
    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.inner.sync_client().remaining_ttl(key)
    }
    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        self.inner.sync_client().watch(key)
    }
}

#[async_trait]
impl AsyncClient for Probe {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.async_client().get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
        let stored = self.inner.async_client().set(key, value, ttl, nx).await;
        self.saw_set(nx, &stored);
        stored
    }
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.inner.async_client().delete(keys).await
    }
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.inner.async_client().delete_if_equals(key, expected).await
    }
    async fn expire_if_equals(&self, key: &str, expected: &[u8], ttl: Option<Duration>) -> Result<bool, BackendError> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.inner.async_client().expire_if_equals(key, expected, ttl).await
    }
    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.inner.async_client().remaining_ttl(key).await
    }
    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        self.inner.async_client().watch(key).await
    }
}

fn waiting(lock: &Lock, timeout: Duration) -> Lock {
    lock.clone().nowait(false).timeout(timeout)
}

// --- acquire, release, is_locked -------------------------------------------------------

#[test]
fn a_held_lock_refuses_a_second_holder_with_the_users_key() -> Result<(), Error> {
    let cachify = backend().instance("refuses");
    let lock = cachify.lock("report-{42}");
    let guard = lock.acquire()?;
    assert!(lock.is_locked()?);
    let refused = lock.acquire();
    let message = refused.as_ref().map(drop).unwrap_err().to_string();
    assert_eq!(message, "report-{42} is already locked!");
    assert_eq!(locked_key(refused), "report-{42}");
    assert_eq!(guard.key(), "report-{42}");
    drop(guard);
    assert!(!lock.is_locked()?);
    lock.acquire()?.release()?;
    assert!(!lock.is_locked()?);
    Ok(())
}

#[test]
fn different_keys_and_instances_do_not_contend() -> Result<(), Error> {
    let first = backend().instance("keys-a");
    let second = backend().instance("keys-b");
    let _a = first.lock("k").acquire()?;
    let _b = first.lock("other").acquire()?;
    let _c = second.lock("k").acquire()?;
    Ok(())
}

#[test]
fn the_one_liner_holds_to_the_end_of_the_scope() -> Result<(), Error> {
    let cachify = backend().instance("one-liner");
    {
        let _guard = cachify.lock("k").acquire()?;
        assert!(cachify.lock("k").is_locked()?);
    }
    assert!(!cachify.lock("k").is_locked()?);
    Ok(())
}

#[test]
fn a_panic_releases_the_lock() -> Result<(), Error> {
    let cachify = backend().instance("panic-sync");
    let lock = cachify.lock("k");
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _guard = lock.acquire().unwrap();
        panic!("the critical section failed");
    }));
    assert!(outcome.is_err());
    assert!(!lock.is_locked()?);
    Ok(())
}

#[test]
fn force_release_frees_anyones_lock_and_the_guard_then_ends_quietly() -> Result<(), Error> {
    let cachify = backend().instance("force");
    let lock = cachify.lock("k");
    let guard = lock.acquire()?;
    cachify.lock("k").release()?;
    assert!(!lock.is_locked()?);
    let next = lock.acquire()?;
    // The first guard's token is gone: its release must neither fail nor free `next`.
    guard.release()?;
    assert!(lock.is_locked()?);
    drop(next);
    cachify.lock("never-held").release()?;
    Ok(())
}

#[tokio::test]
async fn async_acquire_release_and_is_locked() -> Result<(), Error> {
    let cachify = backend().instance("async-basic");
    let lock = cachify.lock("k");
    let guard = lock.acquire_async().await?;
    assert!(lock.is_locked_async().await?);
    assert_eq!(locked_key(lock.acquire_async().await), "k");
    assert!(lock.is_locked()?, "sync and async sides share the lock");
    guard.release_async().await?;
    assert!(!lock.is_locked_async().await?);

    let _held = lock.acquire_async().await?;
    lock.release_async().await?;
    assert!(!lock.is_locked_async().await?);
    Ok(())
}

#[test]
fn nowait_ignores_the_timeout() {
    let cachify = backend().instance("nowait");
    let lock = cachify.lock("k");
    let _guard = lock.acquire().unwrap();
    let started = Instant::now();
    let refused = lock.clone().timeout(PATIENCE).acquire();
    assert_eq!(locked_key(refused), "k");
    assert!(started.elapsed() < PATIENCE / 2, "nowait must not wait");
}

#[test]
fn a_waiting_acquire_gives_up_after_its_timeout() {
    let cachify = backend().instance("timeout");
    let lock = cachify.lock("k");
    let _guard = lock.acquire().unwrap();
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    assert_eq!(locked_key(waiting(&lock, timeout).acquire()), "k");
    let waited = started.elapsed();
    assert!(waited >= timeout, "gave up after {waited:?}");
    assert!(waited < PATIENCE, "waited {waited:?}");
}

#[tokio::test]
async fn an_async_waiting_acquire_gives_up_after_its_timeout() {
    let cachify = backend().instance("timeout-async");
    let lock = cachify.lock("k");
    let _guard = lock.acquire_async().await.unwrap();
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    assert_eq!(locked_key(waiting(&lock, timeout).acquire_async().await), "k");
    assert!(started.elapsed() >= timeout);
}

// --- expiry and owner-checked release ---------------------------------------------------

#[test]
fn a_guard_that_overstayed_does_not_release_the_next_holder() -> Result<(), Error> {
    let cachify = backend().instance("owner");
    let lock = cachify.lock("k");
    let first = lock.clone().exp(Duration::from_millis(300)).acquire()?;
    // The first holder overstays: the second waits for the expiry and takes over.
    let second = waiting(&lock, PATIENCE).exp(LONG).acquire()?;
    drop(first);
    assert!(lock.is_locked()?, "the first guard freed the second holder's lock");
    assert_eq!(locked_key(lock.acquire()), "k");
    drop(second);
    assert!(!lock.is_locked()?);
    Ok(())
}

#[tokio::test]
async fn an_async_guard_that_overstayed_does_not_release_the_next_holder() -> Result<(), Error> {
    let cachify = backend().instance("owner-async");
    let lock = cachify.lock("k");
    let first = lock.clone().exp(Duration::from_millis(300)).acquire_async().await?;
    let second = waiting(&lock, PATIENCE).exp(LONG).acquire_async().await?;
    first.release_async().await?;
    assert!(lock.is_locked_async().await?);
    second.release_async().await?;
    assert!(!lock.is_locked_async().await?);
    Ok(())
}

#[test]
fn exp_defaults_to_the_instances_default_lock_expiration() -> Result<(), Error> {
    let cachify = backend()
        .builder("default-exp")
        .default_lock_expiration(Duration::from_millis(200))
        .lock_poll_interval(Duration::from_secs(10))
        .build();
    let lock = cachify.lock("k");
    let _abandoned = lock.acquire()?;
    // Only the 200 ms expiry can free it in time: no release, and a 10 s poll interval.
    let started = Instant::now();
    let _taken_over = waiting(&lock, PATIENCE).acquire()?;
    assert!(started.elapsed() < PATIENCE / 2);
    Ok(())
}

#[test]
fn exp_none_never_expires() -> Result<(), Error> {
    let cachify = backend()
        .builder("exp-none")
        .default_lock_expiration(Duration::from_millis(50))
        .build();
    let lock = cachify.lock("k").exp(None).auto_extend(true);
    let guard = lock.acquire()?;
    assert_eq!(cachify.sync_client().remaining_ttl(&cachify.lock_key("k"))?, None);
    // Longer than the instance default: the explicit `None` won.
    assert_eq!(locked_key(waiting(&lock, Duration::from_millis(200)).acquire()), "k");
    drop(guard);
    assert!(!lock.is_locked()?);
    Ok(())
}

// --- woken on release ----------------------------------------------------------------

#[test]
fn a_waiter_is_woken_by_the_release_not_the_poll() -> Result<(), Error> {
    let mut probed = probed("woken");
    let lock = probed.cachify.lock("k").exp(LONG);
    let holder = lock.acquire()?;
    let waiter = {
        let lock = waiting(&lock, LONG);
        std::thread::spawn(move || lock.acquire().map(|guard| (Instant::now(), guard)))
    };
    // The waiter has failed once, so it is watching and about to sleep 10 s.
    wait_refused_blocking(&mut probed.refused);
    let released = Instant::now();
    drop(holder);
    let (acquired, _guard) = waiter.join().expect("waiter panicked")?;
    let latency = acquired - released;
    assert!(latency < PROMPT, "the waiter took {latency:?} after the release");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_waiter_is_woken_by_the_release_not_the_poll() -> Result<(), Error> {
    let mut probed = probed("woken-async");
    let lock = probed.cachify.lock("k").exp(LONG);
    let holder = lock.acquire_async().await?;
    let waiter = {
        let lock = waiting(&lock, LONG);
        tokio::spawn(async move { lock.acquire_async().await.map(|guard| (Instant::now(), guard)) })
    };
    tokio::time::timeout(PATIENCE, probed.refused.recv()).await.expect("the waiter never tried");
    let released = Instant::now();
    holder.release_async().await?;
    let (acquired, guard) = waiter.await.expect("waiter panicked")?;
    assert!(acquired - released < PROMPT, "took {:?}", acquired - released);
    guard.release_async().await
}

fn wait_refused_blocking(refused: &mut mpsc::UnboundedReceiver<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let refusal = runtime.block_on(async { tokio::time::timeout(PATIENCE, refused.recv()).await });
    refusal.expect("the waiter never tried");
}

// --- cancellation safety -------------------------------------------------------------

/// Waits until `lock` is free again and takes it: the event that proves a release.
async fn reacquire(lock: &Lock) -> AsyncLockGuard {
    let started = Instant::now();
    let guard = waiting(lock, PATIENCE).acquire_async().await.expect("the lock was never released");
    // exp is 30 s: only a release can have freed it this soon.
    assert!(started.elapsed() < PATIENCE / 2);
    guard
}

#[tokio::test(flavor = "current_thread")]
async fn a_guard_in_a_future_dropped_by_select_is_released() {
    let cachify = backend().instance("cancel-select");
    let lock = cachify.lock("k").exp(LONG);
    let (acquired_tx, acquired_rx) = oneshot::channel();
    let holder = async {
        let _guard = lock.acquire_async().await.unwrap();
        acquired_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = holder => unreachable!("the holder never finishes"),
        acquired = acquired_rx => acquired.unwrap(),
    }
    // `holder` and its guard are gone; the release runs as a task on this very runtime.
    reacquire(&lock).await.release_async().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_guard_in_a_future_dropped_by_timeout_is_released() {
    let cachify = backend().instance("cancel-timeout");
    let lock = cachify.lock("k").exp(LONG);
    let (acquired_tx, acquired_rx) = oneshot::channel();
    let holder = async {
        let _guard = lock.acquire_async().await.unwrap();
        acquired_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    };
    let timed_out = tokio::time::timeout(Duration::from_millis(50), holder).await;
    assert!(timed_out.is_err());
    acquired_rx.await.unwrap();
    reacquire(&lock).await.release_async().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_waiter_leaves_nothing_behind() {
    let cachify = backend().instance("cancel-waiter");
    let lock = cachify.lock("k").exp(LONG);
    let holder = lock.acquire_async().await.unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(50), waiting(&lock, LONG).acquire_async()).await;
    assert!(gave_up.is_err());
    holder.release_async().await.unwrap();
    assert!(!lock.is_locked_async().await.unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_task_releases_its_guard() {
    let cachify = backend().instance("panic-async");
    let lock = cachify.lock("k").exp(LONG);
    let task = {
        let lock = lock.clone();
        tokio::spawn(async move {
            let _guard = lock.acquire_async().await.unwrap();
            panic!("the critical section failed");
        })
    };
    assert!(task.await.unwrap_err().is_panic());
    reacquire(&lock).await.release_async().await.unwrap();
}

#[test]
fn an_async_guard_dropped_outside_any_runtime_releases_before_the_drop_returns() {
    let cachify = backend().instance("no-runtime");
    let lock = cachify.lock("k").exp(LONG);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let guard = runtime.block_on(lock.acquire_async()).unwrap();
    drop(runtime);
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert!(!lock.is_locked().unwrap());
}

// --- guards travel -------------------------------------------------------------------

#[test]
fn locks_and_guards_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Lock>();
    check::<LockGuard>();
    check::<AsyncLockGuard>();

    let cachify = backend().instance("debug");
    let guard = cachify.lock("k").acquire().unwrap();
    let shown = format!("{:?} {guard:?}", cachify.lock("k"));
    assert!(shown.contains("\"k\""), "{shown}");
}

#[test]
fn a_guard_moves_into_another_thread() -> Result<(), Error> {
    let cachify = backend().instance("move-thread");
    let guard = cachify.lock("k").acquire()?;
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert!(!cachify.lock("k").is_locked()?);
    Ok(())
}

// --- lease extension -----------------------------------------------------------------

#[test]
fn auto_extend_keeps_a_long_job_locked_and_stops_with_the_guard() -> Result<(), Error> {
    let probed = probed("lease");
    let lock = probed.cachify.lock("k").exp(Duration::from_millis(300));
    let guard = lock.clone().auto_extend(true).acquire()?;
    // A second acquirer keeps trying for over three expiries' worth of time.
    assert_eq!(locked_key(waiting(&lock, Duration::from_secs(1)).acquire()), "k");
    let renewed = probed.renewals.load(Ordering::SeqCst);
    assert!(renewed >= 2, "renewed {renewed} times");
    drop(guard);
    assert!(!lock.is_locked()?);
    let stopped_at = probed.renewals.load(Ordering::SeqCst);
    // A stopped lease can only be told from a running one by time passing.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(probed.renewals.load(Ordering::SeqCst), stopped_at);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn auto_extend_works_for_async_guards_and_stops_with_them() -> Result<(), Error> {
    let probed = probed("lease-async");
    let lock = probed.cachify.lock("k").exp(Duration::from_millis(300));
    let guard = lock.clone().auto_extend(true).acquire_async().await?;
    assert_eq!(locked_key(waiting(&lock, Duration::from_secs(1)).acquire_async().await), "k");
    assert!(probed.renewals.load(Ordering::SeqCst) >= 2);
    guard.release_async().await?;
    let stopped_at = probed.renewals.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probed.renewals.load(Ordering::SeqCst), stopped_at);

    // A dropped (not released) async guard stops its lease too.
    let dropped = lock.clone().auto_extend(true).acquire_async().await?;
    drop(dropped);
    let again = reacquire(&lock).await;
    let stopped_at = probed.renewals.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probed.renewals.load(Ordering::SeqCst), stopped_at);
    again.release_async().await
}

#[test]
fn without_auto_extend_a_long_job_loses_its_lock() -> Result<(), Error> {
    let cachify = backend().instance("no-lease");
    let lock = cachify.lock("k").exp(Duration::from_millis(300));
    let _guard = lock.acquire()?;
    let _taken_over = waiting(&lock, PATIENCE).acquire()?;
    Ok(())
}

// --- mutual exclusion under load -----------------------------------------------------

/// A read-modify-write that loses updates unless callers are mutually excluded.
fn bump(counter: &AtomicU64) {
    let seen = counter.load(Ordering::SeqCst);
    std::thread::yield_now();
    counter.store(seen + 1, Ordering::SeqCst);
}

#[test]
fn eight_threads_never_overlap() {
    const THREADS: u64 = 8;
    const ROUNDS: u64 = 300;
    let cachify = backend().instance("exclusion-threads");
    let counter = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let lock = cachify.lock("counter").nowait(false).timeout(LONG);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let _guard = lock.acquire().unwrap();
                    bump(&counter);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), THREADS * ROUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_never_overlap() {
    const TASKS: u64 = 64;
    const ROUNDS: u64 = 40;
    let cachify = backend().instance("exclusion-tasks");
    let counter = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let lock = cachify.lock("counter").nowait(false).timeout(LONG);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let guard = lock.acquire_async().await.unwrap();
                    let seen = counter.load(Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    counter.store(seen + 1, Ordering::SeqCst);
                    guard.release_async().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), TASKS * ROUNDS);
}

// --- fencing tokens ---------------------------------------------------------------------

/// A resource that refuses writes fenced by a token smaller than the largest it has seen.
#[derive(Default)]
struct FencedResource {
    largest: std::sync::Mutex<u64>,
}

impl FencedResource {
    /// Whether the write fenced by `token` was accepted.
    fn write(&self, token: u64) -> bool {
        let mut largest = self.largest.lock().unwrap();
        if token < *largest {
            return false;
        }
        *largest = token;
        true
    }
}

#[test]
fn successive_holders_get_strictly_increasing_fencing_tokens() -> Result<(), Error> {
    let cachify = backend().instance("fencing-successive");
    let lock = cachify.lock("ledger");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let guard = lock.acquire()?;
        tokens.push(guard.fencing_token());
        guard.release()?;
        let guard = runtime.block_on(lock.acquire_async())?;
        tokens.push(guard.fencing_token());
        runtime.block_on(guard.release_async())?;
        // A force release, a dropped guard: the count goes on.
        let guard = lock.acquire()?;
        tokens.push(guard.fencing_token());
        lock.release()?;
        drop(guard);
    }
    assert_eq!(tokens[0], 1, "a key's first holder gets 1");
    assert!(tokens.windows(2).all(|pair| pair[0] < pair[1]), "{tokens:?}");
    Ok(())
}

#[test]
fn each_key_counts_its_own_holders() -> Result<(), Error> {
    let cachify = backend().instance("fencing-per-key");
    for _ in 0..3 {
        cachify.lock("a").acquire()?.release()?;
    }
    let other = cachify.lock("b").acquire()?;
    if backend() == support::Backend::Memory {
        // One counter per store, nothing kept per key: b's first token follows a's.
        assert!(other.fencing_token() > 3, "{}", other.fencing_token());
    } else {
        assert_eq!(other.fencing_token(), 1, "b's count is its own");
    }
    // Keys with hash tags and braces count like any other.
    for key in ["{user1}:a", "x{y", "a{}b"] {
        let first = cachify.lock(key).acquire()?;
        let first_token = first.fencing_token();
        first.release()?;
        assert!(cachify.lock(key).acquire()?.fencing_token() > first_token, "{key}");
    }
    Ok(())
}

#[test]
fn a_holder_that_overstayed_has_a_smaller_token_than_the_next() -> Result<(), Error> {
    let cachify = backend().instance("fencing-overstayed");
    let lock = cachify.lock("ledger");
    let late = lock.clone().exp(Duration::from_millis(300)).acquire()?;
    // The first holder stalls past its exp: the next one waits for the expiry.
    let next = waiting(&lock, PATIENCE).exp(LONG).acquire()?;
    assert!(late.fencing_token() < next.fencing_token());
    let resource = FencedResource::default();
    assert!(resource.write(next.fencing_token()), "the current holder writes");
    assert!(!resource.write(late.fencing_token()), "the late writer is refused");
    Ok(())
}

#[test]
fn eight_threads_hand_off_with_increasing_fencing_tokens() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 50;
    let cachify = backend().instance("fencing-threads");
    // Appended under the lock: the order in which the holders held it.
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let lock = cachify.lock("counter").nowait(false).timeout(LONG);
            let tokens = Arc::clone(&tokens);
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let guard = lock.acquire().unwrap();
                    tokens.lock().unwrap().push(guard.fencing_token());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.len(), THREADS * ROUNDS);
    assert!(tokens.windows(2).all(|pair| pair[0] < pair[1]), "{tokens:?}");
}

/// A custom backend with only `get` / `set` / `delete` (and the methods the probe
/// forwards) does not count holders: every token is 0, "not fenced".
#[test]
fn a_backend_that_does_not_count_holders_gives_token_zero() -> Result<(), Error> {
    let probed = probed("fencing-default");
    let guard = probed.cachify.lock("ledger").acquire()?;
    assert_eq!(guard.fencing_token(), 0);
    Ok(())
}
