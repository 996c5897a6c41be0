//! `GET /v1/integrations/salesforce/accounts/match-report`.

use axum::Json;
use axum::extract::State;
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use tenancy::InTenant;

use super::MatchReport;

/// How the tenant's Salesforce accounts matched companies.
#[utoipa::path(get, path = "/v1/integrations/salesforce/accounts/match-report", tag = "integrations",
    operation_id = "salesforce_match_report",
    responses((status = 200, body = MatchReport), (status = 403, body = Problem)))]
pub async fn report(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<MatchReport>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let r = super::report(&mut tx, &ctx.principal).await;
    tx.end_read();
    Ok(Json(r?))
}
