// The Redis side of the near cache: its `GET`+`PTTL` reads and its tracking
// connections, reporting to a recording sink. Included by `tests/backend_redis.rs` and
// `tests/backend_cluster.rs`. Tests that kill, flush, pause or restart a server take a
// deployment of their own, so the other tests of the binary never see it.

mod near_tracking {
    use std::time::Duration;

    use cachify::__private::near_tracking::{Event, NearProbe, Tracked};
    use cachify::backend::RedisClusterClient;
    use cachify::{RedisClient, RedisOptions};

    use super::support::redis::{self as servers, RedisCluster, RedisServer};
    use super::support::{unique_prefix, Backend};

    /// How long any awaited event may take: generous, the machine is loaded.
    const PATIENCE: Duration = Duration::from_secs(15);
    /// The check interval of the tests' tracking connections.
    const CHECK: Duration = Duration::from_millis(100);

    /// Redis servers of one test: this binary's shared ones, or a deployment of its own.
    enum Deployment {
        Shared,
        Server(RedisServer),
        Cluster(RedisCluster),
    }

    impl Deployment {
        /// A deployment of its own, of this binary's kind.
        fn own() -> Deployment {
            match super::backend() {
                Backend::RedisCluster => Deployment::Cluster(RedisCluster::start()),
                _ => Deployment::Server(RedisServer::start(false)),
            }
        }

        fn urls(&self) -> Vec<String> {
            match (self, super::backend()) {
                (Deployment::Shared, Backend::RedisCluster) => servers::cluster().urls(),
                (Deployment::Shared, _) => vec![servers::server().url()],
                (Deployment::Server(server), _) => vec![server.url()],
                (Deployment::Cluster(cluster), _) => cluster.urls(),
            }
        }

        /// Every master's port.
        fn ports(&self) -> Vec<u16> {
            self.urls()
                .iter()
                .map(|url| url.rsplit(':').next().unwrap().parse().unwrap())
                .collect()
        }

        fn is_cluster(&self) -> bool {
            matches!(self, Deployment::Cluster(_))
                || matches!(
                    (self, super::backend()),
                    (Deployment::Shared, Backend::RedisCluster)
                )
        }

        fn probe(&self) -> NearProbe {
            self.probe_with(RedisOptions::new())
        }

        fn probe_with(&self, options: RedisOptions) -> NearProbe {
            let urls = self.urls();
            if self.is_cluster() {
                let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                NearProbe::cluster(&RedisClusterClient::open_with(&urls, options).unwrap())
            } else {
                NearProbe::redis(&RedisClient::open_with(&urls[0], options).unwrap())
            }
        }

        /// A connection of another client, to write with.
        fn writer(&self) -> Box<dyn redis::ConnectionLike> {
            let urls = self.urls();
            if self.is_cluster() {
                let cluster = redis::cluster::ClusterClient::new(urls).unwrap();
                Box::new(cluster.get_connection().unwrap())
            } else {
                let client = redis::Client::open(urls[0].as_str()).unwrap();
                Box::new(client.get_connection().unwrap())
            }
        }
    }

    impl Drop for Deployment {
        fn drop(&mut self) {
            match self {
                Deployment::Shared => {}
                Deployment::Server(server) => server.kill(),
                Deployment::Cluster(cluster) => cluster.nodes.iter().for_each(RedisServer::kill),
            }
        }
    }

    /// Tracks `prefix` on `deployment` and waits until tracking is ready.
    fn tracked(deployment: &Deployment, prefix: &str) -> Tracked {
        let tracked = deployment.probe().track(prefix, CHECK).unwrap();
        expect(&tracked, Event::Ready);
        tracked
    }

    /// Waits for `event`, skipping invalidations (a test's own writes may still come in).
    fn expect(tracked: &Tracked, event: Event) {
        let skipped = tracked.wait_for(PATIENCE, |seen| *seen == event);
        let skipped = skipped.unwrap_or_else(|| panic!("no {event:?} within {PATIENCE:?}"));
        assert!(
            skipped.iter().all(|seen| matches!(seen, Event::Invalidated(_))),
            "before {event:?}: {skipped:?}"
        );
    }

