//! HTTP plumbing shared by every capability: state, the router skeleton,
//! request middleware (ids, logs, metrics, timeouts, problem+json for every
//! error) and the operational endpoints (health, metrics, OpenAPI).

pub mod middleware;
pub mod ops;
pub mod pagination;
pub mod problem;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::telemetry::BuildInfo;

/// State every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub build: BuildInfo,
    pub metrics: PrometheusHandle,
    pub rate_limiter: Arc<crate::rate_limit::RateLimiter>,
    pub storage: crate::storage::Storage,
    /// Cleared as soon as shutdown begins, so load balancers stop routing here.
    accepting: Arc<AtomicBool>,
}

impl AppState {
    /// The shared state; connects to Redis when `redis.url` is set.
    pub async fn new(
        pool: PgPool,
        config: Arc<Config>,
        build: BuildInfo,
    ) -> anyhow::Result<AppState> {
        let limiter =
            crate::rate_limit::RateLimiter::new(config.rate_limit.clone(), &config.redis).await?;
        let storage = crate::storage::Storage::from_config(&config)?;
        Ok(AppState {
            pool,
            config,
            build,
            rate_limiter: Arc::new(limiter),
            storage,
            metrics: crate::telemetry::prometheus(build),
            accepting: Arc::new(AtomicBool::new(true)),
        })
    }

    pub fn is_shutting_down(&self) -> bool {
        !self.accepting.load(Ordering::SeqCst)
    }

    /// Mark the instance as leaving: readiness answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "P360 Display API",
        description = "Account-based display advertising: campaigns, audiences, activation, measurement, attribution and billing.",
        license(name = "Proprietary")
    ),
    components(schemas(problem::Problem, problem::FieldError)),
    tags((name = "operations", description = "Health, metrics and API description"))
)]
struct ApiDoc;

/// The complete application router: the operational endpoints, the given
/// capability routes, the OpenAPI document of all of them, and the middleware.
pub fn router(state: AppState, capabilities: OpenApiRouter<AppState>) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(capabilities)
        .split_for_parts();
    // Rendered once: the document only changes with the binary.
    let document = axum::body::Bytes::from(api.to_json().expect("the OpenAPI document serialises"));
    let body_limit = state.config.http.body_limit_bytes;
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        // Inside `observe`, so injected failures are counted like real ones.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// Routes a capability contributes, with their OpenAPI description.
pub type ApiRoutes = OpenApiRouter<AppState>;
