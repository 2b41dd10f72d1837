// Over 500 lines: each fleet scenario needs a child role, its cached functions and a parent per backend, sharing the spawn and report helpers.
//! Fleet-wide single-flight across OS processes, on Redis and Redis Cluster: four
//! processes of 64 tasks missing one key run its body once, and a leader killed with
//! SIGKILL is replaced when its lease runs out; four processes of 64 tasks hitting one
//! key due for a refresh refresh it once, and when that refresh fails, all keep the old
//! value and the lease is freed.
//!
//! Children are this binary re-executed (see the parent module); the roles here start
//! with `fleet-`, and the backend travels in `CACHIFY_CHILD_NODES` (one URL: a server;
//! several: a cluster's nodes).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachify::instance::SingleFlight;
use cachify::{cached, Cachify, CachifyBuilder};

use super::{PREFIX, ROLE};

const NODES: &str = "CACHIFY_CHILD_NODES";
const FLIGHT: &str = "CACHIFY_CHILD_FLIGHT";
const PROCESSES: usize = 4;
const TASKS: usize = 64;
const BODY: Duration = Duration::from_millis(200);
/// Far above a wake-up, far below a second run of the body after the first.
const GENEROUS: Duration = Duration::from_secs(2);
/// The lease of the killed leader.
const LEASE: Duration = Duration::from_secs(1);
/// Longer than any test: a waiter that polls instead of waking on time shows.
const LONG: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Server,
    Cluster,
}

impl Backend {
    fn nodes(self) -> String {
        match self {
            Backend::Server => crate::support::redis::server().url(),
            Backend::Cluster => crate::support::redis::cluster().urls().join(","),
        }
    }
}

fn on_nodes(nodes: &str, prefix: &str) -> CachifyBuilder {
    let builder = Cachify::builder().prefix(prefix).lock_poll_interval(LONG);
    let urls: Vec<&str> = nodes.split(',').collect();
    match urls.as_slice() {
        [url] => builder.redis(url).unwrap(),
        urls => builder.redis_cluster(urls).unwrap(),
    }
}

/// Whether `role` is one of this module's.
pub(super) fn is_role(role: &str) -> bool {
    role.starts_with("fleet-")
}

/// The children's instance, from their environment.
static CHILD: LazyLock<Cachify> = LazyLock::new(|| {
    let flight = match std::env::var(FLIGHT).as_deref() {
        Ok("per-process") => SingleFlight::per_process(),
        Ok("fleet-long-lease") => SingleFlight::fleet().lease(LONG),
        _ => SingleFlight::fleet().lease(LEASE),
    };
    on_nodes(
        &std::env::var(NODES).unwrap(),
        &std::env::var(PREFIX).unwrap(),
    )
    .single_flight(flight)
    .build()
});

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(key = "hot", cachify = CHILD)]
async fn hot() -> u64 {
    RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(BODY).await;
    42
}

#[cached(key = "orphan", cachify = CHILD)]
async fn orphan_in_child() -> u64 {
    println!("computing");
    tokio::time::sleep(LONG).await;
    1
}

/// A child's part: `fleet-herd` (64 tasks miss `hot` once told to go, then report),
/// `fleet-crash` (leads `orphan` and hangs until killed), `fleet-refresh` or
/// `fleet-failing-refresh` (64 tasks hit a key due for a refresh).
pub(super) fn child(role: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match role {
            "fleet-herd" => herd_in_child().await,
            "fleet-crash" => {
                orphan_in_child().await;
            }
            "fleet-refresh" => refresh_in_child().await,
            "fleet-failing-refresh" => failing_refresh_in_child().await,
            other => panic!("unknown role {other}"),
        }
    });
}

