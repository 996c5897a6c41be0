//! `[salesforce]`: how tenants' Salesforce orgs are reached and synced.

use platform::config::{ConfigError, Mode, PlatformConfig, Section, check_http_url};
use serde::{Deserialize, Serialize};

/// Salesforce. Outside production without `sandbox_url`, `p360 serve`
/// mounts the Salesforce sandbox at `/sandbox/salesforce` and every
/// tenant's org is reached there; in production the login hosts tenants
/// name and the instance URLs Salesforce returns under
/// `instance_suffixes` are the only hosts called.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceConfig {
    /// Reach every org at this sandbox instead (`p360 sandbox salesforce`
    /// elsewhere); refused in production.
    pub sandbox_url: Option<String>,
    /// The REST API version, e.g. `v62.0`.
    pub api_version: String,
    /// How often every connected tenant is synced (seconds).
    pub sync_every_secs: u64,
    /// How far before the watermark a sync asks again, for records
    /// committed late with an earlier `SystemModstamp` (seconds).
    pub overlap_secs: u64,
    /// Records a page (200 to 2,000).
    pub batch_size: u32,
    pub timeout_ms: u64,
    /// Retries of one call on API limits, 5xx and timeouts.
    pub max_retries: u32,
    /// The first retry's wait; each next one doubles it.
    pub backoff_ms: u64,
    /// Host suffixes of instance URLs P360 calls.
    pub instance_suffixes: Vec<String>,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        SalesforceConfig {
            sandbox_url: None,
            api_version: "v62.0".into(),
            sync_every_secs: 3600,
            overlap_secs: 300,
            batch_size: 2000,
            timeout_ms: 60_000,
            max_retries: 5,
            backoff_ms: 1000,
            instance_suffixes: vec![".salesforce.com".into(), ".force.com".into()],
        }
    }
}

impl Section for SalesforceConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        if let Some(u) = &self.sandbox_url {
            check_http_url("salesforce.sandbox_url", u)?;
            if platform.mode == Mode::Production {
                return Err(ConfigError::invalid(
                    "salesforce.sandbox_url",
                    "is not allowed in production",
                ));
            }
        }
        let v = self.api_version.strip_prefix('v').unwrap_or("");
        if v.split('.').count() != 2 || v.split('.').any(|p| p.parse::<u32>().is_err()) {
            return Err(ConfigError::invalid(
                "salesforce.api_version",
                "a version such as v62.0",
            ));
        }
        if !(200..=2000).contains(&self.batch_size) {
            return Err(ConfigError::invalid("salesforce.batch_size", "200 to 2000"));
        }
        if self.sync_every_secs < 60 {
            return Err(ConfigError::invalid(
                "salesforce.sync_every_secs",
                "at least 60",
            ));
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "salesforce.timeout_ms",
                "must be positive",
            ));
        }
        if self
            .instance_suffixes
            .iter()
            .any(|s| !s.starts_with('.') || s.len() < 4)
        {
            return Err(ConfigError::invalid(
                "salesforce.instance_suffixes",
                "host suffixes starting with a dot, e.g. .salesforce.com",
            ));
        }
        Ok(())
    }
}
