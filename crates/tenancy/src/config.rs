//! `[auth]`: the OIDC issuers whose access tokens are accepted, and the
//! built-in development issuer.

use platform::config::{ConfigError, Mode, PlatformConfig, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// OIDC issuers whose access tokens are accepted.
    pub issuers: Vec<IssuerConfig>,
    /// The built-in development issuer (`p360 token`); on by default outside
    /// production, refused in production.
    pub dev_issuer: Option<bool>,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway_secs: u64,
    /// Oldest an issuer's JWKS may be before a token makes it refetched: a
    /// key the issuer removed stops being trusted within this time (while
    /// the issuer answers; an empty or failed answer keeps the cached keys).
    pub jwks_max_age_secs: u64,
    /// Days an invitation can be accepted in.
    pub invitation_ttl_days: u32,
}

/// One trusted OIDC issuer (`[[auth.issuers]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Any label, used in logs and metrics.
    pub name: String,
    /// Must equal the tokens' `iss` exactly.
    pub issuer: String,
    /// Must be one of the tokens' `aud`.
    pub audience: String,
    /// Taken from `{issuer}/.well-known/openid-configuration` when absent.
    pub jwks_url: Option<String>,
    /// `external`: customer users; `internal`: agency staff.
    pub kind: IssuerKind,
    /// Claim naming the customer's tenant (external issuers): a slug, or an
    /// organisation id such as Auth0's `org_id`.
    pub tenant_claim: Option<String>,
    /// The tenants this issuer may speak for (external issuers, required):
    /// the tenant claim's value to the tenant's slug, e.g.
    /// `{ org_9f2c = "acme" }` or `{ acme = "acme" }`. A token naming
    /// anything else, or signing into an account or invitation of a tenant
    /// not listed here, is refused (403, audited).
    #[serde(default)]
    pub tenants: std::collections::BTreeMap<String, String>,
    /// Claim holding role names (Entra ID: `roles`).
    pub roles_claim: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerKind {
    External,
    Internal,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuers: Vec::new(),
            dev_issuer: None,
            leeway_secs: 30,
            jwks_max_age_secs: 300,
            invitation_ttl_days: 7,
        }
    }
}

impl AuthConfig {
    /// Whether the built-in development issuer runs.
    pub fn dev_issuer_enabled(&self, mode: Mode) -> bool {
        self.dev_issuer.unwrap_or(mode == Mode::Development)
    }
}

impl Section for AuthConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        if platform.mode == Mode::Production && self.dev_issuer == Some(true) {
            return Err(ConfigError::invalid(
                "auth.dev_issuer",
                "the development issuer cannot run in production mode",
            ));
        }
        if self.jwks_max_age_secs < 60 && platform.mode == Mode::Production {
            return Err(ConfigError::invalid(
                "auth.jwks_max_age_secs",
                "at least 60 in production (every refetch waits on the issuer)",
            ));
        }
        if self.invitation_ttl_days == 0 || self.invitation_ttl_days > 90 {
            return Err(ConfigError::invalid(
                "auth.invitation_ttl_days",
                "1 to 90 days",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, iss) in self.issuers.iter().enumerate() {
            let key = |k: &str| format!("auth.issuers[{i}].{k}");
            if !names.insert(iss.name.as_str()) {
                return Err(ConfigError::invalid(&key("name"), "duplicate issuer name"));
            }
            if iss.issuer.is_empty() {
                return Err(ConfigError::invalid(&key("issuer"), "must not be empty"));
            }
            if iss.audience.is_empty() {
                return Err(ConfigError::invalid(&key("audience"), "must not be empty"));
            }
            let jwks = iss.jwks_url.clone().unwrap_or_else(|| iss.issuer.clone());
            match url::Url::parse(&jwks) {
                Ok(u) if matches!(u.scheme(), "https" | "http") => {}
                _ => {
                    return Err(ConfigError::invalid(
                        &key(if iss.jwks_url.is_some() {
                            "jwks_url"
                        } else {
                            "issuer"
                        }),
                        "must be an http(s) URL (JWKS are fetched from it)",
                    ));
                }
            }
            if iss.kind == IssuerKind::External && iss.tenant_claim.is_none() {
                return Err(ConfigError::invalid(
                    &key("tenant_claim"),
                    "required for external issuers (customer users belong to a tenant)",
                ));
            }
            if iss.kind == IssuerKind::External && iss.tenants.is_empty() {
                return Err(ConfigError::invalid(
                    &key("tenants"),
                    "required for external issuers: the tenant claim's values this issuer may assert, each to a tenant slug (e.g. { org_9f2c = \"acme\" })",
                ));
            }
            if iss.kind == IssuerKind::Internal && !iss.tenants.is_empty() {
                return Err(ConfigError::invalid(
                    &key("tenants"),
                    "only for external issuers (staff are assigned tenants in P360)",
                ));
            }
        }
        Ok(())
    }
}

