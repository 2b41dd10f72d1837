// The pool object suite: `Pool`, `PoolSlot`, `AsyncPoolSlot` against `backend()`.
// Included by one binary per backend (`tests/pool_<backend>.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cachify::{AsyncPoolSlot, Cachify, Error, Pool, PoolSlot};

const THREADS: usize = 16;
const ATTEMPTS: usize = 200;
const MAX_SIZE: usize = 3;

/// Counts the holders inside a pooled section and remembers the most seen at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicUsize,
    most: AtomicUsize,
    ran: AtomicUsize,
    full: AtomicUsize,
}

impl Occupancy {
    fn enter(&self) -> usize {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.ran.fetch_add(1, Ordering::SeqCst);
        now
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn count(&self, outcome: &Result<(), Error>) {
        match outcome {
            Ok(()) => {}
            Err(Error::PoolFull { key, max_size }) => {
                assert_eq!((key.as_str(), *max_size), ("shared", MAX_SIZE));
                self.full.fetch_add(1, Ordering::SeqCst);
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }

    fn assert_accounted(&self, attempts: usize) {
        let (ran, full) = (self.ran.load(Ordering::SeqCst), self.full.load(Ordering::SeqCst));
        assert_eq!(ran + full, attempts, "ran {ran} + full {full}");
        assert!(ran > 0, "nobody ever got a slot");
        let most = self.most.load(Ordering::SeqCst);
        assert!(most <= MAX_SIZE, "{most} holders at once in a pool of {MAX_SIZE}");
        assert_eq!(self.inside.load(Ordering::SeqCst), 0);
    }
}

fn assert_send_debug<T: Send + Sync + std::fmt::Debug>() {}

#[test]
fn guards_and_pools_are_send_and_debug() {
    assert_send_debug::<PoolSlot>();
    assert_send_debug::<AsyncPoolSlot>();
    assert_send_debug::<Pool>();
    let cachify = backend().instance("debug");
    let slot = cachify.pool("dbg", 1).acquire().unwrap();
    let shown = format!("{slot:?}");
    assert!(shown.contains("dbg"), "{shown}");
}

#[test]
fn threads_never_exceed_max_size() {
    let cachify = backend().instance("threads");
    let pool = cachify.pool("shared", MAX_SIZE);
    let occupancy = Arc::new(Occupancy::default());
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, occupancy, start) = (pool.clone(), occupancy.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..ATTEMPTS {
                    let outcome = pool.acquire().map(|slot| {
                        assert!(occupancy.enter() <= MAX_SIZE);
                        std::thread::yield_now();
                        occupancy.leave();
                        drop(slot);
                    });
                    occupancy.count(&outcome);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    occupancy.assert_accounted(THREADS * ATTEMPTS);
    assert_eq!(pool.size().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_never_exceed_max_size() {
    let cachify = backend().instance("tasks");
    let pool = cachify.pool("shared", MAX_SIZE);
    let occupancy = Arc::new(Occupancy::default());
    let start = Arc::new(tokio::sync::Barrier::new(THREADS));
    let tasks: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, occupancy, start) = (pool.clone(), occupancy.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..ATTEMPTS {
                    let outcome = match pool.acquire_async().await {
                        Ok(slot) => {
                            assert!(occupancy.enter() <= MAX_SIZE);
                            tokio::task::yield_now().await;
                            occupancy.leave();
                            slot.release_async().await
                        }
                        Err(error) => Err(error),
                    };
                    occupancy.count(&outcome);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task panicked");
    }
    occupancy.assert_accounted(THREADS * ATTEMPTS);
    assert_eq!(pool.size_async().await.unwrap(), 0);
}

#[test]
fn full_pool_reports_key_as_written_and_size_counts_live_slots() {
    let cachify = backend().instance("full");
    let pool = cachify.pool("api-{7}", 2);
    let first = pool.acquire().unwrap();
    let second = pool.acquire().unwrap();
    assert_eq!(pool.size().unwrap(), 2);
    match pool.acquire() {
        Err(Error::PoolFull { key, max_size }) => assert_eq!((key.as_str(), max_size), ("api-{7}", 2)),
        other => panic!("expected PoolFull, got {other:?}"),
    }
    first.release().unwrap();
    assert_eq!(pool.size().unwrap(), 1);
    drop(second);
    assert_eq!(pool.size().unwrap(), 0);
}

#[test]
fn pools_are_separate_per_key_and_per_instance() {
    let a = backend().instance("separate-a");
    let b = backend().instance("separate-b");
    let _held = a.pool("k", 1).acquire().unwrap();
    assert!(a.pool("other", 1).acquire().is_ok());
    assert!(b.pool("k", 1).acquire().is_ok());
    assert!(matches!(a.pool("k", 1).acquire(), Err(Error::PoolFull { .. })));
}

#[test]
fn max_size_zero_is_always_full_and_never_waits() {
    let cachify = backend().instance("zero");
    let waiting = cachify.pool("none", 0).nowait(false);
    assert!(matches!(waiting.acquire(), Err(Error::PoolFull { max_size: 0, .. })));
    assert_eq!(waiting.size().unwrap(), 0);
}

#[tokio::test]
async fn max_size_zero_is_always_full_async() {
    let cachify = backend().instance("zero-async");
    let waiting = cachify.pool("none", 0).nowait(false);
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting.acquire_async())
        .await
        .expect("a size-0 pool must not wait");
    assert!(matches!(outcome, Err(Error::PoolFull { max_size: 0, .. })));
}

#[test]
fn sync_slot_is_released_when_its_holder_panics() {
    let cachify = backend().instance("panic");
    let pool = cachify.pool("p", 1);
    let holder = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _slot = pool.acquire().unwrap();
            panic!("holder fails while holding its slot");
        })
    };
    assert!(holder.join().is_err());
    assert_eq!(pool.size().unwrap(), 0);
    assert!(pool.acquire().is_ok());
}

/// Slots that are never released (leaked guards, as after a crash) stop counting once
/// `slot_exp` passes, and a waiter then takes their place.
#[test]
fn crashed_holders_expire_and_their_place_is_taken() {
    let cachify = backend()
        .builder("crashed")
        .lock_poll_interval(Duration::from_millis(50))
        .build();
    let slot_exp = Duration::from_millis(300);
    let pool = cachify.pool("p", 2).slot_exp(slot_exp);
    let leaked_at = Instant::now();
    std::mem::forget(pool.acquire().unwrap());
    std::mem::forget(pool.acquire().unwrap());
    assert!(matches!(pool.acquire(), Err(Error::PoolFull { .. })));
    assert_eq!(pool.size().unwrap(), 2);

    let slot = pool
        .clone()
        .nowait(false)
        .timeout(Duration::from_secs(20))
        .acquire()
        .expect("the leaked slots expire within the timeout");
    assert!(leaked_at.elapsed() >= slot_exp - Duration::from_millis(50));
    assert_eq!(pool.size().unwrap(), 1, "only the new slot counts");
    drop(slot);
    assert_eq!(pool.size().unwrap(), 0);
}

#[tokio::test]
async fn crashed_async_holders_expire_and_their_place_is_taken() {
    let cachify = backend()
        .builder("crashed-async")
        .lock_poll_interval(Duration::from_millis(50))
        .build();
    let pool = cachify.pool("p", 1).slot_exp(Duration::from_millis(300));
    std::mem::forget(pool.acquire_async().await.unwrap());
    assert!(matches!(pool.acquire_async().await, Err(Error::PoolFull { .. })));
    let waiting = pool.clone().nowait(false).timeout(Duration::from_secs(20));
    let slot = waiting.acquire_async().await.expect("the leaked slot expires");
    assert_eq!(pool.size_async().await.unwrap(), 1);
    slot.release_async().await.unwrap();
    assert_eq!(pool.size_async().await.unwrap(), 0);
}

#[test]
fn slots_use_the_instance_default_expiration() {
    let cachify = backend()
        .builder("default-exp")
        .default_pool_slot_expiration(Duration::from_millis(200))
        .lock_poll_interval(Duration::from_millis(50))
        .build();
    let pool = cachify.pool("p", 1);
    std::mem::forget(pool.acquire().unwrap());
    let waiting = pool.clone().nowait(false).timeout(Duration::from_secs(20));
    assert!(waiting.acquire().is_ok(), "the default slot_exp freed the leaked slot");
}

#[test]
fn slot_exp_none_never_expires() {
    // A short instance default that an explicit `slot_exp(None)` must override.
    let cachify = backend()
        .builder("no-exp")
        .default_pool_slot_expiration(Duration::from_millis(50))
        .lock_poll_interval(Duration::from_millis(20))
        .build();
    let pool = cachify.pool("p", 1).slot_exp(None);
    std::mem::forget(pool.acquire().unwrap());
    let waited = Instant::now();
    let outcome = pool
        .clone()
        .nowait(false)
        .timeout(Duration::from_millis(400))
        .acquire();
    assert!(matches!(outcome, Err(Error::PoolFull { .. })));
    assert!(waited.elapsed() >= Duration::from_millis(400), "gave up before the timeout");
    assert_eq!(pool.size().unwrap(), 1, "the leaked slot still counts");
}

#[test]
fn instance_default_none_never_expires() {
    let cachify = backend()
        .builder("default-none")
        .default_pool_slot_expiration(None)
        .lock_poll_interval(Duration::from_millis(20))
        .build();
    let pool = cachify.pool("p", 1);
    std::mem::forget(pool.acquire().unwrap());
    let outcome = pool
        .clone()
        .nowait(false)
        .timeout(Duration::from_millis(300))
        .acquire();
    assert!(matches!(outcome, Err(Error::PoolFull { .. })));
    assert_eq!(pool.size().unwrap(), 1);
}

/// With a 10 s poll interval, only the release's wake-up can admit the waiter quickly.
///
/// On a current-thread runtime the waiter runs, without yielding, from its signal through
/// its first (refused) attempt into the wait, so the release lands while it waits.
#[tokio::test(flavor = "current_thread")]
async fn a_release_wakes_an_async_waiter() {
    let cachify = backend()
        .builder("wake-async")
        .lock_poll_interval(Duration::from_secs(10))
        .build();
    let pool = cachify.pool("p", 1);
    let held = pool.acquire_async().await.unwrap();
    let (waiting_tx, waiting_rx) = tokio::sync::oneshot::channel();
    let waiter = {
        let pool = pool.clone().nowait(false).timeout(Duration::from_secs(30));
        tokio::spawn(async move {
            waiting_tx.send(()).unwrap();
            let slot = pool.acquire_async().await?;
            let admitted_at = Instant::now();
            slot.release_async().await?;
            Ok::<_, Error>(admitted_at)
        })
    };
    waiting_rx.await.unwrap();
    let released_at = Instant::now();
    held.release_async().await.unwrap();
    let admitted_at = waiter.await.unwrap().unwrap();
    let latency = admitted_at - released_at;
    assert!(latency < Duration::from_secs(1), "woken after {latency:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiting_acquire_times_out_with_pool_full() {
    let cachify = backend().instance("timeout");
    let pool = cachify.pool("p", 1);
    let _held = pool.acquire_async().await.unwrap();
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let outcome = pool.clone().nowait(false).timeout(timeout).acquire_async().await;
    assert!(matches!(outcome, Err(Error::PoolFull { .. })));
    assert!(started.elapsed() >= timeout);
}

/// A holder whose future is cancelled releases its slot in the background; the next
/// acquisition (a waiting one, woken by that release) gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_holder_releases_its_slot() {
    let cachify = backend().instance("cancel");
    let pool = cachify.pool("p", 1);
    let (holding_tx, holding_rx) = tokio::sync::oneshot::channel();
    let holder = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let _slot = pool.acquire_async().await.unwrap();
            holding_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        })
    };
    holding_rx.await.unwrap();
    assert_eq!(pool.size_async().await.unwrap(), 1);
    holder.abort();
    assert!(holder.await.unwrap_err().is_cancelled());
    let waiting = pool.clone().nowait(false).timeout(Duration::from_secs(20));
    let slot = waiting.acquire_async().await.expect("the cancelled holder's slot was freed");
    slot.release_async().await.unwrap();
    assert_eq!(pool.size_async().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_async_holder_releases_its_slot() {
    let cachify = backend().instance("panic-async");
    let pool = cachify.pool("p", 1);
    let holder = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let _slot = pool.acquire_async().await.unwrap();
            panic!("holder fails while holding its slot");
        })
    };
    assert!(holder.await.unwrap_err().is_panic());
    let waiting = pool.clone().nowait(false).timeout(Duration::from_secs(20));
    assert!(waiting.acquire_async().await.is_ok());
}

