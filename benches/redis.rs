//! Redis backend figures, side by side with raw redis-rs calls on the same server in the
//! same run. Starts its own `redis-server` (skipped with a message when none is
//! installed).
//!
//! - `sync_get`: one thread — raw `redis::Connection`, an r2d2 pool
//!   (`test_on_check_out(false)`), and `RedisClient`'s sync side.
//! - `sync_get_8_threads`: 8 threads hammering GET: r2d2 pool vs `RedisClient`.
//! - `async_get` / `async_get_64_concurrent`: raw multiplexed connection vs `RedisClient`,
//!   and the same two interleaved in short blocks, printed as a median cachify/raw ratio.
//! - `lock_acquire_release` (the fenced acquire), `set_nx_release` (the acquire before
//!   fencing tokens), `pool_enter_exit`: two round trips each, against one raw GET.
//! - `hand_off`: a release in one client until a waiter on another client holds the lock.
//! - `plain_miss`: a `#[cached]` miss nobody else shares (read, run, store), with
//!   fleet-wide single-flight on (the default) and off, and the two interleaved in short
//!   blocks, printed as the median extra time per miss, in `GET` round trips.
//! - `wait_for_replicas`: a sync lock acquire + release on a master with one replica,
//!   plain and with `RedisOptions::wait_for_replicas(1, ..)` (`WAIT 1` after the acquire).

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use cachify::instance::SingleFlight;
use cachify::{cached, AsyncClient, Cachify, RedisClient, RedisOptions, SyncClient};
use criterion::{criterion_group, criterion_main, Criterion};

const KEY: &str = "bench:hit";

fn installed() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sync_get(c: &mut Criterion, url: &str) {
    let raw = redis::Client::open(url).unwrap();
    let mut connection = raw.get_connection().unwrap();
    let pool = r2d2::Pool::builder()
        .max_size(16)
        .test_on_check_out(false)
        .build(raw.clone())
        .unwrap();
    let client = RedisClient::open(url).unwrap();
    let mut group = c.benchmark_group("sync_get");
    group.bench_function("raw_connection", |b| {
        b.iter(|| {
            redis::cmd("GET")
                .arg(KEY)
                .query::<Option<Vec<u8>>>(&mut connection)
                .unwrap()
        })
    });
    group.bench_function("r2d2_pool", |b| {
        b.iter(|| {
            let mut connection = pool.get().unwrap();
            redis::cmd("GET")
                .arg(KEY)
                .query::<Option<Vec<u8>>>(&mut *connection)
                .unwrap()
        })
    });
    group.bench_function("cachify", |b| {
        b.iter(|| SyncClient::get(&client, KEY).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("sync_get_8_threads");
    let pool = Arc::new(pool);
    group.bench_function("r2d2_pool", |b| {
        b.iter_custom(|iters| {
            on_threads(8, iters, {
                let pool = Arc::clone(&pool);
                move || {
                    let mut connection = pool.get().unwrap();
                    redis::cmd("GET")
                        .arg(KEY)
                        .query::<Option<Vec<u8>>>(&mut *connection)
                        .unwrap();
                }
            })
        })
    });
    group.bench_function("cachify", |b| {
        b.iter_custom(|iters| {
            on_threads(8, iters, {
                let client = client.clone();
                move || {
                    SyncClient::get(&client, KEY).unwrap();
                }
            })
        })
    });
    group.finish();
}

/// Runs `iters` calls spread over `threads` threads; the time of the whole batch.
fn on_threads(threads: u64, iters: u64, call: impl Fn() + Send + Clone + 'static) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let call = call.clone();
            std::thread::spawn(move || (0..iters.div_ceil(threads)).for_each(|_| call()))
        })
        .collect();
    handles
        .into_iter()
        .for_each(|handle| handle.join().unwrap());
    start.elapsed()
}

fn async_get(c: &mut Criterion, url: &str) {
    let runtime = current_thread();
    let raw = runtime.block_on(async {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    });
    let client = RedisClient::open(url).unwrap();
    let mut group = c.benchmark_group("async_get");
    group.bench_function("raw_multiplexed", |b| {
        b.iter(|| {
            runtime.block_on({
                let mut raw = raw.clone();
                async move {
                    redis::cmd("GET")
                        .arg(KEY)
                        .query_async::<Option<Vec<u8>>>(&mut raw)
                        .await
                        .unwrap()
                }
            })
        })
    });
    group.bench_function("cachify", |b| {
        b.iter(|| runtime.block_on(async { AsyncClient::get(&client, KEY).await.unwrap() }))
    });
    group.finish();

    let mut group = c.benchmark_group("async_get_64_concurrent");
    group.bench_function("raw_multiplexed", |b| {
        b.iter(|| {
            runtime.block_on({
                let raw = raw.clone();
                async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..64 {
                        let mut raw = raw.clone();
                        tasks.spawn(async move {
                            redis::cmd("GET")
                                .arg(KEY)
                                .query_async::<Option<Vec<u8>>>(&mut raw)
                                .await
                                .unwrap()
                        });
                    }
                    tasks.join_all().await
                }
            })
        })
    });
    group.bench_function("cachify", |b| {
        b.iter(|| {
            runtime.block_on({
                let client = client.clone();
                async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..64 {
                        let client = client.clone();
                        tasks.spawn(async move { AsyncClient::get(&client, KEY).await.unwrap() });
                    }
                    tasks.join_all().await
                }
            })
        })
    });
    group.finish();
}

