//! Typed configuration, layered as defaults < TOML file < `P360_*` environment.
//!
//! Environment keys nest with `__`: `P360_DATABASE__URL` sets `database.url`.
//! Every layer is merged into one TOML tree which is then deserialised into
//! [`Config`] with `deny_unknown_fields`, so a misspelt key in the file or the
//! environment is an error that names the key, never a silently ignored value.
//! Secrets are [`SecretString`]s: they are redacted in `p360 config` output and
//! never reach a log line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Environment variables with the `P360_` prefix that are not configuration keys.
/// `P360_BIN` and `P360_INFRA_TOOLS` name the binary and tools to deployment scripts.
const RESERVED_ENV: &[&str] = &["P360_CONFIG", "P360_BIN", "P360_INFRA_TOOLS"];
/// Prefixes of `P360_` variables read by tooling (test harness, scripts), not by the app.
const RESERVED_ENV_PREFIXES: &[&str] = &["P360_TEST_"];

/// A configuration problem, reported as one line naming the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("config key `{key}`{origin}: {reason}")]
    Invalid {
        key: String,
        origin: String,
        reason: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            origin: String::new(),
            reason: reason.into(),
        }
    }
}

/// Whether the process runs on its embedded development defaults or in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `development` (embedded defaults allowed) or `production` (every backend configured).
    pub mode: Mode,
    /// Holds everything the embedded defaults keep on disk.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub redis: RedisConfig,
    pub storage: StorageConfig,
    pub ttd: TtdConfig,
    pub jobs: JobsConfig,
    pub faults: FaultsConfig,
    /// The release label this process reports (`/health/live`), e.g. the
    /// image tag; `p360 deploy` checks that green runs the version it
    /// deploys. Default: the binary's version.
    pub release: Option<String>,
    pub deploy: DeployConfig,
}

