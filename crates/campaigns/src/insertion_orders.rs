//! Insertion orders: the customer's contract (budget, dates, pricing) for one advertiser.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use platform::http::AppState;
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use tenancy::roles::Permission;
use tenancy::scope::{self, Visibility};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::{Page, Versioned, page};
use crate::money::{self, MoneyWire};

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    advertiser_id: Uuid,
    currency: String,
    name: String,
    number: Option<String>,
    budget_micros: i64,
    start_date: NaiveDate,
    end_date: NaiveDate,
    pricing_model: String,
    pricing_rate_micros: i64,
    billing_contact: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Sum of the budgets of its campaigns (not archived).
    committed_micros: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// `cpm`, `cpc`, `flat_fee` or `cost_plus`.
    pub model: String,
    /// Price per unit (`cpm`: per thousand impressions; `cpc`: per click; `flat_fee`: the fee).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<MoneyWire>,
    /// `cost_plus` only: percentage on top of media cost, e.g. `"15"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InsertionOrder {
    pub id: Uuid,
    pub advertiser_id: Uuid,
    pub name: String,
    pub number: Option<String>,
    pub budget: MoneyWire,
    /// Budgets of its campaigns, summed; never above `budget`.
    pub committed: MoneyWire,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing: Pricing,
    pub billing_contact: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Row> for InsertionOrder {
    fn from(r: Row) -> Self {
        let (rate, percent) = if r.pricing_model == "cost_plus" {
            (None, Some(money::format_micros(r.pricing_rate_micros, 0)))
        } else {
            (
                Some(MoneyWire::from_micros(r.pricing_rate_micros, &r.currency)),
                None,
            )
        };
        InsertionOrder {
            id: r.id,
            advertiser_id: r.advertiser_id,
            name: r.name,
            number: r.number,
            budget: MoneyWire::from_micros(r.budget_micros, &r.currency),
            committed: MoneyWire::from_micros(r.committed_micros, &r.currency),
            start_date: r.start_date,
            end_date: r.end_date,
            pricing: Pricing {
                model: r.pricing_model,
                rate,
                percent,
            },
            billing_contact: r.billing_contact,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT io.*, coalesce((SELECT sum(c.budget_micros) FROM campaigns c \
    WHERE c.insertion_order_id = io.id AND c.status <> 'archived'), 0)::bigint AS committed_micros \
    FROM insertion_orders io";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInsertionOrder {
    pub advertiser_id: Uuid,
    pub name: String,
    pub number: Option<String>,
    pub budget: MoneyWire,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing: Pricing,
    pub billing_contact: Option<String>,
}

/// Create an insertion order for an advertiser, in the advertiser's currency.
#[utoipa::path(post, path = "/v1/insertion-orders", tag = "campaigns", request_body = NewInsertionOrder,
    responses((status = 201, body = InsertionOrder), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewInsertionOrder>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let currency: Option<String> =
        sqlx::query_scalar("SELECT currency FROM advertisers WHERE id = $1 AND tenant_id = $2")
            .bind(body.advertiser_id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
    let mut errors = Vec::new();
    if currency.is_none() {
        errors.push(FieldError::new(
            "advertiser_id",
            "not_found",
            "no such advertiser",
        ));
    }
    crate::check_name(&body.name, &mut errors);
    let budget = crate::check_money("budget", &body.budget, currency.as_deref(), &mut errors);
    if body.end_date <= body.start_date {
        errors.push(FieldError::new(
            "end_date",
            "before_start",
            "must be after start_date",
        ));
    }
    let rate = pricing_rate(&body.pricing, currency.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO insertion_orders (id, tenant_id, advertiser_id, currency, name, number, \
         budget_micros, start_date, end_date, pricing_model, pricing_rate_micros, billing_contact) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(body.advertiser_id)
    .bind(currency.as_deref())
    .bind(body.name.trim())
    .bind(&body.number)
    .bind(budget)
    .bind(body.start_date)
    .bind(body.end_date)
    .bind(&body.pricing.model)
    .bind(rate)
    .bind(&body.billing_contact)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_on(
            e,
            "insertion_orders_advertiser_name_key",
            || "this advertiser has an insertion order with that name",
        )
    })?;
    let row = fetch(&mut tx, ctx.tenant, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let io = InsertionOrder::from(row.clone());
    ctx.record_change(
        &mut tx,
        "insertion_order.created",
        "insertion_order",
        id,
        serde_json::json!({"after": io}),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::CREATED,
        version: row.version,
        body: io,
    })
}

fn pricing_rate(p: &Pricing, currency: Option<&str>, errors: &mut Vec<FieldError>) -> Option<i64> {
    match (p.model.as_str(), &p.rate, &p.percent) {
        ("cost_plus", None, Some(pct)) => match money::parse_micros(pct, 4) {
            Ok(v) if (0..=1000 * money::MICROS).contains(&v) => Some(v),
            _ => {
                errors.push(FieldError::new(
                    "pricing.percent",
                    "invalid",
                    "a percentage from 0 to 1000",
                ));
                None
            }
        },
        ("cpm" | "cpc" | "flat_fee", Some(rate), None) => {
            if currency.is_some_and(|c| c != rate.currency) {
                errors.push(FieldError::new(
                    "pricing.rate.currency",
                    "currency_mismatch",
                    "must be the advertiser's currency",
                ));
                return None;
            }
            match rate.rate_micros() {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(FieldError::new(
                        "pricing.rate.amount",
                        e.code(),
                        e.to_string(),
                    ));
                    None
                }
            }
        }
        ("cost_plus", _, _) => {
            errors.push(FieldError::new(
                "pricing",
                "invalid",
                "cost_plus takes `percent` and no `rate`",
            ));
            None
        }
        ("cpm" | "cpc" | "flat_fee", _, _) => {
            errors.push(FieldError::new(
                "pricing",
                "invalid",
                "this model takes `rate` and no `percent`",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(
                "pricing.model",
                "invalid_value",
                "cpm, cpc, flat_fee or cost_plus",
            ));
            None
        }
    }
}

async fn fetch(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tenant: tenancy::scope::TenantId,
    id: Uuid,
) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE io.id = $1 AND io.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant.0)
    .fetch_optional(&mut **tx)
    .await
}

