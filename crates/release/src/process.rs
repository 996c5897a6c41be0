//! `p360 deploy start|resume|status|promote|rollback|history`: a blue-green
//! release driven end to end and stored as it goes.
//!
//! A deployment runs these phases, each recorded in `deployments.phase`:
//! `preflight` (version, migration plan, the serving slot) -> `backup`
//! (`pg_dump` to the object store) -> `expand` (migrations safe under the
//! running version) -> `start` (`deploy.start_command` for the new slot) ->
//! `smoke` (readiness, then the smoke suite against the new slot directly) ->
//! `shift` (the rollout controller: 5 -> 25 -> 50 -> 100 % with the rollback
//! triggers) -> `drain` (keep the old slot warm, then `deploy.stop_command`)
//! -> `contract` (the migrations the old version could not survive).
//!
//! The load balancer has two fixed slots, `blue` and `green`; whichever
//! serves when a deployment starts is its blue, the other its green. A
//! controller beats a heartbeat into its row; a deployment whose controller
//! fell silent is shown as such by `status` and taken over by `resume` (which
//! carries on from the stored phase and the load balancer's actual weights) or
//! `rollback`. Every event goes to `deployment_events`, the audit log (the
//! platform chain) and, when configured, the notification webhook.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{DeployConfig, DeployMetrics, DeployTraffic, ReleaseConfig as Config};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use deploy::{
    Alb, Directive, Event, Haproxy, MetricSource, Oriented, Outcome, Plan, Prometheus, Reading,
    Scrape, Supervisor, TrafficBackend, Triggers, Weights,
};
use platform::db::{self, Database};
use platform::shutdown::Shutdown;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

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

    fn other(self) -> Slot {
        match self {
            Slot::Blue => Slot::Green,
            Slot::Green => Slot::Blue,
        }
    }

    fn parse(s: &str) -> Result<Slot> {
        match s {
            "blue" => Ok(Slot::Blue),
            "green" => Ok(Slot::Green),
            other => bail!("unknown slot `{other}`"),
        }
    }

    fn url(self, cfg: &DeployConfig) -> String {
        match self {
            Slot::Blue => cfg.blue_url.trim_end_matches('/').to_string(),
            Slot::Green => cfg.green_url.trim_end_matches('/').to_string(),
        }
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
enum Source {
    Scrape(Scrape),
    Prometheus(Prometheus),
}

impl Source {
    async fn for_slot(cfg: &DeployConfig, slot: Slot) -> Result<Source> {
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

const PHASES: &[&str] = &[
    "preflight",
    "backup",
    "expand",
    "start",
    "smoke",
    "shift",
    "drain",
    "contract",
];

fn phase_index(phase: &str) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

/// A stored deployment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deployment {
    pub id: Uuid,
    pub version: String,
    pub status: String,
    pub phase: String,
    pub from_slot: String,
    pub to_slot: String,
    pub weight: i64,
    pub requested: Option<String>,
    pub trigger: Option<String>,
    pub reason: Option<String>,
    pub backup_key: Option<String>,
    pub controller: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds since the controller's last heartbeat.
    pub silent_ms: i64,
}

const SELECT: &str = "SELECT id, version, status, phase, from_slot, to_slot, weight, requested, \
     trigger, reason, backup_key, controller, started_at, finished_at, \
     (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS silent_ms FROM deployments";

/// The deployments query with `tail` (a constant clause) appended.
fn select(tail: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{SELECT} {tail}"))
}

/// Whether the deployment tables exist (the first `deploy start` creates them).
async fn has_tables(pool: &PgPool) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT to_regclass('deployments') IS NOT NULL")
            .fetch_one(pool)
            .await?,
    )
}

async fn running(pool: &PgPool) -> Result<Option<Deployment>> {
    if !has_tables(pool).await? {
        return Ok(None);
    }
    Ok(
        sqlx::query_as::<_, Deployment>(select("WHERE status = 'running'"))
            .fetch_optional(pool)
            .await?,
    )
}

fn stale_after(cfg: &DeployConfig) -> i64 {
    (cfg.heartbeat_ms * 3) as i64
}

fn controller_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// What a controller works with.
struct Controller {
    database: Arc<Database>,
    config: Arc<Config>,
    balancer: Balancer,
    id: Uuid,
    version: String,
    from: Slot,
    to: Slot,
    shutdown: Shutdown,
    http: reqwest::Client,
    /// Events for the notification webhook, posted in order by a task of
    /// their own so that a slow webhook never holds the controller up.
    notices: Option<Notices>,
    started: Instant,
    /// Set by the heartbeat when another controller took this deployment
    /// over: from then on this one must not touch traffic or state.
    lost: Arc<AtomicBool>,
}

impl Controller {
    fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// The controller of a stored deployment, taken over by this process.
    async fn taking_over(
        d: &Deployment,
        config: Arc<Config>,
        database: Arc<Database>,
        shutdown: Shutdown,
        lost: Arc<AtomicBool>,
        notices: Option<Notices>,
    ) -> Result<Controller> {
        Ok(Controller {
            balancer: Balancer::from_config(&config.deploy).await?,
            database,
            config,
            id: d.id,
            version: d.version.clone(),
            from: Slot::parse(&d.from_slot)?,
            to: Slot::parse(&d.to_slot)?,
            shutdown,
            http: http_client(),
            notices,
            started: Instant::now(),
            lost,
        })
    }

    fn owner(&self) -> &PgPool {
        &self.database.owner
    }

    fn cfg(&self) -> &DeployConfig {
        &self.config.deploy
    }

