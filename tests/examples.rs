//! Every program in `examples/` that needs nothing beyond loopback, run as a child
//! process: it exits with status 0 and prints what it is there to show. The Redis ones
//! get this test binary's own `redis-server` in `REDIS_URL`.

mod support;

use std::process::Command;
use std::time::Duration;

/// What an example needs and what its output must contain.
struct Case {
    name: &'static str,
    redis: bool,
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "quickstart",
        redis: false,
        expect: &[
            "slow_sum(2, 3) = 5 (from the cache)",
            "the body ran 2 times",
            "a second start says: skipped: already running",
            "a third caller is refused",
        ],
    },
    Case {
        name: "cached",
        redis: false,
        expect: &[
            "sum_two(5, 5) = 10 (cached)",
            "enc_dec_sum(5, 5) = 60 (decoded: 20 * 3)",
            "lookup(\"42\") = Ok(42) (cached)",
        ],
    },
    Case {
        name: "custom_backend",
        redis: false,
        expect: &["cached: Some(Ok(\"42\"))", "pool size after release: 0"],
    },
    Case {
        name: "instances",
        redis: false,
        expect: &[
            "-> user 4 (recomputed)",
            "-> metric 5 (recomputed)",
            "USER- holds nightly-job; METRICS- nightly-job locked: false, USER- nightly-job locked: true",
            "5 computations in all",
        ],
    },
    Case {
        name: "lock",
        redis: false,
        expect: &[
            "the waiter got the lock as soon as it was released",
            "stuck is locked: false",
            "transfers: Ok(100) Ok(50)",
        ],
    },
    Case {
        name: "multi_layer",
        redis: false,
        expect: &[
            "user 42 (inner layer)",
            "after reset, inner layer holds: None",
        ],
    },
    Case {
        name: "once",
        redis: false,
        expect: &["skipped because a run was in progress"],
    },
    Case {
        name: "pooled",
        redis: false,
        expect: &["concurrent API calls", "queued"],
    },
    Case {
        name: "tracing",
        redis: false,
        expect: &[
            "cache miss key=\"square-4\" prefix=\"DEMO-\"",
            "cache hit key=\"square-4\" prefix=\"DEMO-\"",
            "cache miss: waiting for the call already running",
            "lock refused: held by another key=\"report\"",
            "lock held: waiting key=\"report\"",
            "lock acquired after waiting",
            "handoff=true",
            "pool full: refused key=\"exports\" prefix=\"DEMO-\" max_size=1",
        ],
    },
    Case {
        name: "near_cache",
        redis: true,
        expect: &[
            "price(7) = 1001 cents, lookups: 1",
            "served from the process: true",
            "after another process's reset: 1002 cents, lookups: 2",
            "near cache: tracking=true entries=",
        ],
    },
    Case {
        name: "redis",
        redis: true,
        expect: &["cached: hello from redis", "admitted: true true false; size 2"],
    },
    Case {
        name: "repository",
        redis: true,
        expect: &[
            "cache and locks on Redis",
            "find(1) = Alice (database reads: 1)",
            "find(1) again = Alice (database reads: 1)",
            "errors are not cached (database reads: 3)",
            "two concurrent renames ran one at a time",
            "write lock held now: false",
            "(database reads: 4)",
        ],
    },
    Case {
        name: "worker",
        redis: true,
        expect: &["ran worker=worker tick=1 ", "skipped worker=worker tick=2", "done after 10 ticks"],
    },
];

/// Examples that no case runs, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "axum_service",
        "serves until stopped; tests/axum_service.rs calls it over HTTP",
    ),
    (
        "metrics",
        "serves until its input ends; `metrics_are_scraped_over_http` below scrapes it",
    ),
];

fn run_case(name: &str) {
    let case = CASES
        .iter()
        .find(|case| case.name == name)
        .expect("a case of that name");
    let mut command = Command::new(support::examples::binary(case.name));
    if case.redis {
        command.env("REDIS_URL", support::redis::server().url());
    }
    let output = support::examples::run(command, Duration::from_secs(60));
    let stdout = support::examples::stdout(&output);
    assert!(
        output.status.success(),
        "example {name} failed: {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in case.expect {
        assert!(
            stdout.contains(expected),
            "example {name} did not print {expected:?}:\n{stdout}"
        );
    }
}

/// A new example fails here until it is given a case (or a reason not to run it).
#[test]
fn every_example_is_run_or_excused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let covered = CASES.iter().any(|case| case.name == name)
            || NOT_RUN.iter().any(|(excused, _)| *excused == name);
        if !covered {
            missing.push(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "examples without a case: {missing:?}");
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*

        /// Every case has its test above.
        #[test]
        fn every_case_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for case in CASES {
                assert!(tested.contains(&case.name), "no test runs {}", case.name);
            }
        }
    };
}

cases!(
    quickstart,
    cached,
    custom_backend,
    instances,
    lock,
    multi_layer,
    once,
    pooled,
    tracing,
    near_cache,
    redis,
    repository,
    worker
);

/// `examples/metrics.rs` (the `metrics` feature) scraped over HTTP as Prometheus would:
/// the counters carry the function's name and the instance's prefix as labels.
#[cfg(feature = "metrics")]
#[test]
fn metrics_are_scraped_over_http() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;
    use std::sync::mpsc;

    /// The example's process, killed if the test ends (or fails) before it exits.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    // Port 0: the example binds a free port itself and prints it.
    let mut child = Running(
        Command::new(support::examples::binary("metrics"))
            .env("METRICS_ADDR", "127.0.0.1:0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the example starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut output = Vec::new();
    while !output
        .iter()
        .any(|line: &String| line.starts_with("serving metrics"))
    {
        match printed.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => output.push(line),
            Err(_) => panic!("the example did not start serving: {output:?}"),
        }
    }
    let addr = output
        .iter()
        .find_map(|line| line.strip_prefix("serving metrics on http://"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address printed: {output:?}"));
    assert!(
        output.contains(&"square: 2 hits, 2 misses, 2 stores".to_owned()),
        "{output:?}"
    );

    let scrape = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    // The example listens before it prints its address; a refused connection is retried
    // all the same.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let page = loop {
        match scrape() {
            Ok(page) => break page,
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("cannot scrape {addr}: {error}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let value = |metric: &str, function: &str| -> Option<String> {
        page.lines()
            .filter(|line| line.starts_with(&format!("{metric}{{")))
            .filter(|line| line.contains(&format!("function=\"{function}\"")))
            .filter(|line| line.contains("prefix=\"APP-\""))
            .find_map(|line| line.rsplit(' ').next().map(str::to_owned))
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert_eq!(
        value("cachify_cache_hits", "metrics::square").as_deref(),
        Some("2"),
        "{page}"
    );
    assert_eq!(
        value("cachify_cache_misses", "metrics::square").as_deref(),
        Some("2"),
        "{page}"
    );
    assert_eq!(
        value("cachify_cache_stores", "metrics::square").as_deref(),
        Some("2"),
        "{page}"
    );
    assert_eq!(
        value("cachify_lock_acquisitions", "metrics::nightly_report").as_deref(),
        Some("2"),
        "{page}"
    );
    assert!(page.contains("cachify_miss_body_seconds"), "{page}");

    drop(child.0.stdin.take()); // its input ends: the example exits
                                // No event tells a process's exit with a deadline: poll it (killed by `Running`
                                // if it never exits).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.0.try_wait().unwrap() {
            Some(status) => break status,
            None if std::time::Instant::now() > deadline => {
                panic!("the example did not exit when its input ended")
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(status.success(), "{status:?}");
}
