//! `/v1/account-lists`: upload a list (the CSV as the body), read it with
//! its match report, page through its rows, download the rows not matched,
//! and pick the company a row means (thin handlers over [`super::service`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, PageQuery, keyset, page};
use platform::http::problem::{ApiError, FieldError, Problem};
use platform::http::versioned::Versioned;
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use utoipa::{IntoParams, ToSchema};

use super::{AccountList, ListRow, RowMatch, RowStatus, service};
use crate::ids::AccountListId;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// The list's name, unique in the tenant.
    pub name: String,
}

/// Upload an account list: a CSV file as the body (`text/csv`; columns
/// found by header name: `domain`/`website`/`url`, `company`/`name`/
/// `account name`, optional `salesforce_id`; comma, semicolon or tab; up to
/// 200,000 rows). Every row is matched to a company, by domain and then by a
/// name naming exactly one company; the answer is the list with its match
/// report. A file that is not such a list is a 422 naming the line, and
/// nothing is stored.
#[utoipa::path(post, path = "/v1/account-lists", tag = "accounts", operation_id = "account_lists_create",
    params(CreateQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = AccountList), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<CreateQuery>,
    body: axum::body::Bytes,
) -> Result<Versioned<AccountList>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let list = service::create(&mut tx, &ctx.principal, &q.name, body).await?;
    tx.commit().await?;
    Ok(Versioned::created(list.version, list))
}

/// One account list with its match report (counts and match rate).
#[utoipa::path(get, path = "/v1/account-lists/{id}", tag = "accounts", operation_id = "account_lists_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountList), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AccountListId>,
) -> Result<Versioned<AccountList>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let list = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let list = list?;
    Ok(Versioned::ok(list.version, list))
}

/// Account lists, newest first.
#[utoipa::path(get, path = "/v1/account-lists", tag = "accounts", operation_id = "account_lists_list",
    params(PageQuery),
    responses((status = 200, body = Page<AccountList>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Page<AccountList>>, ApiError> {
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let lists = service::list(&mut tx, &ctx.principal, cursor, limit + 1).await;
    tx.end_read();
    Ok(Json(Page::from_rows(lists?, limit, |l| Cursor {
        at: l.created_at,
        id: l.id.0,
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RowsQuery {
    /// Only rows with these statuses, comma-separated (`ambiguous,unmatched`).
    pub status: Option<String>,
    /// The last line of the previous page.
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A page of a list's rows, by line.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowPage {
    pub items: Vec<ListRow>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// A list's rows by line: what the file said and how each matched.
#[utoipa::path(get, path = "/v1/account-lists/{id}/rows", tag = "accounts", operation_id = "account_lists_rows",
    params(("id" = Uuid, Path), RowsQuery),
    responses((status = 200, body = RowPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rows(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AccountListId>,
    Query(q): Query<RowsQuery>,
) -> Result<Json<RowPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    let mut errors = Vec::new();
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 1000"));
    }
    let statuses: Vec<RowStatus> = q
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| match s.trim().parse() {
            Ok(st) => Some(st),
            Err(_) => {
                errors.push(FieldError::new(
                    "status",
                    "invalid",
                    format!("{s} is not one of {}", RowStatus::allowed()),
                ));
                None
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::rows(
        &mut tx,
        &ctx.principal,
        id,
        &statuses,
        q.after.unwrap_or(0),
        limit + 1,
    )
    .await;
    tx.end_read();
    let (items, next_after) = keyset(found?, limit, |r| r.line);
    Ok(Json(RowPage { items, next_after }))
}

/// The match report's rows not matched (ambiguous and unmatched) as a CSV
/// file: line, domain, name, salesforce_id, status, reason, candidates.
#[utoipa::path(get, path = "/v1/account-lists/{id}/unmatched", tag = "accounts", operation_id = "account_lists_unmatched",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 404, body = Problem)))]
pub async fn unmatched(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<AccountListId>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let csv = service::not_matched_csv(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"account-list-{id}-not-matched.csv\""),
            ),
        ],
        csv?,
    ))
}

/// The row as a user fixed it, and the list's report after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowFixed {
    pub row: ListRow,
    pub list: AccountList,
}

/// Say which company a row means: one of an ambiguous row's candidates, or
/// any company P360 knows for an unmatched one.
#[utoipa::path(post, path = "/v1/account-lists/{id}/rows/{line}/match", tag = "accounts", operation_id = "account_lists_match_row",
    params(("id" = Uuid, Path), ("line" = i64, Path)),
    request_body = RowMatch,
    responses((status = 200, body = RowFixed), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn match_row(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, line)): Path<(AccountListId, i64)>,
    Json(body): Json<RowMatch>,
) -> Result<Json<RowFixed>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let (row, list) = service::pick(&mut tx, &ctx.principal, id, line, &body.company).await?;
    tx.commit().await?;
    Ok(Json(RowFixed { row, list }))
}