async fn herd_in_child() {
    // Warm connections (commands and pub/sub), as in a process that has been serving.
    let client = CHILD.async_client();
    client.get(&CHILD.cache_key("warm")).await.unwrap();
    drop(client.watch(&CHILD.cache_key("warm")).await);
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let callers: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async {
                let started = Instant::now();
                assert_eq!(hot().await, 42);
                started.elapsed()
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for caller in callers {
        slowest = slowest.max(caller.await.unwrap());
    }
    println!(
        "runs={} slowest_us={}",
        RUNS.load(SeqCst),
        slowest.as_micros()
    );
}

static REFRESHES: AtomicUsize = AtomicUsize::new(0);

/// The refresh age of `due`: the seed is older when the hits come, the refreshed value
/// younger until the test ends (a process scheduled late finds it fresh).
const REFRESH_AGE: Duration = Duration::from_secs(1);

/// Only the fleet's lease keeps the processes from refreshing it each.
#[cached(key = "due", cachify = CHILD, ttl = 60, refresh = 1)]
async fn due() -> u64 {
    REFRESHES.fetch_add(1, SeqCst);
    tokio::time::sleep(BODY).await;
    42
}

/// 64 tasks hit `due` once told to go; the child then waits until the stored value has
/// changed (a refresh it runs itself would otherwise die with it) and reports.
async fn refresh_in_child() {
    let client = CHILD.async_client();
    let key = CHILD.cache_key("due");
    let seeded = client
        .get(&key)
        .await
        .unwrap()
        .expect("the parent seeded it");
    drop(client.watch(&key).await);
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let hits: Vec<_> = (0..TASKS).map(|_| tokio::spawn(due())).collect();
    for hit in hits {
        let value = hit.await.unwrap();
        assert!(
            [1, 42].contains(&value),
            "a hit returns a stored value: {value}"
        );
    }
    let deadline = Instant::now() + 10 * GENEROUS;
    while client.get(&key).await.unwrap().as_ref() == Some(&seeded) {
        assert!(Instant::now() < deadline, "never refreshed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("runs={}", REFRESHES.load(SeqCst));
}

static FAILED_REFRESHES: AtomicUsize = AtomicUsize::new(0);

/// What the failing refresh writes as it starts, for the children to know one ran.
const FLAKY_RAN: &str = "flaky-ran";

/// The failing refresh's duration: every process's refresh finds the lease taken, none
/// starts after it is freed (a late one would run again: the value is still due).
const FAILING_BODY: Duration = Duration::from_secs(3);

/// A refresh of the seeded `flaky` that fails; the fleet's lease keeps the processes
/// from running it each.
#[cached(key = "flaky", cachify = CHILD, ttl = 60, refresh = 1)]
async fn flaky() -> Result<u64, String> {
    FAILED_REFRESHES.fetch_add(1, SeqCst);
    let ran = CHILD.cache_key(FLAKY_RAN);
    let client = CHILD.async_client();
    client.set(&ran, b"1", None, false).await.unwrap();
    tokio::time::sleep(FAILING_BODY).await;
    Err("the source is down".to_owned())
}

/// 64 tasks hit `flaky` once told to go; the child then waits until a refresh has run
/// in the fleet and its lease is free (a refresh it runs itself would otherwise die with
/// it), and reports how many hits returned the seed and how often the body ran here.
async fn failing_refresh_in_child() {
    let client = CHILD.async_client();
    let key = CHILD.cache_key("flaky");
    client
        .get(&key)
        .await
        .unwrap()
        .expect("the parent seeded it");
    drop(client.watch(&key).await);
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let hits: Vec<_> = (0..TASKS).map(|_| tokio::spawn(flaky())).collect();
    let mut old = 0;
    for hit in hits {
        old += usize::from(hit.await.unwrap() == Ok(1));
    }
    let (ran, lease) = (CHILD.cache_key(FLAKY_RAN), lease_key(&key));
    let deadline = Instant::now() + 10 * GENEROUS;
    while client.get(&ran).await.unwrap().is_none() || client.get(&lease).await.unwrap().is_some() {
        // The lease is long: only a release frees it within the deadline.
        assert!(
            Instant::now() < deadline,
            "no refresh ran, or its lease was not freed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("old={old} runs={}", FAILED_REFRESHES.load(SeqCst));
}

static SEED_RUNS: AtomicUsize = AtomicUsize::new(0);

fn seeding(backend: Backend) -> Cachify {
    on_nodes(
        &backend.nodes(),
        &crate::support::unique_prefix("fleet-refresh"),
    )
    .single_flight(SingleFlight::fleet().lease(LEASE))
    .build()
}

static SEED_ON_SERVER: LazyLock<Cachify> = LazyLock::new(|| seeding(Backend::Server));
static SEED_ON_CLUSTER: LazyLock<Cachify> = LazyLock::new(|| seeding(Backend::Cluster));

#[cached(key = "due", cachify = SEED_ON_SERVER, ttl = 60, refresh = 1)]
fn seed_on_server() -> u64 {
    SEED_RUNS.fetch_add(1, SeqCst);
    1
}

#[cached(key = "due", cachify = SEED_ON_CLUSTER, ttl = 60, refresh = 1)]
fn seed_on_cluster() -> u64 {
    SEED_RUNS.fetch_add(1, SeqCst);
    1
}

/// `seed` stores 1 under `due` (a stamped value, due after [`REFRESH_AGE`]); four
/// processes of 64 tasks then hit it together: one refresh in total, whose value
/// replaces it.
fn processes_hitting_a_due_key_refresh_it_once(
    backend: Backend,
    cachify: &Cachify,
    seed: fn() -> u64,
) {
    assert_eq!(seed(), 1, "a miss stores the seed");
    let seeded = Instant::now();
    let (mut children, outputs) = ready_fleet("fleet-refresh", backend, cachify.prefix(), "fleet");
    wait_until_due(seeded);
    go(&mut children);
    let mut runs = 0;
    for (child, mut output) in children.into_iter().zip(outputs) {
        runs += field(&read_until(&mut output, "runs="), "runs");
        assert!(child.wait_with_output().unwrap().status.success());
    }
    eprintln!("{backend:?}: {PROCESSES} processes x {TASKS} hits on a due key: {runs} refresh(es)");
    assert_eq!(runs, 1, "one refresh for the whole fleet");
    let stored = cachify
        .sync_client()
        .get(&cachify.cache_key("due"))
        .unwrap();
    assert!(stored.is_some(), "the refreshed value is stored");
}

#[test]
fn four_processes_hitting_a_due_key_refresh_it_once_on_redis() {
    processes_hitting_a_due_key_refresh_it_once(Backend::Server, &SEED_ON_SERVER, seed_on_server);
}

#[test]
fn four_processes_hitting_a_due_key_refresh_it_once_on_a_cluster() {
    processes_hitting_a_due_key_refresh_it_once(
        Backend::Cluster,
        &SEED_ON_CLUSTER,
        seed_on_cluster,
    );
}

static FLAKY_SEEDS_ON_SERVER: AtomicU64 = AtomicU64::new(1);
static FLAKY_SEEDS_ON_CLUSTER: AtomicU64 = AtomicU64::new(1);

/// 1, then 2: the parent's own refresh at the end stores 2.
#[cached(key = "flaky", cachify = SEED_ON_SERVER, ttl = 60, refresh = 1)]
fn flaky_seed_on_server() -> Result<u64, String> {
    Ok(FLAKY_SEEDS_ON_SERVER.fetch_add(1, SeqCst))
}

#[cached(key = "flaky", cachify = SEED_ON_CLUSTER, ttl = 60, refresh = 1)]
fn flaky_seed_on_cluster() -> Result<u64, String> {
    Ok(FLAKY_SEEDS_ON_CLUSTER.fetch_add(1, SeqCst))
}

/// `seed` stores 1 under `flaky`, due after [`REFRESH_AGE`]; four processes of 64 tasks
/// then hit it together, and its refresh returns `Err`: every hit returns 1, the body
/// runs once in total, the stored value stays, and the lease is freed (a parent's due
/// hit then refreshes it).
fn processes_hitting_a_due_key_whose_refresh_fails_keep_the_old_value(
    backend: Backend,
    cachify: &Cachify,
    seed: fn() -> Result<u64, String>,
) {
    assert_eq!(seed(), Ok(1), "a miss stores the seed");
    let seeded_at = Instant::now();
    let client = cachify.sync_client();
    let key = cachify.cache_key("flaky");
    let seeded = client.get(&key).unwrap();
    let role = "fleet-failing-refresh";
    // A lease that outlives the test: only a release frees it.
    let (mut children, outputs) = ready_fleet(role, backend, cachify.prefix(), "fleet-long-lease");
    wait_until_due(seeded_at);
    go(&mut children);
    let (mut old, mut runs) = (0, 0);
    for (child, mut output) in children.into_iter().zip(outputs) {
        let line = read_until(&mut output, "runs=");
        old += field(&line, "old");
        runs += field(&line, "runs");
        assert!(child.wait_with_output().unwrap().status.success());
    }
    eprintln!(
        "{backend:?}: {PROCESSES} processes x {TASKS} hits on a due key whose refresh fails: \
         {old} old value(s), {runs} run(s)"
    );
    assert_eq!(
        old,
        (PROCESSES * TASKS) as u128,
        "every hit returns the old value"
    );
    assert_eq!(runs, 1, "one refresh for the whole fleet");
    assert_eq!(client.get(&key).unwrap(), seeded, "the old value stays");
    assert_eq!(
        client.get(&lease_key(&key)).unwrap(),
        None,
        "the lease is freed"
    );
    // This process never failed (no back-off here): its due hit refreshes the key.
    assert_eq!(seed(), Ok(1), "a due hit returns the old value");
    let deadline = Instant::now() + 10 * GENEROUS;
    while client.get(&key).unwrap() == seeded {
        assert!(Instant::now() < deadline, "the key never refreshed again");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seed(), Ok(2), "the refreshed value");
}

#[test]
fn four_processes_hitting_a_due_key_whose_refresh_fails_keep_the_old_value_on_redis() {
    processes_hitting_a_due_key_whose_refresh_fails_keep_the_old_value(
        Backend::Server,
        &SEED_ON_SERVER,
        flaky_seed_on_server,
    );
}

#[test]
fn four_processes_hitting_a_due_key_whose_refresh_fails_keep_the_old_value_on_a_cluster() {
    processes_hitting_a_due_key_whose_refresh_fails_keep_the_old_value(
        Backend::Cluster,
        &SEED_ON_CLUSTER,
        flaky_seed_on_cluster,
    );
}

/// Spawns [`PROCESSES`] children in `role` and returns once each is ready for "go".
fn ready_fleet(
    role: &str,
    backend: Backend,
    prefix: &str,
    flight: &str,
) -> (Vec<Child>, Vec<BufReader<ChildStdout>>) {
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|_| spawn(role, backend, prefix, flight))
        .collect();
    let mut outputs: Vec<BufReader<ChildStdout>> = children
        .iter_mut()
        .map(|child| BufReader::new(child.stdout.take().unwrap()))
        .collect();
    for output in &mut outputs {
        read_until(output, "ready");
    }
    (children, outputs)
}

fn go(children: &mut [Child]) {
    for child in children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
}

/// The fleet lease of `value_key` (a key without braces: the hash tag is the key).
fn lease_key(value_key: &str) -> String {
    format!("{value_key}:computing{{{value_key}}}")
}

/// Returns once a value stored at `seeded` is past [`REFRESH_AGE`]: waiting for an age,
/// not for an event.
fn wait_until_due(seeded: Instant) {
    std::thread::sleep((REFRESH_AGE + Duration::from_millis(100)).saturating_sub(seeded.elapsed()));
}

fn spawn(role: &str, backend: Backend, prefix: &str, flight: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(NODES, backend.nodes())
        .env(PREFIX, prefix)
        .env(FLIGHT, flight)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads `child`'s output until a line containing `word`; that line.
fn read_until(stdout: &mut BufReader<ChildStdout>, word: &str) -> String {
    let mut line = String::new();
    while !line.contains(word) {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child ended before saying {word}"
        );
    }
    line
}

fn field(line: &str, name: &str) -> u128 {
    let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// 4 processes × 64 tasks miss one key at once: (body runs in total, slowest caller).
fn herd(backend: Backend, flight: &str) -> (u128, Duration) {
    let prefix = crate::support::unique_prefix("fleet-herd");
    let (mut children, outputs) = ready_fleet("fleet-herd", backend, &prefix, flight);
    go(&mut children);
    let (mut runs, mut slowest) = (0, Duration::ZERO);
    for (child, mut output) in children.into_iter().zip(outputs) {
        let line = read_until(&mut output, "runs=");
        runs += field(&line, "runs");
        let child_slowest = Duration::from_micros(field(&line, "slowest_us") as u64);
        slowest = slowest.max(child_slowest);
        assert!(child.wait_with_output().unwrap().status.success());
    }
    (runs, slowest)
}

fn processes_missing_one_key_run_its_body_once(backend: Backend) {
    let (fleet_runs, fleet_slowest) = herd(backend, "fleet");
    let (alone_runs, alone_slowest) = herd(backend, "per-process");
    eprintln!(
        "{backend:?}: {PROCESSES} processes x {TASKS} tasks missing one key, body {BODY:?}: \
         fleet-wide single-flight: {fleet_runs} run(s), slowest caller {fleet_slowest:?}; \
         per-process: {alone_runs} run(s), slowest caller {alone_slowest:?}"
    );
    assert_eq!(fleet_runs, 1, "one run for the whole fleet");
    // At most one per process (a process scheduled late may find the value stored).
    assert!(alone_runs <= PROCESSES as u128, "{alone_runs} runs");
    assert!(fleet_slowest >= BODY);
    assert!(fleet_slowest < BODY + GENEROUS, "{fleet_slowest:?}");
}

#[test]
fn four_processes_missing_one_key_run_its_body_once_on_redis() {
    processes_missing_one_key_run_its_body_once(Backend::Server);
}

#[test]
fn four_processes_missing_one_key_run_its_body_once_on_a_cluster() {
    processes_missing_one_key_run_its_body_once(Backend::Cluster);
}

static PARENT_RUNS: AtomicUsize = AtomicUsize::new(0);

fn parent(backend: Backend) -> Cachify {
    on_nodes(
        &backend.nodes(),
        &crate::support::unique_prefix("fleet-crash"),
    )
    .single_flight(SingleFlight::fleet().lease(LEASE).wait(LONG))
    .build()
}

static ON_SERVER: LazyLock<Cachify> = LazyLock::new(|| parent(Backend::Server));
static ON_CLUSTER: LazyLock<Cachify> = LazyLock::new(|| parent(Backend::Cluster));

#[cached(key = "orphan", cachify = ON_SERVER)]
async fn orphan_on_server() -> u64 {
    PARENT_RUNS.fetch_add(1, SeqCst);
    2
}

#[cached(key = "orphan", cachify = ON_CLUSTER)]
async fn orphan_on_cluster() -> u64 {
    PARENT_RUNS.fetch_add(1, SeqCst);
    2
}

/// Kills a child leading `orphan` on `cachify`'s backend; returns when it is dead.
fn kill_a_leader(backend: Backend, cachify: &Cachify) -> Instant {
    let mut child = spawn("fleet-crash", backend, cachify.prefix(), "fleet");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut stdout, "computing");
    child.kill().unwrap(); // SIGKILL: no destructor, no release
    child.wait().unwrap();
    let lease = lease_key(&cachify.cache_key("orphan"));
    assert!(
        cachify.sync_client().get(&lease).unwrap().is_some(),
        "the dead leader's lease outlives it"
    );
    Instant::now()
}

async fn a_killed_leader_is_replaced_within_its_lease(
    backend: Backend,
    cachify: &Cachify,
    call: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>>,
) {
    let runs_before = PARENT_RUNS.load(SeqCst);
    let killed = kill_a_leader(backend, cachify);
    assert_eq!(call().await, 2, "the waiter took over and ran the body");
    let replaced = killed.elapsed();
    eprintln!(
        "{backend:?}: a leader killed with a {LEASE:?} lease was replaced after {replaced:?}"
    );
    assert!(replaced < LEASE + GENEROUS, "replaced after {replaced:?}");
    assert_eq!(PARENT_RUNS.load(SeqCst), runs_before + 1);
}

#[tokio::test]
async fn a_killed_leader_is_replaced_within_its_lease_on_redis() {
    a_killed_leader_is_replaced_within_its_lease(Backend::Server, &ON_SERVER, || {
        Box::pin(orphan_on_server())
    })
    .await;
}

#[tokio::test]
async fn a_killed_leader_is_replaced_within_its_lease_on_a_cluster() {
    a_killed_leader_is_replaced_within_its_lease(Backend::Cluster, &ON_CLUSTER, || {
        Box::pin(orphan_on_cluster())
    })
    .await;
}
