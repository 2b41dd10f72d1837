// The near cache under faults, written once against `backend()` and included by the cached
// binaries after `near_cache.rs` (whose helpers it uses): a FLUSHALL, killed tracking
// connections, a restarted or hung server, a Sentinel failover, a dropped instance. Each
// test runs on servers of its own, since it flushes, kills connections of or restarts
// them; on memory the tests return at once.

mod near_cache_faults {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::LazyLock;
    use std::time::{Duration, Instant};

    use cachify::{cached, codec, Cachify, NearCache};

    use super::backend;
    use super::near_cache::{on_redis, tracking, until_near_hit, wait_until, write, PATIENCE};
    use crate::support::deployment::Deployment;
    use crate::support::Backend;

    /// A near instance and a writer on a deployment of the test's own.
    struct OwnDeployment {
        deployment: Deployment,
        near: Cachify,
        writer: Cachify,
    }

    impl OwnDeployment {
        fn start(test: &str) -> OwnDeployment {
            OwnDeployment::start_with(test, NearCache::new())
        }

        fn start_with(test: &str, options: NearCache) -> OwnDeployment {
            let deployment = Deployment::start(backend()).expect("a Redis backend");
            let near = deployment
                .builder(test)
                .near_cache(options)
                .unwrap()
                .build();
            let writer = deployment.builder_with_prefix(near.prefix()).build();
            OwnDeployment {
                deployment,
                near,
                writer,
            }
        }
    }

    mod flushall {
        use super::*;

