//! `p360 audit verify`: recompute every hash chain of the audit log and
//! check it against the newest checkpoint kept outside the database; fails
//! naming the broken links. `p360 audit checkpoint`: take one now.

use anyhow::Result;
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;
use tenancy::audit::checkpoint::Checkpoints;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every hash chain of the audit log, and the chains against the
    /// newest checkpoint; exits 1 naming the first broken link.
    Verify,
    /// Write a signed checkpoint of every chain's head to object storage
    /// (the worker takes one every `audit.checkpoint_every_secs`).
    Checkpoint,
}

pub async fn run(config: Config, action: AuditCommand, shutdown: Shutdown) -> Result<Outcome> {
    match action {
        AuditCommand::Verify => verify(config, shutdown).await,
        AuditCommand::Checkpoint => checkpoint(config, shutdown).await,
    }
}

async fn verify(config: Config, shutdown: Shutdown) -> Result<Outcome> {
    let checkpoints = Checkpoints::from_config(&config.audit, &config.platform)?;
    let broken = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let found = broken.clone();
    let outcome = with_database(&config.platform, &shutdown, |db| async move {
        let report = tenancy::audit::verify(&db.owner).await?;
        println!(
            "checked {} chain(s), {} event(s)",
            report.chains, report.events
        );
        let mut problems = report.broken;
        match checkpoints.latest().await? {
            Some((name, checkpoint)) => {
                println!(
                    "against checkpoint {name} ({} chain(s))",
                    checkpoint.chains.len()
                );
                problems.extend(checkpoints.check(&db.owner, &checkpoint).await?);
            }
            None => println!("no checkpoint yet (p360 audit checkpoint takes one)"),
        }
        *found.lock().unwrap() = problems;
        Ok(())
    })
    .await?;
    let broken = broken.lock().unwrap().clone();
    if !broken.is_empty() {
        anyhow::bail!("audit log tampered: {}", broken.join("; "));
    }
    if outcome == Outcome::Completed {
        println!("every chain is intact");
    }
    Ok(outcome)
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
