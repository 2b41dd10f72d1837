//! A job loop where `#[once]` skips overlapping runs, across every process sharing Redis.
//!
//! Each tick spawns the job; a run takes longer than a tick, so the next ticks find the
//! job running (here or in another worker process) and skip instead of piling up. Every
//! run prints its start and end (microseconds since the Unix epoch), so the output of
//! several workers shows that no two runs overlapped.
//!
//! Run two or three at once against one Redis:
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example worker -- --name a &
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example worker -- --name b
//! ```
//!
//! Options: `--name NAME` (default `worker`), `--ticks N` (10), `--tick-ms MS` (100),
//! `--job-ms MS` (250). `REDIS_URL` defaults to `redis://127.0.0.1:6379`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachify::{once, Cachify};

/// One run of the job: when it started and ended, in microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
struct Run {
    start_us: u128,
    end_us: u128,
}

/// The job. While one run is in progress anywhere, other calls return `None` at once.
/// The key lives `exp` (5 s) and is renewed while the run lasts (`auto_extend`), so a
/// run longer than 5 s keeps it, and a worker that dies mid-run frees the job within 5 s.
#[once("nightly-report", exp = 5, auto_extend = true, return_on_locked = None)]
async fn nightly_report(work: Duration) -> Option<Run> {
    let start_us = now_us();
    tokio::time::sleep(work).await; // the actual report
    Some(Run {
        start_us,
        end_us: now_us(),
    })
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

/// The command line.
struct Options {
    name: String,
    ticks: u32,
    tick: Duration,
    job: Duration,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut options = Options {
            name: "worker".into(),
            ticks: 10,
            tick: Duration::from_millis(100),
            job: Duration::from_millis(250),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("bad {flag} {value}"))
            };
            match flag.as_str() {
                "--name" => options.name = value.clone(),
                "--ticks" => options.ticks = number()? as u32,
                "--tick-ms" => options.tick = Duration::from_millis(number()?),
                "--job-ms" => options.job = Duration::from_millis(number()?),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse()?;
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    Cachify::builder().redis(&url)?.prefix("WORKER-").init();

    let mut ticks = tokio::time::interval(options.tick);
    let mut jobs = Vec::new();
    for tick in 1..=options.ticks {
        ticks.tick().await;
        let (name, work) = (options.name.clone(), options.job);
        jobs.push(tokio::spawn(async move {
            match nightly_report(work).await {
                Some(run) => println!(
                    "ran worker={name} tick={tick} start_us={} end_us={}",
                    run.start_us, run.end_us
                ),
                None => println!("skipped worker={name} tick={tick}"),
            }
        }));
    }
    for job in jobs {
        job.await?;
    }
    println!("worker {} done after {} ticks", options.name, options.ticks);
    Ok(())
}
