//! `GET /v1/reports/pacing`: a campaign's pacing, an insertion order's
//! with its campaigns', or every campaign cleared to spend.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use utoipa::{IntoParams, ToSchema};

use super::{CampaignPacing, IoPacing};
use crate::report::uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PacingQuery {
    /// One campaign.
    pub campaign_id: Option<String>,
    /// An insertion order and its campaigns.
    pub insertion_order_id: Option<String>,
    /// The moment to compare at (RFC 3339); by default where the delivery
    /// data ends.
    pub at: Option<String>,
}

/// Pacing: spend to date against the mode's plan, the projection at the
/// flight's end, and the state.
#[derive(Debug, Serialize, ToSchema)]
pub struct PacingReport {
    /// With `insertion_order_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insertion_order: Option<IoPacing>,
    pub campaigns: Vec<CampaignPacing>,
}

/// Spend to date against plan (even, ahead or ASAP), projected spend at
/// the flight's end from the last three days, and under- or over-pacing
/// beyond the tenant's tolerance.
#[utoipa::path(get, path = "/v1/reports/pacing", tag = "reports", operation_id = "reports_pacing",
    params(PacingQuery),
    responses((status = 200, body = PacingReport), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn pacing(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<PacingQuery>,
) -> Result<Json<PacingReport>, ApiError> {
    let mut errors = Vec::new();
    let campaign = uuid("campaign_id", q.campaign_id.as_deref(), &mut errors);
    let io = uuid(
        "insertion_order_id",
        q.insertion_order_id.as_deref(),
        &mut errors,
    );
    if q.campaign_id.is_some() && q.insertion_order_id.is_some() {
        errors.push(FieldError::new(
            "insertion_order_id",
            "conflict",
            "campaign_id or insertion_order_id, not both",
        ));
    }
    let at = match q.at.as_deref().map(DateTime::parse_from_rfc3339) {
        None => None,
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "at",
                "invalid",
                "an RFC 3339 time, e.g. 2026-12-06T12:00:00Z",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = match (campaign, io) {
        (Some(c), _) => super::campaign(&mut tx, &ctx.principal, c, at)
            .await
            .map(|c| PacingReport {
                insertion_order: None,
                campaigns: vec![c],
            }),
        (None, Some(io)) => super::insertion_order(&mut tx, &ctx.principal, io, at)
            .await
            .map(|mut io| PacingReport {
                campaigns: std::mem::take(&mut io.campaigns),
                insertion_order: Some(io),
            }),
        (None, None) => super::live(&mut tx, Some(&ctx.principal), at)
            .await
            .map(|campaigns| PacingReport {
                insertion_order: None,
                campaigns,
            }),
    };
    tx.end_read();
    Ok(Json(found?))
}
