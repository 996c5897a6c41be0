//! Audiences: the companies a campaign targets, chosen by the customer's
//! account lists, Bombora intent and firmographics ([`rule`]), computed in
//! memory from a loaded surge week and the company universe ([`build`]),
//! saved with every build's members, reasons and diff ([`audience`]), and
//! rebuilt on every new week ([`jobs`]), and kept on The Trade Desk while
//! ad groups target them ([`activate`]).

pub mod activate;
pub mod audience;
pub mod build;
pub mod ids;
pub mod jobs;
pub mod read;
pub mod rule;

use platform::http::ApiRoutes;
use platform::jobs::Registry;
use platform::storage::Storage;
use utoipa_axum::routes;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(audience::api::preview))
        .routes(routes!(audience::api::create, audience::api::list))
        .routes(routes!(audience::api::get))
        .routes(routes!(audience::api::members))
        .routes(routes!(audience::api::builds))
        .routes(routes!(audience::api::diff))
        .routes(routes!(activate::api::activations))
}

/// Register the recurring rebuild (every `every`) and the jobs that keep
/// activated audiences on TTD (through `ttd`).
pub fn register(
    registry: Registry,
    storage: Storage,
    every: std::time::Duration,
    ttd: std::sync::Arc<activation::SyncService>,
) -> anyhow::Result<Registry> {
    registry
        .every(every, &jobs::RebuildStale, storage)?
        .register::<activate::jobs::ActivateAudience>(ttd.clone())
        .every(
            std::time::Duration::from_secs(3600),
            &activate::jobs::RefreshSegments,
            ttd,
        )
}
