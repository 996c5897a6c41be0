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
#[utoipa::path(get, path = "/health/live", tag = "operations",
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
#[utoipa::path(get, path = "/health/ready", tag = "operations",
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
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool),
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

/// The deployment in progress, as `p360 deploy` records it: whether one
/// runs, the new slot's share, and how long its controller has been silent
/// (a dead controller can leave traffic split; an alert watches this).
async fn record_deploy_metrics(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let (running, weight, silent): (i64, f64, f64) = sqlx::query_as(
        "SELECT count(*), coalesce(max(weight), 0)::float8, \
         coalesce(max(extract(epoch FROM now() - heartbeat_at)), 0)::float8 \
         FROM deployments WHERE status = 'running'",
    )
    .fetch_one(pool)
    .await?;
    metrics::gauge!("p360_deploy_in_progress").set(running as f64);
    metrics::gauge!("p360_deploy_weight_percent").set(weight);
    metrics::gauge!("p360_deploy_controller_silent_seconds").set(silent);
    Ok(())
}

/// Prometheus text exposition of the process's metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
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
        match tokio::time::timeout(READY_DB_TIMEOUT, record_deploy_metrics(pool)).await {
            Ok(Ok(())) => {}
            // Before migration 13, or a database without the deployment tables.
            Ok(Err(e)) => tracing::debug!(error = %e, "deployment metrics unavailable"),
            Err(_) => tracing::debug!("deployment metrics timed out"),
        }
    }
    crate::telemetry::record_process_metrics();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
