//! The `deploy` crate's mechanisms as the configuration names them: the load
//! balancer's two slots, the configured load balancer (HAProxy or an ALB),
//! where the new slot's readings come from (its own `/metrics` or
//! Prometheus), the rollout plan, and what the serving slot says of itself.

use std::time::Duration;

use anyhow::{Result, bail};
use deploy::{
    Alb, Haproxy, MetricSource, Plan, Prometheus, Reading, Scrape, TrafficBackend, Triggers,
    Weights,
};
use serde_json::Value;

use crate::config::{DeployConfig, DeployMetrics, DeployTraffic};

/// One of the load balancer's two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Blue,
    Green,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Slot::Blue => "blue",
            Slot::Green => "green",
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::Blue => Slot::Green,
            Slot::Green => Slot::Blue,
        }
    }

    pub fn parse(s: &str) -> Result<Slot> {
        match s {
            "blue" => Ok(Slot::Blue),
            "green" => Ok(Slot::Green),
            other => bail!("unknown slot `{other}`"),
        }
    }

    /// The slot's own address (readiness, the smoke suite, scraping).
    pub fn url(self, cfg: &DeployConfig) -> String {
        match self {
            Slot::Blue => cfg.blue_url.trim_end_matches('/').to_string(),
            Slot::Green => cfg.green_url.trim_end_matches('/').to_string(),
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`: a width in a table (`{:<11}`) applies as to the stored text.
        f.pad(self.name())
    }
}

/// The configured load balancer.
pub enum Balancer {
    Haproxy(Haproxy),
    Alb(Alb),
}

impl Balancer {
    pub async fn from_config(cfg: &DeployConfig) -> Result<Balancer> {
        Ok(match cfg.traffic {
            DeployTraffic::Haproxy => Balancer::Haproxy(Haproxy {
                admin: cfg.haproxy.admin.clone(),
                backend: cfg.haproxy.backend.clone(),
                blue: cfg.haproxy.blue.clone(),
                green: cfg.haproxy.green.clone(),
            }),
            DeployTraffic::Alb => {
                use secrecy::ExposeSecret;
                let a = &cfg.alb;
                if a.listener_arn.is_empty()
                    || a.blue_target_group.is_empty()
                    || a.green_target_group.is_empty()
                {
                    bail!(
                        "deploy.traffic = \"alb\" needs deploy.alb.listener_arn, blue_target_group and green_target_group"
                    );
                }
                let creds = match (&a.access_key_id, &a.secret_access_key) {
                    (Some(id), Some(secret)) => Some((id.as_str(), secret.expose_secret())),
                    _ => None,
                };
                Balancer::Alb(Alb {
                    client: deploy::elbv2_client(a.region.as_deref(), a.endpoint.as_deref(), creds)
                        .await,
                    listener_arn: a.listener_arn.clone(),
                    rule_arn: a.rule_arn.clone(),
                    blue_target_group: a.blue_target_group.clone(),
                    green_target_group: a.green_target_group.clone(),
                })
            }
        })
    }
}

impl TrafficBackend for Balancer {
    async fn set_weights(&self, w: Weights) -> Result<()> {
        match self {
            Balancer::Haproxy(h) => h.set_weights(w).await,
            Balancer::Alb(a) => a.set_weights(w).await,
        }
    }

    async fn weights(&self) -> Result<Weights> {
        match self {
            Balancer::Haproxy(h) => h.weights().await,
            Balancer::Alb(a) => a.weights().await,
        }
    }
}

/// Where the new slot's readings come from.
pub(crate) enum Source {
    Scrape(Scrape),
    Prometheus(Prometheus),
}

impl Source {
    pub(crate) async fn for_slot(cfg: &DeployConfig, slot: Slot) -> Result<Source> {
        Ok(match (cfg.metrics, &cfg.prometheus_url) {
            (DeployMetrics::Prometheus, Some(url)) => {
                let p = Prometheus::new(
                    url.clone(),
                    cfg.prometheus_matchers.replace("$slot", slot.name()),
                    format!("{}/health/ready", slot.url(cfg)),
                );
                Source::Prometheus(match &cfg.prometheus_sigv4_region {
                    Some(region) => p.with_sigv4(region, None).await?,
                    None => p,
                })
            }
            _ => Source::Scrape(Scrape::new(slot.url(cfg))),
        })
    }
}

impl MetricSource for Source {
    async fn read(&self) -> Reading {
        match self {
            Source::Scrape(s) => s.read().await,
            Source::Prometheus(p) => p.read().await,
        }
    }
}

/// The rollout plan of the configuration.
pub fn plan(cfg: &DeployConfig) -> Plan {
    Plan {
        steps: cfg.steps.clone(),
        dwell: Duration::from_millis(cfg.dwell_ms),
        interval: Duration::from_millis(cfg.interval_ms),
        ready_timeout: Duration::from_millis(cfg.ready_timeout_ms),
        triggers: Triggers {
            max_error_rate: cfg.max_error_rate,
            max_avg_latency: Duration::from_millis(cfg.max_avg_latency_ms),
            max_cpu: cfg.max_cpu,
            max_rss_bytes: cfg.max_memory_mb.map(|mb| (mb * 1_048_576) as f64),
            readiness_failures: cfg.readiness_failures,
            window: Duration::from_millis(cfg.window_ms),
            ..Triggers::default()
        },
        start_step: 0,
    }
}

/// The slot serving now, off the load balancer's weights.
pub(crate) async fn serving(balancer: &Balancer) -> Result<Slot> {
    use anyhow::Context;
    let w = balancer
        .weights()
        .await
        .context("cannot read the load balancer's weights")?;
    match (w.blue, w.green) {
        (b, 0) if b > 0 => Ok(Slot::Blue),
        (0, g) if g > 0 => Ok(Slot::Green),
        (b, g) => bail!(
            "the load balancer splits traffic (blue {b}, green {g}) and no deployment is in progress: \
             set one slot to 100 and the other to 0 before deploying"
        ),
    }
}

/// The release label an instance at `url` reports (`/health/live`).
pub(crate) async fn release_of(http: &reqwest::Client, url: &str) -> Result<String> {
    let v: Value = http
        .get(format!("{url}/health/live"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["release"]
        .as_str()
        .or(v["version"].as_str())
        .unwrap_or("")
        .to_string())
}

/// The HTTP client of the controller and its webhook: the deploy User-Agent,
/// 5 s per request.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(deploy::USER_AGENT)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}
