//! `p360 jobs list|retry`: background jobs, newest first; a dead job run
//! again with fresh attempts (audited, as `POST /v1/jobs/{id}/retry` is).

use anyhow::Result;
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// queued, running, succeeded, dead or superseded.
        #[arg(long)]
        status: Option<String>,
        /// Job kind, e.g. ttd.sync_campaign.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Run a dead job again with fresh attempts (or a waiting one now).
    Retry {
        /// The job id.
        id: uuid::Uuid,
    },
}

pub async fn run(config: Config, action: JobsCommand, shutdown: Shutdown) -> Result<Outcome> {
    with_database(&config.platform, &shutdown, |db| async move {
        match action {
            JobsCommand::List {
                status,
                kind,
                limit,
            } => {
                if let Some(s) = &status
                    && !platform::jobs::STATUSES.contains(&s.as_str())
                {
                    anyhow::bail!(
                        "--status must be one of {}",
                        platform::jobs::STATUSES.join(", ")
                    );
                }
                if !(1..=10_000).contains(&limit) {
                    anyhow::bail!("--limit must be between 1 and 10000");
                }
                let jobs = operations::jobs::list(
                    &db.pool,
                    &platform::jobs::JobFilter {
                        status,
                        kind,
                        before: None,
                        limit,
                    },
                )
                .await?;
                println!(
                    "{:<36}  {:<20}  {:<10}  {:>8}  {:<20}  last error",
                    "id", "kind", "status", "attempts", "run at"
                );
                for j in jobs {
                    let error: String = j
                        .last_error
                        .unwrap_or_default()
                        .replace('\n', " ")
                        .chars()
                        .take(80)
                        .collect();
                    println!(
                        "{:<36}  {:<20}  {:<10}  {:>8}  {:<20}  {error}",
                        j.id,
                        j.kind,
                        j.status,
                        format!("{}/{}", j.attempts, j.max_attempts),
                        j.run_at.format("%Y-%m-%d %H:%M:%S"),
                    );
                }
            }
            JobsCommand::Retry { id } => {
                // An operator on the machine itself: a system path.
                let job = operations::jobs::retry(
                    &db.pool,
                    tenancy::scope::AllTenants::system(),
                    &tenancy::principal::Actor::System,
                    &tenancy::audit::RequestMeta::default(),
                    id,
                    "cli",
                )
                .await
                .map_err(|e| anyhow::anyhow!("cannot retry job {id}: {e}"))?;
                println!("job {id} ({}) queued again", job.kind);
            }
        }
        Ok(())
    })
    .await
}
