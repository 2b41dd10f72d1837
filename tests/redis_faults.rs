// Over 500 lines: one module per fault (restart, hung server, hung cluster node, wake-ups across node loss, huge expiries, releases of a hung server), each starting its own servers.
//! The Redis backend under faults and odd use: a server killed and restarted mid-run,
//! one instance used from several tokio runtimes in turn, foreign data types, flushed
//! scripts, and releases crossing clients.

#[path = "faults/least_privilege.rs"]
mod least_privilege;
mod support;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachify::{Cachify, Error, RedisClient};
use support::redis::RedisServer;

/// An instance on the server at `url` with `options`.
fn redis_instance(url: &str, options: cachify::RedisOptions) -> Cachify {
    Cachify::builder().redis_with(url, options).unwrap().build()
}

/// Retries `call` every few milliseconds until it succeeds; returns how long that took.
fn recovers_within<T, E>(
    patience: Duration,
    mut call: impl FnMut() -> Result<T, E>,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < patience {
        if call().is_ok() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn calls_fail_while_the_server_is_down_and_work_again_after_its_restart() {
    let server = RedisServer::start(false);
    let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
    let lock = cachify.lock_key("l");
    let pool = cachify.pool_key("p");
    let client = cachify.sync_client();
    client.set(&lock, b"before", None, false).unwrap();
    // Subscribe now, so the restart must restore the subscription.
    drop(client.watch(&lock));

    server.kill();
    assert!(matches!(
        Error::from(client.get(&lock).unwrap_err()),
        Error::Backend(_)
    ));
    assert!(client
        .set(&lock, b"t", Some(Duration::from_secs(5)), true)
        .is_err());
    assert!(client.delete_if_equals(&lock, b"t").is_err());
    assert!(client.pool_acquire(&pool, "slot", 1, None).is_err());
    assert!(client.pool_size(&pool).is_err());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(runtime.block_on(cachify.async_client().get(&lock)).is_err());
    let _no_panic = client.watch(&lock);

    server.restart();
    let sync = recovers_within(Duration::from_secs(1), || client.get(&lock));
    assert!(sync.is_some(), "the sync side works again within 1 s");
    let async_side = recovers_within(Duration::from_secs(1), || {
        runtime.block_on(cachify.async_client().get(&lock))
    });
    assert!(
        async_side.is_some(),
        "the async side works again within 1 s"
    );
    assert_eq!(
        client.get(&lock).unwrap(),
        None,
        "the restarted server is empty"
    );
    assert!(
        client.pool_acquire(&pool, "slot", 1, None).unwrap(),
        "scripts are loaded again"
    );

    // Wake-ups come back too: the subscription of before the kill is restored.
    client.set(&lock, b"holder", None, true).unwrap();
    let other = RedisClient::open(&server.url()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut watch = client.watch(&lock).unwrap();
        cachify::SyncClient::set(&other, &lock, b"holder", None, false).unwrap();
        cachify::SyncClient::delete_if_equals(&other, &lock, b"holder").unwrap();
        if watch.wait_blocking(Duration::from_millis(200)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "releases never woke the watcher after the restart"
        );
    }
}

static SHARED: LazyLock<Cachify> = LazyLock::new(|| support::Backend::Redis.instance("runtimes"));

#[test]
fn one_instance_serves_several_runtimes_in_turn_and_plain_threads() {
    let key = SHARED.cache_key("k");
    for round in 0..3u8 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = SHARED.async_client();
            client.set(&key, &[round], None, false).await.unwrap();
            assert_eq!(client.get(&key).await.unwrap(), Some(vec![round]));
            let lock = SHARED.lock_key("l");
            let mut watch = client.watch(&lock).await.unwrap();
            client.set(&lock, b"t", None, true).await.unwrap();
            client.delete_if_equals(&lock, b"t").await.unwrap();
            assert!(watch.wait(Duration::from_secs(10)).await);
        });
        // The runtime and every task it ran are gone; the next one starts from scratch.
        drop(runtime);
        let seen = std::thread::spawn(move || SHARED.sync_client().get(&SHARED.cache_key("k")))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(seen, Some(vec![round]));
    }
}

#[test]
fn a_runtime_that_stops_polling_does_not_stall_the_calls_of_another() {
    let cachify = support::Backend::Redis.instance("idle-runtime");
    let key = cachify.cache_key("k");
    let client = cachify.async_client();
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // Enough calls for `idle` to drive a connection of its own; then nobody polls it.
    let idle = current_thread();
    idle.block_on(async {
        for _ in 0..3 {
            client.set(&key, b"v", None, false).await.unwrap();
        }
    });
    let other = current_thread();
    other.block_on(async {
        for _ in 0..3 {
            assert_eq!(client.get(&key).await.unwrap(), Some(b"v".to_vec()));
        }
    });
    drop(idle);
    other.block_on(async {
        assert_eq!(client.get(&key).await.unwrap(), Some(b"v".to_vec()));
    });
}

#[test]
fn sync_calls_work_inside_async_code() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cachify = support::Backend::Redis.instance("sync-in-async");
    let key = cachify.cache_key("k");
    runtime.block_on(async {
        cachify.sync_client().set(&key, b"v", None, false).unwrap();
        assert_eq!(
            cachify.sync_client().get(&key).unwrap(),
            Some(b"v".to_vec())
        );
    });
}

#[test]
fn a_malformed_url_is_an_error_from_the_builder() {
    for url in [
        "not a url",
        "http://127.0.0.1:6379",
        "redis://127.0.0.1:notaport",
        "",
    ] {
        let built = Cachify::builder().redis(url);
        assert!(matches!(built, Err(Error::Backend(_))), "{url:?}");
    }
}

