//! Campaigns and their approval workflow.
//!
//! `draft` -> `pending_approval` (submit) -> `approved` (approve; not by the
//! submitter) or back to `draft` (reject, with a reason); `approved`/`active`
//! -> `paused` (pause) -> `active` (resume); `archived` (archive) from draft,
//! approved, paused or completed. Changing the budget or flight of an approved,
//! active or paused campaign sends it back to `pending_approval`: the change
//! needs a second pair of eyes again before money is spent.
//!
//! The sum of an insertion order's campaign budgets never exceeds its budget:
//! every change to a campaign budget locks the IO row first, so concurrent
//! requests are serialised per IO.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use platform::http::AppState;
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use tenancy::roles::Permission;
use tenancy::scope::{self, TenantId, Visibility};
use tenancy::{InTenant, Principal};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::{Page, Versioned, if_match, page, stale};
use crate::money::MoneyWire;

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    insertion_order_id: Uuid,
    advertiser_id: Uuid,
    currency: String,
    name: String,
    objective: String,
    budget_micros: i64,
    daily_cap_micros: Option<i64>,
    flight_start: NaiveDate,
    flight_end: NaiveDate,
    pacing: String,
    kpi_goal: Option<serde_json::Value>,
    status: String,
    submitted_by: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    approved_by: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    rejection_reason: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    activation: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Flight {
    pub start: NaiveDate,
    /// After `start`; within the insertion order's dates.
    pub end: NaiveDate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: Uuid,
    pub insertion_order_id: Uuid,
    pub advertiser_id: Uuid,
    pub name: String,
    /// `awareness`, `engagement` or `pipeline`.
    pub objective: String,
    pub budget: MoneyWire,
    pub daily_cap: Option<MoneyWire>,
    pub flight: Flight,
    /// `even`, `ahead` or `asap`.
    pub pacing: String,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
    /// `draft`, `pending_approval`, `approved`, `active`, `paused`, `completed` or `archived`.
    pub status: String,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// State of the campaign in The Trade Desk; null until first approved.
    pub activation: Option<Activation>,
}

/// Where the campaign stands in The Trade Desk.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Activation {
    /// `pending` (a sync is queued or retrying), `synced` or `failed` (after every retry).
    pub status: String,
    /// TTD ids: `advertiser_id`, `campaign_id`, and `ad_group_ids` /
    /// `creative_ids` keyed by the P360 id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub ttd: serde_json::Value,
    /// Why the last attempt failed, while pending or failed.
    pub last_error: Option<String>,
    /// When TTD last confirmed the whole campaign.
    pub synced_at: Option<DateTime<Utc>>,
}

impl From<&Row> for Campaign {
    fn from(r: &Row) -> Self {
        Campaign {
            id: r.id,
            insertion_order_id: r.insertion_order_id,
            advertiser_id: r.advertiser_id,
            name: r.name.clone(),
            objective: r.objective.clone(),
            budget: MoneyWire::from_micros(r.budget_micros, &r.currency),
            daily_cap: r
                .daily_cap_micros
                .map(|m| MoneyWire::from_micros(m, &r.currency)),
            flight: Flight {
                start: r.flight_start,
                end: r.flight_end,
            },
            pacing: r.pacing.clone(),
            kpi_goal: r.kpi_goal.clone(),
            status: r.status.clone(),
            submitted_by: r.submitted_by.clone(),
            submitted_at: r.submitted_at,
            approved_by: r.approved_by.clone(),
            approved_at: r.approved_at,
            rejection_reason: r.rejection_reason.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            activation: r
                .activation
                .as_ref()
                .and_then(|a| serde_json::from_value(a.clone()).ok()),
        }
    }
}

