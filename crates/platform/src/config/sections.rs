//! The sections the platform owns: the process (`mode`, `data_dir`,
//! `release`), `http`, `database`, `log`, `rate_limit`, `redis`, `storage`,
//! `backup` and `jobs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{
    BackupConfig, ConfigError, is_release_label, is_role_name, one_line, serialize_secret,
    serialize_secret_url,
};

/// The platform's part of the configuration.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// `development` (embedded defaults allowed) or `production` (every backend configured).
    pub mode: Mode,
    /// Holds everything the embedded defaults keep on disk.
    pub data_dir: PathBuf,
    /// The release label this process reports (`/health/live`), e.g. the
    /// image tag; `p360 deploy` checks that green runs the version it
    /// deploys. Default: the binary's version.
    pub release: Option<String>,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub rate_limit: RateLimitConfig,
    pub redis: RedisConfig,
    pub storage: StorageConfig,
    pub backup: BackupConfig,
    pub jobs: JobsConfig,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            mode: Mode::Development,
            data_dir: PathBuf::from("./var"),
            release: None,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            rate_limit: RateLimitConfig::default(),
            redis: RedisConfig::default(),
            storage: StorageConfig::default(),
            backup: BackupConfig::default(),
            jobs: JobsConfig::default(),
        }
    }
}

impl PlatformConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        self.validate_database()?;
        self.backup.validate(self.storage.s3_bucket.as_deref())?;
        if self.http.request_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "http.request_timeout_ms",
                "must be positive",
            ));
        }
        self.http.trusted_proxy_nets()?;
        if self.http.body_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.body_limit_bytes",
                "must be positive",
            ));
        }
        if self.http.upload_limit_bytes < self.http.body_limit_bytes {
            return Err(ConfigError::invalid(
                "http.upload_limit_bytes",
                "must be at least http.body_limit_bytes",
            ));
        }
        for (name, rule) in [
            ("api_key", self.rate_limit.api_key),
            ("user", self.rate_limit.user),
            ("anonymous", self.rate_limit.anonymous),
        ] {
            if rule.per_minute == 0 || rule.burst == 0 {
                return Err(ConfigError::invalid(
                    &format!("rate_limit.{name}"),
                    "per_minute and burst must be at least 1",
                ));
            }
        }
        if let Some(url) = &self.redis.url
            && !matches!(
                url::Url::parse(url.expose_secret())
                    .map(|u| u.scheme().to_string())
                    .as_deref(),
                Ok("redis" | "rediss")
            )
        {
            return Err(ConfigError::invalid(
                "redis.url",
                "must be a redis:// or rediss:// URL",
            ));
        }
        if self.jobs.concurrency == 0 || self.jobs.lease_secs < 3 || self.jobs.poll_ms == 0 {
            return Err(ConfigError::invalid(
                "jobs",
                "concurrency and poll_ms must be positive and lease_secs at least 3",
            ));
        }
        if let Some(r) = &self.release
            && !is_release_label(r)
        {
            return Err(ConfigError::invalid(
                "release",
                "letters, digits and . _ + - (at most 128)",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::invalid("log.level", one_line(&e.to_string())))?;
        Ok(())
    }

    fn validate_database(&self) -> Result<(), ConfigError> {
        let db = &self.database;
        if db.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if db.min_connections > db.max_connections {
            return Err(ConfigError::invalid(
                "database.min_connections",
                format!(
                    "must not exceed database.max_connections ({})",
                    db.max_connections
                ),
            ));
        }
        if !db.app_role.is_empty() && !is_role_name(&db.app_role) {
            return Err(ConfigError::invalid(
                "database.app_role",
                "a lower-case role name (letters, digits, _) or empty",
            ));
        }
        if db.acquire_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "database.acquire_timeout_ms",
                "must be positive",
            ));
        }
        // In production the application's own login is required; the
        // owner's (`url`) only where migrations run (the deploy runner, the
        // migrate task), not in the API and worker tasks.
        match &db.url {
            Some(url) => check_database_url("database.url", url, self.mode)?,
            None if self.mode == Mode::Production && db.app_url.is_none() => {
                return Err(ConfigError::invalid(
                    "database.url",
                    "required in production mode (the embedded cluster is for development)",
                ));
            }
            None => {}
        }
        match &db.app_url {
            Some(url) => check_database_url("database.app_url", url, self.mode)?,
            None if self.mode == Mode::Production => {
                return Err(ConfigError::invalid(
                    "database.app_url",
                    "required in production mode: the application's own login, a role that owns nothing",
                ));
            }
            None => {}
        }
        if let Some(url) = &db.read_url {
            check_database_url("database.read_url", url, self.mode)?;
        }
        Ok(())
    }
}

/// A PostgreSQL URL; in production one that verifies the server: its
/// certificate against the CA named by sslrootcert (the RDS bundle the image
/// ships) and its name. Anything weaker (require, prefer, none) would accept
/// a server in the middle.
fn check_database_url(key: &str, url: &SecretString, mode: Mode) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url.expose_secret())
        .map_err(|e| ConfigError::invalid(key, format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::invalid(
            key,
            "scheme must be postgres:// or postgresql://",
        ));
    }
    let sslmode = parsed
        .query_pairs()
        .find(|(k, _)| k == "sslmode")
        .map(|(_, v)| v.into_owned());
    if mode == Mode::Production && sslmode.as_deref() != Some("verify-full") {
        return Err(ConfigError::invalid(
            key,
            format!(
                "production mode needs sslmode=verify-full (with sslrootcert=<CA bundle>), not {}",
                sslmode.as_deref().unwrap_or("no sslmode")
            ),
        ));
    }
    Ok(())
}

/// Whether the process runs on its embedded development defaults or in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