#[test]
fn foreign_redis_types_are_backend_errors() {
    let cachify = support::Backend::Redis.instance("wrongtype");
    let key = cachify.lock_key("l");
    let raw = redis::Client::open(support::redis::server().url()).unwrap();
    let mut raw = raw.get_connection().unwrap();
    redis::cmd("LPUSH")
        .arg(&key)
        .arg("x")
        .exec(&mut raw)
        .unwrap();
    let client = cachify.sync_client();
    let failures = [
        client.get(&key).err(),
        client.delete_if_equals(&key, b"t").err(),
        client.expire_if_equals(&key, b"t", None).err(),
        client.pool_acquire(&key, "s", 1, None).err(),
        client.pool_size(&key).err(),
    ];
    for failure in failures {
        let failure = failure.expect("WRONGTYPE is an error");
        assert!(failure.to_string().contains("WRONGTYPE"), "{failure}");
    }
    assert!(
        !client.set(&key, b"t", None, true).unwrap(),
        "nx sees the foreign key"
    );
}

#[test]
fn scripts_are_reloaded_after_a_script_flush() {
    let cachify = support::Backend::Redis.instance("noscript");
    let key = cachify.lock_key("l");
    let client = cachify.sync_client();
    client.set(&key, b"t", None, true).unwrap();
    assert!(client.delete_if_equals(&key, b"other").is_ok());
    support::redis::command(support::redis::server().port(), &["SCRIPT", "FLUSH"]).unwrap();
    assert!(client.set(&key, b"t", None, true).is_ok());
    assert!(client.delete_if_equals(&key, b"t").unwrap());
}

#[test]
fn a_release_through_one_client_wakes_a_waiter_of_another() {
    let url = support::redis::server().url();
    let waiter = RedisClient::open(&url).unwrap();
    let releaser = RedisClient::open(&url).unwrap();
    let key = support::unique_prefix("cross-client") + "lock";
    cachify::SyncClient::set(&releaser, &key, b"t", None, true).unwrap();
    let mut watch = cachify::SyncClient::watch(&waiter, &key).unwrap();
    let released = std::thread::spawn(move || {
        cachify::SyncClient::delete_if_equals(&releaser, &key, b"t").unwrap()
    });
    assert!(released.join().unwrap());
    assert!(
        watch.wait_blocking(Duration::from_secs(10)),
        "woken through pub/sub"
    );
}

/// A hung server (SIGSTOP): calls must not wait for it call after call. Each test pauses
/// a server of its own, so the others keep theirs.
mod hung_server {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use cachify::backend::redis::RedisOptions;
    use cachify::cached;

    use super::*;

    /// Generous: a breaker-free client pays several seconds per call, ten calls ~60 s.
    const TEN_CALLS_PATIENCE: Duration = Duration::from_secs(3);
    /// A lock or pool acquire against the hung server fails within this.
    const ACQUIRE_PATIENCE: Duration = Duration::from_secs(2);

    fn hung(server: &RedisServer, cachify: &Cachify) {
        // Connected and warm first, as in production: the server hangs under a live client.
        let client = cachify.sync_client();
        client
            .set(&cachify.cache_key("warm"), b"1", None, false)
            .unwrap();
        server.pause();
    }

