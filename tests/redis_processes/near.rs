//! The near cache's coherence across two OS processes, on Redis and Redis Cluster.
//!
//! The writer (A) bumps a version counter `truth:{k}` of one of 8 keys, resets `k`'s
//! cached value and, every other time, computes and stores it again (its body reads the
//! counter); it notes when each reset returned. The reader (B) calls the same cached
//! function in a tight loop on two threads, through its near cache, and notes per key
//! the versions it returned and when it last started a read that returned each. Only A
//! computes values (B's body declines), so a stored value is never older than the last
//! reset: what B returns is up to the near cache. Each key is written in short windows
//! and quiet in between, so that a near copy left stale would outlive its reset by far.
//! Two kinds of violation:
//! - a thread of B returns a lower version of a key than it returned before (monotonic
//!   reads);
//! - B starts a read more than [`SETTLED`] after A's reset of version `n` returned, and
//!   gets a version below `n`.
//!
//! Children are this binary re-executed (see the parent module); the roles here start
//! with `near-`, and the backend travels in `CACHIFY_CHILD_NODES` (one URL: a server;
//! several: a cluster's nodes).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachify::{cached, Cachify, NearCache};

use super::{PREFIX, ROLE};

const NODES: &str = "CACHIFY_CHILD_NODES";
const KEYS: u64 = 8;
/// B's reader threads: more reads in flight when an invalidation comes.
const READERS: u64 = 2;
/// How long A writes.
const RUN: Duration = Duration::from_secs(4);
/// How long B goes on reading after A stopped: a stale copy left at the end shows.
const TAIL: Duration = Duration::from_millis(500);
/// Each key is written during [`ACTIVE`] of every [`CYCLE`], the keys' windows staggered
/// so that one at least is active at any time, and quiet for the rest: a near copy left
/// stale by its last reset shows for the last `CYCLE - ACTIVE - SETTLED`.
const CYCLE: Duration = Duration::from_millis(400);
const ACTIVE: Duration = Duration::from_millis(60);
/// At the end of its window an even key is only reset, not stored again: a copy left
/// stale by the reset is not invalidated by a later store. (Odd keys are near hits while
/// they are quiet, when their last write was a store.)
const CLOSING: Duration = Duration::from_millis(15);
/// After a reset returned, B's reads get its version or a newer one: far above an
/// invalidation's way (under a millisecond), below `CYCLE - ACTIVE`.
const SETTLED: Duration = Duration::from_millis(200);

/// Whether `role` is one of this module's.
pub(super) fn is_role(role: &str) -> bool {
    role.starts_with("near-")
}

fn nodes_of_cluster(cluster: bool) -> String {
    if cluster {
        crate::support::redis::cluster().urls().join(",")
    } else {
        crate::support::redis::server().url()
    }
}

/// The child's instance: a near cache on the nodes of its environment.
static CHILD: LazyLock<Cachify> = LazyLock::new(|| {
    let nodes = std::env::var(NODES).unwrap();
    let urls: Vec<&str> = nodes.split(',').collect();
    let builder = Cachify::builder().prefix(std::env::var(PREFIX).unwrap());
    let builder = match urls.as_slice() {
        [url] => builder.redis(url).unwrap(),
        urls => builder.redis_cluster(urls).unwrap(),
    };
    builder.near_cache(NearCache::new()).unwrap().build()
});

/// A plain connection (a server's, or a cluster's) for the version counters.
static RAW: LazyLock<Mutex<Box<dyn redis::ConnectionLike + Send>>> = LazyLock::new(|| {
    let nodes = std::env::var(NODES).unwrap();
    let urls: Vec<&str> = nodes.split(',').collect();
    let connection: Box<dyn redis::ConnectionLike + Send> = match urls.as_slice() {
        [url] => Box::new(redis::Client::open(*url).unwrap().get_connection().unwrap()),
        urls => Box::new(
            redis::cluster::ClusterClient::new(urls.to_vec())
                .unwrap()
                .get_connection()
                .unwrap(),
        ),
    };
    Mutex::new(connection)
});

fn truth_key(k: u64) -> String {
    CHILD.cache_key(&format!("truth:{{{k}}}"))
}

/// A's function: the current version of `k`.
#[cached(key = "v-{k}", cachify = CHILD)]
fn version(k: u64) -> u64 {
    let mut raw = RAW.lock().unwrap();
    let current: Option<u64> = redis::cmd("GET")
        .arg(truth_key(k))
        .query(&mut **raw)
        .unwrap();
    current.unwrap_or(0)
}

