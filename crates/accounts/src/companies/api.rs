//! `/v1/companies`: the company universe, read by everyone who plans
//! campaigns (thin handlers over [`super::service`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::Principal;
use utoipa::{IntoParams, ToSchema};

use super::{Company, service};

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
    for (field, value) in [("q", &q.q), ("after", &q.after)] {
        if value
            .as_deref()
            .is_some_and(|v| v.contains('\0') || v.chars().count() > 253)
        {
            errors.push(FieldError::new(
                field,
                "invalid",
                "up to 253 characters, no NUL",
            ));
        }
    }
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
    let mut items = found?;
    let next_after = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        items.last().map(|c| c.domain.clone())
    });
    Ok(Json(CompanyPage {
        items,
        next_after: next_after.flatten(),
    }))
}

/// One company, by any form of its domain (`https://www.shop.acme.co.uk/`
/// finds `acme.co.uk`).
#[utoipa::path(get, path = "/v1/companies/{domain}", tag = "accounts", operation_id = "companies_get",
    params(("domain" = String, Path)),
    responses((status = 200, body = Company), (status = 404, body = Problem)))]
pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Company>, ApiError> {
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = service::get(tx.conn(), &principal, &domain).await;
    drop(tx); // read only: rolled back
    Ok(Json(found?))
}
