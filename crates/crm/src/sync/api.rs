//! `POST /v1/integrations/salesforce/sync`: sync now.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::InTenant;
use utoipa::ToSchema;

/// A sync queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncQueued {
    /// The job that runs it (absent when one is already waiting).
    pub job_id: Option<uuid::Uuid>,
}

/// Sync the tenant's org now (a job; the connection shows when it ended).
#[utoipa::path(post, path = "/v1/integrations/salesforce/sync", tag = "integrations",
    operation_id = "salesforce_sync",
    responses((status = 202, body = SyncQueued), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn sync(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<SyncQueued>), ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let job_id = super::queue(&mut tx, &ctx.principal).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(SyncQueued { job_id })))
}