/// One insertion order, with the budget its campaigns have committed.
#[utoipa::path(get, path = "/v1/insertion-orders/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = InsertionOrder), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let row = fetch(&mut tx, ctx.tenant, id).await?;
    scope::end_read(tx);
    let row = row.ok_or_else(Problem::not_found)?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: row.version,
        body: row.into(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub advertiser_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Insertion orders, newest first.
#[utoipa::path(get, path = "/v1/insertion-orders", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Page<InsertionOrder>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<InsertionOrder>>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE io.tenant_id = $1 AND ($2::uuid IS NULL OR io.advertiser_id = $2) \
         AND ($3::timestamptz IS NULL OR (io.created_at, io.id) < ($3, $4)) \
         ORDER BY io.created_at DESC, io.id DESC LIMIT $5"
    )))
    .bind(ctx.tenant.0)
    .bind(q.advertiser_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    scope::end_read(tx);
    let page = Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    });
    Ok(Json(Page {
        items: page.items.into_iter().map(InsertionOrder::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertionOrderPatch {
    pub name: Option<String>,
    pub number: Option<String>,
    /// Not below what its campaigns have committed.
    pub budget: Option<MoneyWire>,
    /// The dates must still contain every campaign's flight.
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub pricing: Option<Pricing>,
    pub billing_contact: Option<String>,
}

/// Change an insertion order (`If-Match` required).
#[utoipa::path(patch, path = "/v1/insertion-orders/{id}", tag = "campaigns", request_body = InsertionOrderPatch,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InsertionOrder), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    Json(body): Json<InsertionOrderPatch>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    // Locking the IO row serialises this with campaign budget changes under it.
    let locked: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM insertion_orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    let version = locked.ok_or_else(Problem::not_found)?;
    if version != crate::http::if_match(&headers)? {
        return Err(crate::http::stale().into());
    }
    let before = fetch(&mut tx, ctx.tenant, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let mut errors = Vec::new();
    if let Some(n) = &body.name {
        crate::check_name(n, &mut errors);
    }
    let budget = match &body.budget {
        Some(b) => crate::check_money("budget", b, Some(&before.currency), &mut errors),
        None => Some(before.budget_micros),
    };
    if let Some(b) = budget
        && b < before.committed_micros
    {
        errors.push(FieldError::new(
            "budget.amount",
            "below_committed",
            format!(
                "its campaigns already have {}",
                money::format_micros(before.committed_micros, 2)
            ),
        ));
    }
    let start = body.start_date.unwrap_or(before.start_date);
    let end = body.end_date.unwrap_or(before.end_date);
    if end <= start {
        errors.push(FieldError::new(
            "end_date",
            "before_start",
            "must be after start_date",
        ));
    }
    let (first, last): (Option<NaiveDate>, Option<NaiveDate>) = sqlx::query_as(
        "SELECT min(flight_start), max(flight_end) FROM campaigns \
         WHERE insertion_order_id = $1 AND status <> 'archived'",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if first.is_some_and(|f| f < start) || last.is_some_and(|l| l > end) {
        errors.push(FieldError::new(
            "start_date",
            "excludes_campaigns",
            "the dates must contain every campaign's flight",
        ));
    }
    let rate = match &body.pricing {
        Some(p) => pricing_rate(p, Some(&before.currency), &mut errors),
        None => Some(before.pricing_rate_micros),
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    sqlx::query(
        "UPDATE insertion_orders SET name = coalesce($3, name), number = coalesce($4, number), \
         budget_micros = $5, start_date = $6, end_date = $7, \
         pricing_model = coalesce($8, pricing_model), pricing_rate_micros = $9, \
         billing_contact = coalesce($10, billing_contact), version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(body.name.as_deref().map(str::trim))
    .bind(&body.number)
    .bind(budget)
    .bind(start)
    .bind(end)
    .bind(body.pricing.as_ref().map(|p| p.model.as_str()))
    .bind(rate)
    .bind(&body.billing_contact)
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on(e, "insertion_orders_advertiser_name_key", || "this advertiser has an insertion order with that name"))?;
    let after = fetch(&mut tx, ctx.tenant, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    ctx.record_change(
        &mut tx,
        "insertion_order.updated",
        "insertion_order",
        id,
        serde_json::json!({
            "before": InsertionOrder::from(before),
            "after": InsertionOrder::from(after.clone()),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: after.version,
        body: after.into(),
    })
}
