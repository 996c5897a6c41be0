//! CRM: a tenant's Salesforce org — connected by the OAuth 2.0 JWT bearer
//! flow with a private key sealed by the vault ([`connection`]), its
//! accounts, opportunities and stage history synced incrementally
//! ([`sync`]), its accounts matched to companies ([`matching`]). The
//! Salesforce client and sandbox are in [`salesforce`].

pub mod config;
pub mod connection;
pub mod matching;
pub mod read;
pub mod salesforce;
pub mod sync;

use std::net::SocketAddr;
use std::time::Duration;

use platform::config::Mode;
use platform::http::ApiRoutes;
use platform::jobs::Registry;
use tenancy::vault::Vault;
use utoipa_axum::routes;

pub use config::SalesforceConfig;
use salesforce::SalesforceClient;
use salesforce::client::{Credentials, Endpoints, Settings};

/// What the connection and the sync need: the vault that holds tenants'
/// keys, and how Salesforce is called.
#[derive(Clone, Debug)]
pub struct Salesforce {
    pub vault: Vault,
    pub settings: Settings,
    /// How far before the watermark a sync asks again.
    pub overlap: chrono::Duration,
}

impl Salesforce {
    /// How `config` says to reach Salesforce (the in-process sandbox on
    /// embedded defaults, at `listen`).
    pub fn new(
        config: &SalesforceConfig,
        mode: Mode,
        listen: SocketAddr,
        vault: Vault,
    ) -> Salesforce {
        let endpoints = match &config.sandbox_url {
            Some(url) => Endpoints::Sandbox {
                base_url: url.clone(),
            },
            None if mode != Mode::Production => Endpoints::Sandbox {
                base_url: platform::server::own_url(listen, SANDBOX_PATH),
            },
            None => Endpoints::Salesforce {
                instance_suffixes: config.instance_suffixes.clone(),
            },
        };
        Salesforce {
            vault,
            settings: Settings {
                endpoints,
                api_version: config.api_version.clone(),
                batch_size: config.batch_size,
                timeout: Duration::from_millis(config.timeout_ms),
                max_retries: config.max_retries,
                backoff: Duration::from_millis(config.backoff_ms),
            },
            overlap: chrono::Duration::seconds(config.overlap_secs as i64),
        }
    }

    /// A client for an org.
    pub fn client(&self, credentials: Credentials) -> anyhow::Result<SalesforceClient> {
        SalesforceClient::new(self.settings.clone(), credentials)
    }
}

/// Where `p360 serve` mounts the in-process Salesforce sandbox.
pub const SANDBOX_PATH: &str = "/sandbox/salesforce";

/// Whether this configuration uses the in-process sandbox.
pub fn uses_sandbox(config: &SalesforceConfig, mode: Mode) -> bool {
    config.sandbox_url.is_none() && mode != Mode::Production
}

/// The in-process sandbox.
pub fn sandbox_router() -> axum::Router {
    salesforce::sandbox::router(salesforce::sandbox::SandboxOptions {
        instance_url: None,
        mount_path: SANDBOX_PATH.into(),
        fault_rate: 0.0,
        seed: 1,
        hang_ms: 30_000,
    })
}

/// The capability's routes.
pub fn routes(sf: Salesforce) -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(
            connection::api::connect,
            connection::api::get,
            connection::api::disconnect
        ))
        .routes(routes!(sync::api::sync))
        .routes(routes!(matching::api::report))
        .layer(axum::Extension(sf))
}

/// The sync of one tenant and the recurring sync of all.
pub fn register(
    registry: Registry,
    config: &SalesforceConfig,
    sf: Salesforce,
) -> anyhow::Result<Registry> {
    registry.register::<sync::SyncSalesforce>(sf).every(
        Duration::from_secs(config.sync_every_secs),
        &sync::SyncAll,
        (),
    )
}
