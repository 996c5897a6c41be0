//! `/v1/companies/ip-ranges/import`: loading companies' IP ranges (thin
//! handler over [`super::service`]).

use axum::Json;
use axum::extract::State;
use platform::http::AppState;
use platform::http::problem::{ApiError, Problem};
use tenancy::Principal;
use tenancy::principal::forbidden;
use tenancy::roles::Permission;
use tenancy::scope::ScopedTx;

use super::service::RangeReport;
use crate::companies::service::{self as companies, ImportError};

/// Import companies' IP ranges from a CSV file sent as the body (`text/csv`:
/// domain, and cidr or start_ip and end_ip): they replace the ranges of the
/// companies the file names; overlapping, unknown and malformed lines are
/// reported by number. Platform admins; audited on the platform's chain.
#[utoipa::path(post, path = "/v1/companies/ip-ranges/import", tag = "accounts", operation_id = "companies_import_ip_ranges",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = RangeReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn import_ip_ranges(
    principal: Principal,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<RangeReport>, ApiError> {
    principal.require(Permission::CompaniesManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins load the company universe"))?;
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    let report = super::service::import(tx.conn(), &body)
        .await
        .map_err(ImportError::into_api)?;
    let counts = serde_json::json!({"added": report.added, "removed": report.removed,
        "unchanged": report.unchanged, "skipped": report.skipped.len()});
    companies::audit_import(tx.conn(), &principal, "company_ip_ranges.imported", counts).await?;
    tx.commit().await?;
    Ok(Json(report))
}
