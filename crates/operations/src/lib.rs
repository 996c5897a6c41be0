//! Operating the platform: what platform admins and on-call engineers do
//! with the machinery rather than with customers' data. Today: the
//! background jobs of every tenant (`GET /v1/jobs`, `POST /v1/jobs/{id}/retry`
//! and `p360 jobs list|retry`), every retry audited on the platform chain.

pub mod jobs;

use platform::http::ApiRoutes;
use utoipa_axum::routes;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(jobs::api::list))
        .routes(routes!(jobs::api::retry))
}
