//! The anchor of `scripts/bench-foundation` (docs/benchmarks.md): a bare
//! axum 0.8 server on tokio's default multi-threaded runtime, answering
//! `GET /health/live` with the same JSON body and content type as
//! `p360 serve`, and nothing else — no request id, access log, metrics,
//! timeout or problem+json. What `p360 serve` answers beyond this is the
//! cost of the request path.
//!
//! `bare_axum ADDR` (e.g. `127.0.0.1:18360`).

use axum::Json;
use axum::routing::get;
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    release: String,
}

async fn live() -> Json<Health> {
    Json(Health {
        status: "live",
        version: env!("CARGO_PKG_VERSION"),
        release: env!("CARGO_PKG_VERSION").to_string(),
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18360".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let app = axum::Router::new().route("/health/live", get(live));
    axum::serve(listener, app).await
}