/// Cancelling a *waiting* acquisition leaves nothing behind: no slot is leaked.
#[tokio::test(flavor = "current_thread")]
async fn cancelling_a_waiting_acquire_leaks_no_slot() {
    let cachify = backend().instance("cancel-wait");
    let pool = cachify.pool("p", 1);
    let held = pool.acquire_async().await.unwrap();
    let waiting = pool.clone().nowait(false);
    let gave_up = tokio::time::timeout(Duration::from_millis(100), waiting.acquire_async()).await;
    assert!(gave_up.is_err(), "the pool was full: the waiter cannot have got in");
    held.release_async().await.unwrap();
    // Let a detached release (if any) run before counting.
    tokio::task::yield_now().await;
    assert_eq!(pool.size_async().await.unwrap(), 0);
}

/// An async slot dropped outside any runtime still releases (on a runtime of its own).
#[test]
fn an_async_slot_dropped_outside_a_runtime_releases() {
    let cachify = backend().instance("no-runtime");
    let pool = cachify.pool("p", 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let slot = runtime.block_on(pool.acquire_async()).unwrap();
    drop(runtime);
    drop(slot);
    assert_eq!(pool.size().unwrap(), 0);
}

#[test]
fn releasing_an_expired_slot_is_not_an_error() {
    let cachify = backend()
        .builder("expired-release")
        .lock_poll_interval(Duration::from_millis(20))
        .build();
    let pool = cachify.pool("p", 1).slot_exp(Duration::from_millis(100));
    let stale = pool.acquire().unwrap();
    let fresh = pool
        .clone()
        .nowait(false)
        .timeout(Duration::from_secs(20))
        .slot_exp(Duration::from_secs(60))
        .acquire()
        .unwrap();
    stale.release().unwrap();
    assert_eq!(pool.size().unwrap(), 1, "the stale release must not free the fresh slot");
    drop(fresh);
    assert_eq!(pool.size().unwrap(), 0);
}

#[tokio::test]
async fn cachify_instances_are_clone_and_pool_from_statics() {
    static LOCAL: std::sync::LazyLock<Cachify> =
        std::sync::LazyLock::new(|| backend().instance("static"));
    let slot = LOCAL.pool("s", 1).acquire_async().await.unwrap();
    assert_eq!(slot.key(), "s");
    assert_eq!(LOCAL.pool("s", 1).size_async().await.unwrap(), 1);
}
