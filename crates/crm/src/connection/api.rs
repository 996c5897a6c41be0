//! `/v1/integrations/salesforce`: connect, show, disconnect.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use tenancy::InTenant;

use super::{Connection, NewConnection, service};
use crate::Salesforce;

/// Connect the tenant's Salesforce org (replacing an earlier connection):
/// P360 signs in with the JWT bearer flow before anything is stored.
#[utoipa::path(post, path = "/v1/integrations/salesforce", tag = "integrations",
    operation_id = "salesforce_connect", request_body = NewConnection,
    responses((status = 201, body = Connection), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn connect(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(sf): Extension<Salesforce>,
    Json(body): Json<NewConnection>,
) -> Result<(StatusCode, Json<Connection>), ApiError> {
    let checked = service::check(&ctx.principal, &sf, body).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let shown = service::connect(&mut tx, &ctx.principal, &sf, checked).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// The tenant's connection: who signs in, how far each object is synced,
/// how the last sync ended.
#[utoipa::path(get, path = "/v1/integrations/salesforce", tag = "integrations",
    operation_id = "salesforce_get",
    responses((status = 200, body = Connection), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Connection>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let shown = service::show(&mut tx, &ctx.principal).await;
    tx.end_read();
    Ok(Json(shown?))
}

/// Disconnect: the stored key is deleted; synced records stay.
#[utoipa::path(delete, path = "/v1/integrations/salesforce", tag = "integrations",
    operation_id = "salesforce_disconnect",
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn disconnect(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    service::disconnect(&mut tx, &ctx.principal).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