/// The noise of a shared machine moves whole benchmarks by ±50 %, so criterion's
/// back-to-back groups can put raw and cachify in different weather. Here they alternate
/// in short blocks on the same runtime and connection setup, and the median of the
/// per-round ratios is printed (cachify time / raw time: 1.00 is parity).
fn interleaved_ratios(url: &str) {
    const ROUNDS: usize = 31;
    const CALLS: usize = 300;
    const TASKS: usize = 64;
    let runtime = current_thread();
    let raw = runtime.block_on(async {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    });
    let client = RedisClient::open(url).unwrap();
    let single = |cachify: bool| {
        let start = Instant::now();
        runtime.block_on(async {
            for _ in 0..CALLS {
                if cachify {
                    AsyncClient::get(&client, KEY).await.unwrap();
                } else {
                    let mut raw = raw.clone();
                    redis::cmd("GET")
                        .arg(KEY)
                        .query_async::<Option<Vec<u8>>>(&mut raw)
                        .await
                        .unwrap();
                }
            }
        });
        start.elapsed()
    };
    let concurrent = |cachify: bool| {
        let start = Instant::now();
        runtime.block_on(async {
            for _ in 0..CALLS / 30 {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..TASKS {
                    let client = client.clone();
                    let mut raw = raw.clone();
                    tasks.spawn(async move {
                        if cachify {
                            AsyncClient::get(&client, KEY).await.unwrap()
                        } else {
                            redis::cmd("GET")
                                .arg(KEY)
                                .query_async::<Option<Vec<u8>>>(&mut raw)
                                .await
                                .unwrap()
                        }
                    });
                }
                tasks.join_all().await;
            }
        });
        start.elapsed()
    };
    for (name, run) in [
        ("async_get", &single as &dyn Fn(bool) -> Duration),
        ("async_get_64_concurrent", &concurrent),
    ] {
        // Warm both up (the client binds a connection to this runtime on its 2nd call).
        run(false);
        run(true);
        let mut ratios: Vec<f64> = (0..ROUNDS)
            .map(|round| {
                // Alternate which goes first, so neither always follows the other.
                let (raw, cachify) = if round % 2 == 0 {
                    (run(false), run(true))
                } else {
                    let cachify = run(true);
                    (run(false), cachify)
                };
                cachify.as_secs_f64() / raw.as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{name}/interleaved: cachify / raw time, median of {ROUNDS} rounds: {:.3} \
             (quartiles {:.3} – {:.3})",
            ratios[ROUNDS / 2],
            ratios[ROUNDS / 4],
            ratios[3 * ROUNDS / 4]
        );
    }
}

fn round_trips(c: &mut Criterion, url: &str) {
    let runtime = current_thread();
    let client = RedisClient::open(url).unwrap();
    let mut group = c.benchmark_group("round_trips");
    group.bench_function("one_get", |b| {
        b.iter(|| runtime.block_on(async { AsyncClient::get(&client, KEY).await.unwrap() }))
    });
    // What a lock's acquire was before fencing tokens: `SET NX PX`, no counter.
    group.bench_function("set_nx_release", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ttl = Some(Duration::from_secs(30));
                assert!(AsyncClient::set(&client, "bench:lock", b"token", ttl, true)
                    .await
                    .unwrap());
                assert!(
                    AsyncClient::delete_if_equals(&client, "bench:lock", b"token")
                        .await
                        .unwrap()
                );
            })
        })
    });
    group.bench_function("lock_acquire_release", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ttl = Some(Duration::from_secs(30));
                assert!(
                    AsyncClient::lock_acquire(&client, "bench:lock", b"token", ttl)
                        .await
                        .unwrap()
                        .is_some()
                );
                assert!(
                    AsyncClient::delete_if_equals(&client, "bench:lock", b"token")
                        .await
                        .unwrap()
                );
            })
        })
    });
    group.bench_function("pool_enter_exit", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ttl = Some(Duration::from_secs(600));
                assert!(
                    AsyncClient::pool_acquire(&client, "bench:pool", "slot", 5, ttl)
                        .await
                        .unwrap()
                );
                assert!(AsyncClient::pool_release(&client, "bench:pool", "slot")
                    .await
                    .unwrap());
            })
        })
    });
    group.finish();
}

