//! The near cache's figures, side by side with raw redis-rs calls on one `redis-server`
//! that the bench starts itself, in one run (skipped with a message when none is
//! installed):
//!
//! - `near hit`: a raw redis-rs `GET` (sync `redis::Connection`, async multiplexed
//!   connection), a redis-rs client-side cache hit (`cache-aio`: a RESP3 multiplexed
//!   connection with a `CacheConfig`), and a cachify near hit, sync and async, of
//!   `fn(u64) -> u64` and of a function returning a 64-byte `String`; a Redis hit without
//!   the near cache, and a memory-backend hit, for comparison.
//! - `near miss`: a `#[cached]` miss (a fresh key each call: read, run, store), with and
//!   without the near cache.
//! - `near write`: `reset` then a miss that stores, with and without the near cache.
//!
//! On a shared machine whole criterion groups move with the load, so the ratios the
//! issue sets goals for are also measured with both sides alternating in short blocks,
//! and printed as the median of the per-round ratios (`ratios:` lines).
//!
//! The async cases time their loop inside one `block_on`, so that what is measured is
//! the call, not entering the runtime.

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod server;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use cachify::{cached, Cachify, NearCache};
use criterion::{criterion_group, Criterion};
use redis::caching::CacheConfig;
use redis::AsyncConnectionConfig;

/// The key the raw `GET`s read: 64 bytes, as the `String` the near hits return.
const RAW_KEY: &str = "bench:raw";
/// The key of an integer for redis-rs's cache to parse, as `fn(u64) -> u64` returns.
const RAW_INT_KEY: &str = "bench:raw-int";
/// How many warm keys the hits cycle through (so a hit is not one hot map slot).
const KEYS: u64 = 1024;

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
        .expect("a runtime")
}

static URL: OnceLock<String> = OnceLock::new();

fn redis_instance(prefix: &str, near: bool) -> Cachify {
    let builder = Cachify::builder()
        .prefix(prefix)
        .redis(URL.get().expect("the server runs"))
        .expect("a Redis URL");
    let builder = if near {
        builder
            .near_cache(NearCache::new())
            .expect("a near cache after .redis()")
    } else {
        builder
    };
    builder.build()
}

/// Redis with the near cache, and the same without it.
static NEAR: LazyLock<Cachify> = LazyLock::new(|| redis_instance("near:", true));
static FAR: LazyLock<Cachify> = LazyLock::new(|| redis_instance("far:", false));
/// The memory backend.
/// A near cache on the prefix of [`WATCHED`], never called: its tracking connection gets
/// the invalidations of `WATCHED`'s writes, so a miss on `WATCHED` pays what the server
/// and this process spend on them, without the near cache's read path.
static WATCHER: LazyLock<Cachify> = LazyLock::new(|| redis_instance("watched:", true));
static WATCHED: LazyLock<Cachify> = LazyLock::new(|| redis_instance("watched:", false));
static MEMORY: LazyLock<Cachify> = LazyLock::new(|| Cachify::builder().prefix("mem:").build());

fn string_value(n: u64) -> String {
    format!("{n:0>64}")
}

#[cached(key = "s-{n}", cachify = NEAR, ttl = 3600)]
fn near_u64(n: u64) -> u64 {
    n * n
}

#[cached(key = "a-{n}", cachify = NEAR, ttl = 3600)]
async fn near_u64_async(n: u64) -> u64 {
    n * n
}

#[cached(key = "ss-{n}", cachify = NEAR, ttl = 3600)]
fn near_string(n: u64) -> String {
    string_value(n)
}

#[cached(key = "as-{n}", cachify = NEAR, ttl = 3600)]
async fn near_string_async(n: u64) -> String {
    string_value(n)
}

#[cached(key = "s-{n}", cachify = FAR, ttl = 3600)]
fn far_u64(n: u64) -> u64 {
    n * n
}