/// B's function on the same keys: it reads what A stored and computes nothing.
#[cached(key = "v-{k}", cachify = CHILD)]
fn observed(k: u64) -> Result<u64, String> {
    Err(format!("v-{k} is computed by the writer"))
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// xorshift64*: reproducible without a dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

/// A child's part: `near-writer` or `near-reader`, each told to go on its stdin.
pub(super) fn child(role: &str) {
    // Connections open and tracking up before the clock starts.
    CHILD.sync_client().get(&CHILD.cache_key("warm")).unwrap();
    drop(RAW.lock().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !CHILD.near_cache_status().unwrap().tracking {
        assert!(Instant::now() < deadline, "tracking never came up");
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("ready");
    let mut stdin = std::io::stdin().lock();
    let mut go = String::new();
    stdin.read_line(&mut go).unwrap();
    match role {
        "near-writer" => write_and_reset(),
        "near-reader" => {
            let stop = Arc::new(AtomicBool::new(false));
            std::thread::spawn({
                let stop = stop.clone();
                move || {
                    let mut line = String::new();
                    let _ = std::io::stdin().lock().read_line(&mut line);
                    stop.store(true, SeqCst);
                }
            });
            drop(stdin);
            read_until_stopped(&stop);
        }
        other => panic!("unknown role {other}"),
    }
}

fn write_and_reset() {
    let mut random = Random(u64::from(std::process::id()) | 1);
    let mut resets = Vec::new();
    let started = Instant::now();
    while started.elapsed() < RUN {
        let k = random.below(KEYS);
        let Some(left) = window_left(k, started.elapsed()) else {
            continue;
        };
        let n: u64 = {
            let mut raw = RAW.lock().unwrap();
            redis::cmd("INCR")
                .arg(truth_key(k))
                .query(&mut **raw)
                .unwrap()
        };
        version::reset(k).unwrap();
        resets.push((k, n, now_micros()));
        let closing = k % 2 == 0 && left <= CLOSING;
        if !closing && random.below(2) == 0 {
            assert!(version(k) >= n, "A's own reads are fresh");
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (k, n, at) in &resets {
        writeln!(out, "near-reset {k} {n} {at}").unwrap();
    }
    writeln!(out, "near-writer-done resets={}", resets.len()).unwrap();
}

/// What one reader thread saw.
#[derive(Default)]
struct Observations {
    /// (key, version) -> when the last read returning it started.
    last_start: HashMap<(u64, u64), u64>,
    reads: u64,
    absent: u64,
    /// Reads that returned a lower version than this thread returned before.
    backwards: u64,
}

impl Observations {
    fn merge(mut self, other: Observations) -> Observations {
        for (seen, at) in other.last_start {
            let last = self.last_start.entry(seen).or_default();
            *last = (*last).max(at);
        }
        self.reads += other.reads;
        self.absent += other.absent;
        self.backwards += other.backwards;
        self
    }
}

/// Reads the keys in turn until `stop`, from `first` on.
fn observe(stop: &AtomicBool, first: u64) -> Observations {
    let mut seen = Observations::default();
    let mut newest = [0u64; KEYS as usize];
    let mut k = first;
    while !stop.load(SeqCst) {
        k = (k + 1) % KEYS;
        let started = now_micros();
        seen.reads += 1;
        match observed(k) {
            Ok(version) => {
                if version < newest[k as usize] {
                    seen.backwards += 1;
                }
                newest[k as usize] = newest[k as usize].max(version);
                seen.last_start.insert((k, version), started);
            }
            Err(_) => seen.absent += 1,
        }
    }
    seen
}

/// B's part: [`READERS`] threads read until told to stop, each checking that its own
/// reads never go backwards; then B reports what they saw.
/// What is left of `k`'s active window at `elapsed`, or `None` while it is quiet.
fn window_left(k: u64, elapsed: Duration) -> Option<Duration> {
    let cycle = CYCLE.as_millis() as u64;
    let offset = k * cycle / KEYS;
    let into = (elapsed.as_millis() as u64 + cycle - offset) % cycle;
    ACTIVE
        .checked_sub(Duration::from_millis(into))
        .filter(|left| !left.is_zero())
}

fn read_until_stopped(stop: &AtomicBool) {
    let seen = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..READERS)
            .map(|reader| scope.spawn(move || observe(stop, reader * KEYS / READERS)))
            .collect();
        let seen = readers.into_iter().map(|reader| reader.join().unwrap());
        seen.fold(Observations::default(), Observations::merge)
    });
    let stats = observed::stats();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for ((k, version), at) in &seen.last_start {
        writeln!(out, "near-seen {k} {version} {at}").unwrap();
    }
    writeln!(
        out,
        "near-reader-done reads={} near_hits={} absent={} backwards={}",
        seen.reads, stats.near_hits, seen.absent, seen.backwards
    )
    .unwrap();
}

fn spawn(role: &str, nodes: &str, prefix: &str) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(NODES, nodes)
        .env(PREFIX, prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "{role} ended before it was ready"
        );
    }
    (child, stdout)
}

