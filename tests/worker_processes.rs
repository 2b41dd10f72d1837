//! `examples/worker` in three processes at once, on one Redis: `#[once]` lets no two
//! runs of the job overlap, in any process, and the ticks that find it running skip.

mod support;

use std::process::Command;
use std::time::Duration;

const WORKERS: [&str; 3] = ["a", "b", "c"];
const TICKS: usize = 8;

/// One run as a worker printed it: `ran worker=a tick=3 start_us=.. end_us=..`.
#[derive(Debug)]
struct Run {
    line: String,
    start_us: u128,
    end_us: u128,
}

fn parse_run(line: &str) -> Option<Run> {
    let field = |name: &str| -> Option<u128> {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    line.starts_with("ran ").then(|| Run {
        line: line.to_owned(),
        start_us: field("start_us").expect("a run prints start_us"),
        end_us: field("end_us").expect("a run prints end_us"),
    })
}

#[test]
fn overlapping_runs_are_skipped_across_processes() {
    let url = support::redis::server().url();
    let binary = support::examples::binary("worker");
    // Start all three first, then collect: they run at the same time.
    let workers: Vec<_> = WORKERS
        .iter()
        .map(|name| {
            let mut command = Command::new(&binary);
            command
                .args(["--name", name, "--ticks", &TICKS.to_string()])
                .args(["--tick-ms", "50", "--job-ms", "120"])
                .env("REDIS_URL", &url);
            std::thread::spawn(move || support::examples::run(command, Duration::from_secs(30)))
        })
        .collect();
    let mut lines = Vec::new();
    for worker in workers {
        let output = worker.join().expect("a worker thread panicked");
        assert!(output.status.success(), "a worker failed: {output:?}");
        lines.extend(support::examples::stdout(&output).lines().map(String::from));
    }

    let mut runs: Vec<Run> = lines.iter().filter_map(|line| parse_run(line)).collect();
    let skipped = lines
        .iter()
        .filter(|line| line.starts_with("skipped "))
        .count();
    assert_eq!(
        runs.len() + skipped,
        WORKERS.len() * TICKS,
        "every tick either ran or skipped: {lines:#?}"
    );
    assert!(!runs.is_empty(), "some tick ran the job: {lines:#?}");
    assert!(skipped > 0, "some tick found the job running: {lines:#?}");

    runs.sort_by_key(|run| run.start_us);
    for pair in runs.windows(2) {
        assert!(
            pair[0].end_us <= pair[1].start_us,
            "two runs overlapped:\n{}\n{}",
            pair[0].line,
            pair[1].line
        );
    }
}
