//! `GET /v1/reports/alerts`: the tenant's open delivery alerts.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::InTenant;
use tenancy::roles::Permission;
use utoipa::ToSchema;
use uuid::Uuid;

/// An open alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: Uuid,
    /// `under_pacing`, `over_pacing` or `no_delivery`.
    pub kind: String,
    pub campaign_id: Option<Uuid>,
    pub opened_at: DateTime<Utc>,
    /// What the watch saw when it opened the alert.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The tenant's open delivery alerts, newest first.
#[utoipa::path(get, path = "/v1/reports/alerts", tag = "reports", operation_id = "reports_alerts",
    responses((status = 200, body = Vec<AlertView>), (status = 403, body = Problem)))]
pub async fn alerts(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = super::open_alerts(&mut tx).await;
    tx.end_read();
    Ok(Json(
        found?
            .into_iter()
            .map(|a| AlertView {
                id: a.id,
                kind: a.kind,
                campaign_id: a.campaign_id,
                opened_at: a.opened_at,
                detail: a.detail,
            })
            .collect(),
    ))
}