    fn assert_names_server_and_timeout(error: &Error, server: &RedisServer) {
        let text = error.to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{}", server.port())),
            "names the server: {text}"
        );
        assert!(text.contains("timed out"), "says what timed out: {text}");
    }

    static SYNC_SERVER: LazyLock<RedisServer> = LazyLock::new(|| RedisServer::start(false));
    static SYNC: LazyLock<Cachify> = LazyLock::new(|| {
        Cachify::builder()
            .redis(&SYNC_SERVER.url())
            .unwrap()
            .build()
    });
    static SYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "sync-{n}", cachify = SYNC)]
    fn sync_body(n: u32) -> u32 {
        SYNC_CALLS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn ten_cached_calls_fail_open_promptly_while_the_server_hangs() {
        hung(&SYNC_SERVER, &SYNC);
        let start = Instant::now();
        for n in 0..10 {
            assert_eq!(sync_body(n), n);
        }
        let elapsed = start.elapsed();
        println!("10 sync #[cached] calls against a hung server: {elapsed:?}");
        assert_eq!(SYNC_CALLS.load(SeqCst), 10, "every call ran its body");
        assert!(elapsed < TEN_CALLS_PATIENCE, "took {elapsed:?}");
        SYNC_SERVER.resume();
    }

    static ASYNC_SERVER: LazyLock<RedisServer> = LazyLock::new(|| RedisServer::start(false));
    static ASYNC: LazyLock<Cachify> = LazyLock::new(|| {
        Cachify::builder()
            .redis(&ASYNC_SERVER.url())
            .unwrap()
            .build()
    });
    static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "async-{n}", cachify = ASYNC)]
    async fn async_body(n: u32) -> u32 {
        ASYNC_CALLS.fetch_add(1, SeqCst);
        n
    }

    #[tokio::test]
    async fn ten_async_cached_calls_fail_open_promptly_while_the_server_hangs() {
        ASYNC
            .async_client()
            .set(&ASYNC.cache_key("warm"), b"1", None, false)
            .await
            .unwrap();
        ASYNC_SERVER.pause();
        let start = Instant::now();
        for n in 0..10 {
            assert_eq!(async_body(n).await, n);
        }
        let elapsed = start.elapsed();
        println!("10 async #[cached] calls against a hung server: {elapsed:?}");
        assert_eq!(ASYNC_CALLS.load(SeqCst), 10, "every call ran its body");
        assert!(elapsed < TEN_CALLS_PATIENCE, "took {elapsed:?}");
        ASYNC_SERVER.resume();
    }

    #[test]
    fn lock_and_pool_acquires_fail_promptly_naming_the_server_and_what_timed_out() {
        let server = RedisServer::start(false);
        let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
        hung(&server, &cachify);

        let start = Instant::now();
        let locked = cachify.lock("job").acquire();
        let lock_took = start.elapsed();
        let start = Instant::now();
        let pooled = cachify.pool("api", 2).acquire();
        let pool_took = start.elapsed();
        println!("against a hung server: lock acquire {lock_took:?}, pool acquire {pool_took:?}");

        let lock_error = locked.expect_err("the server hangs");
        assert!(matches!(lock_error, Error::Backend(_)), "{lock_error:?}");
        assert_names_server_and_timeout(&lock_error, &server);
        let pool_error = pooled.expect_err("the server hangs");
        assert!(matches!(pool_error, Error::Backend(_)), "{pool_error:?}");
        assert_names_server_and_timeout(&pool_error, &server);
        assert!(lock_took < ACQUIRE_PATIENCE, "lock took {lock_took:?}");
        assert!(pool_took < ACQUIRE_PATIENCE, "pool took {pool_took:?}");

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let start = Instant::now();
        let lock_error = runtime
            .block_on(cachify.lock("job").acquire_async())
            .expect_err("the server hangs");
        let pool_error = runtime
            .block_on(cachify.pool("api", 2).acquire_async())
            .expect_err("the server hangs");
        let took = start.elapsed();
        assert!(matches!(lock_error, Error::Backend(_)), "{lock_error:?}");
        assert!(matches!(pool_error, Error::Backend(_)), "{pool_error:?}");
        assert!(took < ACQUIRE_PATIENCE, "async acquires took {took:?}");
        server.resume();
    }

    #[test]
    fn the_response_timeout_is_an_option_and_the_error_says_which_ran_out() {
        let server = RedisServer::start(false);
        let options = RedisOptions::new()
            .response_timeout(Duration::from_millis(150))
            .circuit_breaker(false);
        let cachify = redis_instance(&server.url(), options);
        hung(&server, &cachify);
        let key = cachify.cache_key("k");
        for _ in 0..2 {
            let start = Instant::now();
            let error = Error::from(cachify.sync_client().get(&key).unwrap_err());
            let took = start.elapsed();
            assert!(took < Duration::from_secs(1), "{took:?} {error}");
            assert_names_server_and_timeout(&error, &server);
            assert!(error.to_string().contains("150ms"), "{error}");
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let error = runtime
            .block_on(cachify.async_client().get(&key))
            .unwrap_err();
        assert!(error.to_string().contains("150ms"), "{error}");
        server.resume();
    }

    #[test]
    fn watchers_of_different_keys_do_not_wait_for_each_others_subscribe() {
        let server = RedisServer::start(false);
        let timeout = Duration::from_millis(250);
        let options = RedisOptions::new()
            .response_timeout(timeout)
            .circuit_breaker(false);
        let client = RedisClient::open_with(&server.url(), options).unwrap();
        // The pub/sub connection is up, then the server stops answering.
        drop(cachify::SyncClient::watch(&client, "warm").unwrap());
        server.pause();
        let start = Instant::now();
        let watchers: Vec<_> = (0..8)
            .map(|n| {
                let client = client.clone();
                std::thread::spawn(move || {
                    cachify::SyncClient::watch(&client, &format!("key-{n}")).is_some()
                })
            })
            .collect();
        for watcher in watchers {
            assert!(
                watcher.join().unwrap(),
                "a watch that polls is still a watch"
            );
        }
        let took = start.elapsed();
        println!("8 watchers subscribing against a hung server: {took:?}");
        // One after another they would take 8 × 250 ms.
        assert!(took < timeout * 6, "took {took:?}");
        server.resume();
    }

    #[test]
    fn full_service_returns_promptly_once_the_hung_server_answers_again() {
        let server = RedisServer::start(false);
        let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
        hung(&server, &cachify);
        let key = cachify.cache_key("k");
        let client = cachify.sync_client();
        assert!(client.get(&key).is_err(), "the server hangs");
        assert!(client.get(&key).is_err(), "and still hangs");

        server.resume();
        let sync = recovers_within(Duration::from_secs(3), || client.get(&key));
        println!("sync side back {sync:?} after SIGCONT");
        assert!(sync.is_some(), "the sync side answers again");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let async_side = recovers_within(Duration::from_secs(3), || {
            runtime.block_on(cachify.async_client().get(&key))
        });
        assert!(async_side.is_some(), "the async side answers again");
        let guard = cachify.lock("after").acquire().expect("locks work again");
        guard.release().unwrap();
    }
}

/// Expiries beyond what Redis represents mean "never expires", checked before anything
/// is sent, so no command fails and no script stops half-way.
mod huge_expiries {
    use super::*;

    fn on(backend: support::Backend) {
        let cachify = backend.instance("huge-expiries");
        let client = cachify.sync_client();

        let guard = cachify
            .lock("forever")
            .exp(Duration::MAX)
            .acquire()
            .expect("a lock with exp = Duration::MAX");
        let lock_key = cachify.lock_key("forever");
        assert_eq!(
            client.remaining_ttl(&lock_key).unwrap(),
            None,
            "{backend:?}: never expires"
        );
        assert!(client.get(&lock_key).unwrap().is_some());
        assert!(client
            .expire_if_equals(
                &lock_key,
                &client.get(&lock_key).unwrap().unwrap(),
                Some(Duration::MAX)
            )
            .expect("extending by Duration::MAX"));
        guard.release().unwrap();

        let pool = cachify.pool("huge", 1).slot_exp(Duration::MAX);
        let slot = pool
            .acquire()
            .expect("a slot with slot_exp = Duration::MAX");
        assert_eq!(pool.size().unwrap(), 1);
        assert!(
            matches!(pool.acquire(), Err(Error::PoolFull { .. })),
            "{backend:?}: the one slot is held, nothing half-applied"
        );
        drop(slot);
        assert_eq!(pool.size().unwrap(), 0);

        let key = cachify.cache_key("value");
        client
            .set(&key, b"v", Some(Duration::MAX), false)
            .expect("a value with ttl = Duration::MAX");
        assert_eq!(client.get(&key).unwrap(), Some(b"v".to_vec()));
        assert_eq!(client.remaining_ttl(&key).unwrap(), None);
    }

