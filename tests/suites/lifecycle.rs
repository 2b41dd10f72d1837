// Over 500 lines: a suite run on every backend, one module per behaviour; splitting it would add test binaries (link time) or scatter one subject.
// Locks and pool slots through the lifecycle of runtimes and a sick server: a guard
// dropped as its runtime ends, a cancelled or unanswered acquire, a sync guard dropped in
// async code, leases that outlive the caller's runtime, and extreme durations.
// Included after `suites/lock.rs` by the lock binaries (it uses that suite's helpers:
// `LONG`, `PATIENCE`, `waiting`, `reacquire`).

/// Polls `done` until it holds, for at most [`PATIENCE`]: for releases that happen on
/// cachify's releaser thread, which no test can await.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

// --- a guard dropped as its runtime ends ---------------------------------------------

#[test]
fn an_async_guard_dropped_at_the_end_of_block_on_is_released() {
    let cachify = backend().instance("end-of-block-on");
    let lock = cachify.lock("k").exp(None);
    current_thread_runtime().block_on(async {
        let _guard = lock.acquire_async().await.unwrap();
        // Dropped here, inside the runtime, as `block_on` returns.
    });
    eventually("the lock is released", || !lock.is_locked().unwrap());
}

#[test]
fn an_async_slot_dropped_at_the_end_of_block_on_is_released() {
    let cachify = backend().instance("slot-end-of-block-on");
    let pool = cachify.pool("p", 2).slot_exp(None);
    current_thread_runtime().block_on(async {
        let _slot = pool.acquire_async().await.unwrap();
    });
    eventually("the slot is released", || pool.size().unwrap() == 0);
}

#[test]
fn guards_held_by_tasks_at_runtime_shutdown_are_released() {
    let cachify = backend().instance("runtime-shutdown");
    let lock = cachify.lock("k").exp(None);
    let pool = cachify.pool("p", 2).slot_exp(None);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (lock, pool, held_tx) = (lock.clone(), pool.clone(), held_tx.clone());
        runtime.spawn(async move {
            let _slot = pool.acquire_async().await.unwrap();
            let _guard = lock.nowait(false).timeout(LONG).acquire_async().await.unwrap();
            held_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
    }
    held_rx.recv_timeout(PATIENCE).expect("a task holds the lock");
    drop(runtime);
    eventually("the lock is released", || !lock.is_locked().unwrap());
    eventually("both slots are released", || pool.size().unwrap() == 0);
}

// --- memory releases at drop ---------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn on_memory_a_dropped_async_guard_is_released_at_the_drop() {
    if backend() != support::Backend::Memory {
        return; // elsewhere the release is a round trip, necessarily after the drop
    }
    let cachify = backend().instance("memory-drop-lock");
    let lock = cachify.lock("k").exp(LONG);
    let mut reacquired = 0;
    for _ in 0..50 {
        drop(lock.acquire_async().await.unwrap());
        if let Ok(guard) = lock.acquire_async().await {
            reacquired += 1;
            guard.release_async().await.unwrap();
        }
    }
    assert_eq!(reacquired, 50);
}

#[tokio::test(flavor = "current_thread")]
async fn on_memory_a_dropped_async_slot_is_released_at_the_drop() {
    if backend() != support::Backend::Memory {
        return;
    }
    let cachify = backend().instance("memory-drop-slot");
    let pool = cachify.pool("p", 1);
    let mut reacquired = 0;
    for _ in 0..50 {
        drop(pool.acquire_async().await.unwrap());
        if let Ok(slot) = pool.acquire_async().await {
            reacquired += 1;
            slot.release_async().await.unwrap();
        }
    }
    assert_eq!(reacquired, 50);
}

// --- a sick server: paused, stopped --------------------------------------------------

/// A backend whose writes a test may hold: the Redis backend gets a server of its own
/// (pausing it stalls no other test); the cluster's nodes are shared, so pauses there
/// stay short. `None` on memory, which has no server.
struct Pausable {
    cachify: Cachify,
    ports: Vec<u16>,
    _own: Option<support::redis::RedisServer>,
}

