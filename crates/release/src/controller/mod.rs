//! The controller of one deployment: it drives the phases in order from
//! where the deployment stands, runs the slots' start and stop commands,
//! puts traffic back on the serving slot, reads what an operator asked, and
//! closes the deployment as promoted, rolled back or failed. It stops without
//! touching anything once another controller has taken the deployment over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deploy::{Oriented, TrafficBackend, Weights};
use platform::db::Database;
use platform::shutdown::Shutdown;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::backend::{Balancer, Slot, http_client};
use crate::config::{DeployConfig, ReleaseConfig as Config};
use crate::model::{Finished, Phase, Request, Status};
use crate::notify::{Journal, Notices};

mod phases;
mod supervisor;

use crate::store::{self, Deployment, STORE_TIMEOUT};
use phases::Run;

/// What a controller works with.
pub(crate) struct Controller {
    pub database: Arc<Database>,
    pub config: Arc<Config>,
    pub balancer: Balancer,
    pub id: Uuid,
    pub version: String,
    pub from: Slot,
    pub to: Slot,
    pub shutdown: Shutdown,
    pub http: reqwest::Client,
    /// Where its events go: the store, the audit log, the webhook.
    pub journal: Journal,
    pub started: Instant,
    /// Set by the heartbeat when another controller took this deployment
    /// over: from then on this one must not touch traffic or state.
    pub lost: Arc<AtomicBool>,
}

/// The two commands that act on a slot's instances.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hook {
    Start,
    Stop,
}

impl Controller {
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// The controller of a stored deployment, taken over by this process.
    pub(crate) async fn taking_over(
        d: &Deployment,
        config: Arc<Config>,
        database: Arc<Database>,
        shutdown: Shutdown,
        lost: Arc<AtomicBool>,
        notices: Option<Notices>,
    ) -> Result<Controller> {
        Ok(Controller {
            balancer: Balancer::from_config(&config.deploy).await?,
            journal: Journal::new(
                database.owner.clone(),
                d.id,
                &d.version,
                d.from_slot,
                d.to_slot,
                notices,
            ),
            database,
            config,
            id: d.id,
            version: d.version.clone(),
            from: d.from_slot,
            to: d.to_slot,
            shutdown,
            http: http_client(),
            started: Instant::now(),
            lost,
        })
    }

    pub(crate) fn owner(&self) -> &PgPool {
        &self.database.owner
    }

    pub(crate) fn cfg(&self) -> &DeployConfig {
        &self.config.deploy
    }

    pub(crate) fn traffic(&self) -> Oriented<&Balancer> {
        Oriented {
            inner: &self.balancer,
            swapped: self.from == Slot::Green,
        }
    }

    /// Record an event of this deployment (see [`Journal::record`]).
    pub(crate) async fn record(
        &self,
        action: &'static str,
        detail: Value,
        text: Option<String>,
        outcome: tenancy::audit::Outcome,
    ) {
        self.journal.record(action, detail, text, outcome).await;
    }

    /// Run `deploy.start_command` / `stop_command` for `slot`.
    pub(crate) async fn hook(&self, hook: Hook, slot: Slot) -> Result<()> {
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
    pub(crate) async fn all_blue(&self) -> Result<()> {
        let mut last = None;
        for _ in 0..10 {
            match self.traffic().set_weights(Weights::ALL_BLUE).await {
                Ok(()) => {
                    let _ = store::set_weight(self.owner(), self.id, 0).await;
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
    pub(crate) async fn requested(&self) -> Option<Request> {
        tokio::time::timeout(STORE_TIMEOUT, store::requested(self.owner(), self.id))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
    }

    pub(crate) async fn rollback_requested(&self) -> bool {
        self.requested().await == Some(Request::Rollback)
    }

    /// Stop the new slot and close the deployment as rolled back (no
    /// traffic, or traffic already back on blue).
    pub(crate) async fn rolled_back(&self, trigger: &str, detail: &str) -> Result<Finished> {
        self.hook(Hook::Stop, self.to).await.unwrap_or_else(|e| {
            tracing::error!(error = format!("{e:#}"), "stopping the new slot failed")
        });
        store::finish(
            self.owner(),
            self.id,
            Status::RolledBack,
            Some(trigger),
            Some(detail),
        )
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

    /// A failure before any traffic moved: stop the new slot (if it was
    /// started), close as failed.
    async fn failed(&self, phase: Phase, e: &anyhow::Error) -> Result<Finished> {
        let reason = format!("{phase}: {e:#}");
        if phase >= Phase::Start {
            self.hook(Hook::Stop, self.to).await.unwrap_or_else(|e| {
                tracing::error!(error = format!("{e:#}"), "stopping the new slot failed")
            });
        }
        store::finish(self.owner(), self.id, Status::Failed, None, Some(&reason)).await?;
        self.record(
            "deployment.failed",
            json!({"phase": phase, "reason": reason}),
            Some(format!("failed in {phase}: {e:#}; no traffic was moved")),
            tenancy::audit::Outcome::Failure,
        )
        .await;
        Ok(Finished::Failed(reason))
    }

    /// Run the phases from `from` on. `first`: no running version.
    pub(crate) async fn drive(&self, from: Phase, first: bool) -> Result<Finished> {
        let mut run = Run::new(first);
        for phase in from.and_after() {
            if self.is_lost() {
                bail!(
                    "deployment {} was taken over by another controller; this one stopped in {phase}",
                    self.id
                );
            }
            // Until traffic moves, a signal fails the deployment and an
            // operator's rollback is honoured between phases.
            if phase < Phase::Shift {
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
            store::set_phase(self.owner(), self.id, phase).await?;
            match self.run_phase(phase, &mut run).await {
                Err(e) if self.is_lost() => {
                    return Err(e.context(format!(
                        "deployment {} was taken over by another controller; this one stopped in {phase} without touching it",
                        self.id
                    )));
                }
                Ok(Some(finished)) => return Ok(finished),
                Ok(None) => {}
                // Before traffic moves, a failure ends the deployment.
                Err(e) if phase < Phase::Shift => return self.failed(phase, &e).await,
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
        store::finish(self.owner(), self.id, Status::Promoted, None, None).await?;
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
}
