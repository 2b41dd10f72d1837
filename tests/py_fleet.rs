//! A mixed fleet: real py-cachify 3.1 processes and cachify on one Redis, with
//! `Layout::PyCachify`. Python runs as subprocesses of the virtual environment named by
//! `CACHIFY_PY_VENV` (`scripts/test` makes it), or else of `target/py-venv`, made here
//! with the pins of `tests/py-requirements.txt` when it does not import them. Only a
//! machine without `python3` skips these tests (saying so); any other failure to set
//! Python up fails them.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, LazyLock};
use std::thread::JoinHandle;
use std::time::Duration;

use cachify::instance::Layout;
use cachify::{cached, lock, once, pooled, Cachify, Error};
use serde_bytes::ByteBuf;

static PY: LazyLock<Cachify> = LazyLock::new(|| {
    support::Backend::Redis
        .builder("py-fleet")
        .layout(Layout::PyCachify)
        .lock_poll_interval(Duration::from_millis(10))
        .build()
});

/// Set up for every snippet: py-cachify on this binary's Redis, with `PY`'s prefix.
const PREAMBLE: &str = r#"
import os, sys, time, pickle, redis
from py_cachify import init_cachify, cached, lock, once, pooled, CachifyLockError, CachifyPoolFullError
r = redis.from_url(os.environ['URL'])
PREFIX = os.environ['PREFIX']
init_cachify(sync_client=r, prefix=PREFIX, lock_poll_interval=0.01)
def ready(word):
    print(word, flush=True)
import threading, traceback
def die(args):
    # A thread that raises fails the snippet instead of ending quietly.
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)
    sys.stderr.flush()
    os._exit(1)
threading.excepthook = die
"#;

/// The venv's python, or `None` (after saying why) on a machine without `python3`.
fn python() -> Option<PathBuf> {
    static PYTHON: LazyLock<Option<PathBuf>> = LazyLock::new(|| {
        if let Some(venv) = std::env::var_os("CACHIFY_PY_VENV") {
            let python = PathBuf::from(venv).join("bin/python");
            assert!(
                imports_py_cachify(&python),
                "{} cannot import py_cachify and redis",
                python.display()
            );
            return Some(python);
        }
        if Command::new("python3").arg("--version").output().is_err() {
            eprintln!("skipped: python3 is not installed");
            return None;
        }
        Some(make_venv())
    });
    PYTHON.clone()
}

fn imports_py_cachify(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import py_cachify, redis"])
        .status()
        .is_ok_and(|status| status.success())
}

/// `target/py-venv` with the pinned py-cachify and redis-py: made if missing, brought
/// to the pins otherwise (pip asks no index when they are met already).
fn make_venv() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status();
        let hint = "python3 -m venv failed (on Debian: apt install python3-venv)";
        assert!(made.is_ok_and(|status| status.success()), "{hint}");
    }
    let requirements = root.join("tests/py-requirements.txt");
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(requirements)
        .status();
    assert!(
        installed.is_ok_and(|status| status.success()),
        "pip could not install tests/py-requirements.txt"
    );
    python
}

/// A Python snippet running in the background, talking over its stdin and stdout.
///
/// Its stderr is collected on a thread of its own (so a chatty snippet never blocks on
/// a full pipe) and shown when it fails; a snippet dropped unfinished (its test failed)
/// is killed and reaped.
struct Snippet {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
}

impl Snippet {
    fn start(python: &PathBuf, body: &str) -> Snippet {
        let mut child = Command::new(python)
            .args(["-c", &format!("{PREAMBLE}\n{body}")])
            .env("URL", support::redis::server().url())
            .env("PREFIX", PY.prefix())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Snippet {
            child,
            stdin,
            stdout,
            stderr: Some(stderr),
        }
    }

    /// The next line the snippet prints.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("python's stdout");
        line.trim_end().to_owned()
    }

    /// Sends a line to the snippet (which reads it with `sys.stdin.readline()`).
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("python's stdin");
        self.stdin.flush().expect("python's stdin");
    }

    /// Waits for the snippet to exit successfully; returns the rest of its output.
    fn finish(mut self) -> String {
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("python's stdout");
        let status = self.child.wait().expect("python exits");
        let stderr = self
            .stderr
            .take()
            .map(|stderr| stderr.join().unwrap_or_default());
        assert!(
            status.success(),
            "the snippet failed: {rest}\n{}",
            stderr.unwrap_or_default()
        );
        rest
    }
}