impl Pausable {
    fn new(test: &str) -> Option<Self> {
        match backend() {
            support::Backend::Memory => None,
            support::Backend::Redis => {
                let own = support::redis::RedisServer::start(false);
                let cachify = Cachify::builder()
                    .prefix(support::unique_prefix(test))
                    .redis(&own.url())
                    .unwrap()
                    .build();
                Some(Self { cachify, ports: vec![own.port()], _own: Some(own) })
            }
            support::Backend::RedisCluster => Some(Self {
                cachify: backend().instance(test),
                ports: support::redis::cluster().nodes.iter().map(|node| node.port()).collect(),
                _own: None,
            }),
        }
    }

    /// Holds writes until the returned value is dropped (at most 5 s).
    fn pause_writes(&self) -> Unpause<'_> {
        for &port in &self.ports {
            support::redis::pause_writes(port, Duration::from_secs(5));
        }
        Unpause(&self.ports)
    }
}

struct Unpause<'a>(&'a [u16]);

impl Drop for Unpause<'_> {
    fn drop(&mut self) {
        for &port in self.0 {
            support::redis::unpause_writes(port);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_acquire_cancelled_while_the_server_is_paused_leaves_no_lock() {
    let Some(server) = Pausable::new("cancelled-acquire") else { return };
    let lock = server.cachify.lock("k").exp(LONG);
    // Connected before the pause, so the cancelled call's SET has left when it ends.
    assert!(!lock.is_locked_async().await.unwrap());
    assert!(!lock.is_locked_async().await.unwrap());
    let paused = server.pause_writes();
    let cancelled = tokio::time::timeout(Duration::from_millis(200), lock.acquire_async()).await;
    assert!(cancelled.is_err(), "the acquire answered while writes were paused");
    drop(paused);
    // The cancelled SET lands after the pause; its pending release must delete it, long
    // before the 30 s exp.
    reacquire(&lock).await.release_async().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_slot_acquire_cancelled_while_the_server_is_paused_leaves_no_slot() {
    let Some(server) = Pausable::new("cancelled-slot") else { return };
    let pool = server.cachify.pool("p", 1).slot_exp(LONG);
    assert_eq!(pool.size_async().await.unwrap(), 0);
    assert_eq!(pool.size_async().await.unwrap(), 0);
    let paused = server.pause_writes();
    let cancelled = tokio::time::timeout(Duration::from_millis(200), pool.acquire_async()).await;
    assert!(cancelled.is_err(), "the acquire answered while writes were paused");
    drop(paused);
    let slot = pool.clone().nowait(false).timeout(PATIENCE).acquire_async().await.unwrap();
    slot.release_async().await.unwrap();
}

#[test]
fn a_sync_acquire_whose_reply_is_lost_leaves_no_lock() {
    if backend() != support::Backend::Redis {
        return; // needs a server of its own to stop for seconds
    }
    let Some(server) = Pausable::new("lost-reply") else { return };
    let lock = server.cachify.lock("k").exp(LONG);
    assert!(!lock.is_locked().unwrap());
    let pid = support::redis::server_pid(server.ports[0]);
    support::redis::signal_process(&pid, "STOP");
    // The SET reaches the stopped server's socket; its reply never comes in time.
    let lost = lock.acquire();
    support::redis::signal_process(&pid, "CONT");
    assert!(matches!(lost, Err(Error::Backend(_))), "{lost:?}");
    // The server now runs the buffered SET: the failed acquire must delete it again,
    // long before the 30 s exp. (Errors are tolerated while the client recovers.)
    let mut free = None;
    eventually("the lock is free again", || {
        free = lock.acquire().ok();
        free.is_some()
    });
    free.unwrap().release().unwrap();
}

/// A client over `backend()` whose `set` stores, then reports a failure: the reply of an
/// applied write was lost.
#[derive(Clone)]
struct LosesSetReplies(Cachify);

fn lost_reply() -> BackendError {
    BackendError::new("the reply was lost")
}

impl SyncClient for LosesSetReplies {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.sync_client().get(key)
    }
    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
        self.0.sync_client().set(key, value, ttl, nx)?;
        Err(lost_reply())
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.0.sync_client().delete(keys)
    }
    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.0.sync_client().delete_if_equals(key, expected)
    }
}