    #[test]
    fn duration_max_never_expires_on_redis() {
        on(support::Backend::Redis);
    }

    #[test]
    fn duration_max_never_expires_on_cluster() {
        on(support::Backend::RedisCluster);
    }
}

/// Release wake-ups on a cluster survive the loss of the node their pub/sub connection
/// is on. A cluster of its own: the test kills one of its nodes.
mod cluster_wake_ups {
    use super::*;
    use support::redis::RedisCluster;

    /// The polling fallback: a hand-off that needs it takes this long.
    const POLL: Duration = Duration::from_secs(10);

    /// How many clients of this process subscribe to `channel` on the node at `port`.
    fn subscribers(port: u16, channel: &str) -> i64 {
        let node = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let Ok(mut node) = node.get_connection() else {
            return 0;
        };
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut node)
            .unwrap_or_default();
        counts.first().map_or(0, |(_, count)| *count)
    }

    /// The node (index) serving `key`'s slot.
    fn owner(cluster: &RedisCluster, key: &str) -> usize {
        let node = redis::Client::open(cluster.urls()[0].as_str()).unwrap();
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut node.get_connection().unwrap())
            .unwrap();
        owner_of_slot(cluster, slot)
    }

    /// The node (index) serving `slot`.
    pub(super) fn owner_of_slot(cluster: &RedisCluster, slot: u16) -> usize {
        let query = |port: u16, args: &[&str]| {
            let node = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
            let mut cmd = redis::cmd(args[0]);
            for arg in &args[1..] {
                cmd.arg(*arg);
            }
            cmd.query::<redis::Value>(&mut node.get_connection().unwrap())
                .unwrap()
        };
        cluster
            .nodes
            .iter()
            .position(|node| {
                let nodes: String =
                    redis::from_redis_value(query(node.port(), &["CLUSTER", "NODES"])).unwrap();
                // The node's own line lists its slot ranges from the ninth field on.
                let myself = nodes.lines().find(|line| line.contains("myself")).unwrap();
                myself.split_whitespace().skip(8).any(|range| {
                    let (low, high) = range.split_once('-').unwrap_or((range, range));
                    matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(low), Ok(high)) if (low..=high).contains(&slot))
                })
            })
            .expect("some node serves the slot")
    }

    fn until(patience: Duration, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + patience;
        while !done() {
            assert!(Instant::now() < deadline, "never happened: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_lock_hand_off_survives_the_loss_of_the_pub_sub_node() {
        hand_off_survives(|node| node.kill());
    }

    #[test]
    fn a_lock_hand_off_survives_a_hung_pub_sub_node() {
        hand_off_survives(|node| node.pause());
    }

    /// `lose` takes the node the pub/sub connection is on (the first seed) away.
    fn hand_off_survives(lose: fn(&RedisServer)) {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = support::Backend::Memory
            .builder("pubsub-node-loss")
            .lock_poll_interval(POLL)
            .redis_cluster(&urls)
            .unwrap()
            .build();
        // A lock whose key lives on another node than the first seed, where the pub/sub
        // connection starts.
        let name = (0..)
            .map(|i| format!("hand-off-{i}"))
            .find(|name| owner(&cluster, &cachify.lock_key(name)) != 0)
            .unwrap();
        let channel = format!("{}:released", cachify.lock_key(&name));

        let holder = cachify.lock(name.as_str()).acquire().unwrap();
        let waiter = {
            let cachify = cachify.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                let guard = cachify
                    .lock(name.as_str())
                    .nowait(false)
                    .timeout(Duration::from_secs(60))
                    .acquire();
                (Instant::now(), guard.map(|guard| guard.release()))
            })
        };
        until(Duration::from_secs(10), "the waiter subscribes", || {
            subscribers(cluster.nodes[0].port(), &channel) == 1
        });

        lose(&cluster.nodes[0]);
        until(
            Duration::from_secs(5),
            "the subscription moves to a live node",
            || {
                cluster.nodes[1..]
                    .iter()
                    .any(|node| subscribers(node.port(), &channel) == 1)
            },
        );
        let released = Instant::now();
        drop(holder);
        let (acquired, outcome) = waiter.join().unwrap();
        outcome.expect("the waiter got the lock").unwrap();
        let hand_off = acquired.saturating_duration_since(released);
        println!("hand-off after the pub/sub node was lost: {hand_off:?}");
        assert!(
            hand_off < POLL / 4,
            "woken by the release, not by the {POLL:?} poll: {hand_off:?}"
        );
    }
}

/// A hung cluster node costs one timeout, then its slots fail at once while the other
/// nodes keep serving. A cluster of its own: the test pauses one of its nodes.
mod hung_cluster_node {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use cachify::cached;
    use support::redis::RedisCluster;

    use super::*;

