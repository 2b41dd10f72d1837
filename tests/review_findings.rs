//! Findings of the review of f6e90a3..HEAD: each test fails on the reviewed code.

mod support;

use std::cell::RefCell;
use std::process::Command;
use std::time::{Duration, Instant};

use cachify::{AsyncLockGuard, Cachify, LockGuard};
use support::redis::{server_pid, signal_process, RedisServer};

// --- 1. a guard dropped while its thread's locals are destroyed aborts the process ----

thread_local! {
    static ASYNC_HELD: RefCell<Option<AsyncLockGuard>> = const { RefCell::new(None) };
    static SYNC_HELD: RefCell<Option<LockGuard>> = const { RefCell::new(None) };
}

/// Runs the `#[ignore]`d test `name` of this binary in a child process; its status.
fn run_child(name: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap()
}

#[test]
#[ignore = "child of an_async_guard_in_a_thread_local_is_released_at_thread_exit"]
fn child_async_guard_in_thread_local() {
    let cachify = Cachify::builder().build();
    let probe = cachify.clone();
    std::thread::spawn(move || {
        // The guard's slot is registered before tokio's context, so it is destroyed after it.
        ASYNC_HELD.with(|held| drop(held.borrow()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let guard = runtime
            .block_on(cachify.lock("tls").acquire_async())
            .unwrap();
        ASYNC_HELD.with(|held| *held.borrow_mut() = Some(guard));
        drop(runtime);
    })
    .join()
    .unwrap();
    assert!(!probe.lock("tls").is_locked().unwrap());
    println!("CHILD-OK");
}

#[test]
fn an_async_guard_in_a_thread_local_is_released_at_thread_exit() {
    let out = run_child("child_async_guard_in_thread_local");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
        "child died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "child of a_sync_redis_guard_in_a_thread_local_is_released_at_thread_exit"]
fn child_sync_redis_guard_in_thread_local() {
    let server = RedisServer::start(false);
    let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
    let probe = cachify.clone();
    std::thread::spawn(move || {
        SYNC_HELD.with(|held| drop(held.borrow()));
        // tokio's context on this thread (any tokio use) registers after the guard's slot.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {});
        let guard = cachify.lock("tls").acquire().unwrap();
        SYNC_HELD.with(|held| *held.borrow_mut() = Some(guard));
        drop(runtime);
    })
    .join()
    .unwrap();
    assert!(!probe.lock("tls").is_locked().unwrap());
    println!("CHILD-OK");
}

#[test]
fn a_sync_redis_guard_in_a_thread_local_is_released_at_thread_exit() {
    let out = run_child("child_sync_redis_guard_in_thread_local");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
        "child died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- 2. one hung server stalls every sync release and sync lease of the process -------

/// Sync guards of a stalled server, dropped in async code, queue on the one
/// `cachify-blocking` thread; the sync lease of a lock on a *healthy* server queues
/// behind them, misses its renewals, and its lock expires under its holder.
#[test]
fn a_hung_server_does_not_stall_a_lease_on_a_healthy_server() {
    let sick = RedisServer::start(false);
    let healthy = RedisServer::start(false);
    let on_sick = Cachify::builder()
        .prefix("sick:")
        .redis(&sick.url())
        .unwrap()
        .build();
    let on_healthy = Cachify::builder()
        .prefix("ok:")
        .redis(&healthy.url())
        .unwrap()
        .build();
    let other_process = Cachify::builder()
        .prefix("ok:")
        .redis(&healthy.url())
        .unwrap()
        .build();

    let job = on_healthy
        .lock("job")
        .exp(Duration::from_millis(900))
        .auto_extend(true)
        .acquire()
        .unwrap();
    let sick_guards: Vec<LockGuard> = (0..4)
        .map(|n| on_sick.lock(format!("k{n}")).acquire().unwrap())
        .collect();

    let pid = server_pid(sick.port());
    signal_process(&pid, "STOP");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move { drop(sick_guards) }); // handed to the releaser

    std::thread::sleep(Duration::from_millis(2500));
    let stolen = other_process.lock("job").nowait(true).acquire();
    signal_process(&pid, "CONT");
    let lost = job.lease_lost();
    drop(job);
    assert!(
        stolen.is_err(),
        "another holder took a lock whose auto_extend guard is alive (lease_lost = {lost})"
    );
}

/// Releases in flight are keyed by storage key alone: a nowait acquire on a memory
/// instance waits for a release of the same key on another instance's stalled server.
#[test]
fn a_nowait_acquire_does_not_wait_for_another_instances_release() {
    let sick = RedisServer::start(false);
    let on_sick = Cachify::builder()
        .prefix("same:")
        .redis(&sick.url())
        .unwrap()
        .build();
    let on_memory = Cachify::builder().prefix("same:").build();
    let guard = on_sick.lock("k").acquire().unwrap();
    let pid = server_pid(sick.port());
    signal_process(&pid, "STOP");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move { drop(guard) });
    let started = Instant::now();
    let taken = on_memory.lock("k").nowait(true).acquire();
    let took = started.elapsed();
    signal_process(&pid, "CONT");
    assert!(taken.is_ok());
    assert!(
        took < Duration::from_millis(500),
        "nowait acquire on memory took {took:?}"
    );
}

// --- 3. a ttl too long for Redis' milliseconds: nothing is ever cached ----------------

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

static ON_REDIS: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix(support::unique_prefix("big-ttl"))
        .redis(&support::redis::server().url())
        .unwrap()
        .build()
});
static BIG_RUNS: AtomicUsize = AtomicUsize::new(0);
static SECS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cachify::cached(key = "big", ttl = Duration::MAX, cachify = ON_REDIS)]
fn cached_forever() -> u32 {
    BIG_RUNS.fetch_add(1, Ordering::SeqCst);
    7
}

