//! `/v1/advertisers`: thin handlers over [`super::service`].

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, page};
use platform::http::problem::{ApiError, Problem};
use platform::http::versioned::{Precondition, Versioned};
use serde::Deserialize;
use tenancy::InTenant;
use utoipa::IntoParams;

use super::{Advertiser, AdvertiserPatch, NewAdvertiser, service};
use crate::ids::AdvertiserId;

/// Create an advertiser.
#[utoipa::path(post, path = "/v1/advertisers", tag = "campaigns", operation_id = "advertisers_create",
    request_body = NewAdvertiser,
    responses((status = 201, body = Advertiser), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewAdvertiser>,
) -> Result<Versioned<Advertiser>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let adv = service::create(&mut tx, &ctx.principal, body).await?;
    tx.commit().await?;
    Ok(Versioned::created(adv.version, adv))
}

/// One advertiser.
#[utoipa::path(get, path = "/v1/advertisers/{id}", tag = "campaigns", operation_id = "advertisers_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Advertiser), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AdvertiserId>,
) -> Result<Versioned<Advertiser>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let adv = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let adv = adv?;
    Ok(Versioned::ok(adv.version, adv))
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
#[utoipa::path(get, path = "/v1/advertisers", tag = "campaigns", operation_id = "advertisers_list",
    params(ListQuery),
    responses((status = 200, body = Page<Advertiser>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Advertiser>>, ApiError> {
    ctx.require(tenancy::roles::Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let rows = service::list(
        &mut tx,
        &ctx.principal,
        q.name.as_deref(),
        cursor,
        limit + 1,
    )
    .await;
    tx.end_read();
    Ok(Json(Page::from_rows(rows?, limit, |a| Cursor {
        at: a.created_at,
        id: a.id.0,
    })))
}

/// Change an advertiser (`If-Match` required).
#[utoipa::path(patch, path = "/v1/advertisers/{id}", tag = "campaigns", operation_id = "advertisers_update",
    request_body = AdvertiserPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = Advertiser), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AdvertiserId>,
    expected: Precondition,
    Json(body): Json<AdvertiserPatch>,
) -> Result<Versioned<Advertiser>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let adv = service::update(&mut tx, &ctx.principal, id, &expected, body).await?;
    tx.commit().await?;
    Ok(Versioned::ok(adv.version, adv))
}
