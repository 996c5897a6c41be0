//! Injected faults (`[faults]`, never in production mode) for drills and
//! tests of automated rollback: added latency, and a share of requests
//! answered 500. Readiness and `/metrics` are spared, so that health checks
//! and the deploy controller see the truth.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::http::problem::Problem;

use crate::config::FaultsConfig;

/// Wrap `router` in the fault injector when `faults` asks for any (inside
/// the request middleware, so injected failures are counted like real ones).
pub fn wrap<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    faults: &FaultsConfig,
) -> axum::Router<S> {
    if !faults.active() {
        return router;
    }
    let faults = Arc::new(faults.clone());
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let faults = faults.clone();
            async move { inject(&faults, req, next).await }
        },
    ))
}

async fn inject(f: &FaultsConfig, req: Request, next: Next) -> Response {
    if matches!(req.uri().path(), "/health/ready" | "/metrics") {
        return next.run(req).await;
    }
    if f.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms)).await;
    }
    // The low bits of a v7 UUID are random.
    let roll = (uuid::Uuid::now_v7().as_u128() & 0xffff_ffff) as f64 / 4_294_967_296.0;
    if roll < f.error_rate {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected-fault",
            "Injected fault",
        )
        .with_detail("faults.error_rate is set on this instance")
        .into_response();
    }
    next.run(req).await
}