/// `p360 deploy`: the load balancer's two slots (`blue`, `green`; they
/// alternate as the serving one), where each slot's instances answer, what
/// the controller watches and when it rolls back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    /// `haproxy` (runtime API) or `alb` (weighted target groups).
    pub traffic: DeployTraffic,
    pub haproxy: HaproxyConfig,
    pub alb: AlbConfig,
    /// Each slot's own address (readiness, the smoke suite, scraping).
    pub blue_url: String,
    pub green_url: String,
    /// `scrape` (each slot's `/metrics`) or `prometheus` (query API).
    pub metrics: DeployMetrics,
    pub prometheus_url: Option<String>,
    /// Label matchers selecting a slot's series; `$slot` is the slot's name.
    pub prometheus_matchers: String,
    /// Sign queries with SigV4 for this region (Amazon Managed Prometheus),
    /// with the AWS environment's credentials.
    pub prometheus_sigv4_region: Option<String>,
    /// The new slot's traffic share at each step, in percent, ending at 100.
    pub steps: Vec<u8>,
    pub dwell_ms: u64,
    /// How often the new slot is read.
    pub interval_ms: u64,
    pub ready_timeout_ms: u64,
    /// Rates are computed over this window.
    pub window_ms: u64,
    pub max_error_rate: f64,
    pub max_avg_latency_ms: u64,
    /// CPU seconds per second, per instance (0.9 = 90 % of a core).
    pub max_cpu: f64,
    pub max_memory_mb: Option<u64>,
    pub readiness_failures: u32,
    /// Run with `sh -c` to start a slot's instances on a version
    /// (environment: DEPLOY_SLOT, DEPLOY_VERSION, DEPLOY_URL).
    /// Unset: the pipeline starts them before `p360 deploy start`.
    pub start_command: Option<String>,
    /// Run with `sh -c` to stop a slot's instances (they drain on SIGTERM).
    pub stop_command: Option<String>,
    /// How long the old slot stays up after a promotion before it is stopped.
    pub keep_blue_ms: u64,
    /// Every deployment event is POSTed here as JSON (`text` for chat hooks).
    pub notify_webhook: Option<String>,
    /// `pg_dump` to the object store before migrating.
    pub backup: bool,
    /// How often a controller says it is alive; three missed beats and its
    /// deployment may be resumed or rolled back by another.
    pub heartbeat_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployTraffic {
    #[default]
    Haproxy,
    Alb,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployMetrics {
    #[default]
    Scrape,
    Prometheus,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HaproxyConfig {
    /// The runtime API: `host:port` or a Unix socket path (`level admin`).
    pub admin: String,
    pub backend: String,
    /// Server names of the two slots.
    pub blue: String,
    pub green: String,
}

impl Default for HaproxyConfig {
    fn default() -> Self {
        HaproxyConfig {
            admin: "/run/haproxy/admin.sock".into(),
            backend: "p360".into(),
            blue: "blue".into(),
            green: "green".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlbConfig {
    pub listener_arn: String,
    /// The rule whose forward action is weighted; unset: the listener's default action.
    pub rule_arn: Option<String>,
    pub blue_target_group: String,
    pub green_target_group: String,
    pub region: Option<String>,
    /// An ELBv2-compatible endpoint instead of AWS (tests: moto).
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    #[serde(
        serialize_with = "serialize_secret",
        deserialize_with = "deserialize_opt_secret"
    )]
    pub secret_access_key: Option<SecretString>,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            traffic: DeployTraffic::Haproxy,
            haproxy: HaproxyConfig::default(),
            alb: AlbConfig::default(),
            blue_url: "http://127.0.0.1:8360".into(),
            green_url: "http://127.0.0.1:8362".into(),
            metrics: DeployMetrics::Scrape,
            prometheus_url: None,
            prometheus_matchers: r#"job="p360",slot="$slot""#.into(),
            prometheus_sigv4_region: None,
            steps: vec![5, 25, 50, 100],
            dwell_ms: 30_000,
            interval_ms: 1_000,
            ready_timeout_ms: 120_000,
            window_ms: 30_000,
            max_error_rate: 0.05,
            max_avg_latency_ms: 2_000,
            max_cpu: 0.9,
            max_memory_mb: None,
            readiness_failures: 2,
            start_command: None,
            stop_command: None,
            keep_blue_ms: 0,
            notify_webhook: None,
            backup: true,
            heartbeat_ms: 2_000,
        }
    }
}

/// Fault injection for drills and tests (blue-green rollbacks): a share of
/// requests answered 500 and added latency. Refused in production mode.
/// Readiness and `/metrics` are never faulted.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// 0 to 1.
    pub error_rate: f64,
    pub latency_ms: u64,
}

impl FaultsConfig {
    pub fn active(&self) -> bool {
        self.error_rate > 0.0 || self.latency_ms > 0
    }
}

/// The Trade Desk's platform API. Without `base_url`, outside production,
/// `p360 serve` mounts the TTD sandbox at `/sandbox/ttd/v3` and the sync uses
/// it (a worker-only process reaches it at `http.listen`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TtdConfig {
    /// e.g. `https://api.thetradedesk.com` (the client appends `/v3/...`).
    pub base_url: Option<String>,
    pub login: String,
    #[serde(
        serialize_with = "serialize_secret",
        deserialize_with = "deserialize_opt_secret"
    )]
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
    /// Public base URL TTD fetches creative files from (the CDN in front of
    /// the creatives bucket): `{base}/{creative id}`.
    pub creative_base_url: String,
}

