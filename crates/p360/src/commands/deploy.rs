//! `p360 deploy ...`: blue-green deployments. `preflight` and `smoke` check
//! a deploy's preconditions and a new instance; `start`, `resume`, `status`,
//! `promote`, `rollback` and `history` are the release process of the
//! `release` crate; `drill` demonstrates it on this machine.

use std::sync::Arc;

use anyhow::Result;
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::db::{self, Database};
use platform::shutdown::Shutdown;
use release::deployment::{self, Finished};

#[derive(Subcommand, Debug)]
pub enum DeployCommand {
    /// Deploy a version to the idle slot: preflight, backup, expand
    /// migrations, start it, smoke-test it, shift traffic step by step with
    /// automatic rollback, stop the old slot, contract migrations.
    Start {
        /// The release label the new slot must report (e.g. the image tag).
        #[arg(long)]
        version: String,
        /// The first deploy: nothing serves yet; every migration runs first.
        #[arg(long)]
        first: bool,
    },
    /// Take over a deployment whose controller is gone, from where it stopped.
    Resume,
    /// The deployment in progress (else the latest) and the load balancer's weights.
    Status,
    /// Skip the remaining dwell of the deployment in progress.
    Promote,
    /// Put all traffic back on the serving slot and stop the new one.
    Rollback,
    /// Past deployments, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Run the smoke suite against an instance.
    Smoke {
        /// The instance's base URL, e.g. http://127.0.0.1:8362.
        #[arg(long)]
        url: String,
        /// The release label it must report.
        #[arg(long)]
        release: Option<String>,
    },
    /// Check that a deploy may start: which migrations run before green
    /// starts (expand) and after blue is gone (contract); exit 1 naming a
    /// migration that would break the running version.
    Preflight {
        /// The first deploy: no running version, every migration may run first.
        #[arg(long)]
        first: bool,
    },
    /// Demonstrate a good and a bad rollout through HAProxy on this machine
    /// (needs Debian's haproxy); the last line is machine-readable.
    Drill {
        /// Where HAProxy listens.
        #[arg(long, value_name = "ADDR")]
        frontend: std::net::SocketAddr,
        /// Requests per second through the frontend.
        #[arg(long, default_value_t = 200)]
        rate: u64,
        /// Dwell of each traffic step, in milliseconds.
        #[arg(long, default_value_t = 1500)]
        dwell_ms: u64,
        /// Share of requests the faulty green fails.
        #[arg(long, default_value_t = 0.2)]
        error_rate: f64,
    },
}

/// What a deployment command does to a deployment, once the database is open.
enum Operation {
    Start { version: String, first: bool },
    Resume,
    Status,
    Promote,
    Rollback,
    History { limit: i64 },
}

pub async fn run(config: Config, action: DeployCommand, shutdown: Shutdown) -> Result<Outcome> {
    let operation = match action {
        DeployCommand::Preflight { first } => return preflight(config, first, shutdown).await,
        DeployCommand::Smoke { url, release } => return smoke(&url, release.as_deref()).await,
        DeployCommand::Drill {
            frontend,
            rate,
            dwell_ms,
            error_rate,
        } => return drill(frontend, rate, dwell_ms, error_rate, shutdown).await,
        DeployCommand::Start { version, first } => Operation::Start { version, first },
        DeployCommand::Resume => Operation::Resume,
        DeployCommand::Status => Operation::Status,
        DeployCommand::Promote => Operation::Promote,
        DeployCommand::Rollback => Operation::Rollback,
        DeployCommand::History { limit } => Operation::History { limit },
    };
    operate(config, operation, shutdown).await
}

