//! Redis as it is deployed: TLS (`rediss://`, a custom CA, mutual TLS, a TLS cluster)
//! and a Sentinel-managed master that fails over. Every server is started by this binary
//! (once each), with certificates it makes.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachify::{cached, Cachify, Error, RedisOptions};
use support::redis::{command, RedisServer};
use support::sentinel::{SentinelSet, MASTER_NAME};
use support::tls;

/// Long enough to never be what frees a lock within a test.
const LONG: Duration = Duration::from_secs(30);
/// "Well under a second": a wake-up, not a poll (the poll interval is 10 s).
const PROMPT: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(10);

/// Options trusting the test CA.
fn tls_options() -> RedisOptions {
    RedisOptions::new().tls_root_certificates(tls::pki().ca.clone())
}

/// An instance polling only every 10 s, so that a prompt acquire proves a wake-up.
fn builder(test: &str) -> cachify::CachifyBuilder {
    Cachify::builder()
        .prefix(support::unique_prefix(test))
        .lock_poll_interval(Duration::from_secs(10))
}

/// Waits until a server among `ports` has a subscriber on a channel naming `lock_key`:
/// the waiter watches for its release.
fn wait_for_subscriber(ports: &[u16], lock_key: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !ports.iter().any(|port| {
        command(*port, &["PUBSUB", "CHANNELS", "*"]).is_ok_and(|reply| reply.contains(lock_key))
    }) {
        assert!(Instant::now() < deadline, "the waiter never subscribed");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A lock, a waiter on it, and how long after the release the waiter got it.
fn wake_up_latency(cachify: &Cachify, ports: &[u16]) -> Result<Duration, Error> {
    let lock = cachify.lock("woken").exp(LONG);
    let holder = lock.acquire()?;
    let waiter = {
        let lock = lock.clone().nowait(false).timeout(LONG);
        std::thread::spawn(move || lock.acquire().map(|guard| (Instant::now(), guard)))
    };
    wait_for_subscriber(ports, &cachify.lock_key("woken"));
    let released = Instant::now();
    holder.release()?;
    let (acquired, guard) = waiter.join().expect("the waiter panicked")?;
    guard.release()?;
    Ok(acquired - released)
}

/// Locks exclude, pools count and free their slots, on the sync side.
fn locks_and_pools(cachify: &Cachify) -> Result<(), Error> {
    let lock = cachify.lock("exclusive").exp(LONG);
    let guard = lock.acquire()?;
    assert!(matches!(
        lock.clone().nowait(true).acquire(),
        Err(Error::Locked { .. })
    ));
    guard.release()?;
    assert!(!lock.is_locked()?);
    let pool = cachify.pool("pool", 2);
    let slots = (pool.acquire()?, pool.acquire()?);
    assert!(
        pool.clone().nowait(true).acquire().is_err(),
        "the pool is full"
    );
    assert_eq!(pool.size()?, 2);
    drop(slots);
    cachify::flush_releases(PATIENCE);
    assert_eq!(pool.size()?, 0);
    Ok(())
}

/// The same on the async side.
async fn locks_and_pools_async(cachify: &Cachify) -> Result<(), Error> {
    let lock = cachify.lock("exclusive-async").exp(LONG);
    let guard = lock.acquire_async().await?;
    assert!(lock.is_locked_async().await?);
    guard.release_async().await?;
    let pool = cachify.pool("pool-async", 1);
    let slot = pool.acquire_async().await?;
    assert_eq!(pool.size_async().await?, 1);
    slot.release_async().await?;
    assert_eq!(pool.size_async().await?, 0);
    Ok(())
}

/// Tests of one deployment: `$instance` builds its `Cachify`, `$ports` lists the plain
/// ports of its servers (for `PUBSUB`).
macro_rules! deployment {
    ($name:ident, $instance:expr, $ports:expr) => {
        mod $name {
            use super::*;

            static C: LazyLock<Cachify> = LazyLock::new(|| {
                let instance: fn() -> Cachify = $instance;
                instance()
            });
            static CALLS: AtomicUsize = AtomicUsize::new(0);

            #[cached(key = "square-{n}", cachify = C)]
            fn square(n: u64) -> u64 {
                CALLS.fetch_add(1, SeqCst);
                n * n
            }

            #[cached(key = "cube-{n}", cachify = C)]
            async fn cube(n: u64) -> u64 {
                CALLS.fetch_add(1, SeqCst);
                n * n * n
            }

            #[test]
            fn caches_locks_and_pools_on_the_sync_side() -> Result<(), Error> {
                let before = CALLS.load(SeqCst);
                assert_eq!((square(7), square(7)), (49, 49));
                assert_eq!(CALLS.load(SeqCst) - before, 1, "the second call was a hit");
                locks_and_pools(&C)
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn caches_locks_and_pools_on_the_async_side() -> Result<(), Error> {
                let before = CALLS.load(SeqCst);
                assert_eq!((cube(3).await, cube(3).await), (27, 27));
                assert_eq!(CALLS.load(SeqCst) - before, 1, "the second call was a hit");
                locks_and_pools_async(&C).await
            }

            #[test]
            fn a_waiter_is_woken_by_the_release_not_the_poll() -> Result<(), Error> {
                let ports: Vec<u16> = $ports;
                let latency = wake_up_latency(&C, &ports)?;
                assert!(latency < PROMPT, "the waiter took {latency:?}");
                Ok(())
            }
        }
    };
}

// --- TLS ---------------------------------------------------------------------------

deployment!(
    tls_server,
    || builder("tls")
        .redis_with(&tls::server().tls_url(), tls_options())
        .expect("valid options")
        .build(),
    vec![tls::server().port()]
);

deployment!(
    tls_cluster,
    || {
        let urls = tls::cluster().tls_urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        builder("tls-cluster")
            .redis_cluster_with(&urls, tls_options())
            .expect("valid options")
            .build()
    },
    tls::cluster().nodes.iter().map(RedisServer::port).collect()
);

deployment!(
    mutual_tls,
    || {
        let pki = tls::pki();
        let options =
            tls_options().tls_client_certificate(pki.client_cert.clone(), pki.client_key.clone());
        builder("mtls")
            .redis_with(&tls::mutual_server().tls_url(), options)
            .expect("valid options")
            .build()
    },
    vec![tls::mutual_server().port()]
);

#[test]
fn on_a_cluster_an_acquire_no_replica_acknowledges_fails_and_is_released() -> Result<(), Error> {
    // The test cluster has no replicas: `WAIT` runs on the key's node and answers 0.
    let urls = tls::cluster().tls_urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let options = tls_options().wait_for_replicas(1, Duration::from_millis(20));
    let cachify = builder("cluster-unacked")
        .redis_cluster_with(&urls, options)
        .expect("valid options")
        .build();
    let lock = cachify.lock("k").exp(LONG);
    let error = lock.acquire().expect_err("no replica");
    assert!(error.to_string().contains("0 of 1 replica"), "{error}");
    assert!(!lock.is_locked()?, "released");
    Ok(())
}

mod wrong_ca {
    use super::*;

    static UNTRUSTING: LazyLock<Cachify> = LazyLock::new(|| {
        let options = RedisOptions::new().tls_root_certificates(tls::pki().other_ca.clone());
        builder("wrong-ca")
            .redis_with(&tls::server().tls_url(), options)
            .expect("a CA that signed nothing is still a valid CA")
            .build()
    });
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "n-{n}", cachify = UNTRUSTING)]
    fn double(n: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        n * 2
    }

    #[test]
    fn is_a_clear_error_on_first_use_not_a_hang() {
        let started = Instant::now();
        let error = UNTRUSTING
            .lock("k")
            .acquire()
            .expect_err("an untrusted server");
        let message = error.to_string();
        assert!(
            message.contains("certificate") || message.contains("UnknownIssuer"),
            "names the certificate: {message}"
        );
        assert!(started.elapsed() < PATIENCE, "took {:?}", started.elapsed());
    }

    #[test]
    fn cached_fails_open() {
        assert_eq!((double(4), double(4)), (8, 8));
        assert_eq!(CALLS.load(SeqCst), 2, "every call ran the body");
    }
}

#[test]
fn a_malformed_ca_is_an_error_when_built() {
    let options = RedisOptions::new().tls_root_certificates(b"not a certificate".to_vec());
    let error = Cachify::builder()
        .redis_with(&tls::server().tls_url(), options)
        .expect_err("a malformed CA");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[test]
fn a_ca_bundle_with_a_malformed_second_certificate_is_an_error_when_built() {
    let mut bundle = tls::pki().ca.clone();
    bundle.push_str("\n-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n");
    let options = RedisOptions::new().tls_root_certificates(bundle);
    let error = Cachify::builder()
        .redis_with(&tls::server().tls_url(), options)
        .expect_err("the second certificate does not parse");
    assert!(error.to_string().contains("PEM"), "{error}");
}

#[test]
fn tls_certificates_need_a_rediss_url() {
    let error = Cachify::builder()
        .redis_with(&tls::server().url(), tls_options())
        .expect_err("TLS options on a redis:// URL");
    assert!(error.to_string().contains("rediss://"), "{error}");
}

#[test]
fn mutual_tls_without_a_client_certificate_is_refused() {
    let cachify = builder("mtls-anonymous")
        .redis_with(&tls::mutual_server().tls_url(), tls_options())
        .expect("valid options")
        .build();
    let started = Instant::now();
    let error = cachify
        .lock("k")
        .acquire()
        .expect_err("no client certificate");
    assert!(matches!(error, Error::Backend(_)), "{error:?}");
    assert!(started.elapsed() < PATIENCE, "took {:?}", started.elapsed());
}

// --- Sentinel ------------------------------------------------------------------------

/// A sentinel set that never fails over, for the tests that need a replica.
fn stable() -> &'static SentinelSet {
    static SET: LazyLock<SentinelSet> = LazyLock::new(SentinelSet::start);
    &SET
}

fn sentinel_instance(set: &SentinelSet, test: &str, options: RedisOptions) -> Cachify {
    let urls = set.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    builder(test)
        .redis_sentinel_with(&urls, MASTER_NAME, options)
        .expect("the sentinels name the master")
        .build()
}

#[test]
fn an_unknown_master_name_is_an_error_when_built() {
    let urls = stable().urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let error = Cachify::builder()
        .redis_sentinel(&urls, "no-such-master")
        .expect_err("nobody knows that name");
    assert!(error.to_string().contains("sentinels"), "{error}");
}

#[test]
fn tls_with_open_sentinel_is_refused_rather_than_dialled_in_plaintext() {
    let urls = stable().urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let error = cachify::RedisClient::open_sentinel(&urls, MASTER_NAME, tls_options())
        .expect_err("a CA that would not be used");
    assert!(
        matches!(
            error,
            Error::InvalidOption {
                option: "open_sentinel",
                ..
            }
        ),
        "{error}"
    );
    let tls_urls: Vec<String> = urls
        .iter()
        .map(|url| url.replace("redis://", "rediss://"))
        .collect();
    let tls_urls: Vec<&str> = tls_urls.iter().map(String::as_str).collect();
    let error = cachify::RedisClient::open_sentinel(&tls_urls, MASTER_NAME, RedisOptions::new())
        .expect_err("rediss:// sentinels");
    assert!(matches!(error, Error::InvalidOption { .. }), "{error}");
}

#[test]
fn timeouts_of_duration_max_do_not_overflow() -> Result<(), Error> {
    let options = RedisOptions::new()
        .connect_timeout(Duration::MAX)
        .response_timeout(Duration::MAX)
        .wait_for_replicas(1, Duration::MAX);
    let cachify = sentinel_instance(stable(), "max", options);
    cachify.lock("k").acquire()?.release()
}

#[test]
fn acquires_wait_for_a_replica_when_asked() -> Result<(), Error> {
    let options = RedisOptions::new().wait_for_replicas(1, Duration::from_secs(2));
    let cachify = sentinel_instance(stable(), "acked", options);
    locks_and_pools(&cachify)
}

#[test]
fn an_acquire_too_few_replicas_acknowledge_fails_and_is_released() -> Result<(), Error> {
    // Two replicas asked of a master that has one.
    let options = RedisOptions::new().wait_for_replicas(2, Duration::from_millis(50));
    let cachify = sentinel_instance(stable(), "unacked", options);
    let lock = cachify.lock("k").exp(LONG);
    let error = lock.acquire().expect_err("one replica of two");
    assert!(error.to_string().contains("acknowledged"), "{error}");
    assert!(!lock.is_locked()?, "released");
    let pool = cachify.pool("p", 3);
    assert!(pool.acquire().is_err());
    assert_eq!(pool.size()?, 0, "the slot was given back");
    Ok(())
}

#[test]
fn a_replica_wait_beyond_the_response_timeout_is_a_shortfall_not_an_outage() -> Result<(), Error> {
    // Two replicas asked of a master that has one, for longer than a reply may take:
    // the wait is cut short, the acquire undone, and the server still counted as up.
    let options = RedisOptions::new()
        .response_timeout(Duration::from_secs(1))
        .wait_for_replicas(2, Duration::from_secs(3));
    let cachify = sentinel_instance(stable(), "lagging", options);
    let lock = cachify.lock("k").exp(LONG);
    let error = lock.acquire().expect_err("one replica of two");
    assert!(error.to_string().contains("acknowledged"), "{error}");
    assert!(
        !lock.is_locked()?,
        "released, and the breaker stayed closed"
    );
    Ok(())
}

mod failover {
    use super::*;

    static SET: LazyLock<SentinelSet> = LazyLock::new(SentinelSet::start_failing_over);
    static C: LazyLock<Cachify> =
        LazyLock::new(|| sentinel_instance(&SET, "failover", RedisOptions::new()));
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "n-{n}", cachify = C)]
    fn triple(n: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        n * 3
    }

    #[test]
    fn the_same_instance_caches_locks_pools_and_wakes_after_a_failover() -> Result<(), Error> {
        // One runtime before and after: its own connection (bound on its second call)
        // must follow the master too.
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        assert_eq!(triple(1), 3);
        locks_and_pools(&C)?;
        runtime.block_on(locks_and_pools_async(&C))?;
        // A waiter's subscription lives on the master too.
        assert!(wake_up_latency(&C, &[SET.master.port()])? < PROMPT);

        let killed = Instant::now();
        SET.master.kill();
        let lock = C.lock("after").exp(LONG).nowait(true);
        let recovered = loop {
            match lock.acquire() {
                Ok(guard) => {
                    guard.release()?;
                    break killed.elapsed();
                }
                Err(error) => {
                    assert!(killed.elapsed() < LONG, "never recovered: {error}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        println!("from SIGKILL of the master to the first lock acquired: {recovered:?}");
        SET.wait_for_failover();

        let before = CALLS.load(SeqCst);
        assert_eq!((triple(2), triple(2)), (6, 6));
        assert_eq!(CALLS.load(SeqCst) - before, 1, "cached on the new master");
        locks_and_pools(&C)?;
        runtime.block_on(locks_and_pools_async(&C))?;
        let latency = wake_up_latency(&C, &[SET.replica.port()])?;
        assert!(
            latency < PROMPT,
            "the waiter took {latency:?} after the failover"
        );
        Ok(())
    }
}

// --- Near cache tracking ------------------------------------------------------------

mod near_tracking {
    use cachify::__private::near_tracking::{Event, NearProbe, Tracked};
    use cachify::backend::RedisClusterClient;
    use cachify::RedisClient;

    use super::*;

    const CHECK: Duration = Duration::from_millis(100);

    /// Waits for `event`, skipping those `skippable` allows.
    fn expect(tracked: &Tracked, event: Event, skippable: impl Fn(&Event) -> bool) {
        let skipped = tracked.wait_for(LONG, |seen| *seen == event);
        let skipped = skipped.unwrap_or_else(|| panic!("no {event:?} within {LONG:?}"));
        assert!(
            skipped.iter().all(skippable),
            "before {event:?}: {skipped:?}"
        );
    }

    fn invalidated(tracked: &Tracked, key: &str) {
        let named = |event: &Event| matches!(event, Event::Invalidated(keys) if keys.iter().any(|k| k == key.as_bytes()));
        assert!(
            tracked.wait_for(LONG, named).is_some(),
            "no invalidation of {key}"
        );
    }

    #[test]
    fn tracks_over_tls_on_a_server_and_each_master_of_a_cluster() {
        let server = RedisClient::open_with(&tls::server().tls_url(), tls_options()).unwrap();
        let tracked = NearProbe::redis(&server).track("near-tls:", CHECK).unwrap();
        expect(&tracked, Event::Ready, |_| false);
        let reply = command(tls::server().port(), &["SET", "near-tls:k", "1"]).unwrap();
        assert!(reply.starts_with("+OK"), "{reply}");
        invalidated(&tracked, "near-tls:k");

        let urls = tls::cluster().tls_urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let cluster = RedisClusterClient::open_with(&urls, tls_options()).unwrap();
        let tracked = NearProbe::cluster(&cluster)
            .track("near-tls:", CHECK)
            .unwrap();
        expect(&tracked, Event::Ready, |_| false);
        for node in &tls::cluster().nodes {
            let key = (0..10_000)
                .map(|n| format!("near-tls:{n}"))
                .find(|key| {
                    command(node.port(), &["SET", key, "1"]).is_ok_and(|r| r.starts_with("+OK"))
                })
                .expect("a key on every node");
            invalidated(&tracked, &key);
        }
    }

    /// A graceful failover leaves the demoted master answering reads, as a replica of
    /// the promoted one: tracking follows the sentinels at once, and must not be ready
    /// while the client's reads still go to the old master.
    #[test]
    fn on_sentinel_tracking_is_ready_only_once_reads_go_to_the_tracked_master() {
        let set = SentinelSet::start();
        let urls = set.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let client = RedisClient::open_sentinel(&urls, MASTER_NAME, RedisOptions::new()).unwrap();
        let probe = NearProbe::redis(&client);
        let tracked = probe.track("near-demoted:", CHECK).unwrap();
        expect(&tracked, Event::Ready, |_| false);
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        // Connections to the master are open on both sides.
        probe.get_with_ttl_blocking("near-demoted:k").unwrap();
        runtime
            .block_on(probe.get_with_ttl("near-demoted:k"))
            .unwrap();

        let sentinel = set.sentinels[0].port();
        let reply = command(sentinel, &["SENTINEL", "FAILOVER", MASTER_NAME]).unwrap();
        assert!(reply.starts_with("+OK"), "{reply}");
        set.wait_for_failover();
        let promoted = set.replica.port();
        let deadline = Instant::now() + LONG;
        while !has_tracking_client(promoted) {
            assert!(
                Instant::now() < deadline,
                "tracking did not follow the sentinels"
            );
            std::thread::sleep(CHECK / 4);
        }
        // The old master's session was reported lost before this one connected: the
        // last Ready from now on is this session's.
        let mut last = None;
        while let Some(event) = tracked.next_event(Duration::ZERO) {
            last = Some(event);
        }
        if last != Some(Event::Ready) {
            expect(&tracked, Event::Ready, |_| true);
        }

        let before = pttl_calls(promoted);
        probe
            .get_with_ttl_blocking("near-demoted:k")
            .expect("a sync read");
        runtime
            .block_on(probe.get_with_ttl("near-demoted:k"))
            .expect("an async read");
        assert_eq!(
            pttl_calls(promoted),
            before + 2,
            "a read went to the demoted master"
        );
    }

    fn has_tracking_client(port: u16) -> bool {
        let list = command(port, &["CLIENT", "LIST"]).unwrap();
        list.lines().any(|line| {
            line.split(' ').any(|field| {
                field
                    .strip_prefix("flags=")
                    .is_some_and(|f| f.contains('t'))
            })
        })
    }

    /// How many `PTTL`s the server at `port` ran: one per near cache read.
    fn pttl_calls(port: u16) -> u64 {
        let stats = command(port, &["INFO", "commandstats"]).unwrap();
        let pttl = stats.lines().find(|line| line.starts_with("cmdstat_pttl:"));
        let calls =
            pttl.and_then(|line| line.split(',').next()?.strip_prefix("cmdstat_pttl:calls="));
        calls.and_then(|calls| calls.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn on_sentinel_tracking_follows_the_master_across_a_failover() {
        let set = SentinelSet::start_failing_over();
        let urls = set.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let client = RedisClient::open_sentinel(&urls, MASTER_NAME, RedisOptions::new()).unwrap();
        let tracked = NearProbe::redis(&client)
            .track("near-sentinel:", CHECK)
            .unwrap();
        expect(&tracked, Event::Ready, |_| false);

        set.master.kill();
        expect(&tracked, Event::Lost, |_| false);
        set.wait_for_failover();
        expect(&tracked, Event::Ready, |event| *event == Event::Lost);
        let reply = command(set.replica.port(), &["SET", "near-sentinel:k", "1"]).unwrap();
        assert!(
            reply.starts_with("+OK"),
            "the promoted replica takes writes: {reply}"
        );
        invalidated(&tracked, "near-sentinel:k");
    }
}
