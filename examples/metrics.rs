//! cachify's numbers scraped by Prometheus: a `#[cached]` function and a `#[lock]`
//! function, and `metrics-exporter-prometheus` serving what they counted on loopback.
//! With the `metrics` feature, cachify emits its counters and timings through the
//! `metrics` crate; installing an exporter is all the code an application adds.
//!
//! ```text
//! cargo run --example metrics --features metrics
//! curl 127.0.0.1:9000/metrics
//! ```
//!
//! `METRICS_ADDR` sets the address (default `127.0.0.1:9000`). The program serves until
//! its standard input ends (Enter, or Ctrl-D).

use std::net::SocketAddr;

use cachify::{cached, lock, Cachify};
use metrics_exporter_prometheus::PrometheusBuilder;

#[cached(key = "square-{n}")]
fn square(n: u64) -> u64 {
    n * n
}

#[lock(key = "nightly-report")]
fn nightly_report() -> Result<&'static str, cachify::Error> {
    Ok("report written")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("METRICS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9000".into())
        .parse()?;
    // Without a tokio runtime here, the exporter serves from a thread of its own.
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()?;
    Cachify::builder().prefix("APP-").init();

    for n in [4, 4, 4, 5] {
        println!("square({n}) = {}", square(n));
    }
    for _ in 0..2 {
        println!("{}", nightly_report()?);
    }

    let squares = square::stats();
    println!(
        "square: {} hits, {} misses, {} stores",
        squares.hits, squares.misses, squares.stores
    );
    let reports = nightly_report::stats();
    println!("nightly_report: {} locks taken", reports.lock_acquisitions);
    println!("serving metrics on http://{addr}/metrics until stdin ends");
    std::io::stdin().read_line(&mut String::new())?;
    Ok(())
}