#[cached(key = "a-{n}", cachify = FAR, ttl = 3600)]
async fn far_u64_async(n: u64) -> u64 {
    n * n
}

#[cached(key = "s-{n}", cachify = MEMORY, ttl = 3600)]
fn memory_u64(n: u64) -> u64 {
    n * n
}

/// Misses: every call a fresh key (see [`next_key`]), kept for a minute on the server.
#[cached(key = "miss-{n}", cachify = NEAR, ttl = 60)]
fn near_miss(n: u64) -> u64 {
    n
}

#[cached(key = "miss-{n}", cachify = FAR, ttl = 60)]
fn far_miss(n: u64) -> u64 {
    n
}

#[cached(key = "miss-{n}", cachify = WATCHED, ttl = 60)]
fn watched_miss(n: u64) -> u64 {
    n
}

#[cached(key = "amiss-{n}", cachify = NEAR, ttl = 60)]
async fn near_miss_async(n: u64) -> u64 {
    n
}

#[cached(key = "amiss-{n}", cachify = FAR, ttl = 60)]
async fn far_miss_async(n: u64) -> u64 {
    n
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn next_key() -> u64 {
    NEXT_KEY.fetch_add(1, Ordering::Relaxed)
}

/// Writes: `reset` of a key, then the miss that stores it again.
fn near_write(n: u64) {
    near_u64::reset(n).expect("reset");
    black_box(near_u64(n));
}

fn far_write(n: u64) {
    far_u64::reset(n).expect("reset");
    black_box(far_u64(n));
}

async fn near_write_async(n: u64) {
    near_u64_async::reset(n).await.expect("reset");
    black_box(near_u64_async(n).await);
}

async fn far_write_async(n: u64) {
    far_u64_async::reset(n).await.expect("reset");
    black_box(far_u64_async(n).await);
}

/// `iters` calls of a sync function on warm keys; the time they took.
fn time_sync<R>(iters: u64, mut call: impl FnMut(u64) -> R) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        black_box(call(black_box(i % KEYS)));
    }
    start.elapsed()
}

/// `iters` calls of an async function on warm keys, in one `block_on`.
fn time_async<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    iters: u64,
    call: impl Fn(u64) -> F,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(call(black_box(i % KEYS)).await);
        }
        start.elapsed()
    })
}

/// The raw connections: a sync `GET`, an async multiplexed `GET`, and redis-rs's own
/// client-side cache (RESP3, `CacheConfig`, `CacheMode::All`: every `GET` cached).
struct Raw {
    sync: redis::Connection,
    multiplexed: redis::aio::MultiplexedConnection,
    client_cached: redis::aio::MultiplexedConnection,
}

impl Raw {
    fn connect(url: &str, runtime: &tokio::runtime::Runtime) -> Raw {
        let client = redis::Client::open(url).expect("a URL");
        let resp3 = redis::Client::open(format!("{url}/?protocol=resp3")).expect("a URL");
        let config = AsyncConnectionConfig::new().set_cache_config(CacheConfig::new());
        runtime.block_on(async {
            Raw {
                sync: client.get_connection().expect("a connection"),
                multiplexed: client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("a connection"),
                client_cached: resp3
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .expect("a RESP3 connection"),
            }
        })
    }
}

fn get_sync(connection: &mut redis::Connection) -> Vec<u8> {
    redis::cmd("GET")
        .arg(RAW_KEY)
        .query::<Vec<u8>>(connection)
        .expect("GET")
}

async fn get_async<T: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> T {
    redis::cmd("GET")
        .arg(key)
        .query_async::<T>(connection)
        .await
        .expect("GET")
}

