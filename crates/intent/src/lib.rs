//! Intent: which companies are researching which topics, from Bombora's
//! weekly Company Surge ([`surge`]).

pub mod generate;
pub mod surge;

use axum::extract::DefaultBodyLimit;
use platform::http::ApiRoutes;
use utoipa_axum::routes;

/// The capability's routes; the file upload accepts bodies up to
/// `upload_limit` bytes (`http.upload_limit_bytes`).
pub fn routes(upload_limit: usize) -> ApiRoutes {
    let uploads = ApiRoutes::new()
        .routes(routes!(surge::api::import))
        .layer(DefaultBodyLimit::max(upload_limit));
    ApiRoutes::new()
        .routes(routes!(surge::api::weeks))
        .routes(routes!(surge::api::topics))
        .routes(routes!(surge::api::company))
        .merge(uploads)
}