/// A holder on one client releases; a waiter on another client, parked on its watch,
/// wakes and takes the lock. Measured from just before the release to the waiter holding.
fn hand_off(c: &mut Criterion, url: &str) {
    let holder = RedisClient::open(url).unwrap();
    let waiter = RedisClient::open(url).unwrap();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (held_tx, held_rx) = mpsc::channel::<Instant>();
    let (go_tx, go_rx) = mpsc::channel::<bool>();
    let waiter_thread = std::thread::spawn(move || {
        while go_rx.recv().unwrap_or(false) {
            loop {
                let mut watch = SyncClient::watch(&waiter, "bench:handoff").unwrap();
                if SyncClient::set(&waiter, "bench:handoff", b"waiter", None, true).unwrap() {
                    break;
                }
                let _ = ready_tx.send(());
                watch.wait_blocking(Duration::from_secs(1));
            }
            let held = Instant::now();
            SyncClient::delete(&waiter, &["bench:handoff"]).unwrap();
            held_tx.send(held).unwrap();
        }
    });
    let hand_off = || {
        assert!(SyncClient::set(&holder, "bench:handoff", b"holder", None, true).unwrap());
        go_tx.send(true).unwrap();
        ready_rx.recv().unwrap();
        let start = Instant::now();
        SyncClient::delete_if_equals(&holder, "bench:handoff", b"holder").unwrap();
        let took = held_rx.recv().unwrap() - start;
        // Drain the extra "ready" a waiter sends if it raced a re-check.
        while ready_rx.try_recv().is_ok() {}
        took
    };
    c.benchmark_group("hand_off")
        .bench_function("release_to_waiter_holding", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| hand_off()).sum())
        });
    // Criterion's estimate is a mean, which the scheduling hiccups of a shared machine
    // dominate; the distribution of single hand-offs shows the typical one too.
    const HAND_OFFS: usize = 2_000;
    let mut took: Vec<Duration> = (0..HAND_OFFS).map(|_| hand_off()).collect();
    took.sort();
    let at = |quantile: f64| took[((HAND_OFFS - 1) as f64 * quantile) as usize];
    println!(
        "hand_off/distribution of {HAND_OFFS}: median {:?}, p90 {:?}, p99 {:?}, mean {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        took.iter().sum::<Duration>() / HAND_OFFS as u32
    );
    go_tx.send(false).unwrap();
    waiter_thread.join().unwrap();
}

static URL: OnceLock<String> = OnceLock::new();

fn miss_instance(prefix: &str, flight: SingleFlight) -> Cachify {
    Cachify::builder()
        .redis(URL.get().unwrap())
        .unwrap()
        .prefix(prefix)
        .single_flight(flight)
        .build()
}

static FLEET: LazyLock<Cachify> =
    LazyLock::new(|| miss_instance("miss-fleet:", SingleFlight::fleet()));
static PER_PROCESS: LazyLock<Cachify> =
    LazyLock::new(|| miss_instance("miss-alone:", SingleFlight::per_process()));
/// Every call a new key: every call a miss.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cached(key = "{n}", cachify = FLEET, ttl = 60)]
async fn miss_fleet(n: u64) -> u64 {
    n
}

#[cached(key = "{n}", cachify = PER_PROCESS, ttl = 60)]
async fn miss_per_process(n: u64) -> u64 {
    n
}

#[cached(key = "sync-{n}", cachify = FLEET, ttl = 60)]
fn miss_fleet_sync(n: u64) -> u64 {
    n
}

