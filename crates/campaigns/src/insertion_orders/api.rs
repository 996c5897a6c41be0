//! `/v1/insertion-orders`: thin handlers over [`super::service`].

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, page};
use platform::http::problem::{ApiError, Problem};
use platform::http::versioned::{Precondition, Versioned};
use tenancy::InTenant;

use super::{InsertionOrder, InsertionOrderPatch, NewInsertionOrder, service};
use crate::ids::InsertionOrderId;
use crate::list::ByAdvertiser;

/// Create an insertion order for an advertiser, in the advertiser's currency.
///
/// Its terms are the customer's contract: this takes
/// `commercial_terms.manage` (finance, account managers, platform admins,
/// acting in the tenant with `P360-Tenant`).
#[utoipa::path(post, path = "/v1/insertion-orders", tag = "campaigns", operation_id = "insertion_orders_create",
    request_body = NewInsertionOrder,
    responses((status = 201, body = InsertionOrder), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewInsertionOrder>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::create(&mut tx, &ctx.principal, body).await?;
    tx.commit().await?;
    Ok(Versioned::created(row.version, row.into()))
}

/// One insertion order, with the budget its campaigns have committed.
#[utoipa::path(get, path = "/v1/insertion-orders/{id}", tag = "campaigns", operation_id = "insertion_orders_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InsertionOrder), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<InsertionOrderId>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let row = row?;
    Ok(Versioned::ok(row.version, row.into()))
}

/// Insertion orders, newest first.
#[utoipa::path(get, path = "/v1/insertion-orders", tag = "campaigns", operation_id = "insertion_orders_list",
    params(ByAdvertiser),
    responses((status = 200, body = Page<InsertionOrder>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ByAdvertiser>,
) -> Result<Json<Page<InsertionOrder>>, ApiError> {
    ctx.require(tenancy::roles::Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let rows = service::list(&mut tx, &ctx.principal, q.advertiser_id, cursor, limit + 1).await;
    tx.end_read();
    let page = Page::from_rows(rows?, limit, |r| Cursor {
        at: r.created_at,
        id: r.id.0,
    });
    Ok(Json(page.map(InsertionOrder::from)))
}

/// Change an insertion order (`If-Match` required).
///
/// Its pricing and budget, the customer's contract, take `commercial_terms.manage` (finance and
/// account staff), and a pricing change sends its approved campaigns back to
/// approval; the other fields take `campaigns.write`.
#[utoipa::path(patch, path = "/v1/insertion-orders/{id}", tag = "campaigns", operation_id = "insertion_orders_update",
    request_body = InsertionOrderPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = InsertionOrder), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<InsertionOrderId>,
    expected: Precondition,
    Json(body): Json<InsertionOrderPatch>,
) -> Result<Versioned<InsertionOrder>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::update(&mut tx, &ctx.principal, id, &expected, body).await?;
    tx.commit().await?;
    Ok(Versioned::ok(row.version, row.into()))
}
