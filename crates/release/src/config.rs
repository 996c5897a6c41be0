//! The release crate's configuration: `[deploy]` (the load balancer's slots,
//! metric sources, rollback triggers, hooks) and `[faults]` (fault injection
//! for drills, refused in production).

use platform::config::{ConfigError, Mode, PlatformConfig, Section, serialize_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

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
    /// Take a restore point before migrating (a pgBackRest backup of the
    /// embedded cluster, else `pg_dump` to the object store).
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
    #[serde(serialize_with = "serialize_secret")]
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

impl Section for DeployConfig {
    fn validate(&self, _: &PlatformConfig) -> Result<(), ConfigError> {
        let mut last = 0u8;
        for &step in &self.steps {
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
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            return Err(ConfigError::invalid(
                "deploy.max_error_rate",
                "a share between 0 and 1",
            ));
        }
        if self.interval_ms == 0 || self.heartbeat_ms == 0 {
            return Err(ConfigError::invalid(
                "deploy.interval_ms",
                "deploy.interval_ms and deploy.heartbeat_ms must be positive",
            ));
        }
        if self.metrics == DeployMetrics::Prometheus && self.prometheus_url.is_none() {
            return Err(ConfigError::invalid(
                "deploy.prometheus_url",
                "required when deploy.metrics = \"prometheus\"",
            ));
        }
        Ok(())
    }
}

impl Section for FaultsConfig {
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(ConfigError::invalid("faults.error_rate", "between 0 and 1"));
        }
        if platform.mode == Mode::Production && self.active() {
            return Err(ConfigError::invalid(
                "faults",
                "fault injection is for drills and tests, not production mode",
            ));
        }
        Ok(())
    }
}

/// What the release process reads: the platform's settings (database,
/// object store for the backup) and `[deploy]`.
#[derive(Debug, Clone, Default)]
pub struct ReleaseConfig {
    pub platform: PlatformConfig,
    pub deploy: DeployConfig,
}
