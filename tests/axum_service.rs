//! `examples/axum_service` over real HTTP, on a real Redis: the second request is a cache
//! hit, concurrent misses call the upstream once, `DELETE` forgets the product, and a
//! full upstream pool answers 503 at once.

mod support;

#[path = "../examples/axum_service/app.rs"]
mod service;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An answer: status code and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`: read to the end).
async fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("the service listens");
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    Answer {
        status,
        body: body.to_owned(),
    }
}

async fn start() -> SocketAddr {
    let url = support::redis::server().url();
    service::init(&url).expect("the harness URL is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, service::app()).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_cached_reset_and_bounded() {
    let addr = start().await;
    let global = cachify::Cachify::global().unwrap();
    let redis_entry = || async {
        global
            .async_client()
            .get(&global.cache_key("product-7"))
            .await
            .unwrap()
    };

    // A miss calls the upstream once and fills both layers; the repeat is a hit.
    let first = request(addr, "GET", "/products/7").await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, "7 product 7 700\n")
    );
    assert_eq!(service::upstream_calls(), 1);
    assert!(redis_entry().await.is_some(), "the Redis layer holds it");
    let second = request(addr, "GET", "/products/7").await;
    assert_eq!((second.status, second.body), (200, first.body.clone()));
    assert_eq!(service::upstream_calls(), 1, "the second request was a hit");

    // Concurrent misses on one product: one upstream call between them.
    let calls = service::upstream_calls();
    let answers = futures_join3(
        request(addr, "GET", "/products/9"),
        request(addr, "GET", "/products/9"),
        request(addr, "GET", "/products/9"),
    )
    .await;
    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{answers:?}"
    );
    assert_eq!(service::upstream_calls(), calls + 1, "single flight");

    // DELETE clears both layers: the next request calls the upstream again.
    let forgotten = request(addr, "DELETE", "/products/7").await;
    assert_eq!(forgotten.status, 204, "{forgotten:?}");
    assert!(redis_entry().await.is_none(), "the Redis layer forgot it");
    let calls = service::upstream_calls();
    let again = request(addr, "GET", "/products/7").await;
    assert_eq!((again.status, again.body), (200, first.body));
    assert_eq!(service::upstream_calls(), calls + 1);

    // Every upstream slot taken (as other replicas would): a miss gets 503 at once.
    let pool = service::upstream_pool();
    let mut held = Vec::new();
    for _ in 0..service::UPSTREAM_MAX_CONCURRENCY {
        held.push(pool.acquire_async().await.unwrap());
    }
    let status = request(addr, "GET", "/upstream").await;
    assert_eq!(status.body, "2/2 upstream calls in flight\n");
    let calls = service::upstream_calls();
    let busy = request(addr, "GET", "/products/8").await;
    assert_eq!(busy.status, 503, "{busy:?}");
    assert_eq!(
        service::upstream_calls(),
        calls,
        "the upstream was not called"
    );
    for slot in held {
        slot.release_async().await.unwrap();
    }
    // The refusal was not cached: with the slots back, the product loads.
    let loaded = request(addr, "GET", "/products/8").await;
    assert_eq!(
        (loaded.status, loaded.body.as_str()),
        (200, "8 product 8 800\n")
    );
    assert_eq!(service::upstream_calls(), calls + 1);
}

async fn futures_join3<F: std::future::Future>(a: F, b: F, c: F) -> [F::Output; 3] {
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}