/// `[audit]`: where the audit log's chains are anchored outside the
/// database (see [`crate::audit::checkpoint`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The key checkpoints are signed with (HMAC-SHA256), base64 of at least
    /// 32 bytes; kept where the database is not (Secrets Manager in AWS).
    /// Required in production; otherwise `DATA_DIR/audit/checkpoint.key`,
    /// created on first use.
    #[serde(serialize_with = "platform::config::serialize_secret")]
    pub checkpoint_key: Option<secrecy::SecretString>,
    /// The S3 bucket checkpoints are written to (the object-locked audit
    /// archive in AWS); the platform's object storage when absent.
    pub checkpoint_bucket: Option<String>,
    /// How often the worker takes a checkpoint.
    pub checkpoint_every_secs: u64,
    /// Months whose events are all older than this many days are exported
    /// to the audit archive (where the checkpoints go) by the daily
    /// `audit.archive` job and `p360 audit archive`; at least 30.
    pub archive_after_days: u32,
    /// Whether an archived month then leaves the table (its partition
    /// dropped, once its archive read back holds exactly its events).
    pub drop_archived_months: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_key: None,
            checkpoint_bucket: None,
            checkpoint_every_secs: 3600,
            archive_after_days: 90,
            drop_archived_months: true,
        }
    }
}

impl Section for AuditConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        match &self.checkpoint_key {
            None if platform.mode == Mode::Production => Err(ConfigError::invalid(
                "audit.checkpoint_key",
                "required in production: the audit checkpoints' signing key, kept outside the database",
            )),
            Some(key) if decode_key(key).is_none() => Err(ConfigError::invalid(
                "audit.checkpoint_key",
                "must be base64 of at least 32 bytes (e.g. `openssl rand -base64 32`)",
            )),
            _ if self.checkpoint_every_secs < 60 => Err(ConfigError::invalid(
                "audit.checkpoint_every_secs",
                "at least 60",
            )),
            // The database refuses to drop a month younger than that.
            _ if self.archive_after_days < 30 => Err(ConfigError::invalid(
                "audit.archive_after_days",
                "at least 30",
            )),
            _ => Ok(()),
        }
    }
}

/// A checkpoint key as bytes, if it is base64 of at least 32.
pub fn decode_key(key: &secrecy::SecretString) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .ok()
        .filter(|k| k.len() >= 32)
}

/// `[secrets]`: the master key that wraps each tenant's data key (see
/// [`crate::vault`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The AWS KMS key (id, ARN or alias) that wraps tenants' data keys.
    /// Required in production; otherwise a local key file is used.
    pub kms_key_id: Option<String>,
    /// KMS's region (else the environment's).
    pub kms_region: Option<String>,
    /// Another KMS endpoint (a local KMS-compatible server in tests).
    pub kms_endpoint: Option<String>,
    /// Static credentials for that endpoint (else the task role's).
    pub kms_access_key_id: Option<String>,
    #[serde(serialize_with = "platform::config::serialize_secret")]
    pub kms_secret_access_key: Option<secrecy::SecretString>,
    /// The local master key file (32 bytes, mode 0600) when KMS is not
    /// used; `DATA_DIR/secrets/master.key` by default, created on first use.
    pub key_file: Option<std::path::PathBuf>,
}

impl Section for SecretsConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        if platform.mode == Mode::Production && self.kms_key_id.is_none() {
            return Err(ConfigError::invalid(
                "secrets.kms_key_id",
                "required in production: the KMS key that wraps tenants' data keys",
            ));
        }
        if self
            .kms_key_id
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(ConfigError::invalid(
                "secrets.kms_key_id",
                "must not be empty",
            ));
        }
        if self.kms_access_key_id.is_some() != self.kms_secret_access_key.is_some() {
            return Err(ConfigError::invalid(
                "secrets.kms_access_key_id",
                "and secrets.kms_secret_access_key go together",
            ));
        }
        Ok(())
    }
}
