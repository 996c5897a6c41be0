//! `p360 audit verify`: recompute every hash chain of the audit log and
//! check it against the newest checkpoint kept outside the database; fails
//! naming the broken links. `p360 audit checkpoint`: take one now.

use anyhow::Result;
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;
use tenancy::audit::checkpoint::{Checkpoints, Finding};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every hash chain of the audit log, and the chains against the
    /// newest checkpoint; exits 1 naming the first broken link.
    Verify {
        /// This database was restored to an earlier point in time: chains
        /// that are whole but end before the checkpoint are reported, not
        /// failed.
        #[arg(long)]
        restored: bool,
        /// Also check every archived month (the file, each event's hash and
        /// link, the chains across months, the events still in the table).
        #[arg(long)]
        archive: bool,
    },
    /// Export each month older than `audit.archive_after_days` (90) that is
    /// not archived yet to the audit archive, as gzip NDJSON with the hashes
    /// (the worker's daily `audit.archive` job does this too).
    Archive {
        /// Then drop each archived month older than that from the table
        /// (its partition), once its archive read back holds exactly the
        /// table's events.
        #[arg(long)]
        drop: bool,
    },
    /// Write a signed checkpoint of every chain's head to object storage
    /// (the worker takes one every `audit.checkpoint_every_secs`).
    Checkpoint,
}

pub async fn run(config: Config, action: AuditCommand, shutdown: Shutdown) -> Result<Outcome> {
    match action {
        AuditCommand::Verify { restored, archive } => {
            verify(config, restored, archive, shutdown).await
        }
        AuditCommand::Archive { drop } => archive(config, drop, shutdown).await,
        AuditCommand::Checkpoint => checkpoint(config, shutdown).await,
    }
}

async fn verify(
    config: Config,
    restored: bool,
    archive: bool,
    shutdown: Shutdown,
) -> Result<Outcome> {
    let checkpoints = Checkpoints::from_config(&config.audit, &config.platform)?;
    let findings = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), Vec::new())));
    let found = findings.clone();
    let outcome = with_database(&config.platform, &shutdown, |db| async move {
        let report = tenancy::audit::verify(&db.owner).await?;
        println!(
            "checked {} chain(s), {} event(s)",
            report.chains, report.events
        );
        if report.dropped_months > 0 && !archive {
            println!(
                "{} archived month(s) are no longer in the table: --archive checks them",
                report.dropped_months
            );
        }
        let mut tampered = report.broken;
        let mut truncated = Vec::new();
        match checkpoints.latest().await? {
            Some((name, checkpoint)) => {
                println!(
                    "against checkpoint {name} ({} chain(s))",
                    checkpoint.chains.len()
                );
                for f in checkpoints.check(&db.owner, &checkpoint).await? {
                    match f {
                        Finding::Tampered(p) => tampered.push(p),
                        Finding::Truncated(t) => truncated.push(t),
                    }
                }
            }
            None => println!("no checkpoint yet (p360 audit checkpoint takes one)"),
        }
        if archive {
            let a = tenancy::audit::archive::verify(&db.owner, &checkpoints).await?;
            println!(
                "checked the archive: {} month(s), {} event(s)",
                a.months, a.events
            );
            tampered.extend(a.problems);
        }
        *found.lock().unwrap() = (tampered, truncated);
        Ok(())
    })
    .await?;
    let (tampered, truncated) = findings.lock().unwrap().clone();
    if !tampered.is_empty() {
        anyhow::bail!("audit log tampered: {}", tampered.join("; "));
    }
    for t in &truncated {
        println!("truncated: {t}");
    }
    if !truncated.is_empty() && !restored {
        anyhow::bail!(
            "audit chains end before the newest checkpoint ({} chain(s)): if this database was \
             restored to an earlier point in time, run `p360 audit verify --restored`; otherwise \
             their tails were removed",
            truncated.len()
        );
    }
    if outcome == Outcome::Completed {
        if truncated.is_empty() {
            println!("every chain is intact");
        } else {
            println!(
                "every chain is intact up to the restore point ({} end before the checkpoint)",
                truncated.len()
            );
        }
    }
    Ok(outcome)
}

async fn archive(config: Config, drop: bool, shutdown: Shutdown) -> Result<Outcome> {
    let checkpoints = Checkpoints::from_config(&config.audit, &config.platform)?;
    let after = config.audit.archive_after_days;
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        let storage = checkpoints.storage();
        let pass =
            tenancy::audit::retention::run(&db.owner, storage, chrono::Utc::now(), after, drop)
                .await?;
        if pass.archived.is_empty() {
            println!("nothing to archive: every month older than {after} days is archived");
        }
        for (month, events) in pass.archived {
            println!(
                "archived {month}: {events} event(s) in {}",
                storage.describe
            );
        }
        for (month, events) in pass.dropped {
            println!("dropped {month} from the table: {events} event(s), archived");
        }
        Ok(())
    })
    .await
}

async fn checkpoint(config: Config, shutdown: Shutdown) -> Result<Outcome> {
    let checkpoints = Checkpoints::from_config(&config.audit, &config.platform)?;
    with_database(&config.platform, &shutdown, |db| async move {
        let (name, checkpoint) = checkpoints.take(&db.owner).await?;
        println!("checkpoint {name}: {} chain(s)", checkpoint.chains.len());
        Ok(())
    })
    .await
}