    static CLUSTER: LazyLock<RedisCluster> = LazyLock::new(RedisCluster::start);
    static C: LazyLock<Cachify> = LazyLock::new(|| {
        let urls = CLUSTER.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        support::Backend::Memory
            .builder("hung-node")
            .redis_cluster(&urls)
            .unwrap()
            .build()
    });
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "report", cachify = C)]
    fn report() -> u32 {
        CALLS.fetch_add(1, SeqCst);
        7
    }

    #[test]
    fn ten_cached_calls_fail_open_promptly_while_a_node_hangs() {
        let key = C.cache_key("report");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query(
                &mut redis::Client::open(CLUSTER.urls()[0].as_str())
                    .unwrap()
                    .get_connection()
                    .unwrap(),
            )
            .unwrap();
        let owner = super::cluster_wake_ups::owner_of_slot(&CLUSTER, slot);
        C.sync_client()
            .set(&C.cache_key("warm"), b"1", None, false)
            .unwrap();
        C.sync_client().delete(&[&key]).unwrap();
        CLUSTER.nodes[owner].pause();

        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(report(), 7);
        }
        let elapsed = start.elapsed();
        println!("10 #[cached] calls with the key's cluster node hung: {elapsed:?}");
        assert_eq!(CALLS.load(SeqCst), 10, "every call ran its body");
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");

        CLUSTER.nodes[owner].resume();
        let back = recovers_within(Duration::from_secs(5), || C.sync_client().get(&key));
        println!("the node's slot answers again {back:?} after SIGCONT");
        assert!(back.is_some(), "the slot answers again");
    }
}

/// Releases and lease renewals of one hung server, handed to cachify's releaser, never
/// delay those of another server or instance.
mod releases_of_a_hung_server {
    use super::*;

    /// Sync guards of a hung server dropped in async code run their releases on the
    /// releaser; the sync lease of a lock on a healthy server keeps renewing meanwhile.
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
        let sick_guards: Vec<_> = (0..4)
            .map(|n| on_sick.lock(format!("k{n}")).acquire().unwrap())
            .collect();

        sick.pause();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move { drop(sick_guards) }); // handed to the releaser

        // Nothing to await: the lease must outlive more than two of its exps unattended.
        std::thread::sleep(Duration::from_millis(2500));
        let stolen = other_process.lock("job").nowait(true).acquire();
        sick.resume();
        let lost = job.lease_lost();
        drop(job);
        assert!(
            stolen.is_err(),
            "another holder took a lock whose auto_extend guard is alive (lease_lost = {lost})"
        );
    }

    /// A renewal still unanswered when `exp` has passed since the last confirmed one marks
    /// the lease lost: the lock may have expired and been taken meanwhile.
    #[test]
    fn a_lease_whose_renewal_is_overdue_past_exp_is_lost() {
        let server = RedisServer::start(false);
        let options = cachify::backend::redis::RedisOptions::new()
            .response_timeout(Duration::from_secs(30))
            .circuit_breaker(false);
        let cachify = redis_instance(&server.url(), options);
        let exp = Duration::from_millis(600);
        let guard = cachify
            .lock("job")
            .exp(exp)
            .auto_extend(true)
            .acquire()
            .unwrap();
        server.pause();
        let paused = Instant::now();
        // Generous, and far below the response timeout that would end the renewal.
        let deadline = paused + exp + Duration::from_secs(5);
        while !guard.lease_lost() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let lost = guard.lease_lost();
        server.resume();
        drop(guard);
        assert!(
            lost,
            "lease_lost() still false {:?} after the server hung",
            paused.elapsed()
        );
    }

    /// A nowait acquire on a memory instance does not wait for a release of the same
    /// storage key on another instance's hung server.
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
        sick.pause();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move { drop(guard) });
        let started = Instant::now();
        let taken = on_memory.lock("k").nowait(true).acquire();
        let took = started.elapsed();
        sick.resume();
        assert!(taken.is_ok());
        assert!(
            took < Duration::from_millis(500),
            "nowait acquire on memory took {took:?}"
        );
    }
}

/// The breaker closes on any answer of the server, releases refused by an open breaker
/// are not lost, and a least-privilege ACL user keeps working.
mod breaker_answers_and_releases {
    use cachify::backend::redis::RedisOptions;
    use support::redis::command;

    use super::*;

    fn acl(server: &RedisServer, rules: &[&str]) -> String {
        let mut args = vec!["ACL", "SETUSER", "app", "on", ">pw"];
        args.extend_from_slice(rules);
        let reply = command(server.port(), &args).unwrap();
        assert!(reply.starts_with("+OK"), "ACL SETUSER: {reply}");
        format!("redis://app:pw@127.0.0.1:{}", server.port())
    }

    fn short_timeouts() -> RedisOptions {
        RedisOptions::new().response_timeout(Duration::from_millis(200))
    }

    /// A user who may not run the probe's command still gets service back: a server
    /// that answers (even with an error) is a server that answers.
    #[test]
    fn the_breaker_closes_when_the_server_answers_the_probe_with_an_error() {
        let server = RedisServer::start(false);
        let url = acl(&server, &["~*", "&*", "+@all", "-exists"]);
        let cachify = redis_instance(&url, short_timeouts());
        let key = cachify.cache_key("k");
        let client = cachify.sync_client();
        client.set(&key, b"1", None, false).unwrap();
        server.pause();
        assert!(client.get(&key).is_err(), "the server hangs");
        server.resume();
        let back = recovers_within(Duration::from_secs(5), || client.get(&key));
        assert!(
            back.is_some(),
            "calls still skip a server that answers again"
        );
    }

