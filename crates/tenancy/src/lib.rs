//! Identity and tenancy: tenants, users and roles, authentication (OIDC
//! access tokens, the development issuer, API keys), tenant scoping, and the
//! tamper-evident audit log every capability writes to.

pub mod api_keys;
pub mod audit;
mod audit_routes;
pub mod auth;
pub mod config;
pub mod events;
pub mod idempotency;
pub mod jobs_routes;
pub mod roles;
pub mod scope;
pub mod tenants;
pub mod users;

use std::sync::Arc;

use axum::Extension;
use platform::http::ApiRoutes;
use utoipa_axum::routes;

pub use auth::{AuthService, InTenant, Principal};

/// The tenancy routes. `auth` must also be installed (as an extension) on
/// every other capability's routes that authenticate; [`with_auth`] does it.
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(tenants::create, tenants::list))
        .routes(routes!(users::me))
        .routes(routes!(users::list, users::invite))
        .routes(routes!(users::update))
        .routes(routes!(users::assign))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::get, api_keys::revoke))
        .routes(routes!(audit_routes::list))
        .routes(routes!(jobs_routes::list))
        .routes(routes!(jobs_routes::retry))
        .route(
            "/dev-issuer/.well-known/openid-configuration",
            axum::routing::get(dev_discovery),
        )
        .route("/dev-issuer/jwks.json", axum::routing::get(dev_jwks))
}

/// Make the auth service available to the extractors of `routes`, and honour
/// `Idempotency-Key` on their POSTs. Also starts the hourly expiry of old keys.
pub fn with_auth(routes: ApiRoutes, auth: Arc<AuthService>) -> ApiRoutes {
    let pool = auth.pool().clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = idempotency::expire(&pool).await {
                tracing::warn!(error = %e, "could not expire idempotency keys; will retry");
            }
        }
    });
    // The last layer added runs first: the extension must be in place
    // before the idempotency layer authenticates.
    routes
        .layer(axum::middleware::from_fn(idempotency::layer))
        .layer(Extension(auth))
}

async fn dev_discovery(
    Extension(auth): Extension<Arc<AuthService>>,
    headers: axum::http::HeaderMap,
) -> Result<axum::Json<serde_json::Value>, platform::http::problem::Problem> {
    if auth.dev_issuer().is_none() {
        return Err(platform::http::problem::Problem::not_found());
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8360");
    Ok(axum::Json(serde_json::json!({
        "issuer": auth::dev::ISSUER,
        "jwks_uri": format!("http://{host}/dev-issuer/jwks.json"),
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
    })))
}

async fn dev_jwks(
    Extension(auth): Extension<Arc<AuthService>>,
) -> Result<axum::Json<serde_json::Value>, platform::http::problem::Problem> {
    auth.dev_issuer()
        .map(|d| axum::Json(d.jwks()))
        .ok_or_else(platform::http::problem::Problem::not_found)
}
