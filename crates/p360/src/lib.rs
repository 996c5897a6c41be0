//! What `p360 serve` serves, shared with the integration tests so that they
//! test exactly the assembled application.

use platform::http::{ApiRoutes, AppState};

/// Every capability's HTTP routes, with the services they share.
pub fn api_routes(state: &AppState) -> anyhow::Result<ApiRoutes> {
    let auth = tenancy::AuthService::new(
        state.pool.clone(),
        &state.config,
        state.rate_limiter.clone(),
    )?;
    Ok(tenancy::with_auth(
        tenancy::routes().merge(campaigns::routes()),
        auth,
    ))
}

/// Every capability's background job kinds (none yet: the activation sync
/// registers here).
pub fn job_registry() -> platform::jobs::Registry {
    platform::jobs::Registry::default()
}
