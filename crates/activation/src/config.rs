//! `[ttd]`: The Trade Desk's platform API, and where the sync's results and
//! failures go.

use platform::config::{
    ConfigError, Mode, PlatformConfig, Section, check_http_url, serialize_secret,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// `ttd.creative_base_url` unless set: a placeholder host, with the path of
/// the app's public creative route.
pub const DEFAULT_CREATIVE_BASE_URL: &str = "https://creatives.p360.test/creatives";

/// The Trade Desk's platform API. Without `base_url`, outside production,
/// `p360 serve` mounts the TTD sandbox at `/sandbox/ttd/v3` and the sync uses
/// it (a worker-only process reaches it at `http.listen`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TtdConfig {
    /// e.g. `https://api.thetradedesk.com` (the client appends `/v3/...`).
    pub base_url: Option<String>,
    /// TTD's Data API host, where first-party IP data goes (e.g.
    /// `https://use-data.adsrvr.org`; the client appends
    /// `/data/firstpartyipaddress`). Unset: `base_url` (the sandbox serves
    /// both); required in production.
    pub data_url: Option<String>,
    pub login: String,
    #[serde(serialize_with = "serialize_secret")]
    pub password: Option<SecretString>,
    /// The partner the advertisers are created under.
    pub partner_id: String,
    /// Lifetime requested for each API token.
    pub token_minutes: u32,
    /// Per-call timeout.
    pub timeout_ms: u64,
    /// Calls in flight at once per endpoint (TTD asks for at most 4).
    pub max_concurrency: usize,
    /// Retries of one call on throttling, 5xx and timeouts (creates are only
    /// retried when TTD cannot have acted: 429 and 503).
    pub max_retries: u32,
    /// POSTed as JSON when a sync fails for good (besides the error log).
    pub failure_webhook: Option<String>,
    /// Public base URL TTD fetches creative files from:
    /// `{base}/{creative id}` (an image) or `{base}/{creative id}.zip` (an
    /// HTML5 bundle), which the app serves publicly at `/creatives/...`, so
    /// this is the app's public https URL + `/creatives` (behind a CDN or
    /// not). The default names a placeholder host (TTD and its sandbox take
    /// https URLs only; the app serves http): on embedded defaults the path
    /// of what the sandbox was sent is served by the app itself. Production
    /// mode refuses the placeholder.
    pub creative_base_url: String,
    /// A create TTD may have applied although its answer never came (a
    /// timeout, a 5xx after sending) can land after the sync has looked for
    /// it and created it again. This long after such a create, and five
    /// times as long after, the objects carrying its marker are counted and
    /// every duplicate is archived.
    pub duplicate_check_after_ms: u64,
    /// Lifetime of the IP ranges an audience sends TTD (TTD's first-party
    /// data expires; at most 30 days there).
    pub segment_ttl_minutes: u32,
    /// Ranges expiring within this are sent again, so a member never drops
    /// out of its segment while it stays in the audience.
    pub segment_refresh_minutes: u32,
}

impl Default for TtdConfig {
    fn default() -> Self {
        TtdConfig {
            base_url: None,
            data_url: None,
            login: "p360-sandbox".into(),
            password: None,
            partner_id: "p360partner".into(),
            token_minutes: 60,
            timeout_ms: 10_000,
            max_concurrency: 4,
            max_retries: 5,
            failure_webhook: None,
            creative_base_url: DEFAULT_CREATIVE_BASE_URL.into(),
            duplicate_check_after_ms: 600_000,
            segment_ttl_minutes: 43_200,
            segment_refresh_minutes: 10_080,
        }
    }
}

impl Section for TtdConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        for (key, value) in [
            ("ttd.base_url", self.base_url.as_deref()),
            ("ttd.data_url", self.data_url.as_deref()),
            ("ttd.failure_webhook", self.failure_webhook.as_deref()),
            (
                "ttd.creative_base_url",
                Some(self.creative_base_url.as_str()),
            ),
        ] {
            if let Some(v) = value {
                check_http_url(key, v)?;
            }
        }
        if platform.mode == Mode::Production {
            if self.base_url.is_none() {
                return Err(ConfigError::invalid(
                    "ttd.base_url",
                    "required in production mode (the sandbox is for development)",
                ));
            }
            if self.data_url.is_none() {
                return Err(ConfigError::invalid(
                    "ttd.data_url",
                    "required in production mode: TTD's Data API host, e.g. https://use-data.adsrvr.org",
                ));
            }
            if self.creative_base_url == DEFAULT_CREATIVE_BASE_URL {
                return Err(ConfigError::invalid(
                    "ttd.creative_base_url",
                    "required in production mode: the app's public https URL + /creatives, where TTD fetches creative files",
                ));
            }
            if self.password.is_none() || self.login.is_empty() {
                return Err(ConfigError::invalid(
                    "ttd.password",
                    "ttd.login and ttd.password are required in production mode",
                ));
            }
        }
        if self.max_concurrency == 0
            || self.timeout_ms == 0
            || self.token_minutes < 2
            || self.duplicate_check_after_ms == 0
        {
            return Err(ConfigError::invalid(
                "ttd",
                "max_concurrency, timeout_ms and duplicate_check_after_ms must be positive and token_minutes at least 2",
            ));
        }
        if self.segment_ttl_minutes == 0
            || self.segment_ttl_minutes > 43_200
            || self.segment_refresh_minutes >= self.segment_ttl_minutes
        {
            return Err(ConfigError::invalid(
                "ttd.segment_ttl_minutes",
                "1 to 43200 (30 days), and segment_refresh_minutes below it",
            ));
        }
        Ok(())
    }
}
