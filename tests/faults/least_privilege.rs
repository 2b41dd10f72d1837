//! Least-privilege ACL users (Redis 6+): an application's user limited to its prefix's
//! keys and channels, on a server and on a cluster (`ACL SETUSER` on every node); a user
//! with the keys but no channel; a wrong password.
//!
//! Every instance here has a prefix starting with `APP-`, the pattern the users' rules
//! name, so a key or channel cachify used outside its prefix would be refused.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, LazyLock};
use std::time::{Duration, Instant};

use cachify::backend::redis::RedisOptions;
use cachify::{cached, once, Cachify, Error};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt;

use super::support::redis::{command, RedisCluster, RedisServer};
use super::support::{self, logs::logs_of};

/// The rules of docs/src/backends.md, "Least-privilege ACL users", for the prefix `APP-`:
/// only the commands cachify sends (scripts' commands included), the prefix's keys and
/// channels.
const MINIMUM: &[&str] = &[
    "resetkeys",
    "~APP-*",
    "resetchannels",
    "&APP-*",
    "-@all",
    "+ping",
    "+get",
    "+set",
    "+exists",
    "+pttl",
    "+evalsha",
    "+eval",
    "+subscribe",
    "+unsubscribe",
    "+cluster|slots",
    "+scan",
    "+unlink",
    "+wait",
    // What the scripts run.
    "+del",
    "+publish",
    "+pexpire",
    "+pexpireat",
    "+persist",
    "+time",
    "+incr",
    "+zadd",
    "+zrem",
    "+zcard",
    "+zcount",
    "+zrange",
    "+zremrangebyscore",
];
/// The typical application user: its prefix's keys and channels, no dangerous command.
const TYPICAL: &[&str] = &[
    "resetkeys",
    "~APP-*",
    "resetchannels",
    "&APP-*",
    "+@all",
    "-@dangerous",
];
/// The prefix's keys, but no channel at all.
const NO_CHANNELS: &[&str] = &[
    "resetkeys",
    "~APP-*",
    "resetchannels",
    "+@all",
    "-@dangerous",
];

/// A wait woken by pub/sub must end far sooner than this poll interval.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Users without channels wait by polling, this often.
const SHORT_POLL: Duration = Duration::from_millis(100);
/// The most a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);
/// The connect timeout of every instance here.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A wrong password must be reported well within this: generous, as on a cluster
/// redis-rs tries a refused connection several times, and the machine may be loaded;
/// far below a hang all the same.
const PROMPTLY: Duration = Duration::from_secs(10);

/// Creates (or replaces) `user` with password `pw` and `rules` on the node at `port`.
fn set_user(port: u16, user: &str, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", user, "reset", "on", ">pw"];
    args.extend_from_slice(rules);
    let reply = command(port, &args).unwrap();
    assert!(reply.starts_with("+OK"), "ACL SETUSER {user}: {reply}");
}

/// One server and one cluster for this module, each with the users `minimum`,
/// `typical` and `nochannels` on every node.
static SERVER: LazyLock<RedisServer> = LazyLock::new(|| {
    let server = RedisServer::start(false);
    set_users(server.port());
    server
});
static CLUSTER: LazyLock<RedisCluster> = LazyLock::new(|| {
    let cluster = RedisCluster::start();
    for node in &cluster.nodes {
        set_users(node.port());
    }
    cluster
});

fn set_users(port: u16) {
    set_user(port, "minimum", MINIMUM);
    set_user(port, "typical", TYPICAL);
    set_user(port, "nochannels", NO_CHANNELS);
}

fn options() -> RedisOptions {
    RedisOptions::new().connect_timeout(CONNECT_TIMEOUT)
}

fn server_instance(user: &str, password: &str, poll: Duration) -> Cachify {
    server_instance_with(user, password, poll, options())
}

fn server_instance_with(
    user: &str,
    password: &str,
    poll: Duration,
    options: RedisOptions,
) -> Cachify {
    let url = format!("redis://{user}:{password}@127.0.0.1:{}", SERVER.port());
    Cachify::builder()
        .prefix(support::unique_prefix(&format!("APP-{user}")))
        .lock_poll_interval(poll)
        .redis_with(&url, options)
        .unwrap()
        .build()
}

fn cluster_instance(user: &str, password: &str, poll: Duration) -> Cachify {
    cluster_instance_with(user, password, poll, options())
}

fn cluster_instance_with(
    user: &str,
    password: &str,
    poll: Duration,
    options: RedisOptions,
) -> Cachify {
    let urls: Vec<String> = CLUSTER
        .nodes
        .iter()
        .map(|node| format!("redis://{user}:{password}@127.0.0.1:{}", node.port()))
        .collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    Cachify::builder()
        .prefix(support::unique_prefix(&format!("APP-{user}")))
        .lock_poll_interval(poll)
        .redis_cluster_with(&urls, options)
        .unwrap()
        .build()
}

