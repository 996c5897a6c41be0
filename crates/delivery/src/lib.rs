//! Delivery: which companies a campaign reached. The Trade Desk's Raw Event
//! Data Stream (REDS: hourly gzip files of tab-separated impressions and
//! clicks) is read file by file; each impression's IP address is resolved
//! to a company by the universe's IP ranges ([`resolve`]); the feed's
//! columns come from its configured schema ([`schema`]), since TTD versions
//! its feeds.
//!
//! Slices so far (issue 17): the schema, the resolver, a file read into its
//! rollup on two threads ([`read`]), stored per file ([`ingest`]) and
//! merged for reading ([`merge`]), the delivery report ([`report`]), the
//! account view ([`reach`]) and a deterministic generator of REDS files
//! ([`generate`]), pacing ([`pacing`]), the business alerts ([`watch`]),
//! clicks joined to their impressions ([`clicks`]) and the people reached
//! (distinct TDIDs, [`people`]).

pub mod clicks;
pub mod config;
pub mod days;
pub mod folder;
pub mod generate;
pub mod ingest;
pub mod landed;
pub mod merge;
pub mod pacing;
pub mod people;
pub mod reach;
pub mod read;
pub mod report;
pub mod resolve;
pub mod schema;
pub mod simulate;
pub mod touches;
pub mod watch;

pub use config::DeliveryConfig;

use platform::http::ApiRoutes;
use platform::jobs::Registry;
use platform::storage::Storage;
use utoipa_axum::routes;

/// The reports' routes.
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(report::api::delivery))
        .routes(routes!(reach::api::view))
        .routes(routes!(reach::api::targets))
        .routes(routes!(reach::api::get_settings, reach::api::put_settings))
        .routes(routes!(pacing::api::pacing))
        .routes(routes!(watch::api::alerts))
}

/// The watched folder of `config` under `data_dir` (none when
/// `delivery.watch_folder` is empty) and how often to scan it.
pub fn folder(
    config: &DeliveryConfig,
    data_dir: &std::path::Path,
    landing: Option<(String, Storage)>,
) -> anyhow::Result<Option<(folder::Folder, std::time::Duration)>> {
    if config.watch_folder.is_empty() {
        return Ok(None);
    }
    let f = folder::Folder {
        dir: data_dir.join(&config.watch_folder),
        layouts: config.layouts()?,
        sources: ingest::Sources {
            landing,
            scratch: data_dir.join("tmp"),
        },
    };
    Ok(Some((
        f,
        std::time::Duration::from_secs(config.watch_folder_every_secs),
    )))
}

/// Register the merge of ingested files, the delivery watch and, with a
/// landing bucket
/// (`landing`, from `storage.landing_bucket`), the ingest of the REDS files
/// that land there under `delivery.landing_prefix`.
pub fn register(
    registry: Registry,
    config: &DeliveryConfig,
    landing: Option<(String, Storage)>,
    scratch: std::path::PathBuf,
) -> anyhow::Result<Registry> {
    let registry = registry.register::<merge::MergeFiles>(()).every(
        std::time::Duration::from_secs(config.watch_every_secs),
        &watch::WatchDelivery::default(),
        watch::Watcher::from_config(config)?,
    )?;
    let Some((bucket, store)) = landing else {
        return Ok(registry);
    };
    Ok(registry.on_landing::<landed::IngestObject>(
        config.landing_prefix.clone(),
        landed::Landing {
            bucket,
            store,
            scratch,
            layouts: config.layouts()?,
        },
    ))
}
