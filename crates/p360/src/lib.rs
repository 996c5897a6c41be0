//! What `p360 serve` serves, shared with the integration tests so that they
//! test exactly the assembled application.

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

/// Every capability's background job kinds, with the clients they need.
pub fn job_registry(config: &Config) -> anyhow::Result<platform::jobs::Registry> {
    activation::register(
        platform::jobs::Registry::default(),
        config,
        config.http.listen,
    )
}
