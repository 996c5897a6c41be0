//! What each phase of a deployment does: one function per phase on the
//! controller, chosen by an exhaustive `match` on [`Phase`].
//!
//! `preflight` (the migration plan) -> `backup` (a restore point: pgBackRest
//! or `pg_dump`) -> `expand` (migrations safe under the running version) -> `start`
//! (`deploy.start_command` for the new slot) -> `smoke` (readiness, then the
//! smoke suite against the new slot directly) -> `shift` (the rollout
//! controller: 5 -> 25 -> 50 -> 100 % with the rollback triggers) -> `drain`
//! (keep the old slot warm, then `deploy.stop_command`) -> `contract` (the
//! migrations the old version could not survive).

use std::time::{Duration, Instant};

use anyhow::Result;
use deploy::{Outcome, TrafficBackend};
use platform::db::{self, DeployPlan};
use serde_json::json;

use super::supervisor::Watch;
use super::{Controller, Hook};
use crate::backend::{self, Source};
use crate::migrations::{migration_class, migration_plan};
use crate::model::{Finished, Phase};
use crate::store;

/// What the phases of one run of a controller hand on: the migration plan
/// checked in `preflight` is the one `expand` applies.
pub(crate) struct Run {
    /// The first deploy: no running version to protect.
    pub first: bool,
    plan: Option<DeployPlan>,
}

impl Run {
    pub(crate) fn new(first: bool) -> Run {
        Run { first, plan: None }
    }
}

/// `Some` when the deployment ended in the phase (rolled back), `None` to
/// go on with the next one.
type Step = Result<Option<Finished>>;

impl Controller {
    /// Run one phase.
    pub(crate) async fn run_phase(&self, phase: Phase, run: &mut Run) -> Step {
        match phase {
            Phase::Preflight => self.preflight(run).await,
            Phase::Backup => self.backup().await,
            Phase::Expand => self.expand(run).await,
            Phase::Start => self.start().await,
            Phase::Smoke => self.smoke().await,
            Phase::Shift => self.shift().await,
            Phase::Drain => self.drain().await,
            Phase::Contract => self.contract().await,
        }
    }

    /// The migration plan: which migrations run before the new slot starts,
    /// which after the old one is gone (refused if the running version could
    /// not survive them).
    async fn preflight(&self, run: &mut Run) -> Step {
        let plan = migration_plan(self.owner(), run.first).await?;
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
        run.plan = Some(plan);
        Ok(None)
    }

    /// A restore point (`deploy.backup`), once per deployment: a pgBackRest
    /// backup of the embedded cluster, else `pg_dump` to the object store.
    async fn backup(&self) -> Step {
        let done = store::backup_key(self.owner(), self.id).await?;
        if self.cfg().backup && done.is_none() {
            let (key, size) =
                platform::backup::restore_point(&self.config.platform, &self.database).await?;
            store::set_backup_key(self.owner(), self.id, &key).await?;
            self.record(
                "deployment.backup_taken",
                json!({"key": key, "bytes": size}),
                Some(format!("backup {key} ({size} bytes)")),
                tenancy::audit::Outcome::Success,
            )
            .await;
        }
        Ok(None)
    }

    /// The migrations safe while the running version serves (on a first
    /// deploy, every pending one).
    async fn expand(&self, run: &mut Run) -> Step {
        let plan = match run.plan.take() {
            Some(p) => p,
            None => migration_plan(self.owner(), run.first).await?,
        };
        if let Some(last) = plan.before_green.last() {
            let applied = db::migrate_up_to(self.owner(), last.version).await?;
            self.record(
                "deployment.migrated",
                json!({"class": migration_class(run.first), "versions": applied}),
                Some(format!(
                    "{} migrations applied: {applied:?}",
                    migration_class(run.first)
                )),
                tenancy::audit::Outcome::Success,
            )
            .await;
        }
        Ok(None)
    }

    /// `deploy.start_command` for the new slot.
    async fn start(&self) -> Step {
        self.hook(Hook::Start, self.to).await?;
        Ok(None)
    }

    /// Readiness, then the smoke suite against the new slot itself; either
    /// failing rolls back (no traffic has moved).
    async fn smoke(&self) -> Step {
        let cfg = self.cfg();
        let ready = self.wait_ready().await;
        if !ready && self.rollback_requested().await {
            return Ok(Some(
                self.rolled_back("manual", "an operator asked (p360 deploy rollback)")
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
        let checks = deploy::smoke::run(&self.to.url(cfg), Some(&self.version)).await;
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
        Ok(None)
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

    /// The traffic shift, resumed at the load balancer's actual weight.
    async fn shift(&self) -> Step {
        let cfg = self.cfg();
        let mut plan = backend::plan(cfg);
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
        match deploy::rollout(&self.traffic(), &source, &plan, Watch::new(self)).await {
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
                            json!({"phase": Phase::Shift, "error": format!("{e:#}"), "rollback_error": format!("{e2:#}")}),
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

    /// Keep the old slot warm for `deploy.keep_blue_ms`, then
    /// `deploy.stop_command` for it.
    async fn drain(&self) -> Step {
        let keep = self.cfg().keep_blue_ms;
        if keep > 0 {
            println!("keeping the {} slot warm for {} ms", self.from.name(), keep);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(keep)) => {}
                _ = self.shutdown.wait() => {}
            }
        }
        self.hook(Hook::Stop, self.from).await?;
        Ok(None)
    }

    /// The rest of the migrations, now that the old version is gone.
    async fn contract(&self) -> Step {
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
        Ok(None)
    }
}
