//! Real `redis-server` processes for the tests: one standalone server and one 3-master
//! cluster per test binary, started on first use on free loopback ports (never 6379).
//!
//! Servers must not outlive the test binary, yet a `static` is never dropped at exit.
//! So each server runs under a tiny shell watchdog whose stdin is a pipe from this
//! process: when the test binary exits, however it exits (even SIGKILL), the kernel
//! closes the pipe, the watchdog's `cat` sees end-of-file and it SIGKILLs its server and
//! removes the server's directory. Killing a server on purpose is the same path: close
//! the pipe and wait for the watchdog.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Runs `redis-server "$@"` and kills it when stdin closes. Prints the server's pid.
const WATCHDOG: &str = r#"
redis-server "$@" >/dev/null 2>&1 &
server=$!
echo "$server"
cat >/dev/null
kill -9 "$server" 2>/dev/null
kill -CONT "$server" 2>/dev/null
wait "$server" 2>/dev/null
rm -rf "$CACHIFY_REDIS_DIR"
"#;

const STARTUP_PATIENCE: Duration = Duration::from_secs(10);

/// One `redis-server` on a loopback port.
pub struct RedisServer {
    port: u16,
    /// The TLS port, when started with [`Options::tls`].
    tls_port: Option<u16>,
    options: Options,
    running: Mutex<Option<Watchdog>>,
}

/// How a server starts beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub cluster: bool,
    /// The text of a config file, passed first (a sentinel needs one to save its state).
    pub config: Option<String>,
    /// Arguments after the defaults (`--tls-cert-file`, `--replicaof`, `--sentinel`, ...);
    /// `{dir}` in them is the server's own directory.
    pub args: Vec<String>,
    /// Files written into the server's directory first (name, contents): certificates.
    pub files: Vec<(String, Vec<u8>)>,
    /// Also listen for TLS on a second free port (`--tls-port`).
    pub tls: bool,
}

struct Watchdog {
    child: Child,
    stdin: ChildStdin,
    /// The pid of the `redis-server` itself (the watchdog's child).
    server: String,
}

impl Watchdog {
    /// SIGKILLs the server (by closing the watchdog's stdin) and waits until it is gone.
    fn stop(self) {
        let Watchdog {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let _ = child.wait();
    }
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start(cluster: bool) -> RedisServer {
        RedisServer::start_with(Options {
            cluster,
            ..Options::default()
        })
    }

    /// Starts a server on a free port with `options`.
    pub fn start_with(options: Options) -> RedisServer {
        for _ in 0..20 {
            let port = free_port();
            let tls_port = options.tls.then(free_port).filter(|tls| *tls != port);
            if options.tls && tls_port.is_none() {
                continue;
            }
            if let Ok(watchdog) = launch(port, tls_port, &options) {
                return RedisServer {
                    port,
                    tls_port,
                    options,
                    running: Mutex::new(Some(watchdog)),
                };
            }
        }
        panic!("cannot start redis-server: is it installed (apt-get install redis-server)?");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rediss://127.0.0.1:TLS_PORT` of a server started with [`Options::tls`].
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://127.0.0.1:{}",
            self.tls_port.expect("started with tls")
        )
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server; returns once the process is gone.
    pub fn kill(&self) {
        if let Some(watchdog) = self.running.lock().unwrap().take() {
            watchdog.stop();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and requests get no answer,
    /// as with a hung process or a network black hole. The watchdog still kills it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT); it answers what it was sent meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let running = self.running.lock().unwrap();
        let watchdog = running.as_ref().expect("the server runs");
        let status = Command::new("kill")
            .arg(signal)
            .arg(&watchdog.server)
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", watchdog.server);
    }

    /// Starts the server again on the same port (empty: it saves nothing); returns once
    /// it answers PING.
    pub fn restart(&self) {
        let mut running = self.running.lock().unwrap();
        if let Some(watchdog) = running.take() {
            watchdog.stop();
        }
        let deadline = Instant::now() + STARTUP_PATIENCE;
        loop {
            match launch(self.port, self.tls_port, &self.options) {
                Ok(watchdog) => {
                    *running = Some(watchdog);
                    return;
                }
                // The port can stay busy for a moment after the kill.
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => panic!("cannot restart redis-server on {}: {error}", self.port),
            }
        }
    }
}

/// The standalone server of this test binary.
pub fn server() -> &'static RedisServer {
    static SERVER: LazyLock<RedisServer> = LazyLock::new(|| RedisServer::start(false));
    &SERVER
}

/// A 3-master Redis Cluster (no replicas) of this test binary.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// A cluster of its own, for a test that kills or pauses nodes. Its nodes serve
    /// their slots even while another node is down (no full coverage required).
    pub fn start() -> RedisCluster {
        create_cluster()
    }