fn setup(runtime: &tokio::runtime::Runtime, raw: &mut Raw) {
    redis::cmd("SET")
        .arg(RAW_KEY)
        .arg(string_value(7))
        .exec(&mut raw.sync)
        .expect("SET");
    redis::cmd("SET")
        .arg(RAW_INT_KEY)
        .arg(49u64)
        .exec(&mut raw.sync)
        .expect("SET");
    // The first call of a key stores it (which invalidates the near copy), the second
    // fills the near cache; from the third on they are near hits.
    for _ in 0..3 {
        for n in 0..KEYS {
            near_u64(n);
            near_string(n);
            far_u64(n);
            memory_u64(n);
        }
    }
    runtime.block_on(async {
        for _ in 0..3 {
            for n in 0..KEYS {
                near_u64_async(n).await;
                near_string_async(n).await;
                far_u64_async(n).await;
            }
        }
        get_async::<Vec<u8>>(&mut raw.client_cached, RAW_KEY).await;
        get_async::<u64>(&mut raw.client_cached, RAW_INT_KEY).await;
    });
}

fn near_hit(c: &mut Criterion, runtime: &tokio::runtime::Runtime, raw: &mut Raw) {
    let before = NEAR.stats();
    let cached_before = raw.client_cached.get_cache_statistics();
    let mut group = c.benchmark_group("near hit");
    group.bench_function("raw GET sync (redis::Connection, 64 B)", |b| {
        b.iter(|| get_sync(&mut raw.sync))
    });
    group.bench_function("raw GET async (multiplexed, 64 B)", |b| {
        b.iter_custom(|iters| {
            let connection = raw.multiplexed.clone();
            time_async(runtime, iters, |_| {
                let mut connection = connection.clone();
                async move { get_async::<Vec<u8>>(&mut connection, RAW_KEY).await }
            })
        })
    });
    group.bench_function("redis-rs cache-aio hit async (64 B -> Vec<u8>)", |b| {
        b.iter_custom(|iters| {
            time_async(runtime, iters, |_| {
                let mut connection = raw.client_cached.clone();
                async move { get_async::<Vec<u8>>(&mut connection, RAW_KEY).await }
            })
        })
    });
    group.bench_function("redis-rs cache-aio hit async (u64)", |b| {
        b.iter_custom(|iters| {
            time_async(runtime, iters, |_| {
                let mut connection = raw.client_cached.clone();
                async move { get_async::<u64>(&mut connection, RAW_INT_KEY).await }
            })
        })
    });
    group.bench_function("cachify near hit sync fn(u64) -> u64", |b| {
        b.iter_custom(|iters| time_sync(iters, near_u64))
    });
    group.bench_function("cachify near hit async fn(u64) -> u64", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, near_u64_async))
    });
    group.bench_function("cachify near hit sync fn(u64) -> String (64 B)", |b| {
        b.iter_custom(|iters| time_sync(iters, near_string))
    });
    group.bench_function("cachify near hit async fn(u64) -> String (64 B)", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, near_string_async))
    });
    group.bench_function(
        "cachify Redis hit, no near cache, sync fn(u64) -> u64",
        |b| b.iter_custom(|iters| time_sync(iters, far_u64)),
    );
    group.bench_function(
        "cachify Redis hit, no near cache, async fn(u64) -> u64",
        |b| b.iter_custom(|iters| time_async(runtime, iters, far_u64_async)),
    );
    group.bench_function("cachify memory hit sync fn(u64) -> u64", |b| {
        b.iter_custom(|iters| time_sync(iters, memory_u64))
    });
    group.finish();
    let during = NEAR.stats().since(&before);
    println!(
        "near cache during the hits: {} hits, {} of them near, {} misses",
        during.hits, during.near_hits, during.misses
    );
    if let (Some(before), Some(after)) = (cached_before, raw.client_cached.get_cache_statistics()) {
        println!(
            "redis-rs cache-aio during the hits: {} hits, {} misses",
            after.hit - before.hit,
            after.miss - before.miss
        );
    }
}