fn versioned(status: StatusCode, row: &Row) -> Versioned<Campaign> {
    Versioned {
        status,
        version: row.version,
        body: row.into(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub insertion_order_id: Uuid,
    pub name: String,
    pub objective: String,
    pub budget: MoneyWire,
    pub flight: Flight,
    pub pacing: String,
    pub daily_cap: Option<MoneyWire>,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
}

#[derive(Debug, sqlx::FromRow)]
struct Io {
    advertiser_id: Uuid,
    currency: String,
    budget_micros: i64,
    start_date: NaiveDate,
    end_date: NaiveDate,
}

/// Lock the IO (serialising budget changes under it) and return it.
async fn lock_io(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Io>, sqlx::Error> {
    sqlx::query_as(
        "SELECT advertiser_id, currency, budget_micros, start_date, end_date \
         FROM insertion_orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(tenant.0)
    .fetch_optional(&mut **tx)
    .await
}

/// Budget already committed to the IO's other campaigns.
async fn committed(
    tx: &mut Transaction<'static, Postgres>,
    io: Uuid,
    except: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(budget_micros), 0)::bigint FROM campaigns \
         WHERE insertion_order_id = $1 AND status <> 'archived' AND ($2::uuid IS NULL OR id <> $2)",
    )
    .bind(io)
    .bind(except)
    .fetch_one(&mut **tx)
    .await
}

/// Rules shared by create and update: flight inside the IO, budget within
/// what is left of the IO's.
fn check_against_io(
    io: &Io,
    flight: &Flight,
    budget: Option<i64>,
    committed: i64,
    errors: &mut Vec<FieldError>,
) {
    if flight.end <= flight.start {
        errors.push(FieldError::new(
            "flight.end",
            "before_start",
            "must be after flight.start",
        ));
    }
    if flight.start < io.start_date || flight.end > io.end_date {
        errors.push(FieldError::new(
            "flight",
            "outside_insertion_order",
            format!(
                "must lie within the insertion order's dates ({} to {})",
                io.start_date, io.end_date
            ),
        ));
    }
    if let Some(b) = budget
        && committed + b > io.budget_micros
    {
        errors.push(FieldError::new(
            "budget.amount",
            "exceeds_insertion_order",
            format!(
                "only {} of the insertion order's {} is left",
                crate::money::format_micros(io.budget_micros - committed, 2),
                crate::money::format_micros(io.budget_micros, 2)
            ),
        ));
    }
}

fn check_enum(field: &str, value: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    if !allowed.contains(&value) {
        errors.push(FieldError::new(field, "invalid_value", allowed.join(", ")));
    }
}

const OBJECTIVES: &[&str] = &["awareness", "engagement", "pipeline"];
const PACING: &[&str] = &["even", "ahead", "asap"];

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "campaigns_io_name_key",
        || "this insertion order has a campaign with that name",
    )
}