    /// A cluster of its own whose nodes start with `options` (`cluster` is set).
    pub fn start_with(options: Options) -> RedisCluster {
        create_cluster_with(options)
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes' `rediss://` URLs, when started with [`Options::tls`].
    pub fn tls_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::tls_url).collect()
    }
}

/// The cluster of this test binary, created on first use.
pub fn cluster() -> &'static RedisCluster {
    static CLUSTER: LazyLock<RedisCluster> = LazyLock::new(create_cluster);
    &CLUSTER
}

fn create_cluster() -> RedisCluster {
    create_cluster_with(Options::default())
}

fn create_cluster_with(options: Options) -> RedisCluster {
    let options = Options {
        cluster: true,
        ..options
    };
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::start_with(options.clone()))
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port))
        .collect();
    let status = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success(), "redis-cli --cluster create failed");
    let deadline = Instant::now() + STARTUP_PATIENCE;
    for node in &nodes {
        while !command(node.port, &["CLUSTER", "INFO"])
            .is_ok_and(|info| info.contains("cluster_state:ok"))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster never reached cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    RedisCluster { nodes }
}

/// A port that is free now, and whose cluster bus port (+10 000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or(0);
        if (1024..55_535).contains(&port)
            && port != 6379
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
}

fn launch(port: u16, tls_port: Option<u16>, options: &Options) -> std::io::Result<Watchdog> {
    let dir = std::env::temp_dir().join(format!("cachify-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut args: Vec<String> = Vec::new();
    if let Some(config) = &options.config {
        let file = dir.join("redis.conf");
        std::fs::write(&file, config)?;
        args.push(file.to_string_lossy().into_owned());
    }
    args.extend(
        [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        .iter()
        .map(|arg| arg.to_string()),
    );
    args.extend([
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--logfile".into(),
        "redis.log".into(),
    ]);
    if let Some(tls_port) = tls_port {
        args.extend(["--tls-port".into(), tls_port.to_string()]);
    }
    if options.cluster {
        args.extend(
            [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-require-full-coverage",
                "no",
            ]
            .map(String::from),
        );
    }
    for (name, contents) in &options.files {
        std::fs::write(dir.join(name), contents)?;
    }
    let dir_text = dir.to_string_lossy();
    args.extend(
        options
            .args
            .iter()
            .map(|arg| arg.replace("{dir}", &dir_text)),
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("cachify-redis-watchdog")
        .args(&args)
        .env("CACHIFY_REDIS_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdin = child.stdin.take().expect("piped stdin");
    let mut pid = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut pid)?;
    let watchdog = Watchdog {
        child,
        stdin,
        server: pid.trim().to_owned(),
    };
    let deadline = Instant::now() + STARTUP_PATIENCE;
    loop {
        if command(port, &["PING"]).is_ok_and(|reply| reply.starts_with("+PONG")) {
            return Ok(watchdog);
        }
        if !alive(&watchdog.server) || Instant::now() >= deadline {
            watchdog.stop();
            return Err(std::io::Error::other(format!(
                "redis-server did not start on {port}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` runs (exists and is not a zombie waiting for its parent).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

/// Sends one command over a fresh connection and returns the raw reply.
pub fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reply = vec![0; 16 * 1024];
    let read = stream.read(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply[..read]).into_owned())
}

/// Holds every write command of the server at `port` (reads and PINGs still answer)
/// until [`unpause_writes`], or for at most `longest`.
pub fn pause_writes(port: u16, longest: Duration) {
    let millis = longest.as_millis().to_string();
    let reply = command(port, &["CLIENT", "PAUSE", &millis, "WRITE"]).expect("CLIENT PAUSE");
    assert!(reply.starts_with("+OK"), "CLIENT PAUSE: {reply}");
}

/// Ends a [`pause_writes`]: the held writes run, in the order they arrived.
pub fn unpause_writes(port: u16) {
    let reply = command(port, &["CLIENT", "UNPAUSE"]).expect("CLIENT UNPAUSE");
    assert!(reply.starts_with("+OK"), "CLIENT UNPAUSE: {reply}");
}

/// The process id of the server at `port`, for [`signal_process`].
pub fn server_pid(port: u16) -> String {
    let info = command(port, &["INFO", "server"]).expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .expect("INFO server reports process_id")
        .trim()
        .to_owned()
}

/// Sends `signal` (`"STOP"`, `"CONT"`) to process `pid`: a stopped server accepts
/// connections and buffers requests but answers nothing until it continues.
pub fn signal_process(pid: &str, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid)
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