impl Default for TtdConfig {
    fn default() -> Self {
        TtdConfig {
            base_url: None,
            login: "p360-sandbox".into(),
            password: None,
            partner_id: "p360partner".into(),
            token_minutes: 60,
            timeout_ms: 10_000,
            max_concurrency: 4,
            max_retries: 5,
            failure_webhook: None,
            creative_base_url: "https://creatives.p360.test".into(),
        }
    }
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
    #[serde(
        serialize_with = "serialize_secret",
        deserialize_with = "deserialize_opt_secret"
    )]
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
    #[serde(
        serialize_with = "serialize_secret",
        deserialize_with = "deserialize_opt_secret"
    )]
    pub s3_secret_access_key: Option<SecretString>,
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
    #[serde(
        serialize_with = "serialize_database_url",
        deserialize_with = "deserialize_opt_secret"
    )]
    pub url: Option<SecretString>,
}

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
    /// Claim holding the tenant slug (external issuers).
    pub tenant_claim: Option<String>,
    /// Claim holding role names (Entra ID: `roles`).
    pub roles_claim: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerKind {
    External,
    Internal,
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
    /// After SIGTERM: how long to keep serving with readiness false so load
    /// balancers take the instance out before it stops accepting.
    pub shutdown_delay_ms: u64,
    /// After that: how long in-flight requests may take to finish.
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; when absent an embedded cluster under `data_dir` is used.
    #[serde(
        serialize_with = "serialize_database_url",
        deserialize_with = "deserialize_opt_secret"
    )]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Directory holding `initdb`, `pg_ctl` and `postgres` for the embedded
    /// cluster; when absent they are looked up on PATH, then under
    /// `/usr/lib/postgresql/*/bin` (newest version first).
    pub postgres_bin_dir: Option<PathBuf>,
    /// The role application queries run as (`SET ROLE` on each pooled
    /// connection; created by the migrations). Not a superuser, so row-level
    /// security applies. Empty: run as the connecting user.
    pub app_role: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `info,sqlx=warn`.
    #[serde(deserialize_with = "deserialize_scalar_string")]
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Development,
            data_dir: PathBuf::from("./var"),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            redis: RedisConfig::default(),
            storage: StorageConfig::default(),
            ttd: TtdConfig::default(),
            jobs: JobsConfig::default(),
            faults: FaultsConfig::default(),
            release: None,
            deploy: DeployConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuers: Vec::new(),
            dev_issuer: None,
            leeway_secs: 30,
        }
    }
}

impl AuthConfig {
    /// Whether the built-in development issuer runs.
    pub fn dev_issuer_enabled(&self, mode: Mode) -> bool {
        self.dev_issuer.unwrap_or(mode == Mode::Development)
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8360)),
            request_timeout_ms: 30_000,
            body_limit_bytes: 2 * 1024 * 1024,
            shutdown_delay_ms: 0,
            drain_timeout_ms: 5_000,
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

