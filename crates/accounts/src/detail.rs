//! `GET /v1/companies/{domain}`: a company with its IP ranges (the two
//! resources read together; neither module depends on the other).

use axum::Json;
use axum::extract::{Path, State};
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::Principal;
use utoipa::ToSchema;

use crate::companies::{self, Company};
use crate::ranges;

/// A company with its IP ranges.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CompanyDetail {
    #[serde(flatten)]
    pub company: Company,
    /// Its IP ranges in address order: CIDR blocks, or `first-last`.
    pub ip_ranges: Vec<String>,
}

/// One company with its IP ranges, by any form of its domain
/// (`https://www.shop.acme.co.uk/` finds `acme.co.uk`).
#[utoipa::path(get, path = "/v1/companies/{domain}", tag = "accounts", operation_id = "companies_get",
    params(("domain" = String, Path)),
    responses((status = 200, body = CompanyDetail), (status = 404, body = Problem)))]
pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<CompanyDetail>, ApiError> {
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = async {
        let company = companies::service::get(tx.conn(), &principal, &domain).await?;
        let ip_ranges = ranges::store::of_company(tx.conn(), &company.domain)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok::<_, ApiError>(CompanyDetail { company, ip_ranges })
    }
    .await;
    drop(tx); // read only: rolled back
    Ok(Json(found?))
}
