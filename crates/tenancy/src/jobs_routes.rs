//! Operators' view of the background jobs: `GET /v1/jobs` and
//! `POST /v1/jobs/{id}/retry` (platform-wide, so `jobs.operate` only).

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT};
use platform::http::problem::{ApiError, FieldError, Problem};
use platform::jobs::{self, JobFilter, JobView, RetryError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Principal;
use crate::roles::Permission;
use crate::scope::Visibility;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// `queued`, `running`, `succeeded`, `dead` or `superseded`.
    pub status: Option<String>,
    /// Job kind, e.g. `ttd.sync_campaign`.
    pub kind: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Background jobs of every tenant, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "operations", params(JobsQuery),
    responses((status = 200, body = JobPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<JobPage>, ApiError> {
    principal.require(Permission::JobsOperate)?;
    let mut errors = Vec::new();
    if let Some(s) = &q.status
        && !jobs::STATUSES.contains(&s.as_str())
    {
        errors.push(FieldError::new(
            "status",
            "invalid_value",
            format!("one of {}", jobs::STATUSES.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 500"));
    }
    let before = match q.cursor.as_deref().map(Cursor::decode) {
        None => None,
        Some(Some(c)) => Some((c.at, c.id)),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "invalid",
                "not a cursor this API returned",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let items = jobs::list(
        &state.pool,
        &JobFilter {
            status: q.status,
            kind: q.kind,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    let mut items = items;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|j| {
            Cursor {
                at: j.created_at,
                id: j.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Json(JobPage { items, next_cursor }))
}

/// Run a dead job again (with fresh attempts), or a waiting one now.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "operations",
    params(("id" = Uuid, Path, description = "job")),
    responses((status = 200, body = JobView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<JobView>, ApiError> {
    principal.require(Permission::JobsOperate)?;
    let mut tx = crate::scope::begin(&state.pool, &Visibility::All).await?;
    let job = match jobs::retry(&mut tx, id).await {
        Ok(j) => j,
        Err(RetryError::NotFound) => return Err(Problem::not_found().into()),
        Err(RetryError::Database(e)) => return Err(e.into()),
        Err(e) => return Err(Problem::conflict(e.to_string()).into()),
    };
    crate::audit::record(
        &mut tx,
        &principal.actor,
        &principal.meta,
        crate::audit::NewEvent {
            tenant: None,
            action: "job.retried",
            target_type: "job",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"after": {"status": job.status, "kind": job.kind}}),
            outcome: crate::audit::Outcome::Success,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(job))
}
