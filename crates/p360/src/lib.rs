//! What `p360 serve` serves, shared with the integration tests so that they
//! test exactly the assembled application.

pub mod drill;
pub mod release;

use platform::config::Config;
use platform::http::{ApiRoutes, AppState};

/// Every capability's HTTP routes, with the services they share.
pub fn api_routes(state: &AppState) -> anyhow::Result<ApiRoutes> {
    let auth = tenancy::AuthService::new(
        state.pool.clone(),
        &state.config,
        state.rate_limiter.clone(),
    )?;
    let routes = tenancy::with_auth(tenancy::routes().merge(campaigns::routes()), auth);
    // On embedded defaults (no TTD URL) the TTD sandbox runs in-process.
    Ok(if activation::uses_sandbox(&state.config) {
        routes.nest_service(activation::SANDBOX_PATH, activation::sandbox_router())
    } else {
        routes
    })
}

/// Every capability's background job kinds, with the clients they need
/// (`p360 worker`: the in-process sandbox, if used, is at `http.listen`).
pub fn job_registry(config: &Config) -> anyhow::Result<platform::jobs::Registry> {
    job_registry_at(config, config.http.listen)
}

/// As [`job_registry`], for a server that listens on `listen`.
pub fn job_registry_at(
    config: &Config,
    listen: std::net::SocketAddr,
) -> anyhow::Result<platform::jobs::Registry> {
    let registry = platform::jobs::Registry::default().every(
        std::time::Duration::from_secs(3600),
        &platform::jobs::PruneJobs,
    )?;
    activation::register(registry, config, listen)
}
