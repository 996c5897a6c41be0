//! `/v1/companies` (search, import; one company with its ranges is
//! [`crate::detail`]): the company universe, read by everyone who plans
//! campaigns (thin handlers over [`super::service`]).

use axum::Json;
use axum::extract::{Query, State};
use platform::http::AppState;
use platform::http::pagination::{check_texts, keyset};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::Principal;
use tenancy::principal::forbidden;
use tenancy::roles::Permission;
use tenancy::scope::ScopedTx;
use utoipa::{IntoParams, ToSchema};

use super::{Company, ImportReport, service};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The start of a domain or name, any case (empty: all companies).
    pub q: Option<String>,
    /// The last domain of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of companies, by domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyPage {
    pub items: Vec<Company>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Companies whose domain or name starts with `q`, by domain.
#[utoipa::path(get, path = "/v1/companies", tag = "accounts", operation_id = "companies_search",
    params(SearchQuery),
    responses((status = 200, body = CompanyPage), (status = 422, body = Problem)))]
pub async fn search(
    principal: Principal,
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<CompanyPage>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 100"));
    }
    check_texts(
        &[("q", q.q.as_deref()), ("after", q.after.as_deref())],
        253,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = service::search(
        tx.conn(),
        &principal,
        q.q.as_deref().unwrap_or_default(),
        q.after.as_deref(),
        limit + 1,
    )
    .await;
    drop(tx); // read only: rolled back
    let (items, next_after) = keyset(found?, limit, |c| c.domain.clone());
    Ok(Json(CompanyPage { items, next_after }))
}

/// Import companies from a CSV file sent as the body (`text/csv`: domain,
/// name, and optionally size, industry, country, aliases): an upsert;
/// lines that cannot be imported are reported by number, a file that is not
/// a company CSV is a 422 and imports nothing. Platform admins; audited on
/// the platform's chain.
#[utoipa::path(post, path = "/v1/companies/import", tag = "accounts", operation_id = "companies_import",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn import(
    principal: Principal,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    principal.require(Permission::CompaniesManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins load the company universe"))?;
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    let report = service::import(tx.conn(), &body)
        .await
        .map_err(service::ImportError::into_api)?;
    let counts = serde_json::json!({"added": report.added, "changed": report.changed,
        "unchanged": report.unchanged, "skipped": report.skipped.len()});
    service::audit_import(tx.conn(), &principal, "companies.imported", counts).await?;
    tx.commit().await?;
    Ok(Json(report))
}