    /// A guard dropped while the breaker is open is released once the server answers,
    /// not left locked until its exp (here: forever).
    #[test]
    fn a_guard_dropped_while_the_breaker_is_open_is_released_once_the_server_answers() {
        let server = RedisServer::start(false);
        let cachify = redis_instance(&server.url(), short_timeouts());
        let guard = cachify.lock("job").acquire().unwrap();
        server.pause();
        assert!(cachify.sync_client().get("x").is_err(), "the breaker opens");
        drop(guard); // on a plain thread: released inline, refused by the open breaker
        server.resume();
        let freed = recovers_within(Duration::from_secs(15), || {
            match cachify.lock("job").is_locked() {
                Ok(false) => Ok(()),
                _ => Err(()),
            }
        });
        assert!(freed.is_some(), "the lock stays held with no holder");
    }

    /// An explicit release refused by the open breaker reports the error, and the lock
    /// is still freed once the server answers: the guard it consumed cannot retry.
    #[test]
    fn an_explicit_release_refused_by_the_open_breaker_is_still_carried_out() {
        let server = RedisServer::start(false);
        let cachify = redis_instance(&server.url(), short_timeouts());
        let guard = cachify.lock("job").acquire().unwrap();
        let slot = cachify.pool("api", 1).acquire().unwrap();
        server.pause();
        assert!(cachify.sync_client().get("x").is_err(), "the breaker opens");
        assert!(
            guard.release().is_err(),
            "refused while the breaker is open"
        );
        assert!(slot.release().is_err(), "refused while the breaker is open");
        server.resume();
        let freed = recovers_within(Duration::from_secs(15), || {
            match (
                cachify.lock("job").is_locked(),
                cachify.pool("api", 1).size(),
            ) {
                (Ok(false), Ok(0)) => Ok(()),
                _ => Err(()),
            }
        });
        assert!(
            freed.is_some(),
            "the lock or slot stays held with no holder"
        );
    }

    /// Extreme timeouts are accepted and used without panicking.
    #[test]
    fn duration_max_and_zero_options_work() {
        let server = support::redis::server();
        for options in [
            RedisOptions::new()
                .connect_timeout(Duration::MAX)
                .response_timeout(Duration::MAX)
                .probe_interval(Duration::MAX),
            RedisOptions::new().probe_interval(Duration::ZERO),
        ] {
            let cachify = redis_instance(&server.url(), options);
            let key = cachify.cache_key("k");
            cachify.sync_client().set(&key, b"1", None, false).unwrap();
            let runtime = tokio::runtime::Runtime::new().unwrap();
            for _ in 0..3 {
                runtime.block_on(cachify.async_client().get(&key)).unwrap();
            }
            cachify.lock("job").acquire().unwrap().release().unwrap();
            drop(cachify.sync_client().watch(&key));
        }
    }

    /// Redis 7 gives a new ACL user no channel: `PUBLISH` is denied. A release must
    /// still succeed (and say so) when only its wake-up cannot be announced.
    #[test]
    fn releases_succeed_for_a_user_who_may_not_publish() {
        let server = RedisServer::start(false);
        let url = acl(&server, &["~*", "resetchannels", "+@all"]);
        let cachify = Cachify::builder().redis(&url).unwrap().build();
        let guard = cachify.lock("job").acquire().unwrap();
        guard.release().expect("the lock is released");
        assert!(!cachify.lock("job").is_locked().unwrap());
        let slot = cachify.pool("api", 1).acquire().unwrap();
        slot.release().expect("the slot is released");
        assert_eq!(cachify.pool("api", 1).size().unwrap(), 0);
        let key = cachify.cache_key("v");
        cachify.sync_client().set(&key, b"1", None, false).unwrap();
        assert_eq!(cachify.sync_client().delete(&[&key]).unwrap(), 1);
    }

    /// A runtime built without tokio's timers or I/O driver can still call: its own
    /// connection would need both.
    #[test]
    fn async_calls_from_a_runtime_without_drivers_do_not_panic() {
        let server = support::redis::server();
        let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
        let key = cachify.cache_key("k");
        let bare = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for _ in 0..3 {
            bare.block_on(cachify.async_client().get(&key)).unwrap();
        }
    }
}

/// A hung cluster node costs one timeout, not one per hash slot touched.
mod hung_cluster_node_many_slots {
    use support::redis::RedisCluster;

    use super::*;

