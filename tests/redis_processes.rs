//! Several OS processes sharing one Redis: mutual exclusion, the pool bound, fencing
//! tokens across hand-offs, the leases of a holder killed with SIGKILL, guards dropped as
//! `main` ends, fleet-wide single-flight ([`fleet`]) and the near cache's coherence
//! ([`near`]).
//!
//! The children are this test binary itself, re-executed with `CACHIFY_CHILD` set: it
//! then runs only `child_process`, which plays the role the variable names.

#[path = "redis_processes/failed_acquires.rs"]
mod failed_acquires;
#[path = "redis_processes/fleet.rs"]
mod fleet;
#[path = "redis_processes/near.rs"]
mod near;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cachify::{Cachify, Error};

const ROLE: &str = "CACHIFY_CHILD";
const URL: &str = "CACHIFY_CHILD_REDIS_URL";
const PREFIX: &str = "CACHIFY_CHILD_PREFIX";

fn spawn_child(role: &str, prefix: &str) -> Child {
    spawn_child_with_url(role, prefix, &support::redis::server().url())
}

/// [`spawn_child`] on the server at `url`.
fn spawn_child_with_url(role: &str, prefix: &str, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(URL, url)
        .env(PREFIX, prefix)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_all(children: Vec<Child>) {
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a child failed: {output:?}");
    }
}

fn instance(prefix: &str) -> Cachify {
    Cachify::builder()
        .redis(&support::redis::server().url())
        .unwrap()
        .prefix(prefix)
        .lock_poll_interval(Duration::from_millis(50))
        .build()
}

/// The entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    if fleet::is_role(&role) {
        return fleet::child(&role);
    }
    if failed_acquires::is_role(&role) {
        return failed_acquires::child(&role);
    }
    if near::is_role(&role) {
        return near::child(&role);
    }
    let cachify = Cachify::builder()
        .redis(&std::env::var(URL).unwrap())
        .unwrap()
        .prefix(std::env::var(PREFIX).unwrap())
        .lock_poll_interval(Duration::from_millis(50))
        .build();
    match role.as_str() {
        "counter" => increment_under_lock(&cachify, 250),
        "fence" => record_fencing_tokens(&cachify, 100),
        "pool" => hold_pool_slots(&cachify, 20),
        "crash" => hold_and_hang(&cachify),
        "exit-flush-async" => drop_guards_and_exit(&cachify, Flush::Async),
        "exit-flush-blocking" => drop_guards_and_exit(&cachify, Flush::Blocking),
        "exit-no-flush" => drop_guards_and_exit(&cachify, Flush::No),
        other => panic!("unknown role {other}"),
    }
}

fn increment_under_lock(cachify: &Cachify, times: usize) {
    let client = cachify.sync_client();
    let counter = cachify.cache_key("counter");
    let lock = cachify
        .lock("counter")
        .nowait(false)
        .timeout(Duration::from_secs(60));
    for _ in 0..times {
        let _guard = lock.acquire().unwrap();
        // A deliberately non-atomic read-modify-write: only the lock keeps it exact.
        let value = client.get(&counter).unwrap().unwrap_or_default();
        let value: u64 = String::from_utf8(value).unwrap().parse().unwrap_or(0);
        client
            .set(&counter, (value + 1).to_string().as_bytes(), None, false)
            .unwrap();
    }
}

/// Appends each holder's fencing token to a list, under the lock: the list is in the
/// order the holders held it.
fn record_fencing_tokens(cachify: &Cachify, times: usize) {
    let client = redis::Client::open(std::env::var(URL).unwrap()).unwrap();
    let mut raw = client.get_connection().unwrap();
    let lock = cachify
        .lock("fenced")
        .nowait(false)
        .timeout(Duration::from_secs(60));
    for _ in 0..times {
        let guard = lock.acquire().unwrap();
        let _: i64 = redis::cmd("RPUSH")
            .arg(cachify.cache_key("tokens"))
            .arg(guard.fencing_token())
            .query(&mut raw)
            .unwrap();
        guard.release().unwrap();
    }
}

