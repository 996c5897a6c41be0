//! What each subcommand does; the binary only parses arguments and calls these.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use secrecy::ExposeSecret;

use crate::config::PlatformConfig;
use crate::db::{self, Database};
use crate::embedded_pg;
use crate::http::AppState;
use crate::shutdown::Shutdown;
use crate::telemetry::BuildInfo;
use utoipa_axum::router::OpenApiRouter;

/// How a command ended: normally, or cut short by a signal (exit 130).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Interrupted,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    pub no_migrate: bool,
    /// Do not run background job workers in this process.
    pub no_worker: bool,
}

/// `p360 serve`: database, migrations, HTTP (`routes` are the capabilities'
/// endpoints) until SIGINT/SIGTERM, then an orderly stop.
pub async fn serve(
    config: PlatformConfig,
    build: BuildInfo,
    opts: ServeOptions,
    routes: impl FnOnce(&AppState) -> Result<OpenApiRouter<AppState>>,
    wrap: impl FnOnce(axum::Router<AppState>) -> axum::Router<AppState>,
    jobs: impl FnOnce(std::net::SocketAddr) -> Result<crate::jobs::Registry>,
    shutdown: Shutdown,
) -> Result<Outcome> {
    // Bind first: a port in use should not cost a database start.
    let listener = crate::server::bind(config.http.listen).await?;
    // Job kinds may call this very server (e.g. the in-process TTD sandbox),
    // so they are told the address actually bound (`--listen 127.0.0.1:0`).
    let jobs = jobs(listener.local_addr()?)?;
    let config = Arc::new(config);
    let Some(database) = until_shutdown(&shutdown, Database::open(&config)).await? else {
        return Ok(Outcome::Interrupted);
    };
    let result = async {
        if !opts.no_migrate {
            let applied = db::migrate_up(&database.owner).await?;
            if !applied.is_empty() {
                tracing::info!(versions = ?applied, "migrations applied");
            }
        }
        log_instance(&database).await;
        let state = AppState::new(database.pool.clone(), config.clone(), build).await?;
        let app = crate::http::router_with(state.clone(), routes(&state)?, wrap);
        let worker_pool = database.worker_pool(&config)?;
        let worker = (!opts.no_worker).then(|| {
            tokio::spawn(crate::jobs::run_worker(
                worker_pool.clone(),
                jobs,
                crate::jobs::WorkerConfig::from(&config.jobs),
                shutdown.clone(),
            ))
        });
        let served = crate::server::serve(listener, app, state, shutdown.clone()).await;
        if let Some(worker) = worker {
            // The server has stopped, so shutdown began: the worker drains and releases.
            shutdown.trigger();
            match worker.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "job worker failed"),
                Err(e) => tracing::warn!(error = %e, "job worker panicked"),
            }
        }
        served
    }
    .await;
    let closed = database.close().await;
    result?;
    closed?;
    Ok(Outcome::Completed)
}

async fn log_instance(database: &Database) {
    match sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM platform_instance")
        .fetch_optional(&database.pool)
        .await
    {
        Ok(Some(id)) => tracing::info!(instance_id = %id, "database ready"),
        Ok(None) => tracing::info!("database ready (not migrated)"),
        Err(e) => tracing::warn!(error = %e, "database ready; instance id unavailable"),
    }
}

/// `p360 worker`: run background jobs only (production scales them apart
/// from the API), until SIGINT/SIGTERM.
pub async fn worker(
    config: PlatformConfig,
    jobs: crate::jobs::Registry,
    shutdown: Shutdown,
) -> Result<Outcome> {
    let Some(database) = until_shutdown(&shutdown, Database::open(&config)).await? else {
        return Ok(Outcome::Interrupted);
    };
    // The worker sees the shutdown itself: it drains, then releases what is left.
    let result = async {
        let pool = database.worker_pool(&config)?;
        let ran = crate::jobs::run_worker(
            pool.clone(),
            jobs,
            crate::jobs::WorkerConfig::from(&config.jobs),
            shutdown,
        )
        .await;
        pool.close().await;
        ran
    }
    .await;
    let closed = database.close().await;
    result?;
    closed?;
    Ok(Outcome::Completed)
}

#[derive(Debug, Clone, Copy)]
pub enum MigrateAction {
    Up,
    Down,
    Status,
    Plan,
}