fn miss_and_write(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("near miss");
    group.bench_function("sync, with near cache", |b| {
        b.iter(|| near_miss(next_key()))
    });
    group.bench_function("sync, without", |b| b.iter(|| far_miss(next_key())));
    group.bench_function("async, with near cache", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, |_| near_miss_async(next_key())))
    });
    group.bench_function("async, without", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, |_| far_miss_async(next_key())))
    });
    group.finish();

    let mut group = c.benchmark_group("near write (reset + miss that stores)");
    group.bench_function("sync, with near cache", |b| {
        b.iter_custom(|iters| time_sync(iters, near_write))
    });
    group.bench_function("sync, without", |b| {
        b.iter_custom(|iters| time_sync(iters, far_write))
    });
    group.bench_function("async, with near cache", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, near_write_async))
    });
    group.bench_function("async, without", |b| {
        b.iter_custom(|iters| time_async(runtime, iters, far_write_async))
    });
    group.finish();
}

/// The median of `rounds` ratios `numerator time / denominator time`, each round timing
/// one block of each, alternately (which one goes first alternates too).
fn median_ratio(
    rounds: usize,
    mut numerator: impl FnMut() -> Duration,
    mut denominator: impl FnMut() -> Duration,
) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (top, bottom) = if round % 2 == 0 {
                let top = numerator();
                (top, denominator())
            } else {
                let bottom = denominator();
                (numerator(), bottom)
            };
            top.as_secs_f64() / bottom.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}

/// The ratios of the goals, both sides alternating in short blocks.
fn interleaved_ratios(runtime: &tokio::runtime::Runtime, raw: &mut Raw) {
    const ROUNDS: usize = 31;
    const GETS: u64 = 200;
    const HITS: u64 = 200_000;
    const MISSES: u64 = 100;
    let per_call = |block: Duration, calls: u64| block / calls as u32;
    // The writes before reset some of the hit keys: make them near hits again first.
    for _ in 0..2 {
        time_sync(KEYS, near_u64);
        time_async(runtime, KEYS, near_u64_async);
    }
    let sync_get = median_ratio(
        ROUNDS,
        || per_call(time_sync(GETS, |_| get_sync(&mut raw.sync)), GETS),
        || per_call(time_sync(HITS, near_u64), HITS),
    );
    let multiplexed = raw.multiplexed.clone();
    let async_get = median_ratio(
        ROUNDS,
        || {
            let block = time_async(runtime, GETS, |_| {
                let mut connection = multiplexed.clone();
                async move { get_async::<Vec<u8>>(&mut connection, RAW_KEY).await }
            });
            per_call(block, GETS)
        },
        || per_call(time_async(runtime, HITS, near_u64_async), HITS),
    );
    println!("ratios: raw GET / near hit fn(u64) -> u64: sync {sync_get:.0}x, async {async_get:.0}x (goal >= 500x)");
    let miss_sync = median_ratio(
        ROUNDS,
        || time_sync(MISSES, |_| near_miss(next_key())),
        || time_sync(MISSES, |_| far_miss(next_key())),
    );
    let miss_async = median_ratio(
        ROUNDS,
        || time_async(runtime, MISSES, |_| near_miss_async(next_key())),
        || time_async(runtime, MISSES, |_| far_miss_async(next_key())),
    );
    println!("ratios: miss with near cache / without: sync {miss_sync:.3}, async {miss_async:.3} (goal <= 1.1)");
    let write_sync = median_ratio(
        ROUNDS,
        || time_sync(MISSES, near_write),
        || time_sync(MISSES, far_write),
    );
    let write_async = median_ratio(
        ROUNDS,
        || time_async(runtime, MISSES, near_write_async),
        || time_async(runtime, MISSES, far_write_async),
    );
    println!("ratios: write (reset + storing miss) with near cache / without: sync {write_sync:.3}, async {write_async:.3} (goal <= 1.1)");
}

