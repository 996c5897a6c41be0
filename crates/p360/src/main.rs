//! `p360`: the one binary of P360 Display. Argument parsing and dispatch
//! only; what each command does lives in `commands/`, on the platform and
//! capability crates.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::Outcome;
use commands::audit::AuditCommand;
use commands::backup::{BackupCommand, RestoreArgs};
use commands::companies::CompaniesCommand;
use commands::db::DbCommand;
use commands::delivery::DeliveryCommand;
use commands::deploy::DeployCommand;
use commands::dr::DrCommand;
use commands::fx::FxCommand;
use commands::generate::GenerateCommand;
use commands::intent::IntentCommand;
use commands::jobs::JobsCommand;
use commands::migrate::MigrateCommand;
use commands::restore_check::RestoreCheckArgs;
use commands::sandbox::SandboxCommand;
use commands::serve::ServeArgs;
use commands::token::TokenArgs;
use p360::Config;
use platform::config::{CliOverrides, LogConfig};
use platform::shutdown::Shutdown;
use platform::telemetry::{self, LogTarget};

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
    Serve(ServeArgs),
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
    Token(TokenArgs),
    /// Audit log utilities.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// The company universe: import it from files.
    Companies {
        #[command(subcommand)]
        action: CompaniesCommand,
    },
    /// Exchange rates attribution converts opportunities with.
    Fx {
        #[command(subcommand)]
        action: FxCommand,
    },
    /// Delivery: ingest TTD's raw event feed (REDS) files.
    Delivery {
        #[command(subcommand)]
        action: DeliveryCommand,
    },
    /// Intent data: ingest a week's Company Surge file.
    Intent {
        #[command(subcommand)]
        action: IntentCommand,
    },
    /// Deterministic synthetic files (companies, IP ranges, account lists,
    /// surge weeks, REDS hours) for benchmarks and demos.
    Generate {
        #[command(subcommand)]
        what: GenerateCommand,
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
    /// Backups of the embedded cluster (pgBackRest): take, list, verify.
    Backup {
        #[command(subcommand)]
        action: BackupCommand,
    },
    /// Restore the embedded cluster from its backups into a new data dir
    /// (--data-dir), to a point in time or the latest.
    Restore(RestoreArgs),
    /// Disaster recovery: the drill that loses the primary and measures RPO and RTO.
    Dr {
        #[command(subcommand)]
        action: DrCommand,
    },
    /// Check that a restored database is whole (migrations, audit chains,
    /// creative files) before anything is pointed at it.
    RestoreCheck(RestoreCheckArgs),
    /// Partner API sandboxes that speak the partners' wire formats.
    Sandbox {
        #[command(subcommand)]
        partner: SandboxCommand,
    },
}

fn main() -> ExitCode {
    // One TLS crypto provider for every client (PostgreSQL, Redis, HTTPS):
    // aws-lc-rs, chosen explicitly so that no dependency's default can make
    // rustls ambiguous at run time.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve(args) => args.listen,
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
        Command::Serve(_) | Command::Worker => LogTarget::Stdout,
        _ => LogTarget::Stderr,
    };
    let log_cfg = match target {
        LogTarget::Stdout => config.platform.log.clone(),
        // One-shot commands keep stderr quiet unless something is wrong.
        LogTarget::Stderr => LogConfig {
            level: "warn".into(),
            ..config.platform.log.clone()
        },
    };
    // Dropped last, after the runtime: writes out the queued log lines.
    let _log = telemetry::init_logging(&log_cfg, target);

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
        Command::Serve(args) => commands::serve::run(config, args, shutdown).await,
        Command::Worker => commands::worker::run(config, shutdown).await,
        Command::Migrate { action } => commands::migrate::run(config, action, shutdown).await,
        Command::Config => commands::config::run(&config),
        Command::Db { action } => commands::db::run(config, action, shutdown).await,
        Command::Token(args) => commands::token::run(&config, args),
        Command::Audit { action } => commands::audit::run(config, action, shutdown).await,
        Command::Companies { action } => commands::companies::run(config, action, shutdown).await,
        Command::Fx { action } => commands::fx::run(config, action, shutdown).await,
        Command::Generate { what } => commands::generate::run(what),
        Command::Intent { action } => commands::intent::run(config, action, shutdown).await,
        Command::Delivery { action } => commands::delivery::run(config, action, shutdown).await,
        Command::Jobs { action } => commands::jobs::run(config, action, shutdown).await,
        Command::Deploy { action } => commands::deploy::run(config, action, shutdown).await,
        Command::Backup { action } => commands::backup::run(config, action, shutdown).await,
        Command::Restore(args) => commands::backup::restore(config, args, shutdown).await,
        Command::Dr { action } => commands::dr::run(config, action, shutdown).await,
        Command::RestoreCheck(args) => commands::restore_check::run(config, args, shutdown).await,
        Command::Sandbox { partner } => commands::sandbox::run(partner, shutdown).await,
    }
}

/// Errors end the process with one line on stderr.
fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}
