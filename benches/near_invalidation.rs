//! Invalidation latency of the near cache across two OS processes: process A `reset`s a
//! key that process B holds as a near hit; how long after A's `reset` returned does B's
//! next call miss?
//!
//! `cargo bench --bench near_invalidation [-- redis|cluster]`. The bench starts its own
//! `redis-server` (and a 3-master cluster), then runs itself again as process B (the
//! child mode is chosen by an environment variable). Both processes build the same
//! near-cached instance and call the same `#[cached]` function. Per trial, on a fresh key:
//!
//! 1. A writes the key's number to B's stdin.
//! 2. B calls the function until a call is a near hit (`Stats::near_hits` moved), writes
//!    `ready` and at once starts calling it in a loop, yielding the CPU between calls,
//!    until the body runs (a counter moves): that call was the miss.
//! 3. A, on reading `ready`, calls `reset` and reads the wall clock as it returns.
//! 4. B writes the wall-clock time at which its missing call started, and the time its
//!    body ran (after the miss's read), then waits for the next trial.
//!
//! Latency = B's missing call's start − A's `reset` return, both `SystemTime` on one
//! machine. Neither process sleeps: they wait on each other's pipes. A latency can be
//! negative when B sees the invalidation push before A reads the `DEL`'s reply.

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod server;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachify::{cached, Cachify, NearCache};

const TRIALS: u64 = 1_000;
/// Set in process B: `redis` or `cluster`, then a space and the node URLs, space-separated.
const CHILD: &str = "CACHIFY_NEAR_INVALIDATION_CHILD";
/// How long B waits for a near hit, or for the miss, before it reports the trial lost.
const PATIENCE: Duration = Duration::from_secs(10);

/// Which deployment the instance talks to, and its node URLs.
static TARGET: OnceLock<(String, Vec<String>)> = OnceLock::new();

static INSTANCE: LazyLock<Cachify> = LazyLock::new(|| {
    let (kind, urls) = TARGET.get().expect("the target is set first");
    let builder = Cachify::builder().prefix("near-invalidation:");
    let builder = match kind.as_str() {
        "cluster" => {
            let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
            builder.redis_cluster(&urls)
        }
        _ => builder.redis(&urls[0]),
    };
    builder
        .expect("a Redis URL")
        .near_cache(NearCache::new())
        .expect("a near cache after the backend")
        .build()
});

/// How many times the body ran in this process.
static BODY_RUNS: AtomicU64 = AtomicU64::new(0);
/// When the body last ran (nanoseconds since the Unix epoch).
static BODY_AT: AtomicU64 = AtomicU64::new(0);

#[cached(key = "k-{n}", cachify = INSTANCE, ttl = 600)]
fn value(n: u64) -> u64 {
    BODY_AT.store(now(), Ordering::Relaxed);
    BODY_RUNS.fetch_add(1, Ordering::Relaxed);
    n
}

/// The wall clock, in nanoseconds since the Unix epoch.
fn now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

