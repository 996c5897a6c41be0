//! `/v1/campaigns/{id}/ad-groups` and `/v1/ad-groups/{id}`: thin handlers
//! over [`super::service`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use platform::http::versioned::{Precondition, Versioned};
use tenancy::InTenant;

use super::audiences::AudienceCatalog;
use super::{AdGroup, AdGroupPatch, NewAdGroup, service};
use crate::ids::{AdGroupId, CampaignId};

/// The installed catalog of audiences ad groups may target.
pub type Catalog = Extension<Arc<dyn AudienceCatalog>>;

/// Add an ad group to a campaign.
#[utoipa::path(post, path = "/v1/campaigns/{id}/ad-groups", tag = "campaigns", operation_id = "ad_groups_create",
    request_body = NewAdGroup, params(("id" = Uuid, Path, description = "campaign")),
    responses((status = 201, body = AdGroup), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(catalog): Catalog,
    Path(campaign_id): Path<CampaignId>,
    Json(body): Json<NewAdGroup>,
) -> Result<Versioned<AdGroup>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let (row, group) =
        service::create(&mut tx, &ctx.principal, catalog.as_ref(), campaign_id, body).await?;
    tx.commit().await?;
    Ok(Versioned::created(row.version, group))
}

/// The ad groups of a campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}/ad-groups", tag = "campaigns", operation_id = "ad_groups_list",
    params(("id" = Uuid, Path, description = "campaign")),
    responses((status = 200, body = [AdGroup]), (status = 404, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(campaign_id): Path<CampaignId>,
) -> Result<Json<Vec<AdGroup>>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let groups = service::list(&mut tx, &ctx.principal, campaign_id).await;
    tx.end_read();
    Ok(Json(groups?))
}

/// One ad group.
#[utoipa::path(get, path = "/v1/ad-groups/{id}", tag = "campaigns", operation_id = "ad_groups_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AdGroupId>,
) -> Result<Versioned<AdGroup>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let (row, group) = found?;
    Ok(Versioned::ok(row.version, group))
}

/// Change an ad group (`If-Match` required).
#[utoipa::path(patch, path = "/v1/ad-groups/{id}", tag = "campaigns", operation_id = "ad_groups_update",
    request_body = AdGroupPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(catalog): Catalog,
    Path(id): Path<AdGroupId>,
    expected: Precondition,
    Json(body): Json<AdGroupPatch>,
) -> Result<Versioned<AdGroup>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let (row, group) = service::update(
        &mut tx,
        &ctx.principal,
        catalog.as_ref(),
        id,
        &expected,
        body,
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned::ok(row.version, group))
}

/// Archive an ad group: it stops counting against the campaign budget, and an
/// approved, active or paused campaign goes back to approval (`If-Match` required).
#[utoipa::path(delete, path = "/v1/ad-groups/{id}", tag = "campaigns", operation_id = "ad_groups_archive",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn archive(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AdGroupId>,
    expected: Precondition,
) -> Result<Versioned<AdGroup>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let (row, group) = service::archive(&mut tx, &ctx.principal, id, &expected).await?;
    tx.commit().await?;
    Ok(Versioned::ok(row.version, group))
}
