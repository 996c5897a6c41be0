//! `/v1/attribution/...`: campaigns credited, an opportunity explained,
//! lift against an audience's holdout, the tenant's rules.

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::Deserialize;
use tenancy::InTenant;
use utoipa::IntoParams;

use crate::Settings;
use crate::models::Model;
use crate::service::{self, CampaignReport, Explain, LiftReport};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CampaignsQuery {
    /// `first_touch`, `last_touch`, `linear` (default), `time_decay`,
    /// `u_shaped`, `w_shaped` or `markov`.
    pub model: Option<String>,
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day, inclusive (at most 731 days after `from`).
    pub to: Option<String>,
}

/// Attributed pipeline and revenue per campaign under one model, with
/// influenced pipeline, spend and ROAS; the campaigns' credits add up to
/// the attributed totals to the micro, and what could not be attributed is
/// reported beside them.
#[utoipa::path(get, path = "/v1/attribution/campaigns", tag = "attribution",
    operation_id = "attribution_campaigns", params(CampaignsQuery),
    responses((status = 200, body = CampaignReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn campaigns(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<CampaignsQuery>,
) -> Result<Json<CampaignReport>, ApiError> {
    let model = match q.model.as_deref() {
        None => Some(Model::Linear),
        Some(m) => Model::parse(m),
    };
    let window = service::window_of(q.from.as_deref(), q.to.as_deref());
    let Some(model) = model else {
        return Err(Problem::validation(vec![FieldError::new(
            "model",
            "invalid",
            "first_touch, last_touch, linear, time_decay, u_shaped, w_shaped or markov",
        )])
        .into());
    };
    let (from, to) = window?;
    let mut tx = ctx.begin(&state.read_pool).await?;
    let report = service::campaigns(&mut tx, &ctx.principal, model, from, to).await;
    tx.end_read();
    Ok(Json(report?))
}

/// An opportunity's touches and the credit each model gave each of them.
#[utoipa::path(get, path = "/v1/attribution/opportunities/{id}", tag = "attribution",
    operation_id = "attribution_opportunity",
    params(("id" = String, Path, description = "The Salesforce opportunity id")),
    responses((status = 200, body = Explain), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn opportunity(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Explain>, ApiError> {
    let mut tx = ctx.begin(&state.read_pool).await?;
    let e = service::explain(&mut tx, &ctx.principal, &id).await;
    tx.end_read();
    Ok(Json(e?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiftQuery {
    /// An audience with a holdout.
    pub audience_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Targeted against held-out accounts of an audience over a window.
#[utoipa::path(get, path = "/v1/attribution/lift", tag = "attribution",
    operation_id = "attribution_lift", params(LiftQuery),
    responses((status = 200, body = LiftReport), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn lift(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<LiftQuery>,
) -> Result<Json<LiftReport>, ApiError> {
    let audience = q.audience_id.as_deref().map(uuid::Uuid::parse_str);
    let window = service::window_of(q.from.as_deref(), q.to.as_deref());
    let Some(Ok(audience)) = audience else {
        return Err(Problem::validation(vec![FieldError::new(
            "audience_id",
            "invalid",
            "an audience id",
        )])
        .into());
    };
    let (from, to) = window?;
    let mut tx = ctx.begin(&state.read_pool).await?;
    let r = service::lift(&mut tx, &ctx.principal, audience, from, to).await;
    tx.end_read();
    Ok(Json(r?))
}

/// The tenant's attribution rules.
#[utoipa::path(get, path = "/v1/attribution/settings", tag = "attribution",
    operation_id = "attribution_settings_get",
    responses((status = 200, body = Settings), (status = 403, body = Problem)))]
pub async fn get_settings(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Settings>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let s = service::settings(&mut tx, &ctx.principal).await;
    tx.end_read();
    Ok(Json(s?))
}

/// Set the tenant's attribution rules (audited).
#[utoipa::path(put, path = "/v1/attribution/settings", tag = "attribution",
    operation_id = "attribution_settings_put", request_body = Settings,
    responses((status = 200, body = Settings), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_settings(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<Settings>,
) -> Result<Json<Settings>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let s = service::update_settings(&mut tx, &ctx.principal, body).await?;
    tx.commit().await?;
    Ok(Json(s))
}
