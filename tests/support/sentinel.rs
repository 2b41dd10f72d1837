//! A Sentinel-managed master for the tests: one master, one replica and three sentinels
//! on loopback, with small timings so that a failover takes seconds.

use std::time::{Duration, Instant};

use super::redis::{command, Options, RedisServer};

/// The name the sentinels know the master by.
pub const MASTER_NAME: &str = "cachify-master";
/// How long the sentinels of a set made to fail over wait before they call an
/// unanswering master down.
pub const FAILOVER_DOWN_AFTER: Duration = Duration::from_millis(1000);
/// The same for a set that must not fail over: far longer than a loaded machine stalls.
pub const STABLE_DOWN_AFTER: Duration = Duration::from_secs(5);

const PATIENCE: Duration = Duration::from_secs(20);

/// A master, its replica and three sentinels watching them.
pub struct SentinelSet {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

impl SentinelSet {
    /// Starts the five processes, the sentinels slow to call the master down; returns
    /// once every sentinel sees the replica and the other two sentinels.
    pub fn start() -> SentinelSet {
        Self::start_with(STABLE_DOWN_AFTER)
    }

    /// [`start`](Self::start) with sentinels quick to fail the master over.
    pub fn start_failing_over() -> SentinelSet {
        Self::start_with(FAILOVER_DOWN_AFTER)
    }

    fn start_with(down_after: Duration) -> SentinelSet {
        let master = RedisServer::start(false);
        let replica = RedisServer::start_with(Options {
            args: ["--replicaof", "127.0.0.1", &master.port().to_string()]
                .map(String::from)
                .to_vec(),
            ..Options::default()
        });
        wait_until("the replica is in sync", || {
            command(replica.port(), &["INFO", "replication"])
                .is_ok_and(|info| info.contains("master_link_status:up"))
        });
        let config = format!(
            "sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} {down}\n\
             sentinel failover-timeout {MASTER_NAME} 5000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            port = master.port(),
            down = down_after.as_millis(),
        );
        let sentinels: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(Options {
                    config: Some(config.clone()),
                    args: vec!["--sentinel".into()],
                    ..Options::default()
                })
            })
            .collect();
        for sentinel in &sentinels {
            wait_until("the sentinels see the replica and each other", || {
                command(sentinel.port(), &["INFO", "sentinel"])
                    .is_ok_and(|info| info.contains("slaves=1,sentinels=3"))
            });
        }
        SentinelSet {
            master,
            replica,
            sentinels,
        }
    }

    /// The sentinels' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// Waits until the sentinels name the replica as the master.
    pub fn wait_for_failover(&self) {
        let promoted = self.replica.port().to_string();
        wait_until("the sentinels promote the replica", || {
            self.sentinels.iter().all(|sentinel| {
                command(
                    sentinel.port(),
                    &["SENTINEL", "get-master-addr-by-name", MASTER_NAME],
                )
                .is_ok_and(|reply| reply.contains(&promoted))
            })
        });
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