/// How a waiter learns of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Woken by the release's message, far sooner than the poll interval.
    PubSub,
    /// At its next poll.
    Polling,
}

/// A `#[cached]` pair, a `#[once]` job and the instance they use, for one user.
macro_rules! user_functions {
    ($module:ident, $instance:expr) => {
        mod $module {
            use super::*;

            pub static CACHIFY: LazyLock<Cachify> = LazyLock::new(|| $instance);
            pub static CALLS: AtomicUsize = AtomicUsize::new(0);
            #[allow(dead_code, reason = "the wrong-password users never get this far")]
            pub static REFRESHES: AtomicUsize = AtomicUsize::new(0);

            #[cached(key = "square-{n}", cachify = CACHIFY)]
            pub fn square(n: u64) -> u64 {
                CALLS.fetch_add(1, SeqCst);
                n * n
            }

            #[cached(key = "cube-{n}", cachify = CACHIFY)]
            pub async fn cube(n: u64) -> u64 {
                CALLS.fetch_add(1, SeqCst);
                n * n * n
            }

            #[allow(dead_code, reason = "the wrong-password users never get this far")]
            #[cached(key = "fresh", ttl = 60, refresh = 0, cachify = CACHIFY)]
            pub fn fresh() -> usize {
                REFRESHES.fetch_add(1, SeqCst) + 1
            }

            #[once(key = "job", raise_on_locked = true, cachify = CACHIFY)]
            pub fn job() -> Result<u32, Error> {
                Ok(7)
            }
        }
    };
}

user_functions!(server_minimum, server_instance("minimum", "pw", LONG_POLL));
user_functions!(server_typical, server_instance("typical", "pw", LONG_POLL));
user_functions!(
    server_no_channels,
    server_instance("nochannels", "pw", SHORT_POLL)
);
user_functions!(
    cluster_minimum,
    cluster_instance("minimum", "pw", LONG_POLL)
);
user_functions!(
    cluster_no_channels,
    cluster_instance("nochannels", "pw", SHORT_POLL)
);
user_functions!(
    server_wrong_password,
    server_instance("typical", "wrong", SHORT_POLL)
);
user_functions!(
    cluster_wrong_password,
    cluster_instance("typical", "wrong", SHORT_POLL)
);

/// Caching, `reset`, locks (sync and async guards, force release), once, pools and
/// wake-ups, all through the instance of `$module`, whose waiters wake by `$wake`.
macro_rules! everything_works {
    ($module:ident, $wake:expr) => {{
        let cachify: &Cachify = &$module::CACHIFY;
        let runtime = tokio::runtime::Runtime::new().unwrap();

        // Caching and reset, sync and async.
        assert_eq!($module::square(3), 9);
        assert_eq!($module::square(3), 9);
        assert_eq!($module::CALLS.load(SeqCst), 1, "the second call is a hit");
        $module::square::reset(3).expect("reset");
        assert_eq!($module::square(3), 9);
        assert_eq!($module::CALLS.load(SeqCst), 2, "reset cleared the entry");
        runtime.block_on(async {
            assert_eq!($module::cube(2).await, 8);
            assert_eq!($module::cube(2).await, 8);
            $module::cube::reset(2).await.expect("async reset");
            assert_eq!($module::cube(2).await, 8);
        });
        assert_eq!($module::CALLS.load(SeqCst), 4);

        // Deleting by pattern (SCAN, UNLINK).
        assert_eq!($module::square(4), 16);
        assert!($module::square::clear().expect("clear by pattern") >= 1);

        // Refresh before expiry: the second call is a hit past the refresh age, whose
        // refresh runs in the background.
        assert_eq!($module::fresh(), 1);
        $module::fresh();
        let deadline = Instant::now() + PATIENCE;
        while $module::REFRESHES.load(SeqCst) < 2 {
            assert!(Instant::now() < deadline, "the refresh ran");
            std::thread::sleep(Duration::from_millis(10));
        }

        // Once.
        assert!(matches!($module::job(), Ok(7)));
        assert!(!$module::job::is_locked().unwrap());
        $module::job::release().expect("force release of a once key");

        locks_and_pools(cachify, &runtime, $wake);
    }};
}

