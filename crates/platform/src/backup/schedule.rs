//! The recurring backup of the embedded cluster: every hour the worker
//! takes the backup the schedule wants, if any (a full one when the newest
//! full one is `backup.full_every_days` old, else a differential one when
//! the newest backup is `backup.diff_every_hours` old), pgBackRest expires
//! what retention no longer needs, and the repository's newest backups
//! become metrics (`p360_backup_last_*_timestamp_seconds`).

use anyhow::Result;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::config::PlatformConfig;
use crate::embedded_pg::backups::due;
use crate::embedded_pg::pgbackrest::Repo;
use crate::jobs::{Job, JobContext, Registry};

/// How often the worker looks at the schedule.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ScheduledBackup;

/// The repository and the schedule the job follows.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub repo: Repo,
    pub full_every_days: u32,
    pub diff_every_hours: u32,
}

impl Job for ScheduledBackup {
    const KIND: &'static str = "backup.scheduled";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Schedule;

    async fn run(self, ctx: JobContext<Schedule>) -> Result<()> {
        let s = &ctx.services;
        let mut info = s.repo.info().await?;
        if let Some(full) = due(&info, Utc::now(), s.full_every_days, s.diff_every_hours) {
            let b = s.repo.backup(full, false).await?;
            tracing::info!(
                label = %b.label,
                kind = %b.kind,
                size_bytes = b.size_bytes,
                repo_bytes = b.repo_bytes,
                seconds = (b.finished - b.started).num_seconds(),
                "scheduled backup taken"
            );
            metrics::counter!("p360_backups_total", "type" => b.kind.clone()).increment(1);
            info = s.repo.info().await?;
        }
        if let Some(b) = info.newest() {
            metrics::gauge!("p360_backup_last_timestamp_seconds")
                .set(b.finished.timestamp() as f64);
        }
        if let Some(b) = info.newest_full() {
            metrics::gauge!("p360_backup_last_full_timestamp_seconds")
                .set(b.finished.timestamp() as f64);
        }
        Ok(())
    }
}

/// `registry` with the recurring backup when the embedded cluster is
/// backed up (`backup.enabled`, no `database.url`).
pub fn register(registry: Registry, config: &PlatformConfig) -> Result<Registry> {
    match Repo::from_config(config)? {
        Some(repo) => registry.every(
            EVERY,
            &ScheduledBackup,
            Schedule {
                repo,
                full_every_days: config.backup.full_every_days,
                diff_every_hours: config.backup.diff_every_hours,
            },
        ),
        None => Ok(registry),
    }
}