/// `p360 deploy preflight`: may a blue-green deploy start against this
/// database, and which migrations run when? Fails naming the migration that
/// would break the running version. `first`: nothing runs yet, so every
/// migration may run before the new version starts.
async fn preflight(config: Config, first: bool, shutdown: Shutdown) -> Result<Outcome> {
    with_database(&config.platform, &shutdown, |database| async move {
        let pending = db::pending_migrations(&database.owner).await?;
        let line = |m: &db::MigrationStatus| {
            format!(
                "  {} {} ({})",
                m.version,
                m.description,
                m.class.map(|c| c.to_string()).unwrap_or_default()
            )
        };
        if first {
            println!(
                "first deploy: no running version to protect; {} migration(s) run before start",
                pending.len()
            );
            for m in &pending {
                println!("{}", line(m));
            }
            return Ok(());
        }
        let plan = db::deploy_plan(&pending).map_err(|e| anyhow::anyhow!("deploy refused: {e}"))?;
        println!("before green starts ({}):", plan.before_green.len());
        for m in &plan.before_green {
            println!("{}", line(m));
        }
        println!("after blue is gone ({}):", plan.after_blue.len());
        for m in &plan.after_blue {
            println!("{}", line(m));
        }
        println!("preflight passed");
        Ok(())
    })
    .await
}

/// `p360 deploy smoke`: the smoke suite a deploy runs, against any instance.
async fn smoke(url: &str, release: Option<&str>) -> Result<Outcome> {
    let checks = deploy::smoke::run(url, release).await;
    for c in &checks {
        println!(
            "{} {:<8} {:>5} ms  {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.ms,
            c.detail
        );
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} smoke checks failed", checks.len());
    }
    Ok(Outcome::Completed)
}

/// `p360 deploy drill`: a good and a bad rollout through HAProxy here.
async fn drill(
    frontend: std::net::SocketAddr,
    rate: u64,
    dwell_ms: u64,
    error_rate: f64,
    shutdown: Shutdown,
) -> Result<Outcome> {
    if !(0.0..=1.0).contains(&error_rate) || rate == 0 {
        anyhow::bail!("--error-rate must be between 0 and 1 and --rate positive");
    }
    let opts = release::drill::DrillOptions {
        frontend,
        rate,
        dwell: std::time::Duration::from_millis(dwell_ms),
        error_rate,
    };
    let summary = tokio::select! {
        s = release::drill::drill(&opts) => s?,
        _ = shutdown.wait() => return Ok(Outcome::Interrupted),
    };
    println!("{}", summary.line());
    if summary.good_failed > 0 || !summary.bad_rolled_back {
        anyhow::bail!("the drill failed: {}", summary.line());
    }
    Ok(Outcome::Completed)
}

/// The deployment commands proper. A deploy is not cut short by a signal:
/// the controller sees it and rolls back (or fails before moving traffic).
async fn operate(config: Config, operation: Operation, shutdown: Shutdown) -> Result<Outcome> {
    let config = Arc::new(config.release());
    let database = tokio::select! {
        db = Database::open(&config.platform) => Arc::new(db?),
        _ = shutdown.wait() => return Ok(Outcome::Interrupted),
    };
    let pool = database.owner.clone();
    let result = async {
        let finished = match operation {
            Operation::Start { version, first } => {
                deployment::start(config.clone(), database.clone(), version, first, shutdown)
                    .await?
            }
            Operation::Resume => {
                deployment::resume(config.clone(), database.clone(), shutdown).await?
            }
            Operation::Rollback => {
                println!(
                    "{}",
                    deployment::rollback(config.clone(), database.clone(), shutdown).await?
                );
                return Ok(());
            }
            Operation::Promote => {
                println!("{}", deployment::promote(&config, &pool).await?);
                return Ok(());
            }
            Operation::Status => {
                print!("{}", deployment::status(&config, &pool).await?);
                return Ok(());
            }
            Operation::History { limit } => {
                print!("{}", deployment::history(&pool, limit).await?);
                return Ok(());
            }
        };
        match finished {
            Finished::Promoted => Ok(()),
            Finished::RolledBack { trigger, detail } => {
                anyhow::bail!("the deployment was rolled back ({trigger}: {detail})")
            }
            Finished::Failed(reason) => anyhow::bail!("the deployment failed in {reason}"),
        }
    }
    .await;
    drop(pool);
    let closed = match Arc::into_inner(database) {
        Some(db) => db.close().await,
        None => Ok(()),
    };
    result?;
    closed?;
    Ok(Outcome::Completed)
}
