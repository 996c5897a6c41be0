//! `/v1/audiences`: preview, save, read an audience with its members,
//! builds and diffs (thin handlers over [`super::service`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, PageQuery, check_texts, keyset, page};
use platform::http::problem::{ApiError, FieldError, Problem};
use platform::http::versioned::Versioned;
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use utoipa::{IntoParams, ToSchema};

use super::{Audience, BuildView, ChangeView, MemberView, NewAudience, Preview, service};
use crate::ids::AudienceId;

/// What an audience would be — its size, holdout and a sample of members
/// with their reasons — without saving it.
#[utoipa::path(post, path = "/v1/audiences/preview", tag = "audiences", operation_id = "audiences_preview",
    request_body = NewAudience,
    responses((status = 200, body = Preview), (status = 422, body = Problem)))]
pub async fn preview(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewAudience>,
) -> Result<Json<Preview>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let preview = service::preview(&mut tx, &state.storage, &ctx.principal, body).await;
    tx.end_read();
    Ok(Json(preview?))
}

/// Save an audience; it is built at once (and again on every new surge week).
#[utoipa::path(post, path = "/v1/audiences", tag = "audiences", operation_id = "audiences_create",
    request_body = NewAudience,
    responses((status = 201, body = Audience), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewAudience>,
) -> Result<Versioned<Audience>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let audience = service::create(&mut tx, &state.storage, &ctx.principal, body).await?;
    tx.commit().await?;
    Ok(Versioned::created(audience.version, audience))
}

/// One audience.
#[utoipa::path(get, path = "/v1/audiences/{id}", tag = "audiences", operation_id = "audiences_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Audience), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AudienceId>,
) -> Result<Versioned<Audience>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let audience = found?;
    Ok(Versioned::ok(audience.version, audience))
}

/// Audiences, newest first.
#[utoipa::path(get, path = "/v1/audiences", tag = "audiences", operation_id = "audiences_list",
    params(PageQuery),
    responses((status = 200, body = Page<Audience>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Page<Audience>>, ApiError> {
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::list(&mut tx, &ctx.principal, cursor, limit + 1).await;
    tx.end_read();
    Ok(Json(Page::from_rows(found?, limit, |a| Cursor {
        at: a.created_at,
        id: a.id.0,
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    /// The last domain of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
    /// `csv` for a CSV file of every member (also `Accept: text/csv`).
    pub format: Option<String>,
}

/// A page of members, by domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// The latest build's members with the reason each qualified (a page, or
/// every member as CSV: domain, holdout, in_list, topics, reason).
#[utoipa::path(get, path = "/v1/audiences/{id}/members", tag = "audiences", operation_id = "audiences_members",
    params(("id" = Uuid, Path), MembersQuery),
    responses((status = 200, body = MemberPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn members(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AudienceId>,
    headers: axum::http::HeaderMap,
    Query(q): Query<MembersQuery>,
) -> Result<Response, ApiError> {
    let csv = q.format.as_deref() == Some("csv")
        || headers
            .get(header::ACCEPT)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/csv"));
    let limit = if csv {
        i64::MAX - 1
    } else {
        q.limit.unwrap_or(100)
    };
    let mut errors = Vec::new();
    if !csv && !(1..=10_000).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 10000"));
    }
    if q.format
        .as_deref()
        .is_some_and(|f| f != "csv" && f != "json")
    {
        errors.push(FieldError::new("format", "invalid", "csv or json"));
    }
    check_texts(&[("after", q.after.as_deref())], 253, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::members(&mut tx, &ctx.principal, id, q.after.as_deref(), limit + 1).await;
    tx.end_read();
    let found = found?;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"audience-{id}-members.csv\""),
                ),
            ],
            to_csv(&found),
        )
            .into_response());
    }
    let (items, next_after) = keyset(found, limit, |m| m.domain.clone());
    Ok(Json(MemberPage { items, next_after }).into_response())
}

fn to_csv(members: &[MemberView]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(["domain", "holdout", "in_list", "topics", "reason"]);
    for m in members {
        let topics: Vec<String> = m
            .topics
            .iter()
            .map(|t| format!("{} ({})", t.topic, t.score))
            .collect();
        let _ = w.write_record([
            m.domain.as_str(),
            if m.holdout { "true" } else { "false" },
            if m.in_list { "true" } else { "false" },
            &topics.join("; "),
            &m.reason,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// The audience's builds, newest first.
#[utoipa::path(get, path = "/v1/audiences/{id}/builds", tag = "audiences", operation_id = "audiences_builds",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<BuildView>), (status = 404, body = Problem)))]
pub async fn builds(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AudienceId>,
) -> Result<Json<Vec<BuildView>>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::builds(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    Ok(Json(found?))
}

/// Who came and went in build `n`, each with its reason.
#[utoipa::path(get, path = "/v1/audiences/{id}/builds/{n}/diff", tag = "audiences", operation_id = "audiences_build_diff",
    params(("id" = Uuid, Path), ("n" = i64, Path)),
    responses((status = 200, body = Vec<ChangeView>), (status = 404, body = Problem)))]
pub async fn diff(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, n)): Path<(AudienceId, i64)>,
) -> Result<Json<Vec<ChangeView>>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::changes(&mut tx, &ctx.principal, id, n).await;
    tx.end_read();
    Ok(Json(found?))
}