impl Drop for Snippet {
    fn drop(&mut self) {
        // Finished: it has exited already and this does nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a snippet to its end; returns what it printed.
fn run(python: &PathBuf, body: &str) -> String {
    Snippet::start(python, body).finish()
}

// Each Rust function returns something else than Python cached, so a hit is visible.
#[cached(key = "py-{kind}", cachify = PY)]
fn py_none(kind: &str) -> Option<()> {
    Some(()).filter(|_| !kind.is_empty())
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_bool(kind: &str) -> bool {
    kind.is_empty()
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_int(kind: &str) -> i64 {
    kind.len() as i64
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_float(kind: &str) -> f64 {
    kind.len() as f64
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_str(kind: &str) -> String {
    kind.to_owned()
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_bytes(kind: &str) -> ByteBuf {
    ByteBuf::from(kind.as_bytes())
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_list(kind: &str) -> Vec<i64> {
    vec![kind.len() as i64]
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_dict(kind: &str) -> HashMap<String, i64> {
    HashMap::from([(kind.to_owned(), 0)])
}
#[cached(key = "py-{kind}", cachify = PY)]
fn py_tuple(kind: &str) -> (i64, String) {
    (0, kind.to_owned())
}

#[test]
fn values_cached_by_python_are_hits_in_rust() {
    let Some(python) = python() else { return };
    run(
        &python,
        r#"
values = {'none': None, 'bool': True, 'int': -42, 'float': 2.5, 'str': 'héllo',
          'bytes': b'\x00\xff', 'list': [1, 2, 3], 'dict': {'a': 1, 'b': 2}, 'tuple': (7, 'seven')}
@cached(key='py-{kind}')
def value(kind):
    return values[kind]
for kind in values:
    value(kind)
"#,
    );
    assert_eq!(py_none("none"), None);
    assert!(py_bool("bool"));
    assert_eq!(py_int("int"), -42);
    assert_eq!(py_float("float"), 2.5);
    assert_eq!(py_str("str"), "héllo");
    assert_eq!(py_bytes("bytes").as_slice(), b"\x00\xff");
    assert_eq!(py_list("list"), [1, 2, 3]);
    let dict = HashMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
    assert_eq!(py_dict("dict"), dict);
    assert_eq!(py_tuple("tuple"), (7, "seven".to_owned()));
}

#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_none(kind: &str) -> Option<()> {
    let _ = kind;
    None
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_bool(kind: &str) -> bool {
    !kind.is_empty()
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_int(kind: &str) -> i64 {
    -(kind.len() as i64)
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_float(kind: &str) -> f64 {
    kind.len() as f64 / 2.0
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_str(kind: &str) -> String {
    format!("{kind}-é")
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_bytes(kind: &str) -> ByteBuf {
    ByteBuf::from([&[0u8, 255][..], kind.as_bytes()].concat())
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_list(kind: &str) -> Vec<i64> {
    vec![1, kind.len() as i64]
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_dict(kind: &str) -> HashMap<String, i64> {
    HashMap::from([(kind.to_owned(), 1)])
}
#[cached(key = "rs-{kind}", cachify = PY)]
fn rs_tuple(kind: &str) -> (i64, String) {
    (5, kind.to_owned())
}

#[test]
fn values_cached_by_rust_are_hits_in_python() {
    let Some(python) = python() else { return };
    rs_none("none");
    rs_bool("bool");
    rs_int("int");
    rs_float("float");
    rs_str("str");
    rs_bytes("bytes");
    rs_list("list");
    rs_dict("dict");
    rs_tuple("tuple");
    let out = run(
        &python,
        r#"
@cached(key='rs-{kind}')
def value(kind):
    raise AssertionError('a miss for ' + kind)
for kind in ['bool', 'int', 'float', 'str', 'bytes', 'list', 'dict', 'tuple']:
    print(kind, repr(value(kind)))
# py-cachify treats a stored None as a miss; the stored pickle is None all the same.
print('none', repr(pickle.loads(r.get(PREFIX + 'rs-none-cached'))))
"#,
    );
    let expected = "bool True\nint -3\nfloat 2.5\nstr 'str-é'\nbytes b'\\x00\\xffbytes'\n\
                    list [1, 4]\ndict {'dict': 1}\ntuple (5, 'tuple')\nnone None\n";
    assert_eq!(out, expected);
}

/// Stored with its write time after the pickle, which `pickle.loads` ignores.
#[cached(key = "rs-refreshed", cachify = PY, ttl = 60, refresh = 30)]
fn rs_refreshed() -> Vec<i64> {
    vec![7, 8]
}

#[test]
fn a_value_stored_with_refresh_is_a_hit_in_python() {
    let Some(python) = python() else { return };
    assert_eq!(rs_refreshed(), [7, 8]);
    let out = run(
        &python,
        r#"
@cached(key='rs-refreshed')
def value():
    raise AssertionError('a miss')
print(repr(value()))
"#,
    );
    assert_eq!(out, "[7, 8]\n");
}

#[lock(key = "job", nowait = true, cachify = PY)]
fn job_nowait() -> Result<(), Error> {
    Ok(())
}

#[lock(key = "job", nowait = false, timeout = 30, cachify = PY)]
fn job_waiting() -> Result<(), Error> {
    Ok(())
}

#[test]
fn a_python_lock_holder_makes_rust_wait_or_fail() {
    let Some(python) = python() else { return };
    let mut holder = Snippet::start(
        &python,
        r#"
@lock(key='job')
def job():
    ready('held')
    sys.stdin.readline()
job()
"#,
    );
    assert_eq!(holder.line(), "held");
    assert!(matches!(job_nowait(), Err(Error::Locked { .. })));
    assert!(job_nowait::is_locked().unwrap());

    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || done.send(job_waiting()));
    assert!(
        finished.recv_timeout(Duration::from_millis(300)).is_err(),
        "the Rust call waits while Python holds the lock"
    );
    holder.send("release");
    let acquired = finished.recv_timeout(Duration::from_secs(20));
    assert!(matches!(acquired, Ok(Ok(()))), "{acquired:?}");
    holder.finish();
    waiter.join().unwrap().unwrap();
}

#[lock(key = "rjob", cachify = PY)]
fn rust_job(hold: &mpsc::Receiver<()>, held: &mpsc::Sender<()>) -> Result<(), Error> {
    held.send(()).unwrap();
    hold.recv().unwrap();
    Ok(())
}

#[test]
fn a_rust_lock_holder_makes_python_wait_or_fail() {
    let Some(python) = python() else { return };
    let (release, hold) = mpsc::channel();
    let (held, is_held) = mpsc::channel();
    let holder = std::thread::spawn(move || rust_job(&hold, &held));
    is_held.recv().unwrap();
    let mut python = Snippet::start(
        &python,
        r#"
@lock(key='rjob', nowait=True)
def nowait():
    pass
try:
    nowait()
    print('acquired', flush=True)
except CachifyLockError:
    print('locked', flush=True)
print('is_locked', nowait.is_locked(), flush=True)
@lock(key='rjob', nowait=False, timeout=30)
def waiting():
    print('acquired', flush=True)
ready('waiting')
waiting()
"#,
    );
    assert_eq!(python.line(), "locked");
    assert_eq!(
        python.line(),
        "is_locked True",
        "Python unpickles Rust's lock value"
    );
    assert_eq!(python.line(), "waiting");
    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(python.line(), "acquired");
    python.finish();
    let rjob = PY.lock("rjob-lock");
    assert!(
        !rjob.is_locked().unwrap(),
        "Python released the lock it took"
    );
}

static NIGHTLY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[once(key = "nightly", cachify = PY)]
fn nightly() -> Option<&'static str> {
    NIGHTLY_RUNS.fetch_add(1, Ordering::SeqCst);
    Some("ran")
}

#[once(key = "rnightly", cachify = PY)]
fn rust_nightly(hold: &mpsc::Receiver<()>, held: &mpsc::Sender<()>) -> Option<&'static str> {
    held.send(()).unwrap();
    hold.recv().unwrap();
    Some("ran")
}

#[test]
fn once_keys_exclude_across_languages() {
    let Some(python) = python() else { return };
    let mut holder = Snippet::start(
        &python,
        r#"
@once(key='nightly')
def nightly():
    ready('running')
    sys.stdin.readline()
nightly()
"#,
    );
    assert_eq!(holder.line(), "running");
    assert_eq!(nightly(), None, "skipped while Python runs it");
    assert_eq!(NIGHTLY_RUNS.load(Ordering::SeqCst), 0);
    holder.send("done");
    holder.finish();
    assert_eq!(nightly(), Some("ran"));

    let (release, hold) = mpsc::channel();
    let (held, is_held) = mpsc::channel();
    let runner = std::thread::spawn(move || rust_nightly(&hold, &held));
    is_held.recv().unwrap();
    let out = run(
        &python,
        r#"
@once(key='rnightly', return_on_locked='skipped')
def nightly():
    return 'ran'
print(nightly())
"#,
    );
    release.send(()).unwrap();
    assert_eq!(runner.join().unwrap(), Some("ran"));
    assert_eq!(out, "skipped\n");
}

/// Counts the callers inside the pool and keeps the highest count seen, atomically.
const ENTER: &str = "local n = redis.call('INCR', KEYS[1]) \
    if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end \
    return n";

fn counter_keys() -> (String, String) {
    (
        format!("{}inside", PY.prefix()),
        format!("{}most", PY.prefix()),
    )
}

static RUST_TURNS: AtomicUsize = AtomicUsize::new(0);

#[pooled(key = "mixed", max_size = 3, cachify = PY)]
fn pooled_work(connection: &mut redis::Connection) -> Option<()> {
    let (inside, most) = counter_keys();
    let _: i64 = redis::Script::new(ENTER)
        .key(&inside)
        .key(&most)
        .invoke(connection)
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: i64 = redis::cmd("DECR").arg(&inside).query(connection).unwrap();
    RUST_TURNS.fetch_add(1, Ordering::SeqCst);
    Some(())
}

#[test]
fn a_mixed_pool_never_exceeds_max_size() {
    let Some(python) = python() else { return };
    const TURNS: usize = 40;
    let script = format!(
        r#"
import threading
ENTER = """{ENTER}"""
enter = r.register_script(ENTER)
turns = [0]
@pooled(key='mixed', max_size=3, raise_on_full=True)
def work():
    enter(keys=[PREFIX + 'inside', PREFIX + 'most'])
    time.sleep(0.005)
    r.decr(PREFIX + 'inside')
lock_turns = threading.Lock()
def worker():
    done = 0
    while done < {TURNS}:
        try:
            work()
            done += 1
        except CachifyPoolFullError:
            time.sleep(0.002)
    with lock_turns:
        turns[0] += done
threads = [threading.Thread(target=worker) for _ in range(3)]
ready('started')
for t in threads: t.start()
for t in threads: t.join()
print('turns', turns[0], flush=True)
# Rust's workers may still be in the pool: wait until they are done too.
sys.stdin.readline()
print('size', work.size())
"#
    );
    let mut workers = Snippet::start(&python, &script);
    assert_eq!(workers.line(), "started");
    let rust: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                let client = redis::Client::open(support::redis::server().url()).unwrap();
                let mut connection = client.get_connection().unwrap();
                let mut done = 0;
                while done < TURNS {
                    match pooled_work(&mut connection) {
                        Some(()) => done += 1,
                        None => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        })
        .collect();
    assert_eq!(
        workers.line(),
        format!("turns {}", 3 * TURNS),
        "every Python thread ended"
    );
    for worker in rust {
        worker.join().unwrap();
    }
    assert_eq!(RUST_TURNS.load(Ordering::SeqCst), 3 * TURNS);
    assert_eq!(
        PY.pool("mixed-pool", 3).size().unwrap(),
        0,
        "every slot was given back"
    );
    workers.send("sizes");
    let out = workers.finish();
    assert_eq!(out, "size 0\n", "and Python sees it so");
    let (_, most) = counter_keys();
    let client = redis::Client::open(support::redis::server().url()).unwrap();
    let most: usize = redis::cmd("GET")
        .arg(&most)
        .query(&mut client.get_connection().unwrap())
        .unwrap();
    assert!(
        (1..=3).contains(&most),
        "at most max_size inside at once: {most}"
    );
}