#[async_trait]
impl AsyncClient for LosesSetReplies {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.async_client().get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
        self.0.async_client().set(key, value, ttl, nx).await?;
        Err(lost_reply())
    }
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.0.async_client().delete(keys).await
    }
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.0.async_client().delete_if_equals(key, expected).await
    }
}

#[test]
fn an_acquire_whose_applied_set_reports_an_error_leaves_no_lock() {
    let inner = backend().instance("lost-set-reply");
    let client = LosesSetReplies(inner.clone());
    let cachify = Cachify::builder().prefix(inner.prefix()).sync_client(client.clone()).async_client(client).build();
    let lock = cachify.lock("k").exp(LONG);
    let seen = inner.lock("k");
    assert!(matches!(lock.acquire(), Err(Error::Backend(_))));
    eventually("the sync acquire's token is deleted", || !seen.is_locked().unwrap());
    let runtime = current_thread_runtime();
    assert!(matches!(runtime.block_on(lock.acquire_async()), Err(Error::Backend(_))));
    eventually("the async acquire's token is deleted", || !seen.is_locked().unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn a_sync_guard_dropped_in_async_code_does_not_stall_the_runtime() {
    let Some(server) = Pausable::new("sync-drop-in-async") else { return };
    let lock = server.cachify.lock("k").exp(LONG);
    let guard = lock.acquire().unwrap();
    let ticker = tokio::spawn(async {
        let mut longest = Duration::ZERO;
        let mut last = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_millis(10));
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(700) {
            ticks.tick().await;
            longest = longest.max(last.elapsed());
            last = Instant::now();
        }
        longest
    });
    tokio::task::yield_now().await;
    for &port in &server.ports {
        support::redis::pause_writes(port, Duration::from_millis(300));
    }
    drop(guard); // its release waits for the pause to end, but not on this runtime
    let longest = ticker.await.unwrap();
    assert!(longest < Duration::from_millis(150), "the runtime stalled for {longest:?}");
    reacquire(&lock).await.release_async().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_sync_guard_dropped_in_async_code_is_not_seen_held_afterwards() {
    let cachify = backend().instance("sync-drop-then-use");
    let lock = cachify.lock("k").exp(LONG);
    let pool = cachify.pool("p", 1).slot_exp(LONG);
    for _ in 0..20 {
        drop(lock.acquire().unwrap()); // handed to the releaser, not run on this runtime
        assert!(!lock.is_locked().unwrap());
        drop(lock.acquire().unwrap());
        let guard = lock.acquire_async().await.unwrap();
        drop(guard);
        drop(pool.acquire().unwrap());
        assert_eq!(pool.size_async().await.unwrap(), 0);
        drop(pool.acquire().unwrap());
        assert_eq!(pool.size().unwrap(), 0);
    }
}

// --- leases --------------------------------------------------------------------------

#[test]
fn an_auto_extend_guard_from_an_idle_runtime_drops_without_blocking() {
    let cachify = backend().instance("idle-runtime-lease");
    let lock = cachify.lock("k").exp(Duration::from_secs(3));
    let idle = current_thread_runtime();
    let guard = idle.block_on(lock.clone().auto_extend(true).acquire_async()).unwrap();
    // `idle` lives on but nobody drives it any more.
    let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(guard);
        let _ = dropped_tx.send(());
    });
    let dropped = dropped_rx.recv_timeout(PATIENCE);
    drop(idle);
    dropped.expect("the drop blocked on the idle runtime");
    assert!(!lock.is_locked().unwrap());
}

