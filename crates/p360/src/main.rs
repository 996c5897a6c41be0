//! `p360`: the one binary of P360 Display. Argument parsing and wiring only;
//! what each command does lives in the platform and capability crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use p360::Config;
use platform::commands::{self, MigrateAction, Outcome, ServeOptions};
use platform::config::{AppConfig, CliOverrides};
use platform::shutdown::Shutdown;
use platform::telemetry::{self, BuildInfo, LogTarget};

const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    git_sha: env!("BUILD_GIT_SHA"),
};

#[derive(Parser, Debug)]
#[command(
    name = "p360",
    version,
    about = "P360 Display: B2B account-based display advertising"
)]
struct Cli {
    /// TOML configuration file (layered over the defaults, under P360_* variables).
    #[arg(long, global = true, env = "P360_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for everything the embedded defaults keep on disk [default: ./var].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the API server (migrating the database first unless --no-migrate).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8360].
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
        /// Do not run background job workers in this process (run `p360 worker` instead).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run background job workers only.
    Worker,
    /// Apply, revert or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateCommand,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Database utilities.
    Db {
        #[command(subcommand)]
        action: DbCommand,
    },
    /// Print a bearer token from the built-in development issuer (not in production).
    Token {
        /// Tenant slug (customer roles).
        #[arg(long)]
        tenant: Option<String>,
        /// Role, e.g. platform_admin, customer_admin, marketer, viewer.
        #[arg(long)]
        role: String,
        /// E-mail address (and subject) of the user [default: ROLE@TENANT.p360.test,
        /// or ROLE@agency.p360.test for staff, so each role is its own user].
        #[arg(long)]
        email: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Audit log utilities.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Background jobs: list them, retry dead ones.
    Jobs {
        #[command(subcommand)]
        action: JobsCommand,
    },
    /// Blue-green deployments.
    Deploy {
        #[command(subcommand)]
        action: DeployCommand,
    },
    /// Partner API sandboxes that speak the partners' wire formats.
    Sandbox {
        #[command(subcommand)]
        partner: SandboxCommand,
    },
}

#[derive(Subcommand, Debug)]
enum DeployCommand {
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

#[derive(Subcommand, Debug)]
enum JobsCommand {
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

#[derive(Subcommand, Debug)]
enum SandboxCommand {
    /// The Trade Desk's platform API v3 (in memory), with optional faults.
    Ttd {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8361")]
        listen: std::net::SocketAddr,
        /// Share of requests (0 to 1) that meet a fault: 429, 500, 503, a slow
        /// answer, or a create whose answer is lost.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Seed of the fault sequence.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Accept only this login (else any non-empty one).
        #[arg(long)]
        login: Option<String>,
        /// Accept only this password (else any non-empty one).
        #[arg(long, env = "P360_SANDBOX_TTD_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// How long a lost answer keeps the client waiting, in milliseconds.
        #[arg(long, default_value_t = 15_000)]
        lost_hang_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check every hash chain of the audit log; exits 1 naming the first broken link.
    Verify,
}

#[derive(Subcommand, Debug)]
enum MigrateCommand {
    /// Apply every pending migration.
    Up,
    /// Revert the most recently applied migration.
    Down,
    /// List applied and pending migrations.
    Status,
    /// List pending migrations by class: expand (safe while the running
    /// version serves) or contract (only once it is gone).
    Plan,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Print a connection URL for the database in use (e.g. `psql "$(p360 db url)"`).
    Url,
    /// Stop an embedded cluster that no running p360 process owns.
    Stop,
    /// pg_dump the database to the object store (backups/<time>-v<migration>.dump).
    Backup,
}

fn main() -> ExitCode {
    // One TLS crypto provider for every client (PostgreSQL, Redis, HTTPS):
    // aws-lc-rs, chosen explicitly so that no dependency's default can make
    // rustls ambiguous at run time.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => *listen,
        _ => None,
    };
    let overrides = CliOverrides {
        data_dir: cli.data_dir.clone(),
        listen,
    };
    let config = match Config::from_process(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let target = match cli.command {
        Command::Serve { .. } | Command::Worker => LogTarget::Stdout,
        _ => LogTarget::Stderr,
    };
    let log_cfg = match target {
        LogTarget::Stdout => config.platform.log.clone(),
        // One-shot commands keep stderr quiet unless something is wrong.
        LogTarget::Stderr => platform::config::LogConfig {
            level: "warn".into(),
            ..config.platform.log.clone()
        },
    };
    telemetry::init_logging(&log_cfg, target);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(Outcome::Completed) => ExitCode::SUCCESS,
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) => fail(&format!("{e:#}")),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<Outcome> {
    let shutdown = Shutdown::on_signals()?;
    match command {
        Command::Serve {
            no_migrate,
            no_worker,
            ..
        } => {
            let wrap = p360::wrap_routes(&config);
            commands::serve(
                config.platform.clone(),
                BUILD,
                ServeOptions {
                    no_migrate,
                    no_worker,
                },
                |state| p360::api_routes(state, &config),
                wrap,
                |listen| p360::job_registry_at(&config, listen),
                shutdown,
            )
            .await
        }
        Command::Worker => {
            let jobs = p360::job_registry(&config)?;
            commands::worker(config.platform, jobs, shutdown).await
        }
        Command::Migrate { action } => {
            let action = match action {
                MigrateCommand::Up => MigrateAction::Up,
                MigrateCommand::Down => MigrateAction::Down,
                MigrateCommand::Status => MigrateAction::Status,
                MigrateCommand::Plan => MigrateAction::Plan,
            };
            commands::migrate(config.platform, action, shutdown).await
        }
        Command::Config => {
            print!("{}", config.to_redacted_toml());
            Ok(Outcome::Completed)
        }
        Command::Db {
            action: DbCommand::Url,
        } => {
            println!("{}", commands::db_url(&config.platform).await?);
            Ok(Outcome::Completed)
        }
        Command::Token {
            tenant,
            role,
            email,
            ttl,
        } => {
            let email = email.unwrap_or_else(|| {
                format!("{role}@{}.p360.test", tenant.as_deref().unwrap_or("agency"))
            });
            token(
                &config,
                tenancy::auth::dev::DevClaims {
                    tenant,
                    role,
                    email,
                    ttl_secs: ttl,
                },
            )
        }
        Command::Audit {
            action: AuditCommand::Verify,
        } => audit_verify(config, shutdown).await,
        Command::Jobs { action } => jobs_command(config, action, shutdown).await,
        Command::Deploy {
            action: DeployCommand::Preflight { first },
        } => commands::deploy_preflight(config.platform, first, shutdown).await,
        Command::Deploy {
            action: DeployCommand::Smoke { url, release },
        } => {
            let checks = deploy::smoke::run(&url, release.as_deref()).await;
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
        Command::Deploy {
            action:
                action @ (DeployCommand::Start { .. }
                | DeployCommand::Resume
                | DeployCommand::Status
                | DeployCommand::Promote
                | DeployCommand::Rollback
                | DeployCommand::History { .. }),
        } => deploy_command(config, action, shutdown).await,
        Command::Deploy {
            action:
                DeployCommand::Drill {
                    frontend,
                    rate,
                    dwell_ms,
                    error_rate,
                },
        } => {
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
        Command::Sandbox {
            partner:
                SandboxCommand::Ttd {
                    listen,
                    fault_rate,
                    seed,
                    login,
                    password,
                    lost_hang_ms,
                },
        } => {
            if !(0.0..=1.0).contains(&fault_rate) {
                anyhow::bail!("--fault-rate must be between 0 and 1, not {fault_rate}");
            }
            let options = activation::ttd::sandbox::SandboxOptions {
                login,
                password,
                fault_rate,
                seed,
                lost_hang: std::time::Duration::from_millis(lost_hang_ms),
                ..Default::default()
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            println!(
                "TTD sandbox listening on http://{} (fault rate {fault_rate}, seed {seed})",
                listener.local_addr()?
            );
            let app = activation::ttd::sandbox::router(options);
            let stop = shutdown.clone();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await?;
            Ok(Outcome::Completed)
        }
        Command::Db {
            action: DbCommand::Backup,
        } => commands::db_backup(config.platform, shutdown).await,
        Command::Db {
            action: DbCommand::Stop,
        } => {
            if commands::db_stop(&config.platform).await? {
                println!(
                    "stopped the embedded cluster in {}",
                    config.platform.data_dir.display()
                );
            } else {
                println!(
                    "no embedded cluster is running in {}",
                    config.platform.data_dir.display()
                );
            }
            Ok(Outcome::Completed)
        }
    }
}

fn token(config: &Config, claims: tenancy::auth::dev::DevClaims) -> anyhow::Result<Outcome> {
    if !config.auth.dev_issuer_enabled(config.platform.mode) {
        anyhow::bail!(
            "the development issuer is disabled (production mode or auth.dev_issuer = false)"
        );
    }
    let role = tenancy::roles::Role::parse(&claims.role).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role {}; one of: {}",
            claims.role,
            tenancy::roles::Role::ALL.map(|r| r.as_str()).join(", ")
        )
    })?;
    if role.kind() == tenancy::roles::UserKind::Customer && claims.tenant.is_none() {
        anyhow::bail!("--tenant SLUG is required for the customer role {role}");
    }
    let token = tenancy::auth::dev_token(&config.platform.data_dir, &claims)?;
    eprintln!(
        "# {} token for {}{}, valid {} s; use it as: Authorization: Bearer <token>",
        role,
        claims.email,
        claims
            .tenant
            .as_deref()
            .map(|t| format!(" in tenant {t}"))
            .unwrap_or_default(),
        claims.ttl_secs
    );
    println!("{token}");
    Ok(Outcome::Completed)
}

async fn audit_verify(config: Config, shutdown: Shutdown) -> anyhow::Result<Outcome> {
    let broken = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let found = broken.clone();
    let outcome = commands::with_database(&config.platform, &shutdown, |db| async move {
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

async fn jobs_command(
    config: Config,
    action: JobsCommand,
    shutdown: Shutdown,
) -> anyhow::Result<Outcome> {
    commands::with_database(&config.platform, &shutdown, |db| async move {
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
                let jobs = platform::jobs::list(
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
                let mut tx =
                    tenancy::scope::begin(&db.pool, &tenancy::scope::Visibility::All).await?;
                let job = platform::jobs::retry(&mut tx, id)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot retry job {id}: {e}"))?;
                tenancy::audit::record(
                    &mut tx,
                    &tenancy::auth::Actor::System,
                    &tenancy::audit::RequestMeta::default(),
                    tenancy::audit::NewEvent {
                        tenant: None,
                        action: "job.retried",
                        target_type: "job",
                        target_id: Some(id.to_string()),
                        changes: serde_json::json!({"after": {"status": job.status, "kind": job.kind}, "via": "cli"}),
                        outcome: tenancy::audit::Outcome::Success,
                    },
                )
                .await?;
                tx.commit().await?;
                println!("job {id} ({}) queued again", job.kind);
            }
        }
        Ok(())
    })
    .await
}

/// The deployment commands. A deploy is not cut short by a signal: the
/// controller sees it and rolls back (or fails before moving traffic).
async fn deploy_command(
    config: Config,
    action: DeployCommand,
    shutdown: Shutdown,
) -> anyhow::Result<Outcome> {
    use ::release::deployment::{self as release, Finished};
    use std::sync::Arc;
    let config = Arc::new(config.release());
    let database = tokio::select! {
        db = platform::db::Database::open(&config.platform) => Arc::new(db?),
        _ = shutdown.wait() => return Ok(Outcome::Interrupted),
    };
    let pool = database.owner.clone();
    let result = async {
        let finished = match action {
            DeployCommand::Start { version, first } => {
                release::start(config.clone(), database.clone(), version, first, shutdown).await?
            }
            DeployCommand::Resume => {
                release::resume(config.clone(), database.clone(), shutdown).await?
            }
            DeployCommand::Rollback => {
                println!(
                    "{}",
                    release::rollback(config.clone(), database.clone(), shutdown).await?
                );
                return Ok(());
            }
            DeployCommand::Promote => {
                println!("{}", release::promote(&config, &pool).await?);
                return Ok(());
            }
            DeployCommand::Status => {
                print!("{}", release::status(&config, &pool).await?);
                return Ok(());
            }
            DeployCommand::History { limit } => {
                print!("{}", release::history(&pool, limit).await?);
                return Ok(());
            }
            _ => unreachable!("only deployment commands come here"),
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

/// Errors end the process with one line on stderr.
fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}