fn tell(child: &mut Child, word: &str) {
    writeln!(child.stdin.as_mut().unwrap(), "{word}").unwrap();
}

/// The numbers after `marker` on each line of `stdout` that has it, until the end.
fn records(stdout: BufReader<ChildStdout>, marker: &str) -> (Vec<Vec<u64>>, String) {
    let (mut rows, mut summary) = (Vec::new(), String::new());
    for line in stdout.lines() {
        let line = line.unwrap();
        // The harness may print its "test child_process ..." on the same line.
        if let Some((_, row)) = line.split_once(&format!("{marker} ")) {
            rows.push(row.split(' ').map(|n| n.parse().unwrap()).collect());
        } else if let Some((_, done)) = line.split_once("-done ") {
            summary = done.to_owned();
        }
    }
    (rows, summary)
}

fn field(summary: &str, name: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {summary:?}"))
        .parse()
        .unwrap()
}

fn a_reader_never_goes_back_after_an_invalidation(cluster: bool) {
    let nodes = nodes_of_cluster(cluster);
    let prefix = crate::support::unique_prefix("near-coherence");
    let (mut reader, reader_out) = spawn("near-reader", &nodes, &prefix);
    let (mut writer, writer_out) = spawn("near-writer", &nodes, &prefix);
    tell(&mut reader, "go");
    tell(&mut writer, "go");
    let (resets, writer_summary) = records(writer_out, "near-reset");
    assert!(writer.wait().unwrap().success(), "the writer failed");
    // Not a synchronisation: the reader goes on reading for a while after the last reset.
    std::thread::sleep(TAIL);
    tell(&mut reader, "stop");
    let (seen, reader_summary) = records(reader_out, "near-seen");
    assert!(reader.wait().unwrap().success(), "the reader failed");

    // When the reset of (key, version) returned.
    let reset_at: HashMap<(u64, u64), u64> = resets
        .iter()
        .map(|row| ((row[0], row[1]), row[2]))
        .collect();
    let settled = SETTLED.as_micros() as u64;
    let (mut stale, mut latest) = (0, 0);
    for row in &seen {
        let (k, version, last_start) = (row[0], row[1], row[2]);
        // The first reset that made `version` old.
        if let Some(&reset) = reset_at.get(&(k, version + 1)) {
            if last_start > reset + settled {
                stale += 1;
                latest = latest.max(last_start - reset);
            }
        }
    }
    let backwards = field(&reader_summary, "backwards");
    let (reads, near_hits) = (
        field(&reader_summary, "reads"),
        field(&reader_summary, "near_hits"),
    );
    eprintln!(
        "near cache, two processes on {}: {} resets, {reads} reads ({near_hits} near hits, \
         {} absent), {} versions seen; {backwards} read(s) went backwards, {stale} version(s) \
         read over {SETTLED:?} after their reset (latest {latest} µs)",
        if cluster { "a cluster" } else { "a server" },
        field(&writer_summary, "resets"),
        field(&reader_summary, "absent"),
        seen.len(),
    );
    assert_eq!(backwards, 0, "monotonic reads");
    assert_eq!(stale, 0, "no version read {SETTLED:?} after its reset");
    assert!(resets.len() >= 100, "the writer ran: {}", resets.len());
    assert!(
        seen.len() >= 50,
        "the reader saw the versions change: {}",
        seen.len()
    );
    assert!(near_hits > 0, "the reader's hits were near");
}

#[test]
fn two_processes_a_reader_never_goes_back_after_an_invalidation_on_redis() {
    a_reader_never_goes_back_after_an_invalidation(false);
}

#[test]
fn two_processes_a_reader_never_goes_back_after_an_invalidation_on_a_cluster() {
    a_reader_never_goes_back_after_an_invalidation(true);
}