fn locks_and_pools(cachify: &Cachify, runtime: &tokio::runtime::Runtime, wake: Wake) {
    // A sync guard, an async guard, force releases.
    let lock = cachify.lock("l").exp(None);
    let guard = lock.acquire().unwrap();
    assert!(lock.is_locked().unwrap());
    assert_eq!(
        guard.fencing_token(),
        1,
        "the fencing counter lies under the prefix too"
    );
    guard.release().expect("sync release");
    runtime.block_on(async {
        let guard = lock.acquire_async().await.unwrap();
        guard.release_async().await.expect("async release");
        let guard = lock.acquire_async().await.unwrap();
        lock.release_async().await.expect("async force release");
        assert!(!lock.is_locked_async().await.unwrap());
        guard.release_async().await.expect("releasing a freed lock");
        drop(lock.acquire_async().await.unwrap());
        assert!(
            !lock.is_locked_async().await.unwrap(),
            "a dropped async guard released"
        );
    });
    let guard = lock.acquire().unwrap();
    lock.release().expect("force release");
    assert!(!lock.is_locked().unwrap());
    guard.release().expect("releasing a freed lock");

    // Pools.
    let pool = cachify.pool("p", 1).slot_exp(None);
    let slot = pool.acquire().unwrap();
    assert_eq!(pool.size().unwrap(), 1);
    slot.release().expect("slot release");
    runtime.block_on(async {
        let slot = pool.acquire_async().await.unwrap();
        slot.release_async().await.expect("async slot release");
    });
    assert_eq!(pool.size().unwrap(), 0);

    // Wake-ups: a waiter for a lock, then for a slot.
    let holder = lock.acquire().unwrap();
    let waiter = lock.clone().nowait(false).timeout(PATIENCE * 6);
    let (waited, logs) = waits_for(|| drop(holder), move || waiter.acquire().map(drop));
    assert_woken(wake, waited, &logs);
    let slot = pool.acquire().unwrap();
    let waiter = pool.clone().nowait(false).timeout(PATIENCE * 6);
    let (waited, logs) = waits_for(|| drop(slot), move || waiter.acquire().map(drop));
    assert_woken(wake, waited, &logs);
}

fn assert_woken(wake: Wake, waited: Duration, logs: &str) {
    match wake {
        Wake::PubSub => {
            assert!(
                logs.contains("handoff=true"),
                "woken by the release: {logs}"
            );
            assert!(
                waited < PATIENCE,
                "woken after {waited:?}, not by the release"
            );
        }
        Wake::Polling => {
            assert!(logs.contains("handoff=false"), "woken by a poll: {logs}");
        }
    }
}

/// Runs `acquire` on a thread of its own, calls `release` once it is waiting, and
/// returns how long after the release it got in and what it logged.
fn waits_for(
    release: impl FnOnce(),
    acquire: impl FnOnce() -> Result<(), Error> + Send + 'static,
) -> (Duration, String) {
    let (lines_tx, lines) = mpsc::channel::<String>();
    let waiter = std::thread::spawn(move || {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(LevelFilter::DEBUG)
            .with_writer(move || Lines(lines_tx.clone()))
            .finish();
        let _default = subscriber.set_default();
        acquire()
    });
    let mut logs = String::new();
    while !logs.contains(": waiting") {
        let line = lines
            .recv_timeout(PATIENCE)
            .expect("the waiter starts waiting");
        logs.push_str(&line);
    }
    release();
    let released = Instant::now();
    waiter.join().unwrap().expect("the waiter gets in");
    let waited = released.elapsed();
    logs.extend(lines.try_iter());
    (waited, logs)
}

/// A log writer that hands each formatted event over a channel.
struct Lines(mpsc::Sender<String>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(bytes).into_owned());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The node's `ACL LOG` (what it refused, to whom), as text.
fn acl_log(port: u16) -> String {
    let admin = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let log: redis::Value = redis::cmd("ACL")
        .arg("LOG")
        .query(&mut admin.get_connection().unwrap())
        .unwrap();
    format!("{log:?}")
}

/// Nothing cachify sent as `user` was refused by the node at `port` (refusals that do
/// not surface as errors included, such as a denied `PUBLISH` inside a script).
fn assert_nothing_denied(port: u16, user: &str) {
    let log = acl_log(port);
    assert!(
        !log.contains(user),
        "the server refused {user} something: {log}"
    );
}

#[test]
fn a_user_with_only_the_documented_rules_gets_everything_with_wake_ups() {
    everything_works!(server_minimum, Wake::PubSub);
    assert_nothing_denied(SERVER.port(), "minimum");
}

#[test]
fn a_user_limited_to_its_prefix_gets_everything_with_wake_ups() {
    everything_works!(server_typical, Wake::PubSub);
}

#[test]
fn a_user_without_channels_gets_everything_and_waits_by_polling() {
    everything_works!(server_no_channels, Wake::Polling);
}

#[test]
fn a_cluster_user_with_only_the_documented_rules_gets_everything_with_wake_ups() {
    everything_works!(cluster_minimum, Wake::PubSub);
    for node in &CLUSTER.nodes {
        assert_nothing_denied(node.port(), "minimum");
    }
}

#[test]
fn a_cluster_user_without_channels_gets_everything_and_waits_by_polling() {
    everything_works!(cluster_no_channels, Wake::Polling);
}