fn hold_pool_slots(cachify: &Cachify, times: usize) {
    let client = redis::Client::open(std::env::var(URL).unwrap()).unwrap();
    let mut raw = client.get_connection().unwrap();
    let holders = cachify.cache_key("holders");
    let pool = cachify
        .pool("shared", 2)
        .nowait(false)
        .timeout(Duration::from_secs(60));
    for _ in 0..times {
        let slot = pool.acquire().unwrap();
        let now: i64 = redis::cmd("INCR").arg(&holders).query(&mut raw).unwrap();
        // Keep the largest number of simultaneous holders seen, atomically.
        let _: i64 = redis::Script::new(
            "local most = tonumber(redis.call('GET', KEYS[1]) or '0')\n\
             if tonumber(ARGV[1]) > most then redis.call('SET', KEYS[1], ARGV[1]) end\n\
             return 0",
        )
        .key(cachify.cache_key("max"))
        .arg(now)
        .invoke(&mut raw)
        .unwrap();
        std::thread::sleep(Duration::from_millis(2)); // the "work" done while holding
        let _: i64 = redis::cmd("DECR").arg(&holders).query(&mut raw).unwrap();
        slot.release().unwrap();
    }
}

fn hold_and_hang(cachify: &Cachify) {
    let lease = Some(Duration::from_secs(1));
    let guard = cachify.lock("crash").exp(lease).acquire().unwrap();
    println!("fencing token {}", guard.fencing_token());
    std::mem::forget(guard);
    let slot = cachify.pool("crash", 1).slot_exp(lease).acquire().unwrap();
    println!("held");
    std::mem::forget(slot);
    std::thread::sleep(Duration::from_secs(60));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// `flush_releases_async` as the last step inside the runtime.
    Async,
    /// `flush_releases` after the runtime is gone.
    Blocking,
    No,
}

/// What `#[tokio::main(flavor = "current_thread")]` does: a sync guard, an async guard
/// and an async pool slot dropped inside the runtime, then the process exits.
fn drop_guards_and_exit(cachify: &Cachify, flush: Flush) {
    let lease = Some(Duration::from_secs(60));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        {
            let _sync = cachify.lock("sync").exp(lease).acquire().unwrap();
            let _async = cachify
                .lock("async")
                .exp(lease)
                .acquire_async()
                .await
                .unwrap();
            let _slot = cachify
                .pool("slot", 1)
                .slot_exp(lease)
                .acquire_async()
                .await
                .unwrap();
        }
        if flush == Flush::Async {
            assert!(cachify::flush_releases_async(Duration::from_secs(10)).await);
        }
    });
    drop(runtime);
    if flush == Flush::Blocking {
        assert!(cachify::flush_releases(Duration::from_secs(10)));
    }
}

/// What a child running `drop_guards_and_exit` left held: (sync lock, async lock, slot).
fn left_held(prefix: &str) -> (bool, bool, bool) {
    let cachify = instance(prefix);
    (
        cachify.lock("sync").is_locked().unwrap(),
        cachify.lock("async").is_locked().unwrap(),
        cachify.pool("slot", 1).size().unwrap() > 0,
    )
}

#[test]
fn guards_dropped_as_main_ends_are_released_when_main_flushes() {
    for role in ["exit-flush-async", "exit-flush-blocking"] {
        for _ in 0..3 {
            let prefix = support::unique_prefix(role);
            wait_all(vec![spawn_child(role, &prefix)]);
            assert_eq!(left_held(&prefix), (false, false, false), "{role}");
        }
    }
}