#[test]
fn a_sync_lease_reports_a_lost_lock() -> Result<(), Error> {
    let cachify = backend().instance("lease-lost");
    let lock = cachify.lock("k").exp(Duration::from_millis(300));
    let guard = lock.clone().auto_extend(true).acquire()?;
    assert!(!guard.lease_lost());
    lock.release()?; // an administrator frees it: the next renewal finds it gone
    eventually("the lease reports the loss", || guard.lease_lost());
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_lease_reports_a_lost_lock() -> Result<(), Error> {
    let cachify = backend().instance("lease-lost-async");
    let lock = cachify.lock("k").exp(Duration::from_millis(300));
    let guard = lock.clone().auto_extend(true).acquire_async().await?;
    assert!(!guard.lease_lost());
    lock.release_async().await?;
    tokio::time::timeout(PATIENCE, guard.wait_lease_lost()).await.expect("the loss was never reported");
    assert!(guard.lease_lost());
    Ok(())
}

fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads = status.lines().find_map(|line| line.strip_prefix("Threads:")).unwrap();
    threads.trim().parse().unwrap()
}

#[test]
fn sync_leases_share_one_timer_thread() -> Result<(), Error> {
    let cachify = backend().instance("lease-threads");
    let before = thread_count();
    let guards = (0..50)
        .map(|i| cachify.lock(format!("k{i}")).exp(Duration::from_secs(3)).auto_extend(true).acquire())
        .collect::<Result<Vec<_>, _>>()?;
    let during = thread_count();
    drop(guards);
    // Other tests of this binary start threads too: far fewer than one per guard.
    assert!(during < before + 25, "{before} threads before, {during} with 50 leases");
    Ok(())
}

// --- durations -----------------------------------------------------------------------

#[test]
fn a_zero_exp_or_slot_exp_is_an_error() {
    let cachify = backend().instance("zero-exp");
    let lock = cachify.lock("k").exp(Duration::ZERO);
    assert!(matches!(lock.acquire(), Err(Error::InvalidOption { option: "exp", .. })));
    let pool = cachify.pool("p", 1).slot_exp(Duration::ZERO);
    assert!(matches!(pool.acquire(), Err(Error::InvalidOption { option: "slot_exp", .. })));
    let runtime = current_thread_runtime();
    assert!(matches!(runtime.block_on(lock.acquire_async()), Err(Error::InvalidOption { .. })));
    assert!(matches!(runtime.block_on(pool.acquire_async()), Err(Error::InvalidOption { .. })));
    assert!(!lock.is_locked().unwrap());
    assert_eq!(pool.size().unwrap(), 0);
}

#[test]
fn duration_max_means_never_expire_and_wait_forever() -> Result<(), Error> {
    let cachify = Cachify::builder()
        .prefix(support::unique_prefix("duration-max"))
        .lock_poll_interval(Duration::MAX);
    let cachify = match backend() {
        support::Backend::Memory => cachify,
        support::Backend::Redis => cachify.redis(&support::redis::server().url())?,
        support::Backend::RedisCluster => {
            let urls = support::redis::cluster().urls();
            cachify.redis_cluster(&urls.iter().map(String::as_str).collect::<Vec<_>>())?
        }
    }
    .build();
    let lock = cachify.lock("k").exp(Duration::MAX);
    let holder = lock.clone().auto_extend(true).acquire()?;
    assert_eq!(cachify.sync_client().remaining_ttl(&cachify.lock_key("k"))?, None);
    let waiter = {
        let lock = lock.clone().nowait(false).timeout(Duration::MAX);
        std::thread::spawn(move || lock.acquire().map(LockGuard::release))
    };
    std::thread::sleep(Duration::from_millis(50)); // let it wait, if it can
    holder.release()?;
    waiter.join().unwrap()??;

    let pool = cachify.pool("p", 1).slot_exp(Duration::MAX);
    let slot = pool.acquire()?;
    assert_eq!(pool.size()?, 1);
    slot.release()?;
    Ok(())
}