/// Create a campaign (as a draft) under an insertion order.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = Campaign), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewCampaign>,
) -> Result<Versioned<Campaign>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let io = lock_io(&mut tx, ctx.tenant, body.insertion_order_id).await?;
    let mut errors = Vec::new();
    crate::check_name(&body.name, &mut errors);
    check_enum("objective", &body.objective, OBJECTIVES, &mut errors);
    check_enum("pacing", &body.pacing, PACING, &mut errors);
    let currency = io.as_ref().map(|io| io.currency.as_str());
    let budget = crate::check_money("budget", &body.budget, currency, &mut errors);
    let daily_cap = body
        .daily_cap
        .as_ref()
        .and_then(|c| crate::check_money("daily_cap", c, currency, &mut errors));
    match &io {
        None => errors.push(FieldError::new(
            "insertion_order_id",
            "not_found",
            "no such insertion order",
        )),
        Some(io) => {
            let used = committed(&mut tx, body.insertion_order_id, None).await?;
            check_against_io(io, &body.flight, budget, used, &mut errors);
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let io = io.expect("checked above");
    let row: Row = sqlx::query_as(
        "INSERT INTO campaigns (id, tenant_id, insertion_order_id, advertiser_id, currency, name, \
         objective, budget_micros, daily_cap_micros, flight_start, flight_end, pacing, kpi_goal) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.0)
    .bind(body.insertion_order_id)
    .bind(io.advertiser_id)
    .bind(&io.currency)
    .bind(body.name.trim())
    .bind(&body.objective)
    .bind(budget)
    .bind(daily_cap)
    .bind(body.flight.start)
    .bind(body.flight.end)
    .bind(&body.pacing)
    .bind(&body.kpi_goal)
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken)?;
    let mut row = row;
    record(
        &mut tx,
        &ctx,
        "campaign.created",
        row.id,
        None,
        Some(&mut row),
    )
    .await?;
    tx.commit().await?;
    Ok(versioned(StatusCode::CREATED, &row))
}

/// Audit a campaign change, announce it as a domain event and, once the
/// campaign is approved, queue its TTD sync (`after.activation` then shows
/// `pending`) — all in the change's transaction.
async fn record(
    tx: &mut Transaction<'static, Postgres>,
    ctx: &InTenant,
    action: &'static str,
    id: Uuid,
    before: Option<&Row>,
    mut after: Option<&mut Row>,
) -> Result<(), sqlx::Error> {
    if let Some(row) = after.as_deref_mut()
        && let Some(a) = activation::campaign_changed(tx, ctx.tenant, id, &row.status).await?
    {
        row.activation = Some(a);
    }
    let after = after.map(|r| &*r);
    tenancy::events::emit(
        tx,
        ctx.tenant,
        action,
        "campaign",
        id,
        serde_json::json!({
            "status": after.map(|r| r.status.as_str()),
            "previous_status": before.map(|r| r.status.as_str()),
            "version": after.map(|r| r.version),
        }),
    )
    .await?;
    ctx.record_change(
        tx,
        action,
        "campaign",
        id,
        serde_json::json!({
            "before": before.map(Campaign::from),
            "after": after.map(Campaign::from),
        }),
    )
    .await?;
    Ok(())
}

async fn fetch(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<Row>, sqlx::Error> {
    let sql = if lock {
        "SELECT * FROM campaigns WHERE id = $1 AND tenant_id = $2 FOR UPDATE"
    } else {
        "SELECT * FROM campaigns WHERE id = $1 AND tenant_id = $2"
    };
    sqlx::query_as(sql)
        .bind(id)
        .bind(tenant.0)
        .fetch_optional(&mut **tx)
        .await
}

/// One campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Versioned<Campaign>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let row = fetch(&mut tx, ctx.tenant, id, false).await?;
    scope::end_read(tx);
    Ok(versioned(
        StatusCode::OK,
        &row.ok_or_else(Problem::not_found)?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub advertiser_id: Option<Uuid>,
    pub insertion_order_id: Option<Uuid>,
    /// Campaigns whose flight overlaps [from, to].
    pub flight_from: Option<NaiveDate>,
    pub flight_to: Option<NaiveDate>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Campaigns, newest first, filtered.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Page<Campaign>), (status = 422, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Campaign>>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM campaigns WHERE tenant_id = $1 \
         AND ($2::text IS NULL OR status = $2) \
         AND ($3::uuid IS NULL OR advertiser_id = $3) \
         AND ($4::uuid IS NULL OR insertion_order_id = $4) \
         AND ($5::date IS NULL OR flight_end >= $5) \
         AND ($6::date IS NULL OR flight_start <= $6) \
         AND ($7::text IS NULL OR name ILIKE '%' || $7 || '%') \
         AND ($8::timestamptz IS NULL OR (created_at, id) < ($8, $9)) \
         ORDER BY created_at DESC, id DESC LIMIT $10",
    )
    .bind(ctx.tenant.0)
    .bind(&q.status)
    .bind(q.advertiser_id)
    .bind(q.insertion_order_id)
    .bind(q.flight_from)
    .bind(q.flight_to)
    .bind(q.name.as_deref().map(crate::advertisers::escape_like))
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
        items: page.items.iter().map(Campaign::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub objective: Option<String>,
    pub budget: Option<MoneyWire>,
    pub flight: Option<Flight>,
    pub pacing: Option<String>,
    pub daily_cap: Option<MoneyWire>,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
}

/// Change a campaign (`If-Match` required). Budget or flight changes to an
/// approved, active or paused campaign send it back to approval.
#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns", request_body = CampaignPatch,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<CampaignPatch>,
) -> Result<Versioned<Campaign>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    // Lock order: IO, then campaign (as create does), so concurrent budget
    // changes under one IO are serialised without deadlocks.
    let io_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT insertion_order_id FROM campaigns WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    let io_id = io_id.ok_or_else(Problem::not_found)?;
    let io = lock_io(&mut tx, ctx.tenant, io_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let before = fetch(&mut tx, ctx.tenant, id, true)
        .await?
        .ok_or_else(Problem::not_found)?;
    // Existence first (404 for another tenant's object), then the precondition.
    if before.version != if_match(&headers)? {
        return Err(stale().into());
    }
    if matches!(before.status.as_str(), "completed" | "archived") {
        return Err(
            Problem::conflict(format!("a {} campaign cannot be changed", before.status)).into(),
        );
    }
    let mut errors = Vec::new();
    if let Some(n) = &body.name {
        crate::check_name(n, &mut errors);
    }
    if let Some(o) = &body.objective {
        check_enum("objective", o, OBJECTIVES, &mut errors);
    }
    if let Some(p) = &body.pacing {
        check_enum("pacing", p, PACING, &mut errors);
    }
    let budget = body
        .budget
        .as_ref()
        .and_then(|b| crate::check_money("budget", b, Some(&io.currency), &mut errors));
    let daily_cap = body
        .daily_cap
        .as_ref()
        .and_then(|c| crate::check_money("daily_cap", c, Some(&io.currency), &mut errors));
    let flight = body.flight.clone().unwrap_or(Flight {
        start: before.flight_start,
        end: before.flight_end,
    });
    let used = committed(&mut tx, io_id, Some(id)).await?;
    check_against_io(
        &io,
        &flight,
        Some(budget.unwrap_or(before.budget_micros)),
        used,
        &mut errors,
    );
    if let Some(b) = budget {
        let split: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(budget_micros), 0)::bigint FROM ad_groups \
             WHERE campaign_id = $1 AND status = 'active'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if b < split {
            errors.push(FieldError::new(
                "budget.amount",
                "below_ad_groups",
                format!(
                    "its ad groups already hold {}",
                    crate::money::format_micros(split, 2)
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let spend_changed = (budget.is_some() && budget != Some(before.budget_micros))
        || (body.flight.is_some()
            && (flight.start != before.flight_start || flight.end != before.flight_end));
    let back_to_approval =
        spend_changed && matches!(before.status.as_str(), "approved" | "active" | "paused");
    let mut after: Row = sqlx::query_as(
        "UPDATE campaigns SET name = coalesce($3, name), objective = coalesce($4, objective), \
         budget_micros = coalesce($5, budget_micros), flight_start = $6, flight_end = $7, \
         pacing = coalesce($8, pacing), daily_cap_micros = coalesce($9, daily_cap_micros), \
         kpi_goal = coalesce($10, kpi_goal), \
         status = CASE WHEN $11 THEN 'pending_approval' ELSE status END, \
         submitted_by = CASE WHEN $11 THEN $12 ELSE submitted_by END, \
         submitted_at = CASE WHEN $11 THEN now() ELSE submitted_at END, \
         approved_by = CASE WHEN $11 THEN NULL ELSE approved_by END, \
         approved_at = CASE WHEN $11 THEN NULL ELSE approved_at END, \
         version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(body.name.as_deref().map(str::trim))
    .bind(&body.objective)
    .bind(budget)
    .bind(flight.start)
    .bind(flight.end)
    .bind(&body.pacing)
    .bind(daily_cap)
    .bind(&body.kpi_goal)
    .bind(back_to_approval)
    .bind(actor_ref(&ctx.principal))
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken)?;
    record(
        &mut tx,
        &ctx,
        "campaign.updated",
        id,
        Some(&before),
        Some(&mut after),
    )
    .await?;
    tx.commit().await?;
    Ok(versioned(StatusCode::OK, &after))
}

fn actor_ref(p: &Principal) -> String {
    let (kind, id) = p.actor.audit_parts();
    format!("{kind}:{}", id.unwrap_or_default())
}

/// A workflow action and the statuses it may start from.
struct Transition {
    action: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    permission: Permission,
}

const TRANSITIONS: &[Transition] = &[
    Transition {
        action: "submit",
        from: &["draft"],
        to: "pending_approval",
        permission: Permission::CampaignsWrite,
    },
    Transition {
        action: "approve",
        from: &["pending_approval"],
        to: "approved",
        permission: Permission::CampaignsApprove,
    },
    Transition {
        action: "reject",
        from: &["pending_approval"],
        to: "draft",
        permission: Permission::CampaignsApprove,
    },
    Transition {
        action: "pause",
        from: &["approved", "active"],
        to: "paused",
        permission: Permission::CampaignsWrite,
    },
    Transition {
        action: "resume",
        from: &["paused"],
        to: "active",
        permission: Permission::CampaignsWrite,
    },
    Transition {
        action: "archive",
        from: &["draft", "approved", "paused", "completed"],
        to: "archived",
        permission: Permission::CampaignsWrite,
    },
];

/// The actions allowed from `status`.
pub fn allowed_actions(status: &str) -> Vec<&'static str> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from.contains(&status))
        .map(|t| t.action)
        .collect()
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// Required to reject: why the campaign goes back to draft.
    pub reason: Option<String>,
}

/// Move a campaign through its workflow: `submit`, `approve`, `reject`,
/// `pause`, `resume` or `archive`. 409 names the actions allowed from the
/// current status.
#[utoipa::path(post, path = "/v1/campaigns/{id}/{action}", tag = "campaigns",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "submit, approve, reject, pause, resume or archive")),
    request_body(content = Option<TransitionBody>),
    responses((status = 200, body = Campaign), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transition(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, action)): Path<(Uuid, String)>,
    body: axum::body::Bytes,
) -> Result<Versioned<Campaign>, ApiError> {
    // The body is optional: none, an empty one (whatever the content type
    // says) or `{"reason": ...}`.
    let body: Option<TransitionBody> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| {
            Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad Request")
                .with_detail(format!("the body is not a transition: {e}"))
        })?)
    };
    let t = TRANSITIONS
        .iter()
        .find(|t| t.action == action)
        .ok_or_else(|| Problem::not_found().with_detail(format!("no campaign action {action}")))?;
    ctx.principal.require(t.permission)?;
    let reason = body.and_then(|b| b.reason).map(|r| r.trim().to_string());
    if t.action == "reject" && reason.as_deref().is_none_or(str::is_empty) {
        return Err(Problem::validation(vec![FieldError::new(
            "reason",
            "required",
            "say why the campaign is rejected",
        )])
        .into());
    }
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let before = fetch(&mut tx, ctx.tenant, id, true)
        .await?
        .ok_or_else(Problem::not_found)?;
    if !t.from.contains(&before.status.as_str()) {
        let allowed = allowed_actions(&before.status);
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Invalid transition",
        )
        .with_detail(format!(
            "cannot {action} a {} campaign; allowed: {}",
            before.status,
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        ))
        .into());
    }
    let me = actor_ref(&ctx.principal);
    if t.action == "approve" && before.submitted_by.as_deref() == Some(me.as_str()) {
        return Err(tenancy::auth::forbidden(
            "you cannot approve your own submission; another approver must",
        )
        .into());
    }
    let mut after: Row = sqlx::query_as(
        "UPDATE campaigns SET status = $3, \
         submitted_by = CASE WHEN $4 = 'submit' THEN $5 ELSE submitted_by END, \
         submitted_at = CASE WHEN $4 = 'submit' THEN now() ELSE submitted_at END, \
         approved_by = CASE WHEN $4 = 'approve' THEN $5 ELSE approved_by END, \
         approved_at = CASE WHEN $4 = 'approve' THEN now() ELSE approved_at END, \
         rejection_reason = CASE WHEN $4 = 'reject' THEN $6 WHEN $4 = 'submit' THEN NULL ELSE rejection_reason END, \
         version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(t.to)
    .bind(t.action)
    .bind(&me)
    .bind(&reason)
    .fetch_one(&mut *tx)
    .await?;
    let event: &'static str = match t.action {
        "submit" => "campaign.submitted",
        "approve" => "campaign.approved",
        "reject" => "campaign.rejected",
        "pause" => "campaign.paused",
        "resume" => "campaign.resumed",
        _ => "campaign.archived",
    };
    record(&mut tx, &ctx, event, id, Some(&before), Some(&mut after)).await?;
    tx.commit().await?;
    Ok(versioned(StatusCode::OK, &after))
}
