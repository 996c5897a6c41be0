//! `GET /v1/audiences/{id}/activations`: where the audience is on TTD.

use axum::Json;
use axum::extract::{Path, State};
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use tenancy::InTenant;
use tenancy::roles::Permission;

use super::{SegmentView, store};
use crate::ids::AudienceId;

/// The audience's segments on TTD: which build each holds, how many
/// blocks, and what TTD refused.
#[utoipa::path(get, path = "/v1/audiences/{id}/activations", tag = "audiences", operation_id = "audiences_activations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<SegmentView>), (status = 404, body = Problem)))]
pub async fn activations(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AudienceId>,
) -> Result<Json<Vec<SegmentView>>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = async {
        ctx.principal.require(Permission::CampaignsRead)?;
        store::audience_name(&mut tx, id)
            .await?
            .ok_or_else(Problem::not_found)?;
        Ok::<_, ApiError>(store::views(&mut tx, id).await?)
    }
    .await;
    tx.end_read();
    Ok(Json(found?))
}