#[cachify::cached(key = "big-secs", ttl = u64::MAX, cachify = ON_REDIS)]
fn cached_for_u64_max_seconds() -> u32 {
    SECS_RUNS.fetch_add(1, Ordering::SeqCst);
    7
}

/// `IntoExpiry` says "any too-long duration is never expires"; memory agrees, but Redis
/// is sent `SET .. PX 18446744073709551615`, refuses it, and every call runs the body.
#[test]
fn a_duration_max_ttl_on_redis_caches_forever() {
    for _ in 0..3 {
        assert_eq!(cached_forever(), 7);
        assert_eq!(cached_for_u64_max_seconds(), 7);
    }
    assert_eq!(BIG_RUNS.load(Ordering::SeqCst), 1, "ttl = Duration::MAX");
    assert_eq!(
        SECS_RUNS.load(Ordering::SeqCst),
        1,
        "ttl = u64::MAX (seconds)"
    );
}

// --- 4. a generic return type instantiated as a Result: its Err is cached ------------

static ON_MEMORY: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().build());
static GENERIC_RUNS: AtomicUsize = AtomicUsize::new(0);

pub trait Failing {
    fn failed() -> Self;
}

impl Failing for Result<u32, String> {
    fn failed() -> Self {
        Err("downstream is down".to_owned())
    }
}

#[cachify::cached(key = "generic-{n}", cachify = ON_MEMORY)]
fn generic_outcome<R>(n: u32) -> R
where
    R: Failing + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    GENERIC_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = n;
    R::failed()
}

/// The shape is chosen by autoref dispatch on `R` where the function is *defined*; for
/// a type parameter that is always `Plain`, so `generic_outcome::<Result<_, _>>` stores
/// its `Err` and the second call returns it without running (docs: "`Err` is never cached").
#[test]
fn an_err_of_a_generic_return_type_is_never_cached() {
    assert!(generic_outcome::<Result<u32, String>>(1).is_err());
    assert!(generic_outcome::<Result<u32, String>>(1).is_err());
    assert_eq!(
        GENERIC_RUNS.load(Ordering::SeqCst),
        2,
        "the Err was served from the cache"
    );
}

// --- 5. a sync call following an async leader on the leader's own runtime thread ------

static SHARED_KEY: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().build());

#[cachify::cached(key = "shared", cachify = SHARED_KEY)]
async fn shared_async() -> u32 {
    tokio::time::sleep(Duration::from_millis(50)).await;
    1
}

#[cachify::cached(key = "shared", cachify = SHARED_KEY)]
fn shared_sync() -> u32 {
    1
}

#[test]
#[ignore = "child of a_sync_follower_of_an_async_leader_does_not_deadlock_its_runtime"]
fn child_sync_follower_of_async_leader() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let leader = tokio::spawn(shared_async());
        tokio::task::yield_now().await; // the leader is in its body, asleep
        assert_eq!(shared_sync(), 1); // follows it, blocking the only thread the leader can run on
        leader.await.unwrap();
    });
    println!("CHILD-OK");
}

/// Two functions sharing a key, one async and one sync (the shape the re-entry docs
/// show): the sync follower blocks the thread its async leader needs, forever.
#[test]
fn a_sync_follower_of_an_async_leader_does_not_deadlock_its_runtime() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_sync_follower_of_async_leader",
            "--ignored",
            "--nocapture",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "child failed: {status:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    panic!("deadlocked: still waiting after 5 s");
}

// --- 6. the same at thread exit for a sync guard on Redis Cluster (io::block_on) ------

#[test]
#[ignore = "child of a_sync_cluster_guard_in_a_thread_local_is_released_at_thread_exit"]
fn child_sync_cluster_guard_in_thread_local() {
    let urls = support::redis::cluster().urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let cachify = Cachify::builder()
        .prefix(support::unique_prefix("tls-cluster"))
        .redis_cluster(&urls)
        .unwrap()
        .build();
    let probe = cachify.clone();
    std::thread::spawn(move || {
        SYNC_HELD.with(|held| drop(held.borrow()));
        let guard = cachify.lock("tls").acquire().unwrap();
        SYNC_HELD.with(|held| *held.borrow_mut() = Some(guard));
    })
    .join()
    .unwrap();
    assert!(!probe.lock("tls").is_locked().unwrap());
    println!("CHILD-OK");
}

#[test]
fn a_sync_cluster_guard_in_a_thread_local_is_released_at_thread_exit() {
    let out = run_child("child_sync_cluster_guard_in_thread_local");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
        "child died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