/// `p360 migrate up|down|status`; prints a human summary on stdout.
pub async fn migrate(
    config: PlatformConfig,
    action: MigrateAction,
    shutdown: Shutdown,
) -> Result<Outcome> {
    with_database(&config, &shutdown, |database| async move {
        let pool = &database.owner;
        match action {
            MigrateAction::Up => {
                let applied = db::migrate_up(pool).await?;
                if applied.is_empty() {
                    println!("nothing to apply: the database is up to date");
                }
                for v in applied {
                    println!("applied {v}");
                }
            }
            MigrateAction::Down => match db::migrate_down(pool).await? {
                Some(v) => println!("reverted {v}"),
                None => println!("nothing to revert: no migration is applied"),
            },
            MigrateAction::Status => {
                for m in db::migration_status(pool).await? {
                    let state = match (&m.applied_at, m.unknown) {
                        (Some(at), false) => format!("applied {}", at.format("%Y-%m-%dT%H:%M:%SZ")),
                        (Some(at), true) => format!(
                            "applied {} (unknown to this binary: applied by a newer version)",
                            at.format("%Y-%m-%dT%H:%M:%SZ")
                        ),
                        (None, _) => "pending".to_string(),
                    };
                    println!("{:<16} {:<40} {state}", m.version, m.description);
                }
            }
            MigrateAction::Plan => {
                let pending = db::pending_migrations(pool).await?;
                if pending.is_empty() {
                    println!("nothing pending: the database is up to date");
                    return Ok(());
                }
                let undeclared: Vec<String> = pending
                    .iter()
                    .filter(|m| m.class.is_none())
                    .map(|m| m.version.to_string())
                    .collect();
                if !undeclared.is_empty() {
                    bail!(
                        "migration(s) {} declare no class (expand or contract) in platform::db::MIGRATION_CLASSES",
                        undeclared.join(", ")
                    );
                }
                for m in &pending {
                    println!(
                        "{:<16} {:<40} {:<9} {}",
                        m.version,
                        m.description,
                        m.class.map(|c| c.to_string()).unwrap_or_default(),
                        m.class_reason.unwrap_or_default()
                    );
                }
                let contract = pending
                    .iter()
                    .filter(|m| m.class == Some(db::MigrationClass::Contract))
                    .count();
                println!(
                    "{} pending: {} expand (safe while the running version serves; before the new version starts), \
                     {contract} contract (only once the old version is gone)",
                    pending.len(),
                    pending.len() - contract
                );
            }
        }
        Ok(())
    })
    .await
}

/// `p360 deploy preflight`: may a blue-green deploy start against this
/// database, and which migrations run when? Fails naming the migration that
/// would break the running version. `first`: nothing runs yet, so every
/// migration may run before the new version starts.
pub async fn deploy_preflight(
    config: PlatformConfig,
    first: bool,
    shutdown: Shutdown,
) -> Result<Outcome> {
    with_database(&config, &shutdown, |database| async move {
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

/// `p360 db backup`: `pg_dump` (custom format) of the database to the
/// object store, as `backups/<UTC time>-v<latest migration>.dump`. Taken
/// before migrating in a deploy. The dump is held in memory: for large
/// production databases the RDS snapshots and point-in-time recovery are the
/// backup; this one is the restore point of a release.
pub async fn db_backup(config: PlatformConfig, shutdown: Shutdown) -> Result<Outcome> {
    let config2 = config.clone();
    with_database(&config, &shutdown, |database| async move {
        let (key, size, place) = crate::backup::pg_dump(&config2, &database).await?;
        println!("backup {key}: {size} bytes in {place}");
        Ok(())
    })
    .await
}

/// `p360 db url`: the URL of the database in use, for psql and other tools.
pub async fn db_url(config: &PlatformConfig) -> Result<String> {
    if let Some(url) = &config.database.url {
        return Ok(url.expose_secret().to_string());
    }
    match embedded_pg::running_url(&config.data_dir).await? {
        Some(url) => Ok(url),
        None => bail!(
            "no PostgreSQL cluster is running for data dir {}; start one with `p360 serve --data-dir {}`",
            config.data_dir.display(),
            config.data_dir.display()
        ),
    }
}

/// `p360 db stop`: stop an embedded cluster no live p360 process owns (e.g. one
/// left by a killed process, or by the test harness).
pub async fn db_stop(config: &PlatformConfig) -> Result<bool> {
    if config.database.url.is_some() {
        bail!("database.url is configured: there is no embedded cluster to stop");
    }
    embedded_pg::stop_data_dir(
        &config.data_dir,
        config.database.postgres_bin_dir.as_deref(),
    )
    .await
}

/// Open the database, run `f`, and always close it (stopping an owned cluster),
/// also when a signal cuts the work short.
pub async fn with_database<F, Fut>(
    config: &PlatformConfig,
    shutdown: &Shutdown,
    f: F,
) -> Result<Outcome>
where
    F: FnOnce(Arc<Database>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let Some(database) = until_shutdown(shutdown, Database::open(config)).await? else {
        return Ok(Outcome::Interrupted);
    };
    let database = Arc::new(database);
    let result = until_shutdown(shutdown, f(database.clone())).await;
    let database = Arc::into_inner(database).context("database still in use")?;
    let closed = database.close().await;
    let outcome = result?;
    closed?;
    Ok(match outcome {
        Some(()) => Outcome::Completed,
        None => Outcome::Interrupted,
    })
}

/// Run `fut` unless shutdown fires first (`None`).
async fn until_shutdown<T>(
    shutdown: &Shutdown,
    fut: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    tokio::select! {
        res = fut => res.map(Some),
        _ = shutdown.wait() => Ok(None),
    }
}
