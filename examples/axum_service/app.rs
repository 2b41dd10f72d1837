//! The service behind `examples/axum_service`: its routes, and the cached, pooled
//! upstream call its handlers make. `tests/axum_service.rs` drives the same [`app`].
//!
//! - `GET /products/{id}`: the product, through two `#[cached]` layers: a 2-second
//!   in-memory layer in this process over a 60-second layer on Redis shared by every
//!   replica, refreshed in the background once it is 50 seconds old (`refresh`), so a
//!   product that is asked for keeps answering from the cache. A miss on both calls the
//!   upstream.
//! - `DELETE /products/{id}`: forgets the product in both layers.
//! - `GET /upstream`: how many upstream calls are in flight, across all replicas.
//!
//! The upstream is slow and fragile, so at most [`UPSTREAM_MAX_CONCURRENCY`] calls reach
//! it at once (`#[pooled]`, on Redis: the bound holds across replicas); a request that
//! finds the pool full gets `503 Service Unavailable` with `Retry-After` at once, rather
//! than queueing behind the upstream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cachify::{cached, pooled, Cachify, Error, Pool};
use serde::{Deserialize, Serialize};

/// How long the simulated upstream takes to answer.
pub const UPSTREAM_LATENCY: Duration = Duration::from_millis(200);

/// The most upstream calls in flight at once, across every replica.
pub const UPSTREAM_MAX_CONCURRENCY: usize = 2;

/// The in-process layer: answers repeated requests without a Redis round trip, and
/// forgets quickly so that replicas never disagree for long.
static LOCAL: LazyLock<Cachify> = LazyLock::new(|| {
    Cachify::builder()
        .prefix("SVC-LOCAL-")
        .default_cache_ttl(Duration::from_secs(2))
        .build()
});

static UPSTREAM_CALLS: AtomicU64 = AtomicU64::new(0);

/// What the upstream knows about a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its price in cents.
    pub price_cents: u64,
}

/// Makes the global instance: Redis at `redis_url`, shared by every replica.
pub fn init(redis_url: &str) -> Result<Cachify, Error> {
    Ok(Cachify::builder()
        .redis(redis_url)?
        .prefix("SVC-")
        .default_cache_ttl(Duration::from_secs(60))
        .init())
}

/// The routes; call [`init`] first.
pub fn app() -> Router {
    Router::new()
        .route("/products/{id}", get(show_product).delete(forget_product))
        .route("/upstream", get(upstream_status))
}

/// How many times this process called the upstream.
pub fn upstream_calls() -> u64 {
    UPSTREAM_CALLS.load(Ordering::SeqCst)
}

/// The pool that bounds upstream calls (the one `#[pooled]` on [`fetch_product`] uses).
pub fn upstream_pool() -> Pool {
    cachify::pool("upstream", UPSTREAM_MAX_CONCURRENCY)
}

async fn show_product(Path(id): Path<u64>) -> Result<String, ApiError> {
    let product = product(id).await?;
    Ok(format!(
        "{} {} {}\n",
        product.id, product.name, product.price_cents
    ))
}

async fn forget_product(Path(id): Path<u64>) -> Result<StatusCode, ApiError> {
    // The outer layer's reset clears the inner (Redis) layer too.
    product::reset(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upstream_status() -> Result<String, ApiError> {
    let in_flight = upstream_pool().size_async().await?;
    Ok(format!(
        "{in_flight}/{UPSTREAM_MAX_CONCURRENCY} upstream calls in flight\n"
    ))
}

/// A product, from this process's memory, else Redis, else the upstream. Only `Ok`
/// values are cached: a busy upstream is asked again next time. A Redis value older
/// than 50 s is returned as it is, and refreshed from the upstream in the background
/// (once per product across the processes sharing Redis; a failed refresh keeps it
/// until its 60 s ttl).
#[cached(key = "product-{id}", cachify = LOCAL)]
#[cached(key = "product-{id}", ttl = 60, refresh = 50)]
async fn product(id: u64) -> Result<Product, Error> {
    fetch_product(id).await
}

/// The slow upstream call, at most [`UPSTREAM_MAX_CONCURRENCY`] at once; a call that
/// finds them all busy fails with `Error::PoolFull` at once.
#[pooled(key = "upstream", max_size = UPSTREAM_MAX_CONCURRENCY, raise_on_full = true)]
async fn fetch_product(id: u64) -> Result<Product, Error> {
    UPSTREAM_CALLS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(UPSTREAM_LATENCY).await;
    Ok(Product {
        id,
        name: format!("product {id}"),
        price_cents: 100 * id,
    })
}

/// A cachify error as an HTTP answer.
struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            Error::PoolFull { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "the upstream is busy; retry shortly\n",
            )
                .into_response(),
            error => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
        }
    }
}