// --- flushing releases before exit ---------------------------------------------------

#[test]
fn a_flush_reports_a_release_held_up_by_the_server_and_a_zero_timeout_only_checks() {
    let Some(server) = Pausable::new("flush") else { return };
    let lock = server.cachify.lock("k").exp(LONG);
    assert!(!lock.is_locked().unwrap()); // connected before the pause
    // No timers on this runtime: the async flush must not need them.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let paused = runtime.block_on(async {
        let guard = lock.acquire().unwrap();
        let paused = server.pause_writes();
        drop(guard); // handed to the releaser: its release waits for the pause
        assert!(!cachify::flush_releases(Duration::ZERO));
        assert!(!cachify::flush_releases_async(Duration::ZERO).await);
        let started = Instant::now();
        assert!(!cachify::flush_releases_async(Duration::from_millis(100)).await);
        assert!(started.elapsed() >= Duration::from_millis(100), "gave up early");
        paused
    });
    let started = Instant::now();
    assert!(!cachify::flush_releases(Duration::from_millis(100)));
    assert!(started.elapsed() >= Duration::from_millis(100), "gave up early");
    drop(paused);
    cachify::flush_releases(PATIENCE);
    assert!(!lock.is_locked().unwrap());
}

// --- a guard kept in a thread-local, dropped while its thread's locals are destroyed --

thread_local! {
    static ASYNC_GUARD_OF_THREAD: std::cell::RefCell<Option<AsyncLockGuard>> = const { std::cell::RefCell::new(None) };
    static SYNC_GUARD_OF_THREAD: std::cell::RefCell<Option<LockGuard>> = const { std::cell::RefCell::new(None) };
}

/// Runs the `#[ignore]`d test `name` of this binary in a child process (a guard dropped
/// in a thread-local destructor that panics aborts the whole process), and asserts that
/// it printed `CHILD-OK`.
fn assert_child_passes(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
        "child died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A thread that stores a guard taken by `acquire` in `slot` and ends with it there;
/// `touch_tokio`: tokio's thread context is created after the guard's slot, so it is
/// destroyed before it.
fn exit_thread_holding<G: Send + 'static>(
    slot: &'static std::thread::LocalKey<std::cell::RefCell<Option<G>>>,
    touch_tokio: bool,
    acquire: impl FnOnce(&tokio::runtime::Runtime) -> G + Send + 'static,
) {
    std::thread::spawn(move || {
        // Registers the slot's destructor first, so it runs after tokio's.
        slot.with(|held| drop(held.borrow()));
        let runtime = current_thread_runtime();
        if touch_tokio {
            runtime.block_on(async {});
        }
        let guard = acquire(&runtime);
        slot.with(|held| *held.borrow_mut() = Some(guard));
        drop(runtime);
    })
    .join()
    .unwrap();
}

#[test]
#[ignore = "run by an_async_guard_in_a_thread_local_is_released_at_thread_exit"]
fn child_async_guard_in_a_thread_local() {
    let cachify = backend().instance("async-guard-in-tls");
    let lock = cachify.lock("k");
    let held = lock.clone();
    exit_thread_holding(&ASYNC_GUARD_OF_THREAD, true, move |runtime| {
        runtime.block_on(held.acquire_async()).unwrap()
    });
    eventually("the lock is released", || !lock.is_locked().unwrap());
    println!("CHILD-OK");
}

#[test]
fn an_async_guard_in_a_thread_local_is_released_at_thread_exit() {
    assert_child_passes("child_async_guard_in_a_thread_local");
}

