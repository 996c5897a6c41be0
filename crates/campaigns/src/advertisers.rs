//! Advertisers: the brands a tenant advertises for. Currency is fixed at creation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use tenancy::roles::Permission;
use tenancy::scope::{self, Visibility};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::{Page, Versioned, if_match, page, stale};
use crate::{domain, money};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Advertiser {
    pub id: Uuid,
    pub name: String,
    /// Normalised website domain.
    pub domain: String,
    pub industry: Option<String>,
    /// ISO 4217; fixed after creation.
    pub currency: String,
    /// Default attribution look-back after a click.
    pub click_lookback_days: i64,
    /// Default attribution look-back after an impression.
    pub view_lookback_days: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdvertiser {
    pub name: String,
    /// Website; normalised (`https://www.Acme.com/x` -> `acme.com`).
    pub domain: String,
    pub currency: String,
    pub industry: Option<String>,
    pub click_lookback_days: Option<i64>,
    pub view_lookback_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvertiserPatch {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub click_lookback_days: Option<i64>,
    pub view_lookback_days: Option<i64>,
    /// Refused: an advertiser's currency is fixed.
    pub currency: Option<String>,
}

fn check_lookback(field: &str, v: Option<i64>, errors: &mut Vec<FieldError>) {
    if let Some(v) = v
        && !(1..=365).contains(&v)
    {
        errors.push(FieldError::new(field, "out_of_range", "1 to 365 days"));
    }
}

fn name_taken(e: sqlx::Error, name: &str) -> ApiError {
    conflict_on(e, "advertisers_tenant_name_key", || {
        format!("an advertiser named {name} exists")
    })
}

/// Create an advertiser.
#[utoipa::path(post, path = "/v1/advertisers", tag = "campaigns", request_body = NewAdvertiser,
    responses((status = 201, body = Advertiser), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewAdvertiser>,
) -> Result<Versioned<Advertiser>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    crate::check_name(&body.name, &mut errors);
    let domain = domain::normalise(&body.domain)
        .map_err(|m| errors.push(FieldError::new("domain", "invalid_domain", m)))
        .ok();
    if money::currency_digits(&body.currency).is_none() {
        errors.push(FieldError::new(
            "currency",
            "invalid_currency",
            "an ISO 4217 code, e.g. USD",
        ));
    }
    check_lookback("click_lookback_days", body.click_lookback_days, &mut errors);
    check_lookback("view_lookback_days", body.view_lookback_days, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let name = body.name.trim().to_string();
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let adv: Advertiser = sqlx::query_as(
        "INSERT INTO advertisers (id, tenant_id, name, domain, industry, currency, \
         click_lookback_days, view_lookback_days) \
         VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 30), coalesce($8, 90)) RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.0)
    .bind(&name)
    .bind(domain)
    .bind(&body.industry)
    .bind(&body.currency)
    .bind(body.click_lookback_days)
    .bind(body.view_lookback_days)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| name_taken(e, &name))?;
    ctx.record_change(
        &mut tx,
        "advertiser.created",
        "advertiser",
        adv.id,
        serde_json::json!({"after": adv}),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::CREATED,
        version: adv.version,
        body: adv,
    })
}

/// One advertiser.
#[utoipa::path(get, path = "/v1/advertisers/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = Advertiser), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Versioned<Advertiser>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let adv: Option<Advertiser> =
        sqlx::query_as("SELECT * FROM advertisers WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
    scope::end_read(tx);
    let adv = adv.ok_or_else(Problem::not_found)?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: adv.version,
        body: adv,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Advertisers, newest first.
#[utoipa::path(get, path = "/v1/advertisers", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Page<Advertiser>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Advertiser>>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let rows: Vec<Advertiser> = sqlx::query_as(
        "SELECT * FROM advertisers WHERE tenant_id = $1 \
         AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%') \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(ctx.tenant.0)
    .bind(q.name.as_deref().map(escape_like))
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    scope::end_read(tx);
    Ok(Json(Page::from_rows(rows, limit, |a| Cursor {
        at: a.created_at,
        id: a.id,
    })))
}

/// Escape `%`, `_` and `\` for a LIKE pattern.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Change an advertiser (`If-Match` required).
#[utoipa::path(patch, path = "/v1/advertisers/{id}", tag = "campaigns", request_body = AdvertiserPatch,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Advertiser), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<AdvertiserPatch>,
) -> Result<Versioned<Advertiser>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    if let Some(n) = &body.name {
        crate::check_name(n, &mut errors);
    }
    let domain = match &body.domain {
        Some(d) => domain::normalise(d)
            .map_err(|m| errors.push(FieldError::new("domain", "invalid_domain", m)))
            .ok(),
        None => None,
    };
    if body.currency.is_some() {
        errors.push(FieldError::new(
            "currency",
            "immutable",
            "an advertiser's currency is fixed after creation",
        ));
    }
    check_lookback("click_lookback_days", body.click_lookback_days, &mut errors);
    check_lookback("view_lookback_days", body.view_lookback_days, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let before: Advertiser =
        sqlx::query_as("SELECT * FROM advertisers WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(Problem::not_found)?;
    // Existence first (404 for another tenant's object), then the precondition.
    if before.version != if_match(&headers)? {
        return Err(stale().into());
    }
    let name = body.name.as_deref().map(str::trim).map(str::to_owned);
    let after: Advertiser = sqlx::query_as(
        "UPDATE advertisers SET name = coalesce($3, name), domain = coalesce($4, domain), \
         industry = coalesce($5, industry), \
         click_lookback_days = coalesce($6, click_lookback_days), \
         view_lookback_days = coalesce($7, view_lookback_days), \
         version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(&name)
    .bind(domain)
    .bind(&body.industry)
    .bind(body.click_lookback_days)
    .bind(body.view_lookback_days)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| name_taken(e, name.as_deref().unwrap_or_default()))?;
    ctx.record_change(
        &mut tx,
        "advertiser.updated",
        "advertiser",
        id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: after.version,
        body: after,
    })
}