fn main() {
    match std::env::var(CHILD) {
        Ok(target) => process_b(&target),
        Err(_) => process_a(),
    }
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Starts the servers and runs the trials on each deployment the arguments name (both
/// when they name none; `cargo bench` adds `--bench`, which is ignored).
fn process_a() {
    if !installed() {
        eprintln!("benches/near_invalidation.rs: redis-server is not installed; skipping");
        return;
    }
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |kind: &str| named.is_empty() || named.iter().any(|name| name == kind);
    // One deployment per process: the instance is a static built from TARGET.
    if let Ok(kind) = std::env::var("CACHIFY_NEAR_INVALIDATION_ONLY") {
        return run_deployment(&kind);
    }
    for kind in ["redis", "cluster"].into_iter().filter(|kind| wanted(kind)) {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .env("CACHIFY_NEAR_INVALIDATION_ONLY", kind)
            .status()
            .expect("the bench runs itself");
        assert!(status.success(), "the {kind} run failed");
    }
}

/// Starts `kind`'s servers, process B, and runs the trials against it.
fn run_deployment(kind: &str) {
    let (urls, _servers): (Vec<String>, Box<dyn std::any::Any>) = match kind {
        "cluster" => {
            let cluster = server::RedisCluster::start();
            (cluster.urls(), Box::new(cluster))
        }
        _ => {
            let single = server::RedisServer::start(false);
            (vec![single.url()], Box::new(single))
        }
    };
    let spec = format!("{kind} {}", urls.join(" "));
    TARGET
        .set((kind.to_owned(), urls))
        .expect("the target is set once");
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, &spec)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("process B starts");
    let mut to_b = child.stdin.take().expect("B's stdin");
    let mut from_b = BufReader::new(child.stdout.take().expect("B's stdout")).lines();
    let mut read = || from_b.next().expect("B answers").expect("B's line");
    let mut to_call = Vec::with_capacity(TRIALS as usize);
    let mut to_body = Vec::with_capacity(TRIALS as usize);
    let mut lost = 0;
    let started = Instant::now();
    for trial in 0..TRIALS {
        writeln!(to_b, "{trial}").expect("B reads");
        to_b.flush().expect("B reads");
        if read() != "ready" {
            lost += 1;
            continue;
        }
        value::reset(trial).expect("reset");
        let reset_returned = now();
        let answer = read();
        let mut times = answer.split(' ').map(str::parse::<u64>);
        match (times.next(), times.next()) {
            (Some(Ok(call)), Some(Ok(body))) => {
                to_call.push(call as i64 - reset_returned as i64);
                to_body.push(body as i64 - reset_returned as i64);
            }
            _ => lost += 1,
        }
    }
    drop(to_b);
    child.wait().expect("B exits");
    println!(
        "{kind}: {} trials in {:.1} s, {lost} lost (B saw no near hit, or no miss, within {PATIENCE:?})",
        TRIALS,
        started.elapsed().as_secs_f64()
    );
    report(kind, "reset returned -> B's missing call started", to_call);
    report(
        kind,
        "reset returned -> B's body ran (after the miss's read)",
        to_body,
    );
}

fn report(kind: &str, what: &str, mut nanos: Vec<i64>) {
    if nanos.is_empty() {
        return;
    }
    nanos.sort_unstable();
    let at = |quantile: f64| {
        let index = ((nanos.len() - 1) as f64 * quantile).round() as usize;
        nanos[index] as f64 / 1e3
    };
    let negative = nanos.iter().filter(|nanos| **nanos < 0).count();
    println!(
        "{kind}: {what}: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs, min {:.1} µs ({negative} negative)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        at(0.0),
    );
}

/// Process B: for each key number read from stdin, make the key a near hit, say
/// `ready`, then call until a miss and write when it happened.
fn process_b(spec: &str) {
    let mut parts = spec.split(' ').map(str::to_owned);
    let kind = parts.next().expect("a deployment");
    TARGET
        .set((kind, parts.collect()))
        .expect("the target is set once");
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(n) = line.expect("A's line").trim().parse::<u64>() else {
            continue;
        };
        let mut out = stdout.lock();
        if !make_near_hit(n) {
            writeln!(out, "no near hit").expect("A reads");
            out.flush().expect("A reads");
            continue;
        }
        writeln!(out, "ready").expect("A reads");
        out.flush().expect("A reads");
        let answer = match call_until_miss(n) {
            Some(call) => format!("{call} {}", BODY_AT.load(Ordering::Relaxed)),
            None => "no miss".to_owned(),
        };
        writeln!(out, "{answer}").expect("A reads");
        out.flush().expect("A reads");
    }
}

/// Calls `value(n)` until one call is served by the near cache; false if none is within
/// [`PATIENCE`] (tracking down).
fn make_near_hit(n: u64) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let before = INSTANCE.stats().near_hits;
        value(n);
        if INSTANCE.stats().near_hits > before {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// Calls `value(n)` until its body runs; when that call started. Yields the CPU between
/// calls, so that this process's tracking connection and process A get to run on a busy
/// machine.
fn call_until_miss(n: u64) -> Option<u64> {
    let runs = BODY_RUNS.load(Ordering::Relaxed);
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let started = now();
        value(n);
        if BODY_RUNS.load(Ordering::Relaxed) != runs {
            return Some(started);
        }
        std::thread::yield_now();
    }
    None
}
