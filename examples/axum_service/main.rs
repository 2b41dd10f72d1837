//! An HTTP service whose handlers cache over Redis with an in-memory layer on top, and
//! bound calls to a slow upstream with a pool (see `app.rs`).
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example axum_service
//! curl localhost:3000/products/7            # slow: the upstream answers
//! curl localhost:3000/products/7            # fast: cached
//! curl -X DELETE localhost:3000/products/7  # forget it
//! curl localhost:3000/upstream              # calls in flight
//! ```
//!
//! `REDIS_URL` defaults to `redis://127.0.0.1:6379`, `ADDR` to `127.0.0.1:3000`.

mod app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    app::init(&url)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app::app())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("stopped after {} upstream calls", app::upstream_calls());
    Ok(())
}
