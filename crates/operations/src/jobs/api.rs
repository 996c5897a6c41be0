//! `GET /v1/jobs` and `POST /v1/jobs/{id}/retry` (platform-wide, so
//! `jobs.operate` only).

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, Page, parse_page};
use platform::http::problem::{ApiError, FieldError, Problem};
use platform::jobs::{self, JobFilter, JobView, RetryError};
use serde::Deserialize;
use tenancy::Principal;
use tenancy::principal::forbidden;
use tenancy::roles::Permission;
use utoipa::IntoParams;
use uuid::Uuid;

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

/// Background jobs of every tenant, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "operations", operation_id = "jobs_list",
    params(JobsQuery),
    responses((status = 200, body = Page<JobView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Page<JobView>>, ApiError> {
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
    let (limit, cursor) = parse_page(
        q.limit,
        q.cursor.as_deref(),
        DEFAULT_LIMIT,
        MAX_LIMIT,
        &mut errors,
    );
    let before = cursor.map(|c| (c.at, c.id));
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let items = super::list(
        &state.pool,
        &JobFilter {
            status: q.status,
            kind: q.kind,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    Ok(Json(Page::from_rows(items, limit, |j| Cursor {
        at: j.created_at,
        id: j.id,
    })))
}

/// Run a dead job again (with fresh attempts), or a waiting one now.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "operations", operation_id = "jobs_retry",
    params(("id" = Uuid, Path, description = "job")),
    responses((status = 200, body = JobView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<JobView>, ApiError> {
    principal.require(Permission::JobsOperate)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins operate jobs"))?;
    match super::retry(
        &state.pool,
        all,
        &principal.actor,
        &principal.meta,
        id,
        "api",
    )
    .await
    {
        Ok(j) => Ok(Json(j)),
        Err(RetryError::NotFound) => Err(Problem::not_found().into()),
        Err(RetryError::Database(e)) => Err(e.into()),
        Err(e) => Err(Problem::conflict(e.to_string()).into()),
    }
}
