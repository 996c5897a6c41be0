//! Campaign management: advertisers, insertion orders (the customer's
//! contract), campaigns with their maker-checker approval workflow, ad
//! groups and creatives. Every object is tenant-scoped and every change
//! audited with its before/after; campaign changes are announced as domain
//! events ([`events`]) and read by other capabilities through [`read`].
//!
//! Each resource is a module: `mod.rs` its types and rules, `store.rs` its
//! SQL, `service.rs` its operations, `api.rs` its handlers.

pub mod ad_groups;
pub mod advertisers;
pub mod campaigns;
pub mod creatives;
pub mod ids;
pub mod insertion_orders;
pub mod list;
pub mod money;
pub mod read;
pub mod validate;
pub use platform::website;

use std::sync::Arc;

use axum::Extension;
use platform::http::ApiRoutes;
use utoipa_axum::routes;

pub use campaigns::{ActivationView, NoActivation, events};
pub use ids::{AdGroupId, AdvertiserId, CampaignId, CreativeId, InsertionOrderId};

/// Campaigns' jobs: the hourly collection of creative files no creative
/// owns (see [`creatives::orphans`]).
pub fn register(
    registry: platform::jobs::Registry,
    storage: platform::storage::Storage,
) -> anyhow::Result<platform::jobs::Registry> {
    registry.every(
        std::time::Duration::from_secs(3600),
        &creatives::orphans::CollectOrphanedFiles,
        storage,
    )
}

/// The routes, showing campaigns with their activation as `view` reports
/// it, and checking the audiences ad groups target against `audiences`.
pub fn routes(
    view: Arc<dyn ActivationView>,
    audiences: Arc<dyn ad_groups::audiences::AudienceCatalog>,
) -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(advertisers::api::create, advertisers::api::list))
        .routes(routes!(advertisers::api::get, advertisers::api::update))
        .routes(routes!(
            insertion_orders::api::create,
            insertion_orders::api::list
        ))
        .routes(routes!(
            insertion_orders::api::get,
            insertion_orders::api::update
        ))
        .routes(routes!(campaigns::api::create, campaigns::api::list))
        .routes(routes!(campaigns::api::get, campaigns::api::update))
        .routes(routes!(campaigns::api::transition))
        .routes(routes!(ad_groups::api::create, ad_groups::api::list))
        .routes(routes!(
            ad_groups::api::get,
            ad_groups::api::update,
            ad_groups::api::archive
        ))
        .routes(routes!(creatives::api::create, creatives::api::list))
        .routes(routes!(
            creatives::api::get,
            creatives::api::update,
            creatives::api::archive
        ))
        .routes(routes!(creatives::api::preview))
        .routes(routes!(creatives::api::preview_file))
        .routes(routes!(
            creatives::api::public_file,
            creatives::api::public_file_head
        ))
        .layer(Extension(view))
        .layer(Extension(audiences))
}
