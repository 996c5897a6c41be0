//! `/v1/campaigns`: thin handlers over [`super::service`], shown with their
//! activation through the installed [`ActivationView`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::NaiveDate;
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, page};
use platform::http::problem::{ApiError, Problem};
use platform::http::versioned::{Precondition, Versioned};
use serde::Deserialize;
use tenancy::InTenant;
use utoipa::IntoParams;

use super::store::Filter;
use super::view::{self, ActivationView};
use super::{
    Action, Campaign, CampaignPatch, CampaignStatus, NewCampaign, TransitionBody, service,
};
use crate::ids::{AdvertiserId, CampaignId, InsertionOrderId};

/// The installed view of campaigns' activation.
pub type View = Extension<Arc<dyn ActivationView>>;

/// Create a campaign (as a draft) under an insertion order.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", operation_id = "campaigns_create",
    request_body = NewCampaign,
    responses((status = 201, body = Campaign), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(view): View,
    Json(body): Json<NewCampaign>,
) -> Result<Versioned<Campaign>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::create(&mut tx, &ctx.principal, body).await?;
    let campaign = view::campaign(&mut tx, view.as_ref(), &row).await?;
    tx.commit().await?;
    Ok(Versioned::created(row.version, campaign))
}

/// One campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", operation_id = "campaigns_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(view): View,
    Path(id): Path<CampaignId>,
) -> Result<Versioned<Campaign>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let shown = async {
        let row = service::get(&mut tx, &ctx.principal, id).await?;
        let campaign = view::campaign(&mut tx, view.as_ref(), &row).await?;
        Ok::<_, ApiError>(Versioned::ok(row.version, campaign))
    }
    .await;
    tx.end_read();
    shown
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub advertiser_id: Option<AdvertiserId>,
    pub insertion_order_id: Option<InsertionOrderId>,
    /// Campaigns whose flight overlaps [from, to].
    pub flight_from: Option<NaiveDate>,
    pub flight_to: Option<NaiveDate>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// `true`: only campaigns waiting for a checker (submitted, or live with
    /// a pending change); `false`: only the others.
    pub awaiting_approval: Option<bool>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Campaigns, newest first, filtered.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", operation_id = "campaigns_list",
    params(ListQuery),
    responses((status = 200, body = Page<Campaign>), (status = 422, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(view): View,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Campaign>>, ApiError> {
    ctx.require(tenancy::roles::Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    // A status no campaign can have matches none.
    let status = match q.status.as_deref().map(str::parse::<CampaignStatus>) {
        Some(Err(_)) => {
            return Ok(Json(Page {
                items: Vec::new(),
                next_cursor: None,
            }));
        }
        other => other.and_then(Result::ok),
    };
    let filter = Filter {
        status,
        advertiser_id: q.advertiser_id,
        insertion_order_id: q.insertion_order_id,
        flight_from: q.flight_from,
        flight_to: q.flight_to,
        name: q.name,
        awaiting_approval: q.awaiting_approval,
    };
    let mut tx = ctx.begin(&state.pool).await?;
    let shown = async {
        let rows = service::list(&mut tx, &ctx.principal, filter, cursor, limit + 1).await?;
        let page = Page::from_rows(rows, limit, |r| Cursor {
            at: r.created_at,
            id: r.id.0,
        });
        let items = view::campaigns(&mut tx, view.as_ref(), &page.items).await?;
        Ok::<_, ApiError>(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
    .await;
    tx.end_read();
    Ok(Json(shown?))
}

/// Change a campaign (`If-Match` required). On an approved, active or paused
/// campaign a change to its budget, flight, daily cap or pacing becomes its
/// `pending_change`, which the live version runs beside until another
/// approver approves (`/approve`) or rejects (`/reject`) it.
#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns", operation_id = "campaigns_update",
    request_body = CampaignPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(view): View,
    Path(id): Path<CampaignId>,
    expected: Precondition,
    Json(body): Json<CampaignPatch>,
) -> Result<Versioned<Campaign>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::update(&mut tx, &ctx.principal, id, &expected, body).await?;
    let campaign = view::campaign(&mut tx, view.as_ref(), &row).await?;
    tx.commit().await?;
    Ok(Versioned::ok(row.version, campaign))
}

/// Move a campaign through its workflow: `submit`, `approve`, `reject`,
/// `pause`, `resume` or `archive`. On a live campaign with a
/// `pending_change`, `approve` makes the change live (409 if it no longer
/// fits its insertion order or ad groups) and `reject` drops it; archiving
/// drops it too. 409 names the actions allowed from the current status.
#[utoipa::path(post, path = "/v1/campaigns/{id}/{action}", tag = "campaigns", operation_id = "campaigns_transition",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "submit, approve, reject, pause, resume or archive")),
    request_body(content = Option<TransitionBody>),
    responses((status = 200, body = Campaign), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transition(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(view): View,
    Path((id, action)): Path<(CampaignId, String)>,
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
    let action: Action = action
        .parse()
        .map_err(|_| Problem::not_found().with_detail(format!("no campaign action {action}")))?;
    let mut tx = ctx.begin(&state.pool).await?;
    let row = service::transition(
        &mut tx,
        &ctx.principal,
        id,
        action,
        body.and_then(|b| b.reason),
    )
    .await?;
    let campaign = view::campaign(&mut tx, view.as_ref(), &row).await?;
    tx.commit().await?;
    Ok(Versioned::ok(row.version, campaign))
}
