//! `p360 audit verify`: recompute every hash chain of the audit log; fails
//! naming the broken links.

use anyhow::Result;
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every hash chain of the audit log; exits 1 naming the first broken link.
    Verify,
}

pub async fn run(config: Config, action: AuditCommand, shutdown: Shutdown) -> Result<Outcome> {
    match action {
        AuditCommand::Verify => verify(config, shutdown).await,
    }
}

async fn verify(config: Config, shutdown: Shutdown) -> Result<Outcome> {
    let broken = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let found = broken.clone();
    let outcome = with_database(&config.platform, &shutdown, |db| async move {
        let report = tenancy::audit::verify(&db.owner).await?;
        println!(
            "checked {} chain(s), {} event(s)",
            report.chains, report.events
        );
        *found.lock().unwrap() = report.broken;
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