/// Overrides given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// Load defaults < `file` < the given environment < command-line overrides, then validate.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        cli: &CliOverrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = toml::Table::new();
        let mut origins: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            tree = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    reason: one_line(&e.to_string()),
                })?;
        }
        let mut env: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| is_config_env(k)).collect();
        env.sort();
        for (name, raw) in env {
            let key = name["P360_".len()..].to_ascii_lowercase();
            let path: Vec<&str> = key.split("__").collect();
            if path.iter().any(|p| p.is_empty()) {
                return Err(ConfigError::Invalid {
                    key: key.replace("__", "."),
                    origin: format!(" (from {name})"),
                    reason: "malformed variable name".into(),
                });
            }
            insert_path(&mut tree, &path, env_value(&raw)).map_err(|reason| {
                ConfigError::Invalid {
                    key: path.join("."),
                    origin: format!(" (from {name})"),
                    reason,
                }
            })?;
            origins.insert(path.join("."), name);
        }

        let de = toml::Value::Table(tree);
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = error_key(&e);
            let origin = origins
                .get(&key)
                .map(|n| format!(" (from {n})"))
                .or_else(|| file.map(|f| format!(" (in {})", f.display())))
                .unwrap_or_default();
            ConfigError::Invalid {
                key,
                origin,
                reason: one_line(&e.inner().to_string()),
            }
        })?;
        if let Some(dir) = &cli.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = cli.listen {
            config.http.listen = listen;
        }
        config.validate()?;
        Ok(config)
    }

    /// Load from the process environment.
    pub fn from_process(file: Option<&Path>, cli: &CliOverrides) -> Result<Config, ConfigError> {
        Config::load(file, std::env::vars(), cli)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
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
        if let Some(url) = &db.url {
            let parsed = url::Url::parse(url.expose_secret())
                .map_err(|e| ConfigError::invalid("database.url", format!("not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                return Err(ConfigError::invalid(
                    "database.url",
                    "scheme must be postgres:// or postgresql://",
                ));
            }
        } else if self.mode == Mode::Production {
            return Err(ConfigError::invalid(
                "database.url",
                "required in production mode (the embedded cluster is for development)",
            ));
        }
        if self.http.request_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "http.request_timeout_ms",
                "must be positive",
            ));
        }
        if self.http.body_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.body_limit_bytes",
                "must be positive",
            ));
        }
        self.validate_auth()?;
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
        self.validate_ttd()?;
        self.validate_deploy()?;
        if !(0.0..=1.0).contains(&self.faults.error_rate) {
            return Err(ConfigError::invalid("faults.error_rate", "between 0 and 1"));
        }
        if self.mode == Mode::Production && self.faults.active() {
            return Err(ConfigError::invalid(
                "faults",
                "fault injection is for drills and tests, not production mode",
            ));
        }
        if self.jobs.concurrency == 0 || self.jobs.lease_secs < 3 || self.jobs.poll_ms == 0 {
            return Err(ConfigError::invalid(
                "jobs",
                "concurrency and poll_ms must be positive and lease_secs at least 3",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::invalid("log.level", one_line(&e.to_string())))?;
        Ok(())
    }

    fn validate_deploy(&self) -> Result<(), ConfigError> {
        let d = &self.deploy;
        let mut last = 0u8;
        for &step in &d.steps {
            if step <= last || step > 100 {
                return Err(ConfigError::invalid(
                    "deploy.steps",
                    "rising percentages, each 1 to 100, ending at 100",
                ));
            }
            last = step;
        }
        if last != 100 {
            return Err(ConfigError::invalid("deploy.steps", "must end at 100"));
        }
        if !(0.0..=1.0).contains(&d.max_error_rate) {
            return Err(ConfigError::invalid(
                "deploy.max_error_rate",
                "a share between 0 and 1",
            ));
        }
        if d.interval_ms == 0 || d.heartbeat_ms == 0 {
            return Err(ConfigError::invalid(
                "deploy.interval_ms",
                "deploy.interval_ms and deploy.heartbeat_ms must be positive",
            ));
        }
        if d.metrics == DeployMetrics::Prometheus && d.prometheus_url.is_none() {
            return Err(ConfigError::invalid(
                "deploy.prometheus_url",
                "required when deploy.metrics = \"prometheus\"",
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
        Ok(())
    }

    fn validate_ttd(&self) -> Result<(), ConfigError> {
        let ttd = &self.ttd;
        for (key, value) in [
            ("ttd.base_url", ttd.base_url.as_deref()),
            ("ttd.failure_webhook", ttd.failure_webhook.as_deref()),
            (
                "ttd.creative_base_url",
                Some(ttd.creative_base_url.as_str()),
            ),
        ] {
            if let Some(v) = value {
                let u = url::Url::parse(v)
                    .map_err(|e| ConfigError::invalid(key, format!("not a URL: {e}")))?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(ConfigError::invalid(key, "must be an http(s) URL"));
                }
            }
        }
        if self.mode == Mode::Production {
            if ttd.base_url.is_none() {
                return Err(ConfigError::invalid(
                    "ttd.base_url",
                    "required in production mode (the sandbox is for development)",
                ));
            }
            if ttd.password.is_none() || ttd.login.is_empty() {
                return Err(ConfigError::invalid(
                    "ttd.password",
                    "ttd.login and ttd.password are required in production mode",
                ));
            }
        }
        if ttd.max_concurrency == 0 || ttd.timeout_ms == 0 || ttd.token_minutes < 2 {
            return Err(ConfigError::invalid(
                "ttd",
                "max_concurrency and timeout_ms must be positive and token_minutes at least 2",
            ));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production && self.auth.dev_issuer == Some(true) {
            return Err(ConfigError::invalid(
                "auth.dev_issuer",
                "the development issuer cannot run in production mode",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, iss) in self.auth.issuers.iter().enumerate() {
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
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// A plain lower-case SQL identifier, safe to put in `SET ROLE`.
/// A release label: what `p360 deploy start --version` takes and
/// `release` reports (e.g. an image tag or a git describe).
pub fn is_release_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

fn is_role_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_config_env(name: &str) -> bool {
    name.starts_with("P360_")
        && !RESERVED_ENV.contains(&name)
        && !RESERVED_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Environment values are strings; numbers, booleans and arrays written in TOML
/// syntax are taken as such so that typed keys can be set from the environment.
/// String-typed keys accept any scalar back (see [`deserialize_scalar_string`]).
fn env_value(raw: &str) -> toml::Value {
    if let Ok(table) = format!("v = {raw}").parse::<toml::Table>()
        && let Some(v) = table.get("v")
        && matches!(
            v,
            toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
                | toml::Value::Array(_)
        )
    {
        return v.clone();
    }
    toml::Value::String(raw.to_string())
}

fn insert_path(table: &mut toml::Table, path: &[&str], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path has at least one element");
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is a value, not a section"))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// The dotted key an error refers to (for unknown fields, the path ends with the field).
fn error_key(e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    e.path().to_string()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    I(i64),
    F(f64),
    B(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::S(s) => s,
            Scalar::I(i) => i.to_string(),
            Scalar::F(f) => f.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }
}

/// A string key that also accepts a number or boolean from the environment.
pub fn deserialize_scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d).map(Scalar::into_string)
}

/// An optional secret that also accepts a number or boolean from the environment.
pub fn deserialize_opt_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    Option::<Scalar>::deserialize(d).map(|o| o.map(|s| SecretString::from(s.into_string())))
}

/// Secrets are shown only as `[redacted]`.
pub fn serialize_secret<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

fn serialize_database_url<S: Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(url) => s.serialize_str(&redact_url(url.expose_secret())),
        None => s.serialize_none(),
    }
}

/// A URL with its password (and any `password=` query parameter) replaced by `[redacted]`.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "[redacted]".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("redacted"));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") {
                "redacted".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(None, env(pairs), &CliOverrides::default())
    }

    #[test]
    fn environment_overrides_nested_keys_with_types() {
        let c = load(&[
            ("P360_DATABASE__MAX_CONNECTIONS", "7"),
            ("P360_HTTP__LISTEN", "0.0.0.0:9000"),
            ("P360_LOG__LEVEL", "debug"),
            ("P360_CONFIG", "ignored.toml"),
            ("P360_TEST_DATABASE_URL", "postgres://x"),
            ("HOME", "/root"),
        ])
        .unwrap();
        assert_eq!(c.database.max_connections, 7);
        assert_eq!(c.http.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.log.level, "debug");
    }

    #[test]
    fn faults_are_refused_in_production_and_bounded() {
        let c = load(&[("P360_FAULTS__ERROR_RATE", "0.2")]).unwrap();
        assert!(c.faults.active());
        let msg = load(&[
            ("P360_MODE", "production"),
            ("P360_DATABASE__URL", "postgres://db/p360"),
            ("P360_TTD__BASE_URL", "https://api.thetradedesk.com"),
            ("P360_TTD__PASSWORD", "x"),
            ("P360_FAULTS__LATENCY_MS", "500"),
        ])
        .unwrap_err()
        .to_string();
        assert!(msg.contains("faults"), "{msg}");
        let msg = load(&[("P360_FAULTS__ERROR_RATE", "1.5")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("faults.error_rate"), "{msg}");
    }

    #[test]
    fn deploy_settings_are_checked() {
        let c = load(&[
            ("P360_DEPLOY__STEPS", "[10, 100]"),
            ("P360_DEPLOY__TRAFFIC", "alb"),
            ("P360_RELEASE", "2.0.0-rc.1"),
        ])
        .unwrap();
        assert_eq!(c.deploy.steps, [10, 100]);
        assert_eq!(c.deploy.traffic, DeployTraffic::Alb);
        for (key, value, named) in [
            ("P360_DEPLOY__STEPS", "[50, 25, 100]", "deploy.steps"),
            ("P360_DEPLOY__STEPS", "[5, 50]", "deploy.steps"),
            ("P360_DEPLOY__MAX_ERROR_RATE", "2", "deploy.max_error_rate"),
            (
                "P360_DEPLOY__METRICS",
                "prometheus",
                "deploy.prometheus_url",
            ),
            ("P360_RELEASE", "1.0 beta", "release"),
            ("P360_DEPLOY__TRAFFIC", "nginx", "deploy.traffic"),
        ] {
            let msg = load(&[(key, value)]).unwrap_err().to_string();
            assert!(msg.contains(named), "{key}={value}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let e = load(&[("P360_DATABASE__MAX_CONECTIONS", "7")]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("database.max_conections"), "{msg}");
        assert!(msg.contains("P360_DATABASE__MAX_CONECTIONS"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn wrong_type_names_key_and_reason() {
        let msg = load(&[("P360_DATABASE__MAX_CONNECTIONS", "many")])
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("config key `database.max_connections`"),
            "{msg}"
        );
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn file_layer_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("p360-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p360.toml");
        std::fs::write(
            &file,
            "[database]\nmax_connections = 3\nmin_connections = 2\n[http]\nrequest_timeout_ms = 100\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[("P360_DATABASE__MAX_CONNECTIONS", "5")]),
            &CliOverrides::default(),
        )
        .unwrap();
        assert_eq!(c.database.max_connections, 5);
        assert_eq!(c.database.min_connections, 2);
        assert_eq!(c.http.request_timeout_ms, 100);

        std::fs::write(&file, "[database\nmax = 1").unwrap();
        let msg = Config::load(Some(&file), env(&[]), &CliOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not valid TOML"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");

        std::fs::write(&file, "[http]\nlisten = \"nowhere\"\n").unwrap();
        let msg = Config::load(Some(&file), env(&[]), &CliOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`http.listen`"), "{msg}");
        assert!(msg.contains("p360.toml"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn validation_rejects_inconsistent_values() {
        let msg = load(&[
            ("P360_DATABASE__MAX_CONNECTIONS", "2"),
            ("P360_DATABASE__MIN_CONNECTIONS", "3"),
        ])
        .unwrap_err()
        .to_string();
        assert!(msg.contains("database.min_connections"), "{msg}");
        let msg = load(&[("P360_MODE", "production")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("database.url"), "{msg}");
        let msg = load(&[("P360_DATABASE__URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("scheme"), "{msg}");
    }

    #[test]
    fn secrets_are_redacted_in_rendered_config() {
        let c = load(&[(
            "P360_DATABASE__URL",
            "postgres://app:hunter2@db.internal:5432/p360?password=hunter3",
        )])
        .unwrap();
        let out = c.to_redacted_toml();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains("hunter3"), "{out}");
        assert!(out.contains("db.internal"), "{out}");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn numeric_value_reaches_a_string_key_as_a_string() {
        let msg = load(&[("P360_DATABASE__URL", "12345")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a URL"), "{msg}");
        assert!(!msg.contains("12345"), "secret echoed: {msg}");
    }
}