    #[test]
    fn calls_on_ten_slots_of_a_hung_node_fail_promptly() {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = Cachify::builder().redis_cluster(&urls).unwrap().build();
        let client = cachify.sync_client();
        client.set("warm", b"1", None, false).unwrap();
        let mut seed = redis::Client::open(urls[0])
            .unwrap()
            .get_connection()
            .unwrap();
        let slot_of = |key: &str, seed: &mut redis::Connection| -> u16 {
            redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query(seed)
                .unwrap()
        };
        let hung = super::cluster_wake_ups::owner_of_slot(&cluster, slot_of("k-0", &mut seed));
        let mut slots = std::collections::HashSet::new();
        let keys: Vec<String> = (0..)
            .map(|n| format!("k-{n}"))
            .filter(|key| {
                let slot = slot_of(key, &mut seed);
                super::cluster_wake_ups::owner_of_slot(&cluster, slot) == hung && slots.insert(slot)
            })
            .take(10)
            .collect();
        cluster.nodes[hung].pause();
        let start = Instant::now();
        for key in &keys {
            assert!(client.get(key).is_err(), "the node hangs");
        }
        let took = start.elapsed();
        cluster.nodes[hung].resume();
        println!("10 calls on 10 slots of a hung node: {took:?}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }
}

/// A waiter whose SUBSCRIBE is the one that finds the pub/sub node hung is subscribed on
/// the node the wake-ups move to.
mod cluster_wake_ups_first_subscriber {
    use cachify::backend::redis::RedisOptions;
    use support::redis::RedisCluster;

    use super::*;

    const POLL: Duration = Duration::from_secs(20);

    fn subscribers(port: u16, channel: &str) -> i64 {
        let node = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let Ok(mut node) = node.get_connection_with_timeout(Duration::from_millis(300)) else {
            return 0;
        };
        let _ = node.set_read_timeout(Some(Duration::from_millis(300)));
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut node)
            .unwrap_or_default();
        counts.first().map_or(0, |(_, count)| *count)
    }

    #[test]
    fn a_waiter_whose_subscribe_finds_the_pub_sub_node_hung_is_woken_by_the_release() {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let options = RedisOptions::new().response_timeout(Duration::from_millis(300));
        let cachify = Cachify::builder()
            .prefix("first-sub:")
            .lock_poll_interval(POLL)
            .redis_cluster_with(&urls, options)
            .unwrap()
            .build();
        let mut seed = redis::Client::open(urls[0])
            .unwrap()
            .get_connection()
            .unwrap();
        let name = (0..)
            .map(|i| format!("hand-off-{i}"))
            .find(|name| {
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(cachify.lock_key(name))
                    .query(&mut seed)
                    .unwrap();
                super::cluster_wake_ups::owner_of_slot(&cluster, slot) != 0
            })
            .unwrap();
        // The pub/sub link is up on node 0, then its only subscription is swept.
        drop(cachify.sync_client().watch("warm"));
        let warm = "warm:released";
        let deadline = Instant::now() + Duration::from_secs(10);
        while subscribers(cluster.nodes[0].port(), warm) != 0 {
            assert!(Instant::now() < deadline, "the sweep never unsubscribed");
            std::thread::sleep(Duration::from_millis(20));
        }
        let holder = cachify.lock(name.as_str()).acquire().unwrap();
        cluster.nodes[0].pause();
        let waiter = {
            let cachify = cachify.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                let guard = cachify
                    .lock(name.as_str())
                    .nowait(false)
                    .timeout(Duration::from_secs(60))
                    .acquire();
                (Instant::now(), guard.map(|guard| guard.release()))
            })
        };
        let channel = format!("{}:released", cachify.lock_key(&name));
        let deadline = Instant::now() + Duration::from_secs(5);
        let moved = loop {
            if cluster.nodes[1..]
                .iter()
                .any(|node| subscribers(node.port(), &channel) == 1)
            {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let released = Instant::now();
        drop(holder);
        let (acquired, outcome) = waiter.join().unwrap();
        cluster.nodes[0].resume();
        outcome.expect("the waiter got the lock").unwrap();
        let hand_off = acquired.saturating_duration_since(released);
        println!("hand-off after the first subscribe found the node hung: {hand_off:?}");
        assert!(moved, "the waiter's subscription never reached a live node");
        assert!(hand_off < POLL / 4, "woken by the poll: {hand_off:?}");
    }
}

/// Locks keep working while their hash slot moves to another node (`ASK`, then `MOVED`).
mod resharding {
    use support::redis::{command, RedisCluster};

    use super::*;

    fn bulk(reply: &str) -> String {
        reply.lines().nth(1).unwrap_or("").trim().to_owned()
    }

    fn ok(port: u16, args: &[&str]) {
        let reply = command(port, args).unwrap();
        assert!(reply.starts_with("+OK"), "{args:?}: {reply}");
    }

    #[test]
    fn locks_are_taken_and_released_while_their_slot_migrates() {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = Cachify::builder()
            .prefix("reshard:")
            .redis_cluster(&urls)
            .unwrap()
            .build();
        let held = cachify.lock("{t}held").acquire().unwrap();
        let key = cachify.lock_key("{t}held");
        let port = |n: usize| cluster.nodes[n].port();
        let slot = command(port(0), &["CLUSTER", "KEYSLOT", &key]).unwrap();
        let slot = slot.trim().trim_start_matches(':').to_owned();
        let src = super::cluster_wake_ups::owner_of_slot(&cluster, slot.parse().unwrap());
        let dst = (src + 1) % 3;
        let id = |n: usize| bulk(&command(port(n), &["CLUSTER", "MYID"]).unwrap());
        let (src_id, dst_id) = (id(src), id(dst));
        ok(
            port(dst),
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &src_id],
        );
        ok(
            port(src),
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &dst_id],
        );

        // Mid-migration: a new key of the slot is created on the importing node (ASK).
        let fresh = cachify.lock("{t}fresh").acquire().unwrap();
        assert!(cachify.lock("{t}fresh").is_locked().unwrap());
        let waiter = cachify.lock("{t}held").nowait(true).acquire();
        assert!(matches!(waiter, Err(Error::Locked { .. })), "{waiter:?}");

        let dst_port = port(dst).to_string();
        let migrated = command(
            port(src),
            &[
                "MIGRATE",
                "127.0.0.1",
                &dst_port,
                "",
                "0",
                "5000",
                "KEYS",
                &key,
            ],
        )
        .unwrap();
        assert!(migrated.starts_with("+OK"), "MIGRATE: {migrated}");
        for n in 0..3 {
            ok(port(n), &["CLUSTER", "SETSLOT", &slot, "NODE", &dst_id]);
        }

        held.release().expect("released after the move (MOVED)");
        fresh.release().expect("released after the move");
        assert!(!cachify.lock("{t}held").is_locked().unwrap());
        assert!(!cachify.lock("{t}fresh").is_locked().unwrap());
        let again = cachify.lock("{t}held").acquire().expect("taken again");
        again.release().unwrap();
    }
}

/// Servers (and proxies) close idle connections (`timeout` in redis.conf): a call on a
/// connection the server closed while it sat idle is not a failure of the server.
mod idle_connections {
    use support::redis::command;

    use super::*;

