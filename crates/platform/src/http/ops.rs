//! Operational endpoints: liveness, readiness and Prometheus metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::Problem;

/// How long the readiness probe waits for the database.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(metrics_text))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `live` or `ready`.
    pub status: &'static str,
    pub version: &'static str,
    /// The release label (`release` in the configuration; else the version).
    pub release: String,
    /// Result of each dependency check (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub database: &'static str,
}

fn release(state: &AppState) -> String {
    state
        .config
        .release
        .clone()
        .unwrap_or_else(|| state.build.version.to_string())
}

/// The process answers.
#[utoipa::path(get, path = "/health/live", tag = "operations", operation_id = "health_live",
    responses((status = 200, description = "The process is running", body = Health)))]
pub async fn live(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "live",
        version: state.build.version,
        release: release(&state),
        checks: None,
    })
}

/// Ready to take traffic: dependencies reachable and not shutting down.
#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "health_ready",
    responses(
        (status = 200, description = "Ready for traffic", body = Health),
        (status = 503, description = "Shutting down or a dependency is unreachable", body = Problem, content_type = "application/problem+json")
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, Problem> {
    if state.is_shutting_down() {
        return Err(Problem::service_unavailable("shutting down"));
    }
    let db = tokio::time::timeout(
        READY_DB_TIMEOUT,
        sqlx::query_scalar!("SELECT 1 AS one").fetch_one(&state.pool),
    )
    .await;
    match db {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ready",
            version: state.build.version,
            release: release(&state),
            checks: Some(Checks { database: "ok" }),
        })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            Err(Problem::service_unavailable("database unreachable"))
        }
        Err(_) => Err(Problem::service_unavailable("database check timed out")),
    }
}

/// Gauges a capability refreshes when `/metrics` is scraped, from the
/// database (e.g. the release process's deployment in progress).
pub type ScrapeHook = for<'a> fn(
    &'a sqlx::PgPool,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'a>,
>;

static SCRAPE_HOOKS: std::sync::Mutex<Vec<(&'static str, ScrapeHook)>> =
    std::sync::Mutex::new(Vec::new());

/// Refresh `name`'s gauges at every scrape (registering a name again replaces it).
pub fn on_scrape(name: &'static str, hook: ScrapeHook) {
    let mut hooks = SCRAPE_HOOKS.lock().unwrap_or_else(|e| e.into_inner());
    hooks.retain(|(n, _)| *n != name);
    hooks.push((name, hook));
}

/// Prometheus text exposition of the process's metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics_get",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let pool = &state.pool;
    let idle = pool.num_idle() as f64;
    let size = pool.size() as f64;
    metrics::gauge!("p360_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("p360_db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    metrics::gauge!("p360_db_pool_max_connections")
        .set(pool.options().get_max_connections() as f64);
    // Queue gauges; a scrape must not fail or hang because the database does.
    let db_up =
        match tokio::time::timeout(READY_DB_TIMEOUT, crate::jobs::record_queue_metrics(pool)).await
        {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "job queue metrics unavailable");
                false
            }
            Err(_) => {
                tracing::debug!("job queue metrics timed out");
                false
            }
        };
    metrics::gauge!("p360_db_up").set(if db_up { 1.0 } else { 0.0 });
    if db_up {
        let hooks = SCRAPE_HOOKS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (name, hook) in hooks {
            match tokio::time::timeout(READY_DB_TIMEOUT, hook(pool)).await {
                Ok(Ok(())) => {}
                // E.g. a database without that capability's tables yet.
                Ok(Err(e)) => tracing::debug!(gauges = name, error = %e, "metrics unavailable"),
                Err(_) => tracing::debug!(gauges = name, "metrics timed out"),
            }
        }
    }
    crate::telemetry::record_process_metrics();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
