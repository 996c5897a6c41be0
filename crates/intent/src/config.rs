//! `[bombora]`: where Company Surge is fetched from, and how often.

use platform::config::{ConfigError, PlatformConfig, Section, check_http_url, serialize_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Bombora's API. Without `base_url`, outside production, `p360 serve`
/// mounts the Bombora sandbox at `/sandbox/bombora` and the fetch job uses it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BomboraConfig {
    /// e.g. `https://api.bombora.com`.
    pub base_url: Option<String>,
    pub client_id: String,
    #[serde(serialize_with = "serialize_secret")]
    pub client_secret: Option<SecretString>,
    /// How often the job asks for new weeks (Bombora publishes weekly).
    pub fetch_every_secs: u64,
    /// How many of the most recent weeks are kept up to date (0: the job
    /// does not run).
    pub weeks_back: u32,
    /// Per-call timeout (a week's file is a large download).
    pub timeout_ms: u64,
    /// The longest wait for a connection or the next bytes of an answer.
    pub read_timeout_ms: u64,
    /// Retries of one call on throttling, 5xx and timeouts.
    pub max_retries: u32,
    /// Add the companies a surge file names that the universe lacks
    /// (domain, the file's company name, size, industry, country), however
    /// the file arrived. Off: they are only counted.
    pub create_unknown_companies: bool,
    /// Files landing in `storage.landing_bucket` under this key prefix are
    /// surge weeks (the week from the date in the file's name or key).
    pub landing_prefix: String,
}

impl Default for BomboraConfig {
    fn default() -> Self {
        BomboraConfig {
            base_url: None,
            client_id: "p360-sandbox".into(),
            client_secret: None,
            fetch_every_secs: 6 * 3600,
            weeks_back: 4,
            timeout_ms: 600_000,
            read_timeout_ms: 60_000,
            max_retries: 5,
            create_unknown_companies: false,
            landing_prefix: "partner-files/bombora/".into(),
        }
    }
}

impl Section for BomboraConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        if let Some(u) = &self.base_url {
            check_http_url("bombora.base_url", u)?;
            if self.client_secret.is_none() {
                return Err(ConfigError::invalid(
                    "bombora.client_secret",
                    "is required with bombora.base_url",
                ));
            }
        } else if platform.mode == platform::config::Mode::Production && self.weeks_back > 0 {
            return Err(ConfigError::invalid(
                "bombora.base_url",
                "is required in production (or set bombora.weeks_back = 0)",
            ));
        }
        if self.timeout_ms == 0 || self.read_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "bombora",
                "timeout_ms and read_timeout_ms must be positive",
            ));
        }
        if self.landing_prefix.is_empty() || self.landing_prefix.starts_with('/') {
            return Err(ConfigError::invalid(
                "bombora.landing_prefix",
                "a key prefix such as partner-files/bombora/ (not empty, no leading /)",
            ));
        }
        if self.fetch_every_secs < 60 {
            return Err(ConfigError::invalid(
                "bombora.fetch_every_secs",
                "at least 60",
            ));
        }
        Ok(())
    }
}
