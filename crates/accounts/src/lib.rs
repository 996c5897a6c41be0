//! Accounts: the companies account-based marketing targets. The company
//! universe ([`companies`]): global reference data keyed by registrable
//! domain ([`domain`]), loaded by staff from files (`p360 companies
//! import`) and read by everyone who plans campaigns (`GET /v1/companies`),
//! with their IP ranges ([`ranges`], `p360 companies import-ip-ranges`),
//! which never overlap; held in memory by each instance for matching
//! ([`universe`], names compared by [`names`]). And the account lists
//! customers bring ([`lists`]), matched to it with a match report.

pub mod companies;
pub mod detail;
pub mod domain;
pub mod generate;
pub mod ids;
pub mod lists;
pub mod names;
pub mod ranges;
pub mod read;
pub mod universe;

use axum::extract::DefaultBodyLimit;
use platform::http::ApiRoutes;
use utoipa_axum::routes;

/// The capability's routes; those taking a file accept bodies up to
/// `upload_limit` bytes (`http.upload_limit_bytes`).
pub fn routes(upload_limit: usize) -> ApiRoutes {
    let uploads = ApiRoutes::new()
        .routes(routes!(companies::api::import))
        .routes(routes!(ranges::api::import_ip_ranges))
        .routes(routes!(lists::api::create, lists::api::list))
        .layer(DefaultBodyLimit::max(upload_limit));
    ApiRoutes::new()
        .routes(routes!(companies::api::search))
        .routes(routes!(detail::get))
        .routes(routes!(lists::api::get))
        .routes(routes!(lists::api::rows))
        .routes(routes!(lists::api::unmatched))
        .routes(routes!(lists::api::match_row))
        .merge(uploads)
}
