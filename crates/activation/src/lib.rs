//! Activation on The Trade Desk: the TTD platform API client, a sandbox that
//! speaks the same API (for laptops and tests), and the jobs that keep TTD in
//! step with approved campaigns.
//!
//! It learns about campaign changes from `campaign.*` domain events
//! ([`events::consumer`]), reads campaigns through `campaigns::read`, keeps
//! its state in its own tables ([`store`]) and shows it on the campaigns API
//! through [`view::View`]. `campaigns` does not depend on this crate.

pub mod config;
pub mod events;
pub mod store;
pub mod sync;
pub mod ttd;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::config::Mode;
use platform::jobs::Registry;

pub use config::TtdConfig;
pub use events::consumer;
pub use sync::{AudienceSegments, CheckDuplicates, SyncCampaign, SyncService};

/// Where `p360 serve` mounts the in-process sandbox.
pub const SANDBOX_PATH: &str = "/sandbox/ttd";

/// Whether this configuration uses the in-process sandbox (no TTD URL set,
/// outside production).
pub fn uses_sandbox(config: &TtdConfig, mode: Mode) -> bool {
    config.base_url.is_none() && mode != Mode::Production
}

/// The TTD base URL the sync calls: the configured one, or the sandbox that
/// `p360 serve` mounts at `http.listen` (also what a worker-only process
/// calls on embedded defaults).
pub fn base_url(config: &TtdConfig, listen: SocketAddr) -> String {
    match &config.base_url {
        Some(u) => u.clone(),
        None => platform::server::own_url(listen, SANDBOX_PATH),
    }
}

/// The sync's TTD client and settings; `audiences` keeps the segments of
/// the audiences ad groups target.
pub fn service(
    config: &TtdConfig,
    listen: SocketAddr,
    audiences: sync::Segments,
) -> anyhow::Result<Arc<SyncService>> {
    let base = base_url(config, listen);
    let client = ttd::TtdClient::new(ttd::TtdSettings::from_config(config, base))?;
    Ok(Arc::new(SyncService {
        client,
        partner_id: config.partner_id.clone(),
        creative_base_url: config.creative_base_url.clone(),
        failure_webhook: config.failure_webhook.clone(),
        duplicate_check_after: std::time::Duration::from_millis(config.duplicate_check_after_ms),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        audiences,
        segment_ttl_minutes: config.segment_ttl_minutes,
        segment_refresh_minutes: config.segment_refresh_minutes,
    }))
}

/// Register the sync jobs with their service.
pub fn register(registry: Registry, service: Arc<SyncService>) -> anyhow::Result<Registry> {
    Ok(registry
        .register::<SyncCampaign>(service.clone())
        .register::<CheckDuplicates>(service))
}

/// The sandbox with default options (no faults), for mounting in-process.
pub fn sandbox_router() -> axum::Router {
    ttd::sandbox::router(ttd::sandbox::SandboxOptions::default())
}

/// The activation view the campaigns API shows.
pub fn view() -> Arc<dyn campaigns::ActivationView> {
    Arc::new(view::View)
}
