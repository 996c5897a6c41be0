//! Accounts: the companies account-based marketing targets. Today the
//! company universe ([`companies`]): global reference data keyed by
//! registrable domain ([`domain`]), loaded by staff from files
//! (`p360 companies import`) and read by everyone who plans campaigns
//! (`GET /v1/companies`), with their IP ranges ([`ranges`], `p360 companies
//! import-ip-ranges`), which never overlap.

pub mod companies;
pub mod domain;
pub mod ranges;

use platform::http::ApiRoutes;
use utoipa_axum::routes;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(companies::api::search))
        .routes(routes!(companies::api::get))
        .routes(routes!(companies::api::import))
        .routes(routes!(ranges::api::import_ip_ranges))
}
