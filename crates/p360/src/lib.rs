//! What `p360 serve` serves, shared with the integration tests so that they
//! test exactly the assembled application: the configuration composed from
//! every capability's section, their routes and their job kinds.

pub mod config;

pub use config::Config;

use platform::http::{ApiRoutes, AppState};
use platform::testing::TestApp;

/// Every capability's HTTP routes, with the services they share.
pub fn api_routes(state: &AppState, config: &Config) -> anyhow::Result<ApiRoutes> {
    release::export_gauges();
    tenancy::events::export_gauges();
    let auth = tenancy::AuthService::new(
        state.pool.clone(),
        &config.auth,
        &config.platform,
        state.rate_limiter.clone(),
    )?;
    let routes = tenancy::with_auth(
        tenancy::routes()
            .merge(campaigns::routes(
                activation::view(),
                std::sync::Arc::new(audiences::audience::Catalog),
            ))
            .merge(operations::routes())
            .merge(accounts::routes(config.platform.http.upload_limit_bytes))
            .merge(intent::routes(
                config.platform.http.upload_limit_bytes,
                &config.bombora,
            ))
            .merge(audiences::routes())
            .merge(delivery::routes())
            .merge(crm::routes(salesforce(config, state.config.http.listen)?))
            .merge(attribution::routes())
            .merge(billing::routes(&config.billing)),
        auth,
    );
    let routes = if crm::uses_sandbox(&config.salesforce, config.platform.mode) {
        routes.nest_service(crm::SANDBOX_PATH, crm::sandbox_router())
    } else {
        routes
    };
    // On embedded defaults (no TTD or Bombora URL) their sandboxes run
    // in-process.
    let routes = if activation::uses_sandbox(&config.ttd, config.platform.mode) {
        routes.nest_service(activation::SANDBOX_PATH, activation::sandbox_router())
    } else {
        routes
    };
    Ok(
        if intent::uses_sandbox(&config.bombora, config.platform.mode) {
            routes.nest_service(intent::SANDBOX_PATH, intent::sandbox_router())
        } else {
            routes
        },
    )
}

/// How tenants' Salesforce orgs are reached (the in-process sandbox at
/// `listen` on embedded defaults), with the vault that holds their keys.
pub fn salesforce(
    config: &Config,
    listen: std::net::SocketAddr,
) -> anyhow::Result<crm::Salesforce> {
    let vault = tenancy::vault::Vault::from_config(&config.secrets, &config.platform.data_dir)?;
    Ok(crm::Salesforce::new(
        &config.salesforce,
        config.platform.mode,
        listen,
        vault,
    ))
}

/// What wraps every route inside the request middleware: fault injection
/// for drills (`[faults]`, off unless configured).
pub fn wrap_routes(
    config: &Config,
) -> impl FnOnce(axum::Router<AppState>) -> axum::Router<AppState> {
    let faults = config.faults.clone();
    move |router| release::faults::wrap(router, &faults)
}

/// Every capability's background job kinds, with the clients they need
/// (`p360 worker`: the in-process sandbox, if used, is at `http.listen`).
/// The REDS folder the job worker watches, if any (`delivery.watch_folder`),
/// and how often it is scanned.
pub fn watched_folder(
    config: &Config,
) -> anyhow::Result<Option<(delivery::folder::Folder, std::time::Duration)>> {
    delivery::folder(
        &config.delivery,
        &config.platform.data_dir,
        platform::storage::Storage::landing(&config.platform)?,
    )
}

pub fn job_registry(config: &Config) -> anyhow::Result<platform::jobs::Registry> {
    job_registry_at(config, config.platform.http.listen)
}

/// As [`job_registry`], for a server that listens on `listen`.
pub fn job_registry_at(
    config: &Config,
    listen: std::net::SocketAddr,
) -> anyhow::Result<platform::jobs::Registry> {
    let registry = platform::jobs::Registry::default()
        .every(
            std::time::Duration::from_secs(3600),
            &platform::jobs::PruneJobs,
            (),
        )?
        .every(
            std::time::Duration::from_secs(3600),
            &platform::restore_check::RestoreCheckMetrics,
            platform::storage::Storage::from_config(&config.platform)?,
        )?;
    let registry = platform::backup::schedule::register(registry, &config.platform)?;
    let registry = tenancy::register(registry, event_consumers(), &config.audit, &config.platform)?;
    let storage = platform::storage::Storage::from_config(&config.platform)?;
    let registry = campaigns::register(registry, storage.clone())?;
    let registry = intent::register(
        registry,
        &config.bombora,
        listen,
        storage.clone(),
        platform::storage::Storage::landing(&config.platform)?,
        config.platform.data_dir.join("tmp"),
    )?;
    let registry = delivery::register(
        registry,
        &config.delivery,
        platform::storage::Storage::landing(&config.platform)?,
        config.platform.data_dir.join("tmp"),
    )?;
    let ttd = activation::service(
        &config.ttd,
        listen,
        Some(std::sync::Arc::new(audiences::activate::Segments)),
    )?;
    // New surge weeks reach every audience within a minute.
    let registry = audiences::register(
        registry,
        storage,
        std::time::Duration::from_secs(60),
        ttd.clone(),
    )?;
    let registry = crm::register(registry, &config.salesforce, salesforce(config, listen)?)?;
    let registry = billing::register(registry, &config.billing)?;
    activation::register(registry, ttd)
}

/// Every capability's subscribers to domain events.
pub fn event_consumers() -> tenancy::events::Consumers {
    tenancy::events::Consumers::default().with(activation::consumer())
}

/// The assembled application on `pool`, served in-process on a loopback port
/// (tests).
pub async fn spawn_app(pool: sqlx::PgPool, config: Config) -> anyhow::Result<TestApp> {
    let wrap = wrap_routes(&config);
    TestApp::spawn_wrapped(
        pool,
        config.platform.clone(),
        |s| api_routes(s, &config),
        wrap,
    )
    .await
}