/// `wait_for_replicas` under the documented rules: the `WAIT` is allowed, so an acquire
/// on these replica-less nodes fails as a shortfall, not as a refused command.
#[test]
fn a_user_with_only_the_documented_rules_may_wait_for_replicas() {
    let options = options().wait_for_replicas(1, Duration::from_millis(10));
    let instances = [
        server_instance_with("minimum", "pw", LONG_POLL, options.clone()),
        cluster_instance_with("minimum", "pw", LONG_POLL, options),
    ];
    for cachify in instances {
        let lock = cachify.lock("acked");
        let error = lock.acquire().expect_err("no replica acknowledges it");
        assert!(error.to_string().contains("acknowledged"), "{error}");
        assert!(!lock.is_locked().unwrap(), "released");
    }
    assert_nothing_denied(SERVER.port(), "minimum");
    for node in &CLUSTER.nodes {
        assert_nothing_denied(node.port(), "minimum");
    }
}

/// A release's `PUBLISH` that the ACL denies is inside the script (`pcall`): the release
/// still succeeds and says so, on this server's version.
#[test]
fn a_denied_publish_inside_a_release_script_is_not_an_error() {
    let cachify = server_instance("nochannels", "pw", SHORT_POLL);
    let key = cachify.lock_key("l");
    let client = cachify.sync_client();
    assert!(client.set(&key, b"t", None, true).unwrap());
    assert!(client.delete_if_equals(&key, b"t").expect("released"));
    assert!(client.set(&key, b"t", None, true).unwrap());
    assert_eq!(client.delete(&[&key]).expect("deleted"), 1);
    let pool = cachify.pool_key("p");
    assert!(client.pool_acquire(&pool, "s", 1, None).unwrap());
    assert!(client.pool_release(&pool, "s").expect("slot released"));
    let log = acl_log(SERVER.port());
    assert!(
        log.contains(&format!("{key}:released")),
        "the server refused this release's PUBLISH: {log}"
    );
}

/// A denied `SUBSCRIBE` costs one warning for the client, not one per wait.
#[test]
fn a_denied_subscribe_warns_once_and_waiters_poll() {
    let cachify = server_instance("nochannels", "pw", SHORT_POLL);
    let key = cachify.lock_key("l");
    let ((), logs) = logs_of(|| {
        for _ in 0..5 {
            let watch = cachify.sync_client().watch(&key);
            assert!(
                watch.is_some(),
                "a waiter still has a watch to sleep on until its poll"
            );
        }
    });
    let warnings = logs.matches("WARN").count();
    assert_eq!(warnings, 1, "one warning: {logs}");
    assert!(logs.contains("subscribe"), "says what was denied: {logs}");
}

fn assert_authentication_error(error: &Error, took: Duration) {
    let text = error.to_string();
    println!("{text}");
    assert!(matches!(error, Error::Backend(_)), "{error:?}");
    assert!(
        text.contains("authentication"),
        "a clear authentication error: {text}"
    );
    assert!(!text.contains("timed out"), "not a timeout: {text}");
    assert!(took < PROMPTLY, "reported after {took:?}");
}

macro_rules! a_wrong_password_fails_fast_and_the_cache_fails_open {
    ($module:ident) => {{
        let cachify: &Cachify = &$module::CACHIFY;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for _ in 0..3 {
            let start = Instant::now();
            let error = Error::from(
                cachify
                    .sync_client()
                    .get(&cachify.cache_key("k"))
                    .unwrap_err(),
            );
            assert_authentication_error(&error, start.elapsed());
            let start = Instant::now();
            let error = cachify.lock("l").acquire().unwrap_err();
            assert_authentication_error(&error, start.elapsed());
            let start = Instant::now();
            let error = runtime
                .block_on(cachify.lock("l").acquire_async())
                .unwrap_err();
            assert_authentication_error(&error, start.elapsed());
        }
        let start = Instant::now();
        assert_eq!($module::square(4), 16);
        assert_eq!(runtime.block_on($module::cube(2)), 8);
        assert!(start.elapsed() < PROMPTLY, "took {:?}", start.elapsed());
        assert_eq!(
            $module::CALLS.load(SeqCst),
            2,
            "both bodies ran: the cache fails open"
        );
        assert!(
            matches!($module::job(), Err(Error::Backend(_))),
            "a once job does not run unguarded"
        );
    }};
}

#[test]
fn a_wrong_password_is_a_prompt_authentication_error_and_the_cache_fails_open() {
    a_wrong_password_fails_fast_and_the_cache_fails_open!(server_wrong_password);
}

#[test]
fn a_wrong_cluster_password_is_a_prompt_authentication_error_and_the_cache_fails_open() {
    a_wrong_password_fails_fast_and_the_cache_fails_open!(cluster_wrong_password);
}