/// The server's command counters (`INFO commandstats`): command name → calls.
fn command_counts(connection: &mut redis::Connection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(connection)
        .expect("INFO");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.strip_prefix("calls=")?.split(',').next()?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// CPU time (ns) of each thread of process `pid`, summed by thread name.
fn cpu_by_thread(pid: &str) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ran = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        let ran: u64 = ran
            .split(' ')
            .next()
            .and_then(|ns| ns.parse().ok())
            .unwrap_or(0);
        *by_name.entry(name.trim().to_owned()).or_insert(0) += ran;
    }
    by_name
}

/// `after - before` per call, divided by `unit`, for the entries that moved.
fn per_call(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    calls: u64,
    unit: f64,
) -> String {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .filter_map(|(name, now)| {
            let moved = now.saturating_sub(before.get(name).copied().unwrap_or(0));
            let each = moved as f64 / calls as f64 / unit;
            (each >= 0.01).then(|| format!("{name} {each:.2}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The invalidation pushes a tracking connection on `prefix` (BCAST, as the near
/// cache's) receives per call of `call`, and the keys of the first one's.
fn invalidations_per_call(
    runtime: &tokio::runtime::Runtime,
    prefix: &str,
    call: &dyn Fn(),
) -> String {
    const CALLS: u64 = 100;
    let (pushes, received) = std::sync::mpsc::channel::<redis::PushInfo>();
    let url = format!("{}/?protocol=resp3", URL.get().expect("the server runs"));
    let config = AsyncConnectionConfig::new().set_push_sender(pushes);
    let mut tracking = runtime.block_on(async {
        let client = redis::Client::open(url).expect("a URL");
        let mut tracking = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("a RESP3 connection");
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(prefix)
            .exec_async(&mut tracking)
            .await
            .expect("CLIENT TRACKING");
        tracking
    });
    (0..CALLS).for_each(|_| call());
    // Replies come in order after the pushes sent before them.
    runtime.block_on(async {
        redis::cmd("PING")
            .exec_async(&mut tracking)
            .await
            .expect("PING")
    });
    let pushes: Vec<_> = received
        .try_iter()
        .filter(|push| push.kind == redis::PushKind::Invalidate)
        .collect();
    let keys = |push: &redis::PushInfo| -> Vec<String> {
        redis::from_redis_value_ref::<Vec<Vec<String>>>(&redis::Value::Array(push.data.clone()))
            .map(|keys| keys.concat())
            .unwrap_or_default()
    };
    let key_count: usize = pushes.iter().map(|push| keys(push).len()).sum();
    format!(
        "{:.2} pushes, {:.2} keys per call; the first: {:?}",
        pushes.len() as f64 / CALLS as f64,
        key_count as f64 / CALLS as f64,
        pushes.first().map(keys).unwrap_or_default()
    )
}

/// Where a miss and a write go, with and without the near cache: the commands the
/// server ran per call (those of scripts included), the wall time, and the CPU time of
/// the server and of each of this process's threads per call. CPU time (from
/// `/proc/*/task/*/schedstat`) moves less with the machine's load than wall time does.
fn where_calls_go(runtime: &tokio::runtime::Runtime, raw: &mut Raw, server_pid: &str) {
    const CALLS: u64 = 1000;
    let cases: [(&str, &dyn Fn()); 9] = [
        ("miss sync, with near cache", &|| {
            near_miss(next_key());
        }),
        ("miss sync, without", &|| {
            far_miss(next_key());
        }),
        ("miss sync, without, its prefix tracked", &|| {
            watched_miss(next_key());
        }),
        ("miss async, with near cache", &|| {
            runtime.block_on(near_miss_async(next_key()));
        }),
        ("miss async, without", &|| {
            runtime.block_on(far_miss_async(next_key()));
        }),
        ("write sync, with near cache", &|| {
            near_write(next_key() % KEYS)
        }),
        ("write sync, without", &|| far_write(next_key() % KEYS)),
        ("write async, with near cache", &|| {
            runtime.block_on(near_write_async(next_key() % KEYS))
        }),
        ("write async, without", &|| {
            runtime.block_on(far_write_async(next_key() % KEYS))
        }),
    ];
    LazyLock::force(&WATCHER);
    let me = std::process::id().to_string();
    for (name, call) in cases {
        let commands = command_counts(&mut raw.sync);
        let (server, client) = (cpu_by_thread(server_pid), cpu_by_thread(&me));
        let start = Instant::now();
        (0..CALLS).for_each(|_| call());
        let wall = start.elapsed() / CALLS as u32;
        let (server_after, client_after) = (cpu_by_thread(server_pid), cpu_by_thread(&me));
        let commands = per_call(&commands, &command_counts(&mut raw.sync), CALLS, 1.0);
        let server = server_after.values().sum::<u64>() - server.values().sum::<u64>();
        println!(
            "per call: {name}: wall {wall:.1?}; redis-server CPU {:.1} µs; this process's CPU (µs) by thread: {}; commands: {commands}",
            server as f64 / CALLS as f64 / 1e3,
            per_call(&client, &client_after, CALLS, 1e3),
        );
    }
    let miss = || {
        far_miss(next_key());
    };
    let write = || far_write(next_key() % KEYS);
    for (name, call) in [("miss", &miss as &dyn Fn()), ("write", &write)] {
        let pushes = invalidations_per_call(runtime, "far:", call);
        println!("invalidations of a tracking connection on the prefix, per {name}: {pushes}");
    }
}

fn benches(c: &mut Criterion) {
    if !installed() {
        eprintln!("benches/near_cache.rs: redis-server is not installed; skipping");
        return;
    }
    let server = server::RedisServer::start(false);
    URL.set(server.url()).expect("set once");
    let runtime = current_thread();
    let mut raw = Raw::connect(&server.url(), &runtime);
    setup(&runtime, &mut raw);
    near_hit(c, &runtime, &mut raw);
    miss_and_write(c, &runtime);
    where_calls_go(&runtime, &mut raw, &server::server_pid(server.port()));
    interleaved_ratios(&runtime, &mut raw);
    server.kill();
}

criterion_group! {
    name = near_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}

/// With `CACHIFY_NEAR_CALLS=<n>`, only starts the server, warms the keys and makes `n`
/// hits: near hits of the sync `fn(u64) -> u64`, or with `CACHIFY_NEAR_CALLS_OF=memory`
/// memory hits of it, `async` near hits of the async one, `string` near hits of the
/// sync `fn(u64) -> String`. Under callgrind, two runs with different `n` give the
/// instructions of one hit (see docs/src/performance.md).
fn calls_only() -> bool {
    let Ok(calls) = std::env::var("CACHIFY_NEAR_CALLS") else {
        return false;
    };
    let calls: u64 = calls.parse().expect("CACHIFY_NEAR_CALLS is a number");
    let server = server::RedisServer::start(false);
    URL.set(server.url()).expect("set once");
    let runtime = current_thread();
    for _ in 0..3 {
        (0..KEYS).for_each(|n| {
            near_u64(n);
            near_string(n);
            memory_u64(n);
            runtime.block_on(near_u64_async(n));
        });
    }
    let before = NEAR.stats();
    match std::env::var("CACHIFY_NEAR_CALLS_OF").as_deref() {
        Ok("memory") => time_sync(calls, memory_u64),
        Ok("async") => time_async(&runtime, calls, near_u64_async),
        Ok("string") => time_sync(calls, near_string),
        _ => time_sync(calls, near_u64),
    };
    let during = NEAR.stats().since(&before);
    println!("{} near hits, {} misses", during.near_hits, during.misses);
    server.kill();
    true
}

fn main() {
    if calls_only() {
        return;
    }
    near_benches();
    Criterion::default().configure_from_args().final_summary();
}