/// Background job workers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// `postgres` (default: the jobs table is the queue) or `sqs` (the jobs
    /// table is the outbox, relayed to one SQS queue per job queue).
    pub backend: JobsBackend,
    /// Jobs one worker process runs at once.
    pub concurrency: usize,
    /// Seconds a claimed job belongs to its worker (renewed while it runs).
    pub lease_secs: u64,
    /// Wake up at least this often without a notification.
    pub poll_ms: u64,
    pub sqs: SqsConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobsBackend {
    #[default]
    Postgres,
    Sqs,
}

/// SQS, when `jobs.backend = "sqs"`: job queue `q` is the SQS queue
/// `{queue_prefix}{q}`, its dead letters go to `{queue_prefix}{q}-dlq`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqsConfig {
    pub queue_prefix: String,
    /// AWS region (else from the AWS environment).
    pub region: Option<String>,
    /// An SQS-compatible endpoint instead of AWS (tests: moto).
    pub endpoint: Option<String>,
    /// Static credentials for an SQS-compatible endpoint; on AWS leave unset
    /// and let the task role provide them.
    pub access_key_id: Option<String>,
    #[serde(serialize_with = "serialize_secret")]
    pub secret_access_key: Option<SecretString>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            backend: JobsBackend::Postgres,
            sqs: SqsConfig {
                queue_prefix: "p360-".into(),
                ..SqsConfig::default()
            },
            concurrency: 8,
            lease_secs: 60,
            poll_ms: 5_000,
        }
    }
}

/// Object storage: a directory under the data dir unless `s3_bucket` is set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub s3_bucket: Option<String>,
    /// AWS region of the bucket (else from the AWS environment).
    pub s3_region: Option<String>,
    /// An S3-compatible endpoint instead of AWS (tests, MinIO).
    pub s3_endpoint: Option<String>,
    /// Static credentials for an S3-compatible store; on AWS leave unset and
    /// let the task role (or the AWS environment) provide them.
    pub s3_access_key_id: Option<String>,
    #[serde(serialize_with = "serialize_secret")]
    pub s3_secret_access_key: Option<SecretString>,
    /// The S3 bucket partner files land in (announced by the landing Lambda
    /// on the ingest queue); read with the settings above. Files announced
    /// in any other bucket are refused.
    pub landing_bucket: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Per API key.
    pub api_key: RateRule,
    /// Per signed-in user.
    pub user: RateRule,
    /// Per source IP, for requests without valid credentials.
    pub anonymous: RateRule,
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            api_key: RateRule {
                per_minute: 1200,
                burst: 200,
            },
            user: RateRule {
                per_minute: 600,
                burst: 100,
            },
            anonymous: RateRule {
                per_minute: 60,
                burst: 20,
            },
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://` URL (secret); shared rate limits when set.
    #[serde(serialize_with = "serialize_secret_url")]
    pub url: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Requests taking longer are answered 503 problem+json.
    pub request_timeout_ms: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Largest accepted file upload (account lists, company and intent
    /// files) on the routes that take one; at least `body_limit_bytes`.
    pub upload_limit_bytes: usize,
    /// After SIGTERM: how long to keep serving with readiness false so load
    /// balancers take the instance out before it stops accepting.
    pub shutdown_delay_ms: u64,
    /// After that: how long in-flight requests may take to finish.
    pub drain_timeout_ms: u64,
    /// Peers (addresses or CIDR ranges: the load balancer's subnets) whose
    /// `X-Forwarded-For` names the client; from anyone else it is ignored.
    pub trusted_proxies: Vec<String>,
    /// Proxies in front of the trusted ones whose addresses are not listed
    /// (1 behind CloudFront): `X-Forwarded-For` hops skipped after them.
    pub forwarded_hops: u8,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; when absent an embedded cluster under `data_dir` is used.
    #[serde(serialize_with = "serialize_secret_url")]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Directory holding `initdb`, `pg_ctl` and `postgres` for the embedded
    /// cluster; when absent they are looked up on PATH, then under
    /// `/usr/lib/postgresql/*/bin` (newest version first).
    pub postgres_bin_dir: Option<PathBuf>,
    /// The application's own login, for its queries: a role that owns
    /// nothing (it cannot switch to the owner, alter tables or disable
    /// triggers), so row-level security and its grants bind every query.
    /// Absent: `url` with its user replaced by `app_role` and no password
    /// (trust or peer authentication: the embedded cluster, a local server).
    /// Required in production.
    #[serde(serialize_with = "serialize_secret_url")]
    pub app_url: Option<SecretString>,
    /// The application's login at a read replica (an RDS read replica in
    /// production): reports read from it, everything else from the
    /// primary. Absent: reports read from the primary too.
    #[serde(serialize_with = "serialize_secret_url")]
    pub read_url: Option<SecretString>,
    /// The application's role (created by the migrations, which let it log
    /// in), used when `app_url` is absent. Empty: the application connects
    /// as `url`'s user.
    pub app_role: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `info,sqlx=warn`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8360)),
            request_timeout_ms: 30_000,
            body_limit_bytes: 2 * 1024 * 1024,
            upload_limit_bytes: 64 * 1024 * 1024,
            shutdown_delay_ms: 0,
            drain_timeout_ms: 5_000,
            trusted_proxies: Vec::new(),
            forwarded_hops: 0,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_ms: 3_000,
            postgres_bin_dir: None,
            app_url: None,
            read_url: None,
            app_role: "p360_app".into(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

impl HttpConfig {
    /// `trusted_proxies` as ranges (a single address is a /32 or /128).
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::invalid(
                            &format!("http.trusted_proxies[{i}]"),
                            format!("{p} is not an address or CIDR range"),
                        )
                    })
            })
            .collect()
    }
}
