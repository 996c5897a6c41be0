//! `/v1/reports/accounts`: the account view of a campaign, an audience or
//! an advertiser, its target accounts with their status (a page, or all as
//! CSV), and `/v1/reports/settings`, the tenant's reporting rules.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use utoipa::{IntoParams, ToSchema};

use super::{AccountRow, AccountView, Scope, Settings, Status};
use crate::report::api::wants_csv;
use crate::report::{range, uuid};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// One of `campaign_id`, `audience_id`, `advertiser_id`.
    pub campaign_id: Option<String>,
    pub audience_id: Option<String>,
    pub advertiser_id: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
}

/// The scope and window of a request, checked (every problem listed).
fn scope_and_window(
    q: &ViewQuery,
    errors: &mut Vec<FieldError>,
) -> Option<(Scope, (NaiveDate, NaiveDate))> {
    let c = uuid("campaign_id", q.campaign_id.as_deref(), errors);
    let a = uuid("audience_id", q.audience_id.as_deref(), errors);
    let v = uuid("advertiser_id", q.advertiser_id.as_deref(), errors);
    let given = [&q.campaign_id, &q.audience_id, &q.advertiser_id]
        .iter()
        .filter(|x| x.is_some())
        .count();
    if given != 1 {
        errors.push(FieldError::new(
            "campaign_id",
            "required",
            "exactly one of campaign_id, audience_id, advertiser_id",
        ));
    }
    let window = range(q.from.as_deref(), q.to.as_deref(), errors);
    let scope = match (c, a, v) {
        (Some(c), None, None) => Scope::Campaign(c),
        (None, Some(a), None) => Scope::Audience(a),
        (None, None, Some(v)) => Scope::Advertiser(v),
        _ => return None,
    };
    Some((scope, window?))
}

/// Target accounts reached and engaged, reach, frequency, spend per reached
/// account, the top accounts, and held-out accounts reached anyway.
#[utoipa::path(get, path = "/v1/reports/accounts", tag = "reports", operation_id = "reports_accounts",
    params(ViewQuery),
    responses((status = 200, body = AccountView), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn view(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ViewQuery>,
) -> Result<Json<AccountView>, ApiError> {
    let mut errors = Vec::new();
    let checked = scope_and_window(&q, &mut errors);
    let (Some((scope, (from, to))), true) = (checked, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = super::account_view(&mut tx, &ctx.principal, scope, from, to).await;
    tx.end_read();
    Ok(Json(found?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TargetsQuery {
    pub campaign_id: Option<String>,
    pub audience_id: Option<String>,
    pub advertiser_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `engaged`, `reached` or `unreached` (default: all).
    pub status: Option<String>,
    /// The last domain of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
    /// `json` (default) or `csv` (every account; also `Accept: text/csv`).
    pub format: Option<String>,
}

/// A page of target accounts, by domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetPage {
    pub items: Vec<AccountRow>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// The target accounts with their status and delivery: the unreached list
/// with `status=unreached`.
#[utoipa::path(get, path = "/v1/reports/accounts/targets", tag = "reports", operation_id = "reports_account_targets",
    params(TargetsQuery),
    responses((status = 200, body = TargetPage, description = "JSON, or CSV with format=csv"),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn targets(
    ctx: InTenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TargetsQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let csv = wants_csv(q.format.as_deref(), &headers, &mut errors);
    let view = ViewQuery {
        campaign_id: q.campaign_id.clone(),
        audience_id: q.audience_id.clone(),
        advertiser_id: q.advertiser_id.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let checked = scope_and_window(&view, &mut errors);
    let status = match q.status.as_deref() {
        None => None,
        Some("engaged") => Some(Status::Engaged),
        Some("reached") => Some(Status::Reached),
        Some("unreached") => Some(Status::Unreached),
        Some(other) => {
            errors.push(FieldError::new(
                "status",
                "invalid",
                format!("{other} is not one of engaged, reached, unreached"),
            ));
            None
        }
    };
    let limit = if csv {
        i64::MAX - 1
    } else {
        q.limit.unwrap_or(100)
    };
    if !csv && !(1..=10_000).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 10000"));
    }
    if q.after.as_deref().is_some_and(|a| a.len() > 253) {
        errors.push(FieldError::new("after", "too_long", "at most 253 bytes"));
    }
    let (Some((scope, window)), true) = (checked, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = super::accounts(
        &mut tx,
        &ctx.principal,
        scope,
        window,
        status,
        q.after.as_deref(),
        limit + 1,
    )
    .await;
    tx.end_read();
    let mut rows = found?;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"target-accounts.csv\"",
                ),
            ],
            to_csv(&rows),
        )
            .into_response());
    }
    let next_after = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.domain.clone())
    } else {
        None
    };
    Ok(Json(TargetPage {
        items: rows,
        next_after,
    })
    .into_response())
}

fn to_csv(rows: &[AccountRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
    // Writing to a Vec cannot fail.
    let _ = w.write_record([
        "domain",
        "name",
        "status",
        "impressions",
        "clicks",
        "spend_usd_micros",
    ]);
    for r in rows {
        let _ = w.write_record([
            r.domain.as_str(),
            r.name.as_deref().unwrap_or_default(),
            r.status.as_str(),
            &r.impressions.to_string(),
            &r.clicks.to_string(),
            &r.spend_usd_micros.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// The tenant's reporting rules: when an account is engaged, and the
/// pacing tolerance.
#[utoipa::path(get, path = "/v1/reports/settings", tag = "reports", operation_id = "reports_settings_get",
    responses((status = 200, body = Settings), (status = 403, body = Problem)))]
pub async fn get_settings(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Settings>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = super::settings(&mut tx, &ctx.principal).await;
    tx.end_read();
    Ok(Json(found?))
}

/// Set the tenant's reporting rules (audited).
#[utoipa::path(put, path = "/v1/reports/settings", tag = "reports", operation_id = "reports_settings_put",
    request_body = Settings,
    responses((status = 200, body = Settings), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_settings(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<Settings>,
) -> Result<Json<Settings>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let saved = super::update_settings(&mut tx, &ctx.principal, body).await?;
    tx.commit().await?;
    Ok(Json(saved))
}