    /// Waits for an invalidation naming `key`; returns the keys invalidated before it.
    fn expect_invalidated(tracked: &Tracked, key: &str) -> Vec<Vec<u8>> {
        let named = |event: &Event| matches!(event, Event::Invalidated(keys) if keys.iter().any(|k| k == key.as_bytes()));
        let skipped = tracked.wait_for(PATIENCE, named);
        let skipped = skipped.unwrap_or_else(|| panic!("no invalidation of {key} within {PATIENCE:?}"));
        skipped
            .into_iter()
            .flat_map(|event| match event {
                Event::Invalidated(keys) => keys,
                other => panic!("before the invalidation of {key}: {other:?}"),
            })
            .collect()
    }

    fn run(writer: &mut dyn redis::ConnectionLike, args: &[&str]) -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(writer).unwrap()
    }

    /// The ids of the tracking connections of the server at `port` (flag `t`).
    fn tracking_clients(port: u16) -> Vec<String> {
        let list = servers::command(port, &["CLIENT", "LIST"]).unwrap();
        list.lines()
            .filter(|line| {
                line.split(' ')
                    .any(|field| field.strip_prefix("flags=").is_some_and(|f| f.contains('t')))
            })
            .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn writes_deletions_and_expiries_of_prefixed_keys_are_reported() {
        let deployment = Deployment::Shared;
        let prefix = unique_prefix("near-writes");
        let tracked = tracked(&deployment, &prefix);
        let mut writer = deployment.writer();
        for name in ["a", "b", "c", "d", "e", "f"] {
            let key = format!("{prefix}{name}");
            run(&mut *writer, &["SET", &key, "1"]);
            expect_invalidated(&tracked, &key);
            run(&mut *writer, &["DEL", &key]);
            expect_invalidated(&tracked, &key);
        }
        let expiring = format!("{prefix}expiring");
        run(&mut *writer, &["SET", &expiring, "1", "PX", "30"]);
        expect_invalidated(&tracked, &expiring);
        // Then once more when the server expires it, which nobody asks for.
        expect_invalidated(&tracked, &expiring);
    }

    #[test]
    fn a_write_on_each_master_is_reported() {
        let deployment = Deployment::Shared;
        let prefix = unique_prefix("near-masters");
        let tracked = tracked(&deployment, &prefix);
        for port in deployment.ports() {
            let key = key_on(port, &prefix);
            expect_invalidated(&tracked, &key);
        }
    }

    /// A key under `prefix` that the node at `port` serves, written there.
    fn key_on(port: u16, prefix: &str) -> String {
        (0..10_000)
            .map(|n| format!("{prefix}{n}"))
            .find(|key| {
                let reply = servers::command(port, &["SET", key, "1"]).unwrap();
                reply.starts_with("+OK") // else -MOVED: another node serves it
            })
            .expect("some key lives on every node")
    }

    #[test]
    fn keys_outside_the_prefix_are_not_reported() {
        let deployment = Deployment::Shared;
        let prefix = unique_prefix("near-outside");
        let tracked = tracked(&deployment, &prefix);
        let mut writer = deployment.writer();
        // One hash slot, so that on a cluster both go to one node, in this order.
        let outside = format!("other-{prefix}{{tag}}");
        let marker = format!("{prefix}{{tag}}marker");
        run(&mut *writer, &["SET", &outside, "1"]);
        run(&mut *writer, &["SET", &marker, "1"]);
        let before = expect_invalidated(&tracked, &marker);
        assert!(!before.contains(&outside.into_bytes()), "{before:?}");
    }

    #[test]
    fn get_with_ttl_reads_the_value_and_its_remaining_lifetime() {
        let deployment = Deployment::Shared;
        let probe = deployment.probe();
        let prefix = unique_prefix("near-get");
        let (lasting, forever, absent) =
            (format!("{prefix}lasting"), format!("{prefix}forever"), format!("{prefix}absent"));
        let mut writer = deployment.writer();
        run(&mut *writer, &["SET", &lasting, "v1", "PX", "100000"]);
        run(&mut *writer, &["SET", &forever, "v2"]);

        let (value, ttl) = probe.get_with_ttl_blocking(&lasting).unwrap().unwrap();
        assert_eq!(value, b"v1");
        let ttl = ttl.expect("the key expires");
        assert!(ttl > Duration::ZERO && ttl <= Duration::from_secs(100), "{ttl:?}");
        assert_eq!(
            probe.get_with_ttl_blocking(&forever).unwrap(),
            Some((b"v2".to_vec(), None))
        );
        assert_eq!(probe.get_with_ttl_blocking(&absent).unwrap(), None);

        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (value, ttl) = probe.get_with_ttl(&lasting).await.unwrap().unwrap();
            assert_eq!(value, b"v1");
            assert!(ttl.is_some_and(|ttl| ttl <= Duration::from_secs(100)));
            assert_eq!(
                probe.get_with_ttl(&forever).await.unwrap(),
                Some((b"v2".to_vec(), None))
            );
            assert_eq!(probe.get_with_ttl(&absent).await.unwrap(), None);
        });
    }

    #[test]
    fn a_flush_invalidates_everything() {
        let deployment = Deployment::own();
        let tracked = tracked(&deployment, "near-flush:");
        let mut writer = deployment.writer();
        run(&mut *writer, &["SET", "near-flush:{tag}a", "1"]);
        expect_invalidated(&tracked, "near-flush:{tag}a");
        for port in deployment.ports() {
            let reply = servers::command(port, &["FLUSHALL"]).unwrap();
            assert!(reply.starts_with("+OK"), "{reply}");
        }
        expect(&tracked, Event::InvalidatedAll);
    }

    #[test]
    fn a_killed_tracking_connection_is_a_loss_then_tracking_is_back() {
        let deployment = Deployment::own();
        let tracked = tracked(&deployment, "near-kill:");
        let port = deployment.ports()[0];
        let ids = tracking_clients(port);
        assert_eq!(ids.len(), 1, "one tracking connection per node: {ids:?}");
        let reply = servers::command(port, &["CLIENT", "KILL", "ID", &ids[0]]).unwrap();
        assert!(reply.starts_with(":1"), "{reply}");
        expect(&tracked, Event::Lost);
        expect(&tracked, Event::Ready);

        let reply = servers::command(port, &["CLIENT", "KILL", "TYPE", "normal"]).unwrap();
        assert!(reply.starts_with(':'), "{reply}");
        expect(&tracked, Event::Lost);
        expect(&tracked, Event::Ready);
        // Tracking really is back: a write is reported again.
        let mut writer = deployment.writer();
        run(&mut *writer, &["SET", "near-kill:{tag}back", "1"]);
        expect_invalidated(&tracked, "near-kill:{tag}back");
    }

    #[test]
    fn a_hung_server_is_a_loss_and_tracking_is_back_once_it_answers() {
        let deployment = Deployment::own();
        let options = RedisOptions::new().response_timeout(Duration::from_millis(300));
        let tracked = deployment.probe_with(options).track("near-hung:", CHECK).unwrap();
        expect(&tracked, Event::Ready);
        let pid = servers::server_pid(deployment.ports()[0]);
        servers::signal_process(&pid, "STOP");
        let lost = tracked.wait_for(PATIENCE, |event| *event == Event::Lost);
        servers::signal_process(&pid, "CONT");
        assert!(lost.is_some(), "no loss reported while the server hung");
        expect(&tracked, Event::Ready);
    }

    #[test]
    fn dropping_the_handle_closes_every_tracking_connection() {
        let deployment = Deployment::own();
        let tracked = tracked(&deployment, "near-drop:");
        let ports = deployment.ports();
        for port in &ports {
            assert_eq!(tracking_clients(*port).len(), 1, "node {port}");
        }
        drop(tracked);
        let deadline = std::time::Instant::now() + PATIENCE;
        while ports.iter().any(|port| !tracking_clients(*port).is_empty()) {
            assert!(std::time::Instant::now() < deadline, "a tracking connection outlived its handle");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gives the user `near` (password `pw`) the prefix's keys and `commands` on every
    /// node of `deployment`.
    fn acl_user(deployment: &Deployment, commands: &[&str]) {
        for port in deployment.ports() {
            let rules = ["on", ">pw", "resetkeys", "~near-acl:*", "resetchannels", "-@all"];
            let mut args = vec!["ACL", "SETUSER", "near"];
            args.extend(rules.iter().chain(commands));
            let reply = servers::command(port, &args).unwrap();
            assert!(reply.starts_with("+OK"), "{reply}");
        }
    }

    /// A near probe of `deployment` as the user `near`.
    fn probe_as_acl_user(deployment: &Deployment) -> NearProbe {
        let urls: Vec<String> = deployment
            .urls()
            .iter()
            .map(|url| url.replace("redis://", "redis://near:pw@"))
            .collect();
        if deployment.is_cluster() {
            let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
            NearProbe::cluster(&RedisClusterClient::open(&urls).unwrap())
        } else {
            NearProbe::redis(&RedisClient::open(&urls[0]).unwrap())
        }
    }

    #[test]
    fn a_refused_tracking_is_a_loss_and_the_documented_acl_rules_suffice() {
        let deployment = Deployment::own();
        // The rules of the backends chapter: the prefix's keys, no channel at all.
        let acl = |rule: &str| acl_user(&deployment, &["+ping", "+cluster|slots", rule]);
        acl("-client|tracking");
        let tracked = probe_as_acl_user(&deployment)
            .track("near-acl:", CHECK)
            .unwrap();
        assert_eq!(tracked.next_event(PATIENCE), Some(Event::Lost));
        acl("+client|tracking");
        // Each node reports its refusal once.
        let before = tracked.wait_for(PATIENCE, |event| *event == Event::Ready);
        let before = before.expect("tracking is ready once allowed");
        assert!(before.iter().all(|event| *event == Event::Lost), "{before:?}");
    }

    #[test]
    fn a_refused_ping_proves_the_connection_alive_and_tracking_stays_up() {
        let deployment = Deployment::own();
        acl_user(&deployment, &["+client|tracking", "+cluster|slots"]);
        let tracked = probe_as_acl_user(&deployment)
            .track("near-acl:", CHECK)
            .unwrap();
        expect(&tracked, Event::Ready);
        // Several checks of every node are refused...
        let deadline = std::time::Instant::now() + PATIENCE;
        for port in deployment.ports() {
            while refused_pings(port) < 3 {
                assert!(std::time::Instant::now() < deadline, "no refused PING on {port}");
                std::thread::sleep(CHECK / 4);
            }
        }
        // ...and not one loss came before the next write's invalidation, on every node.
        for port in deployment.ports() {
            expect_invalidated(&tracked, &key_on(port, "near-acl:"));
        }
    }

    /// How many `PING`s the server at `port` refused (`rejected_calls`).
    fn refused_pings(port: u16) -> u64 {
        let stats = servers::command(port, &["INFO", "commandstats"]).unwrap();
        let ping = stats.lines().find(|line| line.starts_with("cmdstat_ping:"));
        let rejected = ping.and_then(|line| line.split(',').find_map(|f| f.strip_prefix("rejected_calls=")));
        rejected.and_then(|count| count.trim().parse().ok()).unwrap_or(0)
    }

    #[test]
    fn a_change_of_the_masters_is_a_loss_then_the_new_set_is_tracked() {
        let deployment = Deployment::own();
        if !deployment.is_cluster() {
            return; // a standalone server has no topology to change
        }
        let tracked = tracked(&deployment, "near-topology:");
        let ports = deployment.ports();
        let id = |port: u16| {
            let reply = servers::command(port, &["CLUSTER", "MYID"]).unwrap();
            reply.lines().nth(1).unwrap().to_owned()
        };
        // `redis-cli --cluster create` gave the last node slots 10923..=16383: move them
        // all to the first node, which leaves the last one without slots.
        let status = std::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{}", ports[0])])
            .args(["--cluster-from", &id(ports[2]), "--cluster-to", &id(ports[0])])
            .args(["--cluster-slots", "5461", "--cluster-yes"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "redis-cli --cluster reshard");
        expect(&tracked, Event::Lost);
        expect(&tracked, Event::Ready);
        let deadline = std::time::Instant::now() + PATIENCE;
        while !tracking_clients(ports[2]).is_empty() {
            assert!(std::time::Instant::now() < deadline, "the emptied node is still tracked");
            std::thread::sleep(Duration::from_millis(20));
        }
        let moved = key_on(ports[0], "near-topology:{moved}");
        expect_invalidated(&tracked, &moved);
    }

    #[test]
    fn a_server_restart_is_a_loss_then_tracking_is_back() {
        // A cluster node started again comes back empty, out of its cluster: the harness
        // restarts standalone servers only.
        let server = RedisServer::start(false);
        let client = RedisClient::open(&server.url()).unwrap();
        let tracked = NearProbe::redis(&client).track("near-restart:", CHECK).unwrap();
        expect(&tracked, Event::Ready);
        server.restart();
        expect(&tracked, Event::Lost);
        expect(&tracked, Event::Ready);
        let mut writer = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
        run(&mut writer, &["SET", "near-restart:k", "1"]);
        expect_invalidated(&tracked, "near-restart:k");
        server.kill();
    }
}
