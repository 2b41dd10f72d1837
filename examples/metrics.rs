//! cachify's numbers scraped by Prometheus: a `#[cached]` function and a `#[lock]`
//! function, and `metrics-exporter-prometheus` rendering what they counted, served on
//! loopback. With the `metrics` feature, cachify emits its counters and timings through
//! the `metrics` crate; installing an exporter is all the code an application adds.
//!
//! ```text
//! cargo run --example metrics --features metrics
//! curl 127.0.0.1:9000/metrics
//! ```
//!
//! `METRICS_ADDR` sets the address (default `127.0.0.1:9000`; port 0 picks a free one).
//! The program prints the address it serves on, and serves until its standard input ends
//! (Enter, or Ctrl-D).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use cachify::{cached, lock, Cachify};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[cached(key = "square-{n}")]
fn square(n: u64) -> u64 {
    n * n
}

#[lock(key = "nightly-report")]
fn nightly_report() -> Result<&'static str, cachify::Error> {
    Ok("report written")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9000".into());
    // Bound here rather than by the exporter, so that the address it got (port 0 asks
    // for a free one) can be printed.
    let listener = TcpListener::bind(addr.as_str())?;
    let metrics = PrometheusBuilder::new().install_recorder()?;
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
    println!(
        "serving metrics on http://{}/metrics until stdin ends",
        listener.local_addr()?
    );
    std::thread::spawn(move || serve(&listener, &metrics));
    std::io::stdin().read_line(&mut String::new())?;
    Ok(())
}

/// Answers every request with the exporter's rendering of the metrics.
fn serve(listener: &TcpListener, metrics: &PrometheusHandle) {
    for stream in listener.incoming().flatten() {
        if let Err(error) = answer(stream, metrics) {
            eprintln!("a scrape failed: {error}");
        }
    }
}

fn answer(mut stream: TcpStream, metrics: &PrometheusHandle) -> std::io::Result<()> {
    // The request's head, up to its blank line; whatever it asks, it gets the metrics.
    let mut request = BufReader::new(&stream);
    let mut line = String::new();
    while request.read_line(&mut line)? > 2 {
        line.clear();
    }
    let body = metrics.render();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