    fn traffic(&self) -> Oriented<&Balancer> {
        Oriented {
            inner: &self.balancer,
            swapped: self.from == Slot::Green,
        }
    }

    /// Store an event; `audit`: also in the audit log and the notification
    /// channel, with `text` as the human line.
    async fn record(
        &self,
        action: &'static str,
        detail: Value,
        text: Option<String>,
        outcome: tenancy::audit::Outcome,
    ) {
        let stored = async {
            let mut tx = self.owner().begin().await?;
            sqlx::query(
                "INSERT INTO deployment_events (deployment_id, kind, detail) VALUES ($1, $2, $3)",
            )
            .bind(self.id)
            .bind(action)
            .bind(&detail)
            .execute(&mut *tx)
            .await?;
            if text.is_some() {
                tenancy::audit::record(
                    &mut tx,
                    &tenancy::principal::Actor::System,
                    &tenancy::audit::RequestMeta::default(),
                    tenancy::audit::NewEvent {
                        tenant: None,
                        action,
                        target_type: "deployment",
                        target_id: Some(self.id.to_string()),
                        changes: json!({"version": self.version, "from": self.from.name(), "to": self.to.name(), "detail": detail}),
                        outcome,
                    },
                )
                .await?;
            }
            tx.commit().await?;
            anyhow::Ok(())
        };
        match tokio::time::timeout(STORE_TIMEOUT, stored).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                action,
                "cannot store a deployment event"
            ),
            Err(_) => tracing::error!(action, "storing a deployment event timed out"),
        }
        if let Some(text) = text {
            println!("{text}");
            self.notify(action, &text, &detail).await;
        }
    }

    async fn notify(&self, action: &str, text: &str, detail: &Value) {
        let Some(notices) = &self.notices else {
            return;
        };
        // The receiving task ends only after this sender is dropped.
        let _ = notices.send(json!({
            "text": format!("p360 deploy {}: {text}", self.version),
            "event": action,
            "deployment": self.id,
            "version": self.version,
            "detail": detail,
        }));
    }

    async fn set_phase(&self, phase: &str) -> Result<()> {
        sqlx::query("UPDATE deployments SET phase = $2 WHERE id = $1")
            .bind(self.id)
            .bind(phase)
            .execute(self.owner())
            .await?;
        Ok(())
    }

    async fn finish(
        &self,
        status: &str,
        trigger: Option<&str>,
        reason: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE deployments SET status = $2, trigger = $3, reason = $4, requested = NULL, \
             finished_at = now() WHERE id = $1",
        )
        .bind(self.id)
        .bind(status)
        .bind(trigger)
        .bind(reason)
        .execute(self.owner())
        .await?;
        Ok(())
    }

    /// Run `deploy.start_command` / `stop_command` for `slot`.
    async fn hook(&self, hook: Hook, slot: Slot) -> Result<()> {
        let (name, command) = match hook {
            Hook::Start => ("start", &self.cfg().start_command),
            Hook::Stop => ("stop", &self.cfg().stop_command),
        };
        let Some(command) = command else {
            return Ok(());
        };
        let started = Instant::now();
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("DEPLOY_SLOT", slot.name())
            .env("DEPLOY_VERSION", &self.version)
            .env("DEPLOY_URL", slot.url(self.cfg()))
            .env("DEPLOY_ID", self.id.to_string())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run deploy.{name}_command"))?;
        let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
            .await
            .with_context(|| format!("deploy.{name}_command did not finish in 10 minutes"))??;
        if !status.success() {
            bail!(
                "deploy.{name}_command for the {} slot failed ({status})",
                slot.name()
            );
        }
        let (action, done) = match hook {
            Hook::Start => (
                "deployment.slot_started",
                format!("started on {}", self.version),
            ),
            Hook::Stop => ("deployment.slot_stopped", "stopped".to_string()),
        };
        self.record(
            action,
            json!({"slot": slot.name(), "ms": started.elapsed().as_millis() as u64}),
            Some(format!(
                "{} slot {done} ({:.1} s)",
                slot.name(),
                started.elapsed().as_secs_f64()
            )),
            tenancy::audit::Outcome::Success,
        )
        .await;
        Ok(())
    }

    /// Traffic back on the serving slot, retried: never leave it split.
    async fn all_blue(&self) -> Result<()> {
        let mut last = None;
        for _ in 0..10 {
            match self.traffic().set_weights(Weights::ALL_BLUE).await {
                Ok(()) => {
                    let _ = sqlx::query("UPDATE deployments SET weight = 0 WHERE id = $1")
                        .bind(self.id)
                        .execute(self.owner())
                        .await;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(last
            .unwrap_or_else(|| anyhow::anyhow!("no attempt"))
            .context("cannot put traffic back on the serving slot"))
    }

    /// What an operator asked of this deployment (`promote`, `rollback`), if
    /// anything. A database that does not answer must not stall the rollout.
    async fn requested(&self) -> Option<String> {
        tokio::time::timeout(
            STORE_TIMEOUT,
            sqlx::query_scalar("SELECT requested FROM deployments WHERE id = $1")
                .bind(self.id)
                .fetch_one(self.owner()),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
    }

    async fn rollback_requested(&self) -> bool {
        self.requested().await.as_deref() == Some("rollback")
    }

    /// Wait until the new slot is ready; `false` on timeout, shutdown or an
    /// operator's rollback.
    async fn wait_ready(&self) -> bool {
        let url = format!("{}/health/ready", self.to.url(self.cfg()));
        let deadline = Instant::now() + Duration::from_millis(self.cfg().ready_timeout_ms);
        while Instant::now() < deadline && !self.shutdown.is_triggered() {
            if matches!(self.http.get(&url).send().await, Ok(r) if r.status().is_success()) {
                return true;
            }
            if self.rollback_requested().await {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// Stop the new slot and close the deployment as rolled back (no
    /// traffic, or traffic already back on blue).
    async fn rolled_back(&self, trigger: &str, detail: &str) -> Result<Finished> {
        self.hook(Hook::Stop, self.to).await.unwrap_or_else(|e| {
            tracing::error!(error = format!("{e:#}"), "stopping the new slot failed")
        });
        self.finish("rolled_back", Some(trigger), Some(detail))
            .await?;
        self.record(
            "deployment.rolled_back",
            json!({"trigger": trigger, "reason": detail}),
            Some(format!(
                "rolled back ({trigger}: {detail}); all traffic on the {} slot",
                self.from.name()
            )),
            tenancy::audit::Outcome::Failure,
        )
        .await;
        Ok(Finished::RolledBack {
            trigger: trigger.to_string(),
            detail: detail.to_string(),
        })
    }

    /// A failure before any traffic moved: stop the new slot, close as failed.
    async fn failed(&self, phase: &str, e: &anyhow::Error) -> Result<Finished> {
        let reason = format!("{phase}: {e:#}");
        if phase_index(phase) >= phase_index("start") {
            self.hook(Hook::Stop, self.to).await.unwrap_or_else(|e| {
                tracing::error!(error = format!("{e:#}"), "stopping the new slot failed")
            });
        }
        self.finish("failed", None, Some(&reason)).await?;
        self.record(
            "deployment.failed",
            json!({"phase": phase, "reason": reason}),
            Some(format!("failed in {phase}: {e:#}; no traffic was moved")),
            tenancy::audit::Outcome::Failure,
        )
        .await;
        Ok(Finished::Failed(reason))
    }

    /// Run the phases from `from_phase` on. `first`: no running version.
    async fn drive(&self, from_phase: &str, first: bool) -> Result<Finished> {
        let from = phase_index(from_phase);
        let cfg = self.cfg().clone();
        let mut plan_mig = None;
        for (i, &phase) in PHASES.iter().enumerate().skip(from) {
            if self.is_lost() {
                bail!(
                    "deployment {} was taken over by another controller; this one stopped in {phase}",
                    self.id
                );
            }
            if phase_index(phase) <= phase_index("smoke") {
                if self.shutdown.is_triggered() {
                    let e = anyhow::anyhow!("the controller was stopped (SIGTERM/SIGINT)");
                    return self.failed(phase, &e).await;
                }
                if self.rollback_requested().await {
                    return self
                        .rolled_back("manual", "an operator asked (p360 deploy rollback)")
                        .await;
                }
            }
            self.set_phase(phase).await?;
            let step: Result<Option<Finished>> = async {
                match phase {
                    "preflight" => {
                        let plan = migration_plan(self.owner(), first).await?;
                        self.record(
                            "deployment.preflight_passed",
                            json!({
                                "before_green": plan.before_green.iter().map(|m| m.version).collect::<Vec<_>>(),
                                "after_blue": plan.after_blue.iter().map(|m| m.version).collect::<Vec<_>>(),
                            }),
                            Some(format!(
                                "preflight passed: {} migration(s) before the new slot starts, {} after the old one is gone",
                                plan.before_green.len(),
                                plan.after_blue.len()
                            )),
                            tenancy::audit::Outcome::Success,
                        )
                        .await;
                        plan_mig = Some(plan);
                    }
                    "backup" => {
                        let done: Option<String> =
                            sqlx::query_scalar("SELECT backup_key FROM deployments WHERE id = $1")
                                .bind(self.id)
                                .fetch_one(self.owner())
                                .await?;
                        if cfg.backup && done.is_none() {
                            let (key, size, place) =
                                platform::backup::pg_dump(&self.config.platform, &self.database).await?;
                            sqlx::query("UPDATE deployments SET backup_key = $2 WHERE id = $1")
                                .bind(self.id)
                                .bind(&key)
                                .execute(self.owner())
                                .await?;
                            self.record(
                                "deployment.backup_taken",
                                json!({"key": key, "bytes": size}),
                                Some(format!("backup {key} ({size} bytes) in {place}")),
                                tenancy::audit::Outcome::Success,
                            )
                            .await;
                        }
                    }
                    "expand" => {
                        let plan = match plan_mig.take() {
                            Some(p) => p,
                            None => migration_plan(self.owner(), first).await?,
                        };
                        if let Some(last) = plan.before_green.last() {
                            let applied = db::migrate_up_to(self.owner(), last.version).await?;
                            self.record(
                                "deployment.migrated",
                                json!({"class": migration_class(first), "versions": applied}),
                                Some(format!("{} migrations applied: {applied:?}", migration_class(first))),
                                tenancy::audit::Outcome::Success,
                            )
                            .await;
                        }
                    }
                    "start" => {
                        self.hook(Hook::Start, self.to).await?;
                    }
                    "smoke" => {
                        let ready = self.wait_ready().await;
                        if !ready && self.rollback_requested().await {
                            return Ok(Some(
                                self.rolled_back(
                                    "manual",
                                    "an operator asked (p360 deploy rollback)",
                                )
                                .await?,
                            ));
                        }
                        if !ready {
                            return Ok(Some(
                                self.rolled_back(
                                    "readiness",
                                    &format!(
                                        "the {} slot was not ready within {} ms",
                                        self.to.name(),
                                        cfg.ready_timeout_ms
                                    ),
                                )
                                .await?,
                            ));
                        }
                        let checks =
                            deploy::smoke::run(&self.to.url(&cfg), Some(&self.version)).await;
                        let failed: Vec<String> = checks
                            .iter()
                            .filter(|c| !c.ok)
                            .map(|c| format!("{}: {}", c.name, c.detail))
                            .collect();
                        self.record(
                            "deployment.smoke",
                            json!({"checks": checks}),
                            Some(format!(
                                "smoke suite against the {} slot: {} of {} checks passed",
                                self.to.name(),
                                checks.len() - failed.len(),
                                checks.len()
                            )),
                            if failed.is_empty() {
                                tenancy::audit::Outcome::Success
                            } else {
                                tenancy::audit::Outcome::Failure
                            },
                        )
                        .await;
                        if !failed.is_empty() {
                            return Ok(Some(self.rolled_back("smoke", &failed.join("; ")).await?));
                        }
                    }
                    "shift" => {
                        if let Some(finished) = self.shift().await? {
                            return Ok(Some(finished));
                        }
                    }
                    "drain" => {
                        if cfg.keep_blue_ms > 0 {
                            println!(
                                "keeping the {} slot warm for {} ms",
                                self.from.name(),
                                cfg.keep_blue_ms
                            );
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_millis(cfg.keep_blue_ms)) => {}
                                _ = self.shutdown.wait() => {}
                            }
                        }
                        self.hook(Hook::Stop, self.from).await?;
                    }
                    "contract" => {
                        let applied = db::migrate_up(self.owner()).await?;
                        if !applied.is_empty() {
                            self.record(
                                "deployment.migrated",
                                json!({"class": "contract", "versions": applied}),
                                Some(format!("contract migrations applied: {applied:?}")),
                                tenancy::audit::Outcome::Success,
                            )
                            .await;
                        }
                    }
                    _ => unreachable!("every phase is handled"),
                }
                Ok(None)
            }
            .await;
            match step {
                Err(e) if self.is_lost() => {
                    return Err(e.context(format!(
                        "deployment {} was taken over by another controller; this one stopped in {phase} without touching it",
                        self.id
                    )));
                }
                Ok(Some(finished)) => return Ok(finished),
                Ok(None) => {}
                // Before traffic moves, a failure ends the deployment.
                Err(e) if i < phase_index("shift") => return self.failed(phase, &e).await,
                // After it, the deployment stays open (traffic is on the
                // new slot) for `resume` once the cause is fixed.
                Err(e) => {
                    self.record(
                        "deployment.stuck",
                        json!({"phase": phase, "error": format!("{e:#}")}),
                        Some(format!(
                            "stopped in {phase} after the promotion: {e:#}; fix the cause and run `p360 deploy resume`"
                        )),
                        tenancy::audit::Outcome::Failure,
                    )
                    .await;
                    return Err(e.context(format!("deployment {} stopped in {phase}", self.id)));
                }
            }
        }
        self.finish("promoted", None, None).await?;
        let took = self.started.elapsed().as_secs_f64();
        self.record(
            "deployment.promoted",
            json!({"seconds": took}),
            Some(format!(
                "promoted: all traffic on the {} slot ({:.1} s)",
                self.to.name(),
                took
            )),
            tenancy::audit::Outcome::Success,
        )
        .await;
        Ok(Finished::Promoted)
    }

    /// The traffic shift, resumed at the load balancer's actual weight.
    async fn shift(&self) -> Result<Option<Finished>> {
        let cfg = self.cfg();
        let mut plan = plan(cfg);
        let current = self.traffic().weights().await?;
        plan.start_step = plan
            .steps
            .iter()
            .position(|&s| s >= current.green)
            .unwrap_or(plan.steps.len());
        if current.green > 0 {
            println!(
                "resuming the shift at {} % (the load balancer's weight)",
                plan.steps.get(plan.start_step).copied().unwrap_or(100)
            );
        }
        let source = Source::for_slot(cfg, self.to).await?;
        let sup = Watch {
            c: self,
            last_reading: None,
        };
        match deploy::rollout(&self.traffic(), &source, &plan, sup).await {
            Ok(Outcome::Promoted { .. }) => Ok(None),
            Ok(Outcome::RolledBack {
                trigger, detail, ..
            }) => Ok(Some(self.rolled_back(trigger, &detail).await?)),
            // Taken over: the other controller owns the traffic now.
            Err(e) if self.is_lost() => Err(e),
            Err(e) => {
                // A load balancer error mid-ramp: never leave traffic split.
                match self.all_blue().await {
                    Ok(()) => Ok(Some(self.rolled_back("traffic", &format!("{e:#}")).await?)),
                    Err(e2) => {
                        self.record(
                            "deployment.stuck",
                            json!({"phase": "shift", "error": format!("{e:#}"), "rollback_error": format!("{e2:#}")}),
                            Some(format!(
                                "TRAFFIC MAY BE SPLIT: {e:#}; putting it back on the {} slot failed too ({e2:#}); run `p360 deploy rollback`",
                                self.from.name()
                            )),
                            tenancy::audit::Outcome::Failure,
                        )
                        .await;
                        Err(e2)
                    }
                }
            }
        }
    }
}

/// The two commands that act on a slot's instances.
#[derive(Debug, Clone, Copy)]
enum Hook {
    Start,
    Stop,
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Promoted,
    RolledBack { trigger: String, detail: String },
    Failed(String),
}

/// The rollout's supervisor: stores weights and readings, and passes on an
/// operator's promote/rollback and the controller's own shutdown.
struct Watch<'a> {
    c: &'a Controller,
    last_reading: Option<Instant>,
}

impl Supervisor for Watch<'_> {
    async fn event(&mut self, e: &Event) {
        let c = self.c;
        match e {
            Event::Weights(w) => {
                let _ = sqlx::query("UPDATE deployments SET weight = $2 WHERE id = $1")
                    .bind(c.id)
                    .bind(i64::from(w.green))
                    .execute(c.owner())
                    .await;
                c.record(
                    "deployment.weights",
                    json!({c.from.name(): w.blue, c.to.name(): w.green}),
                    Some(format!(
                        "weights: {} {} % / {} {} %",
                        c.from.name(),
                        w.blue,
                        c.to.name(),
                        w.green
                    )),
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Reading {
                green,
                error_rate,
                avg_latency_s,
                ready,
            } => {
                // At most one stored reading a second.
                if self
                    .last_reading
                    .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
                {
                    return;
                }
                self.last_reading = Some(Instant::now());
                c.record(
                    "deployment.reading",
                    json!({"weight": green, "error_rate": error_rate, "avg_latency_s": avg_latency_s, "ready": ready}),
                    None,
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Triggered { trigger, detail } => {
                c.record(
                    "deployment.triggered",
                    json!({"trigger": trigger, "detail": detail}),
                    Some(format!("rollback trigger {trigger}: {detail}")),
                    tenancy::audit::Outcome::Failure,
                )
                .await;
            }
            Event::RolledBack { trigger_to_blue } => {
                let _ = sqlx::query("UPDATE deployments SET weight = 0 WHERE id = $1")
                    .bind(c.id)
                    .execute(c.owner())
                    .await;
                c.record(
                    "deployment.traffic_restored",
                    json!({"trigger_to_blue_ms": trigger_to_blue.as_secs_f64() * 1000.0}),
                    None,
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Promoted { .. } => {}
        }
    }

    async fn check(&mut self) -> Directive {
        let c = self.c;
        if c.is_lost() {
            return Directive::Abandon("another controller took this deployment over".into());
        }
        if c.shutdown.is_triggered() {
            return Directive::RollBack(
                "the controller was stopped (SIGTERM/SIGINT) during the shift".into(),
            );
        }
        match c.requested().await.as_deref() {
            Some("promote") => {
                let _ = sqlx::query("UPDATE deployments SET requested = NULL WHERE id = $1")
                    .bind(c.id)
                    .execute(c.owner())
                    .await;
                c.record(
                    "deployment.promote_requested",
                    json!({}),
                    Some("promote requested: skipping the remaining dwell".into()),
                    tenancy::audit::Outcome::Success,
                )
                .await;
                Directive::Promote
            }
            Some("rollback") => {
                Directive::RollBack("an operator asked (p360 deploy rollback)".into())
            }
            _ => Directive::Continue,
        }
    }
}

/// Keep `id`'s heartbeat fresh until dropped; set `lost` if another
/// controller took the deployment over.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start(
        pool: PgPool,
        id: Uuid,
        me: String,
        every: Duration,
        lost: Arc<AtomicBool>,
    ) -> Heartbeat {
        Heartbeat(tokio::spawn(async move {
            loop {
                let beat = sqlx::query(
                    "UPDATE deployments SET heartbeat_at = now() \
                     WHERE id = $1 AND controller = $2 AND status = 'running'",
                )
                .bind(id)
                .bind(&me)
                .execute(&pool)
                .await;
                match beat {
                    Ok(r) if r.rows_affected() == 0 => {
                        let now: Option<(String, String)> = sqlx::query_as(
                            "SELECT controller, status FROM deployments WHERE id = $1",
                        )
                        .bind(id)
                        .fetch_optional(&pool)
                        .await
                        .unwrap_or(None);
                        if let Some((controller, status)) = now
                            && status == "running"
                            && controller != me
                        {
                            tracing::error!(deployment = %id, taken_by = %controller, "another controller took this deployment over; stopping without touching traffic");
                            lost.store(true, Ordering::Relaxed);
                        }
                        // Finished, or taken over.
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    Ok(_) => {}
                }
                tokio::time::sleep(every).await;
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Notices = tokio::sync::mpsc::UnboundedSender<Value>;

/// The webhook's sender task, if one is configured: posts each event in
/// order; a failure is logged and the next event is sent.
fn notifier(cfg: &DeployConfig) -> (Option<Notices>, Option<tokio::task::JoinHandle<()>>) {
    let Some(url) = cfg.notify_webhook.clone() else {
        return (None, None);
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let http = http_client();
    let task = tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let event = body["event"].as_str().unwrap_or("").to_string();
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), event, "the notification webhook refused an event")
                }
                Err(e) => {
                    tracing::warn!(error = %e, event, "the notification webhook is unreachable")
                }
            }
        }
    });
    (Some(tx), Some(task))
}

/// Let the webhook task deliver what is queued, for a bounded time.
async fn deliver(task: Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = task
        && tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
    {
        tracing::warn!("the notification webhook did not take every event within 10 s");
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(deploy::USER_AGENT)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// The slot serving now, off the load balancer's weights.
async fn serving(balancer: &Balancer) -> Result<Slot> {
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

async fn release_of(http: &reqwest::Client, url: &str) -> Result<String> {
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

/// `p360 deploy start --version V`.
pub async fn start(
    config: Arc<Config>,
    database: Arc<Database>,
    version: String,
    first: bool,
    shutdown: Shutdown,
) -> Result<Finished> {
    if !platform::config::is_release_label(&version) {
        bail!("--version `{version}` is not a release label (letters, digits and . _ + -)");
    }
    let pool = database.owner.clone();
    if let Some(d) = running(&pool).await? {
        let who = if d.silent_ms > stale_after(&config.deploy) {
            format!(
                "its controller {} has been silent for {:.0} s: `p360 deploy resume` or `p360 deploy rollback`",
                d.controller,
                d.silent_ms as f64 / 1000.0
            )
        } else {
            format!("controlled by {}", d.controller)
        };
        bail!(
            "deployment {} of {} is in progress (phase {}, {} % on the {} slot); {who}",
            d.id,
            d.version,
            d.phase,
            d.weight,
            d.to_slot
        );
    }
    let balancer = Balancer::from_config(&config.deploy).await?;
    let from = serving(&balancer).await?;
    let http = http_client();
    if !first {
        let live = release_of(&http, &from.url(&config.deploy))
            .await
            .with_context(|| {
                format!(
                    "the serving {} slot does not answer at {} (use --first when nothing runs yet)",
                    from.name(),
                    from.url(&config.deploy)
                )
            })?;
        if live == version {
            bail!("{version} is already serving on the {} slot", from.name());
        }
    }
    // A database from before the deployment tables (migration 12, expand):
    // check the plan, take the backup, and create them first, so that
    // everything after is recorded.
    let mut bootstrap = None;
    if !has_tables(&pool).await? {
        bootstrap = Some(create_tables(&config, &database, first).await?);
    }
    let id = Uuid::now_v7();
    let me = controller_name();
    let steps: Vec<i64> = config.deploy.steps.iter().map(|&s| i64::from(s)).collect();
    sqlx::query(
        "INSERT INTO deployments (id, version, phase, from_slot, to_slot, steps, dwell_ms, controller) \
         VALUES ($1, $2, 'preflight', $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&version)
    .bind(from.name())
    .bind(from.other().name())
    .bind(&steps)
    .bind(config.deploy.dwell_ms as i64)
    .bind(&me)
    .execute(&pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            anyhow::anyhow!("another deployment started at the same moment")
        }
        e => e.into(),
    })?;
    let lost = Arc::new(AtomicBool::new(false));
    let (notices, sender) = notifier(&config.deploy);
    let _beat = Heartbeat::start(
        pool.clone(),
        id,
        me.clone(),
        Duration::from_millis(config.deploy.heartbeat_ms),
        lost.clone(),
    );
    let c = Controller {
        database,
        config,
        balancer,
        id,
        version: version.clone(),
        from,
        to: from.other(),
        shutdown,
        http,
        notices,
        started: Instant::now(),
        lost,
    };
    c.record(
        "deployment.started",
        json!({"controller": me, "first": first}),
        Some(format!(
            "deployment {id} of {version} started: {} slot serving, deploying to the {} slot",
            from.name(),
            from.other().name()
        )),
        tenancy::audit::Outcome::Success,
    )
    .await;
    if let Some((backup, applied)) = bootstrap {
        if let Some((key, size)) = backup {
            sqlx::query("UPDATE deployments SET backup_key = $2 WHERE id = $1")
                .bind(id)
                .bind(&key)
                .execute(&c.database.owner)
                .await?;
            c.record(
                "deployment.backup_taken",
                json!({"key": key, "bytes": size}),
                Some(format!(
                    "backup {key} ({size} bytes), before the deployment tables were created"
                )),
                tenancy::audit::Outcome::Success,
            )
            .await;
        }
        c.record(
            "deployment.migrated",
            json!({"class": migration_class(first), "versions": applied}),
            Some(format!(
                "{} migrations applied first, up to the deployment tables: {applied:?}",
                migration_class(first)
            )),
            tenancy::audit::Outcome::Success,
        )
        .await;
    }
    let finished = c.drive("preflight", first).await;
    drop(c);
    deliver(sender).await;
    finished
}

/// What the migrations run before the new slot starts are: expand ones,
/// or on a first deploy (nothing to protect) any pending ones.
fn migration_class(first: bool) -> &'static str {
    if first { "pending" } else { "expand" }
}

/// How long the controller waits for its own bookkeeping (events, operator
/// requests) during a rollout before going on without it.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The migration that creates the deployment tables.
const DEPLOYMENTS_MIGRATION: i64 = 20261127000012;

/// The pending migrations, split for a deploy: on a first deploy (nothing
/// runs yet) all of them before the new slot starts.
async fn migration_plan(pool: &PgPool, first: bool) -> Result<db::DeployPlan> {
    let pending = db::pending_migrations(pool).await?;
    if first {
        return Ok(db::DeployPlan {
            before_green: pending,
            after_blue: Vec::new(),
        });
    }
    db::deploy_plan(&pending).map_err(|e| anyhow::anyhow!("deploy refused: {e}"))
}

/// Create the deployment tables on a database from before them: only when
/// the migration plan lets them run before the new version starts, after a
/// backup. Returns the backup (key, size) and the versions applied.
async fn create_tables(
    config: &Config,
    database: &Database,
    first: bool,
) -> Result<(Option<(String, usize)>, Vec<i64>)> {
    if !first {
        let plan = migration_plan(&database.owner, false).await?;
        if !plan
            .before_green
            .iter()
            .any(|m| m.version == DEPLOYMENTS_MIGRATION)
        {
            bail!(
                "deploy refused: the deployment tables (migration {DEPLOYMENTS_MIGRATION}) cannot be created before the new version starts"
            );
        }
    }
    let backup = if config.deploy.backup {
        let (key, size, _) = platform::backup::pg_dump(&config.platform, database).await?;
        Some((key, size))
    } else {
        None
    };
    let applied = db::migrate_up_to(&database.owner, DEPLOYMENTS_MIGRATION).await?;
    Ok((backup, applied))
}

/// `p360 deploy resume`: take over a deployment whose controller is gone.
pub async fn resume(
    config: Arc<Config>,
    database: Arc<Database>,
    shutdown: Shutdown,
) -> Result<Finished> {
    let pool = database.owner.clone();
    let Some(d) = running(&pool).await? else {
        bail!("no deployment is in progress");
    };
    let me = controller_name();
    let taken = take_over(&pool, &d, &me, stale_after(&config.deploy)).await?;
    let lost = Arc::new(AtomicBool::new(false));
    let _beat = Heartbeat::start(
        pool.clone(),
        d.id,
        me.clone(),
        Duration::from_millis(config.deploy.heartbeat_ms),
        lost.clone(),
    );
    let (notices, sender) = notifier(&config.deploy);
    let c = Controller::taking_over(&d, config, database, shutdown, lost, notices).await?;
    c.record(
        "deployment.resumed",
        json!({"controller": me, "previous": taken, "phase": d.phase}),
        Some(format!(
            "deployment {} of {} resumed in phase {} (its controller {taken} was silent)",
            d.id, d.version, d.phase
        )),
        tenancy::audit::Outcome::Success,
    )
    .await;
    let finished = c.drive(&d.phase, false).await;
    drop(c);
    deliver(sender).await;
    finished
}

/// Become the controller of `d` if its own has been silent long enough.
async fn take_over(pool: &PgPool, d: &Deployment, me: &str, stale_ms: i64) -> Result<String> {
    let taken = sqlx::query(
        "UPDATE deployments SET controller = $2, heartbeat_at = now() \
         WHERE id = $1 AND status = 'running' AND heartbeat_at < now() - make_interval(secs => $3::float8 / 1000)",
    )
    .bind(d.id)
    .bind(me)
    .bind(stale_ms as f64)
    .execute(pool)
    .await?;
    if taken.rows_affected() == 0 {
        bail!(
            "deployment {} is controlled by {} (heard from {:.1} s ago); ask it with `p360 deploy promote|rollback`",
            d.id,
            d.controller,
            d.silent_ms as f64 / 1000.0
        );
    }
    Ok(d.controller.clone())
}

/// `p360 deploy promote`: ask the controller to skip the remaining dwell.
pub async fn promote(config: &Config, pool: &PgPool) -> Result<String> {
    let Some(d) = running(pool).await? else {
        bail!("no deployment is in progress");
    };
    if d.silent_ms > stale_after(&config.deploy) {
        bail!(
            "deployment {} has no live controller ({} silent for {:.0} s): run `p360 deploy resume` first",
            d.id,
            d.controller,
            d.silent_ms as f64 / 1000.0
        );
    }
    if d.phase != "shift" && phase_index(&d.phase) > phase_index("shift") {
        bail!(
            "deployment {} is past the shift (phase {}): all traffic is already on the {} slot",
            d.id,
            d.phase,
            d.to_slot
        );
    }
    sqlx::query(
        "UPDATE deployments SET requested = 'promote' WHERE id = $1 AND status = 'running'",
    )
    .bind(d.id)
    .execute(pool)
    .await?;
    Ok(format!(
        "asked {} to promote deployment {} of {} (phase {}, {} % on the {} slot)",
        d.controller, d.id, d.version, d.phase, d.weight, d.to_slot
    ))
}

/// `p360 deploy rollback`: ask the live controller to roll back, or, when
/// it is gone, do it here.
pub async fn rollback(
    config: Arc<Config>,
    database: Arc<Database>,
    shutdown: Shutdown,
) -> Result<String> {
    let pool = database.owner.clone();
    let Some(d) = running(&pool).await? else {
        let last = if has_tables(&pool).await? {
            sqlx::query_as::<_, Deployment>(select("ORDER BY started_at DESC LIMIT 1"))
                .fetch_optional(&pool)
                .await?
        } else {
            None
        };
        return Err(match last {
            Some(l) if l.status == "promoted" => anyhow::anyhow!(
                "no deployment is in progress: {} was promoted and its old slot stopped; deploy the previous version to go back",
                l.version
            ),
            _ => anyhow::anyhow!("no deployment is in progress"),
        });
    };
    if phase_index(&d.phase) > phase_index("shift") {
        bail!(
            "deployment {} of {} is past the shift (phase {}): the old slot is being stopped; deploy the previous version to go back",
            d.id,
            d.version,
            d.phase
        );
    }
    if d.silent_ms <= stale_after(&config.deploy) {
        sqlx::query(
            "UPDATE deployments SET requested = 'rollback' WHERE id = $1 AND status = 'running'",
        )
        .bind(d.id)
        .execute(&pool)
        .await?;
        // Wait for the controller to act (it reads the request at every reading).
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let status: String = sqlx::query_scalar("SELECT status FROM deployments WHERE id = $1")
                .bind(d.id)
                .fetch_one(&pool)
                .await?;
            if status != "running" {
                return Ok(format!(
                    "deployment {} of {} {}: all traffic on the {} slot",
                    d.id,
                    d.version,
                    status.replace('_', " "),
                    d.from_slot
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "asked {} to roll back deployment {}, but it has not done so in 60 s",
            d.controller,
            d.id
        );
    }
    // The controller is gone: roll back here.
    let me = controller_name();
    take_over(&pool, &d, &me, stale_after(&config.deploy)).await?;
    let (notices, sender) = notifier(&config.deploy);
    let c =
        Controller::taking_over(&d, config, database, shutdown, Arc::default(), notices).await?;
    let fired = Instant::now();
    c.all_blue().await?;
    let ms = fired.elapsed().as_secs_f64() * 1000.0;
    c.rolled_back(
        "manual",
        &format!(
            "rolled back by an operator after its controller {} fell silent",
            d.controller
        ),
    )
    .await?;
    drop(c);
    deliver(sender).await;
    Ok(format!(
        "deployment {} of {} rolled back: all traffic on the {} slot ({ms:.0} ms)",
        d.id, d.version, d.from_slot
    ))
}

/// `p360 deploy status`: the running deployment (else the latest), its
/// controller's liveness, the load balancer's weights and recent events.
pub async fn status(config: &Config, pool: &PgPool) -> Result<String> {
    use std::fmt::Write;
    if !has_tables(pool).await? {
        return Ok("no deployments yet\n".into());
    }
    let d = match running(pool).await? {
        Some(d) => d,
        None => match sqlx::query_as::<_, Deployment>(select("ORDER BY started_at DESC LIMIT 1"))
            .fetch_optional(pool)
            .await?
        {
            Some(d) => d,
            None => return Ok("no deployments yet\n".into()),
        },
    };
    let mut out = String::new();
    writeln!(
        out,
        "deployment {} of {}: {} (phase {}), {} -> {} slot, {} % on the {} slot",
        d.id, d.version, d.status, d.phase, d.from_slot, d.to_slot, d.weight, d.to_slot
    )?;
    writeln!(
        out,
        "started {}{}",
        d.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        d.finished_at
            .map(|f| format!(
                ", finished {} ({:.1} s)",
                f.format("%H:%M:%S"),
                (f - d.started_at).num_milliseconds() as f64 / 1000.0
            ))
            .unwrap_or_default()
    )?;
    if let Some(reason) = &d.reason {
        writeln!(
            out,
            "{}: {reason}",
            d.trigger.as_deref().unwrap_or("reason")
        )?;
    }
    if let Some(key) = &d.backup_key {
        writeln!(out, "backup: {key}")?;
    }
    let weights = match Balancer::from_config(&config.deploy).await {
        Ok(b) => b.weights().await,
        Err(e) => Err(e),
    };
    match &weights {
        Ok(w) => writeln!(
            out,
            "load balancer now: blue {} / green {}",
            w.blue, w.green
        )?,
        Err(e) => writeln!(out, "load balancer: unreadable ({e:#})")?,
    }
    if d.status == "running" {
        if d.silent_ms > stale_after(&config.deploy) {
            writeln!(
                out,
                "WARNING: controller {} silent for {:.0} s; the deployment is stopped in phase {} \
                 with {} % on the {} slot: run `p360 deploy resume` to continue it or \
                 `p360 deploy rollback` to put all traffic back on the {} slot",
                d.controller,
                d.silent_ms as f64 / 1000.0,
                d.phase,
                d.weight,
                d.to_slot,
                d.from_slot
            )?;
        } else {
            writeln!(
                out,
                "controller {} (heard from {:.1} s ago)",
                d.controller,
                d.silent_ms as f64 / 1000.0
            )?;
        }
    }
    let events: Vec<(DateTime<Utc>, String, Value)> = sqlx::query_as(
        "SELECT at, kind, detail FROM (SELECT id, at, kind, detail FROM deployment_events \
         WHERE deployment_id = $1 AND kind <> 'deployment.reading' ORDER BY id DESC LIMIT 20) e ORDER BY id",
    )
    .bind(d.id)
    .fetch_all(pool)
    .await?;
    writeln!(out, "events:")?;
    for (at, kind, detail) in events {
        let detail = detail.to_string();
        let detail: String = detail.chars().take(160).collect();
        writeln!(
            out,
            "  {} {:<30} {detail}",
            at.format("%H:%M:%S%.3f"),
            kind.trim_start_matches("deployment.")
        )?;
    }
    Ok(out)
}

/// `p360 deploy history`: deployments, newest first.
pub async fn history(pool: &PgPool, limit: i64) -> Result<String> {
    use std::fmt::Write;
    if !has_tables(pool).await? {
        return Ok("no deployments yet\n".into());
    }
    let rows = sqlx::query_as::<_, Deployment>(select("ORDER BY started_at DESC LIMIT $1"))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut out = String::new();
    writeln!(
        out,
        "{:<20}  {:<36}  {:<16}  {:<11}  {:<12}  {:>7}  reason",
        "started (UTC)", "id", "version", "status", "slots", "seconds"
    )?;
    for d in rows {
        let took = d
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}",
                    (f - d.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        let reason = match (&d.trigger, &d.reason) {
            (Some(t), Some(r)) => format!("{t}: {r}"),
            (None, Some(r)) => r.clone(),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<20}  {:<36}  {:<16}  {:<11}  {:<12}  {:>7}  {}",
            d.started_at.format("%Y-%m-%d %H:%M:%S"),
            d.id,
            d.version,
            d.status,
            format!("{}->{}", d.from_slot, d.to_slot),
            took,
            reason.chars().take(120).collect::<String>()
        )?;
    }
    Ok(out)
}