        static OWN: LazyLock<OwnDeployment> = LazyLock::new(|| OwnDeployment::start("flush"));
        static C: LazyLock<Cachify> = LazyLock::new(|| OWN.near.clone());
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "f-{n}", cachify = C)]
        fn value(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        #[test]
        fn a_flushall_empties_the_near_cache() {
            if !on_redis() {
                return;
            }
            for n in 0..8 {
                until_near_hit(|| value(n), value::stats);
            }
            let runs = RUNS.load(SeqCst);
            for reply in OWN.deployment.on_every_node(&["FLUSHALL"]) {
                assert!(reply.starts_with("+OK"), "{reply}");
            }
            for n in 0..8 {
                wait_until("the call after the flush runs", || {
                    let before = RUNS.load(SeqCst);
                    value(n);
                    RUNS.load(SeqCst) > before
                });
            }
            assert_eq!(RUNS.load(SeqCst), runs + 8, "each key ran once more");
            until_near_hit(|| value(0), value::stats);
        }
    }

    /// The ids of the tracking connections a node serves: clients with tracking on
    /// (`t` in their flags), and the clients their invalidations are redirected to.
    fn tracking_connections(client_list: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for line in client_list.lines() {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_owned()
            };
            if field("flags").contains('t') {
                ids.push(field("id"));
                let redirect = field("redir");
                if !redirect.is_empty() && redirect != "-1" && redirect != "0" {
                    ids.push(redirect);
                }
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    mod killed_tracking {
        use super::*;

        static OWN: LazyLock<OwnDeployment> = LazyLock::new(|| OwnDeployment::start("kill"));
        static C: LazyLock<Cachify> = LazyLock::new(|| OWN.near.clone());
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "v-{n}", cachify = C)]
        fn value(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        /// The same keys, read from async code.
        #[cached(key = "v-{n}", cachify = C)]
        async fn value_async(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        /// Connections to each node opened now, that outlive a `maxclients` of 1.
        fn admin_connections() -> Vec<redis::Connection> {
            let nodes = OWN.deployment.nodes();
            nodes
                .iter()
                .map(|node| redis::Client::open(node.url()).unwrap().get_connection().unwrap())
                .collect()
        }

        fn set_maxclients(admins: &mut [redis::Connection], limit: &str) {
            for admin in admins {
                let reply: String = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg("maxclients")
                    .arg(limit)
                    .query(admin)
                    .unwrap();
                assert_eq!(reply, "OK");
            }
        }

        /// `CLIENT KILL ID` of every tracking connection of every node; how many.
        fn kill_tracking(admins: &mut [redis::Connection]) -> usize {
            let mut killed = 0;
            for admin in admins {
                let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
                for id in tracking_connections(&list) {
                    let count: i64 = redis::cmd("CLIENT")
                        .arg("KILL")
                        .arg("ID")
                        .arg(&id)
                        .query(admin)
                        .unwrap();
                    killed += count as usize;
                }
            }
            killed
        }

        /// The tracking connections are killed and can't come back (the servers refuse
        /// new connections): the near cache is flushed and bypassed, a write by another
        /// connection is seen by the very next read; once they are back, near hits resume
        /// and another write is seen.
        #[test]
        fn a_killed_tracking_connection_empties_and_bypasses_the_near_cache_until_it_is_back() {
            if !on_redis() {
                return;
            }
            let writer = &OWN.writer;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut admins = admin_connections();
            wait_until("tracking is up", || tracking(&C));
            let first = until_near_hit(|| value(1), value::stats);
            // Every connection the test uses is open before the limit.
            let key = writer.cache_key("v-1");
            writer.sync_client().get(&key).unwrap();
            runtime.block_on(value_async(2)); // a read through, from this runtime
            let runs = RUNS.load(SeqCst);

            set_maxclients(&mut admins, "1");
            let killed = kill_tracking(&mut admins);
            let nodes = OWN.deployment.nodes().len();
            assert!(killed >= nodes, "one tracking connection per node at least: {killed}");
            wait_until("the near cache notices", || !tracking(&C));
            let status = C.near_cache_status().unwrap();
            assert_eq!(status.entries, 0, "flushed: {status:?}");

            let near_hits = (value::stats().near_hits, value_async::stats().near_hits);
            for version in 700..710u64 {
                write(writer, "v-1", &version);
                assert_eq!(value(1), version, "the next read sees the write");
                let read = runtime.block_on(value_async(1));
                assert_eq!(read, version, "the next async read too");
            }
            let near_hits_after = (value::stats().near_hits, value_async::stats().near_hits);
            assert_eq!(near_hits_after, near_hits, "bypassed while down");
            assert_eq!(RUNS.load(SeqCst), runs);
            assert!(!tracking(&C), "still refused");

            set_maxclients(&mut admins, "10000");
            wait_until("tracking is back", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), 709);
            write(writer, "v-1", &first);
            wait_until("the write after the recovery is seen", || value(1) == first);
            assert_eq!(RUNS.load(SeqCst), runs, "no value was computed here");
        }

        static KILL_ALL: LazyLock<OwnDeployment> =
            LazyLock::new(|| OwnDeployment::start("kill-all"));
        static ALL: LazyLock<Cachify> = LazyLock::new(|| KILL_ALL.near.clone());

        /// Only the writer writes: a read that fails or finds nothing stores nothing (a
        /// store after a failed read could overwrite the writer's value).
        #[cached(key = "w-{n}", cachify = ALL)]
        fn versioned(n: u64) -> Result<u64, String> {
            Err(format!("w-{n} is written elsewhere"))
        }

        /// `CLIENT KILL TYPE normal` (every client connection but the killer's) while a
        /// thread reads: after a write made once the kill is done, the values read only
        /// move forward, the write is read within the patience, and near hits resume.
        #[test]
        fn killing_every_normal_connection_mid_run_serves_no_stale_value() {
            if !on_redis() {
                return;
            }
            write(&KILL_ALL.writer, "w-1", &1u64);
            wait_until("tracking is up", || tracking(&ALL));
            assert_eq!(until_near_hit(|| versioned(1), versioned::stats), Ok(1));
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let reader = std::thread::spawn({
                let stop = stop.clone();
                move || {
                    let (mut reads, mut newest) = (0u64, 1);
                    while !stop.load(SeqCst) {
                        // Err: the read failed while the connections came back.
                        if let Ok(read) = versioned(1) {
                            assert!((newest..=2).contains(&read), "{read} after {newest}");
                            newest = read;
                            reads += 1;
                        }
                    }
                    reads
                }
            });
            let kill = ["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"];
            for reply in KILL_ALL.deployment.on_every_node(&kill) {
                assert!(reply.starts_with(':'), "{reply}");
            }
            let written = Instant::now();
            wait_until("the writer reconnects", || {
                let bytes = codec::encode(&2u64).unwrap();
                let key = KILL_ALL.writer.cache_key("w-1");
                KILL_ALL.writer.sync_client().set(&key, &bytes, None, false).is_ok()
            });
            wait_until("the write is read", || versioned(1) == Ok(2));
            eprintln!("{:?}: the write after CLIENT KILL was read after {:?}", backend(), written.elapsed());
            for _ in 0..1_000 {
                assert_eq!(versioned(1), Ok(2), "never the old value again");
            }
            wait_until("tracking is back", || tracking(&ALL));
            assert_eq!(until_near_hit(|| versioned(1), versioned::stats), Ok(2));
            stop.store(true, SeqCst);
            assert!(reader.join().unwrap() > 0);
        }
    }

    mod restarted_server {
        use super::*;

        static OWN: LazyLock<OwnDeployment> =
            LazyLock::new(|| OwnDeployment::start("restart"));
        static C: LazyLock<Cachify> = LazyLock::new(|| OWN.near.clone());
        static RUNS: AtomicU64 = AtomicU64::new(0);

        #[cached(key = "r-{n}", cachify = C)]
        fn value(n: u64) -> u64 {
            let _ = n;
            RUNS.fetch_add(1, SeqCst) + 1
        }

        /// A server killed and started again (empty) on its port: while it is down the
        /// near cache is bypassed (the calls run their body), after it the old value is
        /// never served, and near hits resume. A cluster's node restarted empty leaves
        /// the cluster, so this runs on a single server.
        #[test]
        fn a_restarted_server_serves_no_stale_value_and_near_hits_resume() {
            if backend() != Backend::Redis {
                return;
            }
            let Deployment::Server(server) = &OWN.deployment else {
                unreachable!("a single server");
            };
            wait_until("tracking is up", || tracking(&C));
            let old = until_near_hit(|| value(1), value::stats);

            server.kill();
            wait_until("the near cache notices", || !tracking(&C));
            assert_eq!(C.near_cache_status().unwrap().entries, 0);
            let runs = RUNS.load(SeqCst);
            assert_ne!(value(1), old, "the body runs while the server is down");
            assert_eq!(RUNS.load(SeqCst), runs + 1);

            server.restart();
            wait_until("the writer reconnects", || {
                let bytes = codec::encode(&4_242u64).unwrap();
                let key = OWN.writer.cache_key("r-1");
                OWN.writer.sync_client().set(&key, &bytes, None, false).is_ok()
            });
            wait_until("the written value is read", || {
                let read = value(1);
                assert_ne!(read, old, "the value from before the restart");
                read == 4_242
            });
            wait_until("tracking is back", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), 4_242);
            write(&OWN.writer, "r-1", &4_343u64);
            wait_until("the write after the restart is seen", || value(1) == 4_343);
        }
    }

    mod lifecycle {
        use super::*;

        fn tracking_connection_count(deployment: &Deployment) -> usize {
            let lists = deployment.on_every_node(&["CLIENT", "LIST"]);
            lists.iter().map(|list| tracking_connections(list).len()).sum()
        }

        #[test]
        fn dropping_the_instance_closes_its_tracking_connections() {
            let Some(deployment) = Deployment::start(backend()) else {
                return;
            };
            let nodes = deployment.nodes().len();
            let near = deployment
                .builder("drop")
                .near_cache(NearCache::new())
                .unwrap()
                .build();
            wait_until("tracking is up", || tracking(&near));
            assert!(tracking_connection_count(&deployment) >= nodes);
            drop(near);
            wait_until("the tracking connections are closed", || {
                tracking_connection_count(&deployment) == 0
            });
        }

        static HUNG: LazyLock<OwnDeployment> = LazyLock::new(|| {
            OwnDeployment::start_with("hung", NearCache::new().check_interval(Duration::from_millis(100)))
        });
        static C: LazyLock<Cachify> = LazyLock::new(|| HUNG.near.clone());

        #[cached(key = "h-{n}", cachify = C)]
        fn value(n: u64) -> u64 {
            n
        }

        /// Servers that stop answering (SIGSTOP: connections stay open) are noticed by
        /// the tracking connections' pings within the check interval and the response
        /// timeout: the near cache is emptied, and fills again once they answer.
        #[test]
        fn a_hung_server_is_noticed_by_the_tracking_ping() {
            if !on_redis() {
                return;
            }
            wait_until("tracking is up", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), 1);
            let nodes = HUNG.deployment.nodes();
            for node in &nodes {
                node.pause();
            }
            let paused = Instant::now();
            let noticed = (|| {
                let deadline = Instant::now() + PATIENCE;
                while Instant::now() < deadline {
                    if !tracking(&C) {
                        return Some(paused.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                None
            })();
            for node in &nodes {
                node.resume();
            }
            let noticed = noticed.expect("a hung server is noticed");
            eprintln!("{:?}: a hung server was noticed after {noticed:?}", backend());
            assert_eq!(C.near_cache_status().unwrap().entries, 0, "emptied");
            wait_until("tracking is back", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), 1);
        }
    }

    /// A master handed over to its replica by the sentinels (`SENTINEL FAILOVER`: the old
    /// master lives on as a replica): writes on the new master reach the near copies,
    /// and no value from before them is read once one was. On a single server's binary.
    mod failover {
        use super::*;
        use crate::support::sentinel::{SentinelSet, MASTER_NAME};

        static SET: LazyLock<SentinelSet> = LazyLock::new(SentinelSet::start);

        fn on_sentinels(prefix: &str) -> cachify::CachifyBuilder {
            let urls = SET.urls();
            let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
            let builder = Cachify::builder().prefix(prefix);
            builder.redis_sentinel(&urls, MASTER_NAME).expect("the sentinels name the master")
        }

        static C: LazyLock<Cachify> = LazyLock::new(|| {
            let prefix = crate::support::unique_prefix("near-failover");
            on_sentinels(&prefix).near_cache(NearCache::new()).unwrap().build()
        });
        static WRITER: LazyLock<Cachify> = LazyLock::new(|| on_sentinels(C.prefix()).build());

        /// Only the writer writes.
        #[cached(key = "s-{n}", cachify = C)]
        fn value(n: u64) -> Result<u64, String> {
            Err(format!("s-{n} is written elsewhere"))
        }

        fn write_until_it_works(version: u64) {
            wait_until("the writer writes on the master", || {
                let key = WRITER.cache_key("s-1");
                let bytes = codec::encode(&version).unwrap();
                WRITER.sync_client().set(&key, &bytes, None, false).is_ok()
            });
        }

        #[test]
        fn writes_after_a_failover_reach_the_near_copies() {
            if backend() != Backend::Redis {
                return;
            }
            write(&WRITER, "s-1", &1u64);
            wait_until("tracking is up", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), Ok(1));

            let sentinel = SET.sentinels[0].port();
            let reply = crate::support::redis::command(sentinel, &["SENTINEL", "FAILOVER", MASTER_NAME]);
            assert!(reply.unwrap().starts_with("+OK"));
            SET.wait_for_failover();
            let failed_over = Instant::now();
            write_until_it_works(2);
            let mut newest = 1;
            wait_until("the write on the new master is read", || {
                let read = value(1);
                if let Ok(read) = read {
                    assert!(read >= newest, "{read} after {newest}");
                    newest = read;
                }
                read == Ok(2)
            });
            eprintln!(
                "the first write after the failover was read {:?} after the sentinels named the new master",
                failed_over.elapsed()
            );
            wait_until("tracking is up on the new master", || tracking(&C));
            assert_eq!(until_near_hit(|| value(1), value::stats), Ok(2));
            write_until_it_works(3);
            wait_until("a later write is read", || value(1) == Ok(3));
        }
    }
}
