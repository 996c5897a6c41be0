//! Identity and tenancy: tenants, users and roles, authentication (OIDC
//! access tokens, the development issuer, API keys), tenant scoping (the
//! tenant transaction every capability works in), the tamper-evident audit
//! log and the domain-event outbox every capability writes to.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod config;
pub mod credentials;
pub mod events;
pub mod idempotency;
pub mod principal;
pub mod roles;
pub mod scope;
pub mod tenants;
pub mod users;
pub mod vault;

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use platform::http::ApiRoutes;
use platform::jobs::Registry;
use utoipa_axum::routes;

pub use auth::{Anonymous, AuthService};
pub use principal::{InTenant, Principal};
pub use scope::{TenantId, TenantTx};

/// The tenancy routes. `auth` must also be installed (as an extension) on
/// every other capability's routes that authenticate; [`with_auth`] does it.
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(tenants::api::create, tenants::api::list))
        .routes(routes!(users::api::me))
        .routes(routes!(users::api::list, users::api::invite))
        .routes(routes!(users::api::update, users::api::revoke_invitation))
        .routes(routes!(users::api::assign))
        .routes(routes!(users::api::set_staff_status))
        .routes(routes!(api_keys::api::create, api_keys::api::list))
        .routes(routes!(api_keys::api::get, api_keys::api::revoke))
        .routes(routes!(audit::api::list))
        .route(
            "/dev-issuer/.well-known/openid-configuration",
            axum::routing::get(dev_discovery),
        )
        .route("/dev-issuer/jwks.json", axum::routing::get(dev_jwks))
}

/// Tenancy's jobs: the hourly expiry of idempotency keys, the audit
/// checkpoint every `audit.checkpoint_every_secs`, the daily audit archive
/// (and partitions), and the relay that delivers domain events to
/// `consumers` (every capability's subscribers).
pub fn register(
    registry: Registry,
    consumers: events::Consumers,
    audit: &config::AuditConfig,
    platform: &platform::config::PlatformConfig,
) -> anyhow::Result<Registry> {
    let checkpoints = audit::checkpoint::Checkpoints::from_config(audit, platform)?;
    let retention = audit::retention::Retention {
        storage: checkpoints.storage().clone(),
        after_days: audit.archive_after_days,
        drop: audit.drop_archived_months,
    };
    Ok(registry
        .every(
            Duration::from_secs(3600),
            &idempotency::ExpireIdempotencyKeys,
            (),
        )?
        .every(
            Duration::from_secs(audit.checkpoint_every_secs),
            &audit::checkpoint::TakeCheckpoint,
            checkpoints,
        )?
        .every(
            Duration::from_secs(86_400),
            &audit::retention::ArchiveAudit,
            retention,
        )?
        .register::<events::RelayEvents>(consumers))
}

/// Make the auth service available to the extractors of `routes`, and honour
/// `Idempotency-Key` on their POSTs.
pub fn with_auth(routes: ApiRoutes, auth: Arc<AuthService>) -> ApiRoutes {
    // The last layer added runs first: the extension must be in place
    // before the idempotency layer authenticates.
    let cache = auth.cache();
    routes
        .layer(axum::middleware::from_fn(idempotency::layer))
        .layer(Extension(auth))
        .layer(Extension(cache))
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