#[cached(key = "sync-{n}", cachify = PER_PROCESS, ttl = 60)]
fn miss_per_process_sync(n: u64) -> u64 {
    n
}

/// A plain miss with fleet-wide single-flight on and off; then the two interleaved, with
/// a raw `GET` round trip as the unit.
fn plain_miss(c: &mut Criterion, url: &str) {
    URL.get_or_init(|| url.to_owned());
    let runtime = current_thread();
    let mut group = c.benchmark_group("plain_miss");
    group.bench_function("async_fleet", |b| {
        b.iter(|| runtime.block_on(miss_fleet(next())))
    });
    group.bench_function("async_per_process", |b| {
        b.iter(|| runtime.block_on(miss_per_process(next())))
    });
    group.bench_function("sync_fleet", |b| b.iter(|| miss_fleet_sync(next())));
    group.bench_function("sync_per_process", |b| {
        b.iter(|| miss_per_process_sync(next()))
    });
    group.finish();

    const ROUNDS: usize = 31;
    const CALLS: usize = 200;
    let client = RedisClient::open(url).unwrap();
    let timed = |run: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..CALLS {
            run();
        }
        start.elapsed() / CALLS as u32
    };
    let get = || {
        runtime.block_on(async { AsyncClient::get(&client, KEY).await.unwrap() });
    };
    let fleet = || {
        runtime.block_on(miss_fleet(next()));
    };
    let alone = || {
        runtime.block_on(miss_per_process(next()));
    };
    let (mut extra, mut round_trip) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let (on, off) = if round % 2 == 0 {
            (timed(&fleet), timed(&alone))
        } else {
            let off = timed(&alone);
            (timed(&fleet), off)
        };
        let get = timed(&get);
        if round > 0 {
            // Round 0 warms connections up.
            extra.push(on.as_secs_f64() - off.as_secs_f64());
            round_trip.push(get.as_secs_f64());
        }
    }
    extra.sort_by(f64::total_cmp);
    round_trip.sort_by(f64::total_cmp);
    let (extra, get) = (extra[ROUNDS / 2], round_trip[ROUNDS / 2]);
    println!(
        "plain_miss/interleaved (async): fleet-wide single-flight adds {:.1} µs to a miss, \
         {:.2} GET round trips ({:.1} µs each), median of {ROUNDS} rounds",
        extra * 1e6,
        extra / get,
        get * 1e6
    );
}

/// What `wait_for_replicas` costs an acquire: a master with one replica, a lock acquired
/// and released on the sync side, plain and waiting for the replica.
fn wait_for_replicas(c: &mut Criterion, master: &server::RedisServer) {
    let replica = server::RedisServer::start_with(server::Options {
        args: ["--replicaof", "127.0.0.1", &master.port().to_string()]
            .map(String::from)
            .to_vec(),
        ..server::Options::default()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server::command(replica.port(), &["INFO", "replication"])
        .is_ok_and(|info| info.contains("master_link_status:up"))
    {
        assert!(Instant::now() < deadline, "the replica syncs");
        std::thread::sleep(Duration::from_millis(50));
    }
    let instance = |options: RedisOptions| {
        Cachify::builder()
            .prefix("bench-wait:")
            .redis_with(&master.url(), options)
            .unwrap()
            .build()
    };
    let plain = instance(RedisOptions::new());
    let acked = instance(RedisOptions::new().wait_for_replicas(1, Duration::from_millis(400)));
    let mut group = c.benchmark_group("wait_for_replicas");
    for (name, cachify) in [("plain", &plain), ("wait_1", &acked)] {
        let lock = cachify.lock("k").exp(Duration::from_secs(30));
        group.bench_function(name, |b| {
            b.iter(|| lock.acquire().unwrap().release().unwrap())
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    if !installed() {
        eprintln!("benches/redis.rs: redis-server is not installed; skipping the Redis benchmarks");
        return;
    }
    let server = server::RedisServer::start(false);
    let url = server.url();
    let setup = RedisClient::open(&url).unwrap();
    SyncClient::set(&setup, KEY, &[7u8; 64], None, false).unwrap();
    sync_get(c, &url);
    async_get(c, &url);
    // Cheap (under 2 s), so it runs whatever the filter.
    interleaved_ratios(&url);
    round_trips(c, &url);
    hand_off(c, &url);
    plain_miss(c, &url);
    wait_for_replicas(c, &server);
}

criterion_group! {
    name = redis_benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(redis_benches);
