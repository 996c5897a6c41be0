//! Intent: which companies are researching which topics, from Bombora's
//! weekly Company Surge ([`surge`]), fetched from Bombora's API
//! ([`bombora`]; its sandbox on embedded defaults) by a recurring job.

pub mod bombora;
pub mod config;
pub mod generate;
pub mod surge;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use platform::config::Mode;
use platform::http::ApiRoutes;
use platform::jobs::Registry;
use platform::storage::Storage;
use secrecy::SecretString;
use utoipa_axum::routes;

pub use config::BomboraConfig;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The BLAKE3 of `bytes`, hex: how a surge file is known.
pub fn file_checksum(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The SHA-256 of `bytes`, hex: how Bombora publishes a file's checksum.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// `n` random bytes, hex (tokens, scratch file names).
pub(crate) fn random_hex(n: usize) -> String {
    let mut raw = vec![0u8; n];
    // Without randomness the name is still unique enough for its use.
    let _ = aws_lc_rs::rand::fill(&mut raw);
    hex(&raw)
}

/// The capability's routes; the file upload accepts bodies up to
/// `upload_limit` bytes (`http.upload_limit_bytes`) and adds the companies
/// the universe lacks when `config` says so.
pub fn routes(upload_limit: usize, config: &BomboraConfig) -> ApiRoutes {
    let uploads = ApiRoutes::new()
        .routes(routes!(surge::api::import))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(axum::Extension(surge::IngestOptions {
            create_companies: config.create_unknown_companies,
        }));
    ApiRoutes::new()
        .routes(routes!(surge::api::weeks))
        .routes(routes!(surge::api::topics))
        .routes(routes!(surge::api::company))
        .merge(uploads)
}

/// Where `p360 serve` mounts the in-process Bombora sandbox.
pub const SANDBOX_PATH: &str = "/sandbox/bombora";

/// Whether this configuration uses the in-process sandbox (no Bombora URL,
/// outside production).
pub fn uses_sandbox(config: &BomboraConfig, mode: Mode) -> bool {
    config.base_url.is_none() && mode != Mode::Production
}

/// The sandbox with default options (no faults), for mounting in-process.
pub fn sandbox_router() -> axum::Router {
    bombora::sandbox::router(bombora::sandbox::SandboxOptions::default())
}

/// The Bombora base URL the fetch job calls: the configured one, or the
/// sandbox `p360 serve` mounts at `http.listen`.
pub fn base_url(config: &BomboraConfig, listen: SocketAddr) -> String {
    match &config.base_url {
        Some(u) => u.clone(),
        None => platform::server::own_url(listen, SANDBOX_PATH),
    }
}

/// The fetch job's services.
pub fn fetcher(
    config: &BomboraConfig,
    listen: SocketAddr,
    storage: Storage,
    scratch: std::path::PathBuf,
) -> anyhow::Result<bombora::fetch::Fetcher> {
    let in_process = config.base_url.is_none();
    let client = bombora::BomboraClient::new(bombora::client::Settings {
        base_url: base_url(config, listen),
        client_id: config.client_id.clone(),
        client_secret: config
            .client_secret
            .clone()
            .unwrap_or_else(|| SecretString::from("p360-sandbox".to_string())),
        timeout: Duration::from_millis(config.timeout_ms),
        // The in-process sandbox answers at once or not at all (a server
        // shutting down still completes TCP handshakes nobody will answer):
        // a fetch racing shutdown gives up well within the worker's drain.
        read_timeout: Duration::from_millis(if in_process {
            2_000
        } else {
            config.read_timeout_ms
        }),
        max_retries: if in_process { 1 } else { config.max_retries },
    })?;
    Ok(bombora::fetch::Fetcher {
        client: Arc::new(client),
        storage,
        weeks_back: config.weeks_back as usize,
        scratch,
        create_companies: config.create_unknown_companies,
    })
}

/// Register the recurring fetch (unless `weeks_back` is 0) and, with a
/// landing bucket (`landing`, from `storage.landing_bucket`), the ingest of
/// the surge files that land there under `bombora.landing_prefix`.
pub fn register(
    registry: Registry,
    config: &BomboraConfig,
    listen: SocketAddr,
    storage: Storage,
    landing: Option<(String, Storage)>,
    scratch: std::path::PathBuf,
) -> anyhow::Result<Registry> {
    let registry = match landing {
        Some((bucket, store)) => registry.on_landing::<surge::landed::IngestObject>(
            config.landing_prefix.clone(),
            surge::landed::Landing {
                bucket,
                store,
                storage: storage.clone(),
                scratch: scratch.clone(),
                create_companies: config.create_unknown_companies,
            },
        ),
        None => registry,
    };
    if config.weeks_back == 0 {
        return Ok(registry
            .register::<bombora::fetch::FetchSurge>(fetcher(config, listen, storage, scratch)?));
    }
    registry.every(
        Duration::from_secs(config.fetch_every_secs),
        &bombora::fetch::FetchSurge,
        fetcher(config, listen, storage, scratch)?,
    )
}