    #[test]
    fn calls_after_the_server_closed_idle_connections_succeed() {
        let server = RedisServer::start(false);
        let reply = command(server.port(), &["CONFIG", "SET", "timeout", "1"]).unwrap();
        assert!(reply.starts_with("+OK"), "{reply}");
        let cachify = Cachify::builder().redis(&server.url()).unwrap().build();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        cachify.lock("job").acquire().unwrap().release().unwrap();
        for _ in 0..2 {
            runtime.block_on(async {
                let guard = cachify.lock("job").acquire_async().await.unwrap();
                guard.release_async().await.unwrap();
            });
        }
        // The server's cron closes connections idle for over 1 s.
        std::thread::sleep(Duration::from_millis(3500));
        let async_side = runtime.block_on(async {
            let guard = cachify.lock("job").acquire_async().await;
            let ok = guard.is_ok();
            if let Ok(guard) = guard {
                guard.release_async().await.unwrap();
            }
            ok
        });
        assert!(async_side, "async acquire after idle failed");
        let sync = cachify.lock("job").acquire();
        assert!(sync.is_ok(), "sync acquire after idle: {sync:?}");
        drop(sync);
    }
}

/// Deleting by pattern where a server or a cluster node is down fails: it never returns
/// a count that silently left the unreachable node's keys out. A connection the server
/// closed while idle is replaced, as for every other call.
mod pattern_deletion_under_faults {
    use support::redis::RedisCluster;

    use super::*;

    #[test]
    fn a_server_down_is_an_error() {
        let server = RedisServer::start(false);
        let cachify = redis_instance(&server.url(), cachify::RedisOptions::new());
        let key = cachify.cache_key("report-1");
        cachify.sync_client().set(&key, b"v", None, false).unwrap();
        server.kill();
        assert!(cachify.delete_matching("report-*").is_err());
    }

    #[tokio::test]
    async fn a_deletion_survives_the_server_closing_its_idle_connections() {
        let server = RedisServer::start(false);
        let cachify = redis_instance(&server.url(), cachify::RedisOptions::new());
        for i in 0..3 {
            let key = cachify.cache_key(&format!("report-{i}"));
            cachify.sync_client().set(&key, b"v", None, false).unwrap();
            cachify.async_client().get(&key).await.unwrap();
        }
        let kill_clients = || {
            let killed =
                support::redis::command(server.port(), &["CLIENT", "KILL", "TYPE", "normal"]);
            assert!(killed.is_ok(), "{killed:?}");
        };
        kill_clients();
        assert_eq!(
            cachify.delete_matching_async("report-[01]").await.unwrap(),
            2
        );
        kill_clients();
        assert_eq!(cachify.delete_matching("report-?").unwrap(), 1);
    }

    /// Masters announced at the wildcard address (`cluster-announce-ip 0.0.0.0`) are
    /// reached where the client reaches them, as redis-rs routes every other command.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn masters_announced_at_a_wildcard_address_are_scanned() {
        let cluster = RedisCluster::start();
        for node in &cluster.nodes {
            let endpoint = ["CONFIG", "SET", "cluster-announce-ip", "0.0.0.0"];
            let set = support::redis::command(node.port(), &endpoint);
            assert!(
                set.as_deref().is_ok_and(|reply| reply.contains("OK")),
                "{set:?}"
            );
        }
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = support::Backend::Memory
            .builder("no-host")
            .redis_cluster(&urls)
            .unwrap()
            .build();
        for i in 0..300 {
            let key = cachify.cache_key(&format!("report-{i}"));
            let stored = cachify.async_client().set(&key, b"v", None, false);
            stored.await.unwrap();
        }
        assert_eq!(
            cachify.delete_matching_async("report-*").await.unwrap(),
            300
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_node_down_is_an_error_not_a_partial_count() {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = support::Backend::Memory
            .builder("node-down")
            .redis_cluster(&urls)
            .unwrap()
            .build();
        for i in 0..300 {
            let key = cachify.cache_key(&format!("report-{i}"));
            cachify
                .async_client()
                .set(&key, b"v", None, false)
                .await
                .unwrap();
        }
        let down = format!(":{}", cluster.nodes[2].port());
        cluster.nodes[2].kill();
        let names_the_node = |deleted: &Result<u64, cachify::Error>| matches!(deleted, Err(error) if error.to_string().contains(&down));
        let deleted = cachify.delete_matching_async("report-*").await;
        assert!(names_the_node(&deleted), "{deleted:?}");
        let deleted = tokio::task::spawn_blocking(move || cachify.delete_matching("report-*"));
        let deleted = deleted.await.unwrap();
        assert!(names_the_node(&deleted), "{deleted:?}");
    }
}

/// A cluster whose nodes are all gone: the first failing call costs what it costs, and
/// trips the breaker; the next calls are skipped at once rather than each asking a seed
/// node why no node answered. A cluster of its own: the test kills it.
mod cluster_down {
    use support::redis::RedisCluster;

    use super::*;

    #[test]
    fn calls_after_the_first_failure_are_skipped_by_the_breaker() {
        let cluster = RedisCluster::start();
        let urls = cluster.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cachify = support::Backend::Memory
            .builder("cluster-down")
            .redis_cluster(&urls)
            .unwrap()
            .build();
        let key = cachify.cache_key("k");
        cachify.sync_client().set(&key, b"1", None, false).unwrap();
        for node in &cluster.nodes {
            node.kill();
        }
        let first = cachify.sync_client().get(&key).unwrap_err();
        println!("the first failure: {first}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let skipped = loop {
            let error = cachify.sync_client().get(&key).unwrap_err().to_string();
            if error.contains("skipped") {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
        };
        assert!(skipped, "the breaker opened for the unreachable cluster");
    }
}