#[test]
#[ignore = "run by a_sync_guard_in_a_thread_local_is_released_at_thread_exit"]
fn child_sync_guard_in_a_thread_local() {
    let cachify = backend().instance("sync-guard-in-tls");
    for touch_tokio in [true, false] {
        let lock = cachify.lock(format!("k-{touch_tokio}"));
        let held = lock.clone();
        exit_thread_holding(&SYNC_GUARD_OF_THREAD, touch_tokio, move |_| held.acquire().unwrap());
        assert!(!lock.is_locked().unwrap(), "released before the thread ended");
    }
    println!("CHILD-OK");
}

#[test]
fn a_sync_guard_in_a_thread_local_is_released_at_thread_exit() {
    assert_child_passes("child_sync_guard_in_a_thread_local");
}

#[test]
fn a_zero_default_lock_or_slot_expiration_fails_each_acquire() {
    let cachify = backend()
        .builder("zero-defaults")
        .default_lock_expiration(Duration::ZERO)
        .default_pool_slot_expiration(Duration::ZERO)
        .build();
    assert!(matches!(cachify.lock("k").acquire(), Err(Error::InvalidOption { option: "exp", .. })));
    assert!(matches!(cachify.pool("p", 1).acquire(), Err(Error::InvalidOption { option: "slot_exp", .. })));
    assert!(cachify.lock("k").exp(Duration::from_secs(5)).acquire().is_ok(), "an explicit exp wins");
}

// --- an acquire waits for its key's release in flight no longer than its own bound ----

/// A sync client over `backend()` whose `delete_if_equals` (a lock's release) blocks
/// until the gate's sender is dropped: a release stuck on a hung backend.
struct StalledReleases {
    inner: Cachify,
    gate: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl SyncClient for StalledReleases {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.sync_client().get(key)
    }
    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>, nx: bool) -> Result<bool, BackendError> {
        self.inner.sync_client().set(key, value, ttl, nx)
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        self.inner.sync_client().delete(keys)
    }
    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        let _ = self.gate.lock().unwrap().recv();
        self.inner.sync_client().delete_if_equals(key, expected)
    }
    fn expire_if_equals(&self, key: &str, expected: &[u8], ttl: Option<Duration>) -> Result<bool, BackendError> {
        self.inner.sync_client().expire_if_equals(key, expected, ttl)
    }
    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        self.inner.sync_client().remaining_ttl(key)
    }
}

#[test]
fn an_acquire_waits_for_a_stalled_release_no_longer_than_its_own_bound() {
    let (open, gate) = std::sync::mpsc::channel::<()>();
    let stalled = StalledReleases { inner: backend().instance("stalled-release"), gate: std::sync::Mutex::new(gate) };
    let cachify = Cachify::builder().prefix(support::unique_prefix("stalled-release")).sync_client(stalled).build();
    let guard = cachify.lock("k").acquire().unwrap();
    current_thread_runtime().block_on(async move { drop(guard) }); // its release stalls on the releaser
    let (answered, answer) = std::sync::mpsc::channel();
    let lock = cachify.lock("k");
    std::thread::spawn(move || {
        let nowait = lock.acquire().map(drop);
        let waiting = lock.clone().nowait(false).timeout(Duration::from_millis(300)).acquire().map(drop);
        // The async bound needs no timer of the caller's runtime.
        let without_timers = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let from_async = without_timers.block_on(lock.acquire_async()).map(drop);
        let _ = answered.send((nowait, waiting, from_async));
    });
    let answers = answer.recv_timeout(PATIENCE);
    drop(open);
    let (nowait, waiting, from_async) = answers.expect("the acquires waited for the stalled release without bound");
    assert!(matches!(nowait, Err(Error::Locked { .. })), "{nowait:?}");
    assert!(matches!(waiting, Err(Error::Locked { .. })), "{waiting:?}");
    // This instance's async side is a memory client of its own, where the lock is free.
    assert!(from_async.is_ok(), "{from_async:?}");
    eventually("the release ends once unblocked", || !cachify.lock("k").is_locked().unwrap());
}