/// Without a flush, the exiting thread waits a little for the releases it handed off,
/// where the platform runs thread-local destructors at exit (glibc does, for `main`'s
/// thread too); elsewhere they may be lost with the process and the keys expire. Not
/// guaranteed, so this only reports what was left.
#[test]
fn guards_dropped_as_main_ends_without_a_flush_may_outlive_the_process() {
    let runs = 5;
    let mut left = [0; 3];
    for _ in 0..runs {
        let prefix = support::unique_prefix("exit-no-flush");
        wait_all(vec![spawn_child("exit-no-flush", &prefix)]);
        let (sync, async_guard, slot) = left_held(&prefix);
        for (count, held) in left.iter_mut().zip([sync, async_guard, slot]) {
            *count += usize::from(held);
        }
    }
    eprintln!(
        "without a flush, of {runs} exits: sync guard left held {}, async guard {}, async slot {}",
        left[0], left[1], left[2]
    );
}

#[test]
fn four_processes_increment_a_counter_under_one_lock_without_losing_any() {
    let prefix = support::unique_prefix("counter");
    let children = (0..4).map(|_| spawn_child("counter", &prefix)).collect();
    wait_all(children);
    let cachify = instance(&prefix);
    let total = cachify
        .sync_client()
        .get(&cachify.cache_key("counter"))
        .unwrap();
    assert_eq!(total.as_deref(), Some(&b"1000"[..]));
}

#[test]
fn hand_offs_across_three_processes_yield_strictly_increasing_fencing_tokens() {
    let prefix = support::unique_prefix("fence");
    let children = (0..3).map(|_| spawn_child("fence", &prefix)).collect();
    wait_all(children);
    let cachify = instance(&prefix);
    let client = redis::Client::open(support::redis::server().url()).unwrap();
    let mut raw = client.get_connection().unwrap();
    let tokens: Vec<u64> = redis::cmd("LRANGE")
        .arg(cachify.cache_key("tokens"))
        .arg(0)
        .arg(-1)
        .query(&mut raw)
        .unwrap();
    assert_eq!(tokens.len(), 300);
    assert!(
        tokens.windows(2).all(|pair| pair[0] < pair[1]),
        "{tokens:?}"
    );
}

#[test]
fn six_processes_never_exceed_a_pool_of_two() {
    let prefix = support::unique_prefix("pool");
    let children = (0..6).map(|_| spawn_child("pool", &prefix)).collect();
    wait_all(children);
    let cachify = instance(&prefix);
    let client = cachify.sync_client();
    let most = client.get(&cachify.cache_key("max")).unwrap().unwrap();
    let most: u64 = String::from_utf8(most).unwrap().parse().unwrap();
    assert!(most <= 2, "{most} holders at once");
    assert!(most >= 1);
    assert_eq!(cachify.pool("shared", 2).size().unwrap(), 0);
}

#[test]
fn a_killed_holders_lock_and_slot_free_themselves_after_their_lease() {
    let prefix = support::unique_prefix("crash");
    let mut child = spawn_child("crash", &prefix);
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let mut stdout = BufReader::new(stdout);
    let mut killed_token = None;
    while !line.contains("held") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child died before holding"
        );
        // The harness may print its "test child_process ..." on the same line.
        if let Some((_, token)) = line.trim().split_once("fencing token ") {
            killed_token = Some(token.parse::<u64>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no release
    child.wait().unwrap();
    let killed = Instant::now();
    let cachify = instance(&prefix);
    let lock = cachify.lock("crash");
    let pool = cachify.pool("crash", 1).nowait(true);
    assert!(lock.is_locked().unwrap(), "still held right after the kill");
    assert!(matches!(lock.acquire(), Err(Error::Locked { .. })));
    assert!(matches!(pool.acquire(), Err(Error::PoolFull { .. })));
    while lock.is_locked().unwrap() || pool.size().unwrap() > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the leases never ran out"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let next = lock.acquire().unwrap();
    assert!(
        killed_token.is_some_and(|killed| killed < next.fencing_token()),
        "the next holder's token is larger than the killed holder's {killed_token:?}"
    );
    assert!(pool.acquire().is_ok());
}
