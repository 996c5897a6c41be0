//! `p360 serve`: database, migrations, the HTTP API with every capability's
//! routes, and (unless `--no-worker`) the background job workers, until
//! SIGINT/SIGTERM, then an orderly stop.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use p360::Config;
use platform::cli::{Outcome, log_instance, until_shutdown};
use platform::db::{self, Database};
use platform::http::AppState;
use platform::shutdown::Shutdown;
use platform::telemetry::BuildInfo;

const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    git_sha: env!("BUILD_GIT_SHA"),
};

// The options of `p360 serve` (its help line is the subcommand's doc in main.rs).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8360].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Do not apply pending migrations at start.
    #[arg(long)]
    pub no_migrate: bool,
    /// Do not run background job workers in this process (run `p360 worker` instead).
    #[arg(long)]
    pub no_worker: bool,
}

pub async fn run(config: Config, args: ServeArgs, shutdown: Shutdown) -> Result<Outcome> {
    if !args.no_migrate
        && config.platform.database.url.is_none()
        && config.platform.database.app_url.is_some()
    {
        anyhow::bail!(
            "migrations run as the schema's owner: set database.url, or pass --no-migrate (the application's login cannot migrate)"
        );
    }
    let wrap = p360::wrap_routes(&config);
    // Bind first: a port in use should not cost a database start.
    let listener = platform::server::bind(config.platform.http.listen).await?;
    // Job kinds may call this very server (e.g. the in-process TTD sandbox),
    // so they are told the address actually bound (`--listen 127.0.0.1:0`).
    let jobs = p360::job_registry_at(&config, listener.local_addr()?)?;
    let folder = p360::watched_folder(&config)?;
    let platform = Arc::new(config.platform.clone());
    let Some(database) = until_shutdown(&shutdown, Database::open(&platform)).await? else {
        return Ok(Outcome::Interrupted);
    };
    let result = async {
        if !args.no_migrate {
            let applied = db::migrate_up(&database.owner).await?;
            if !applied.is_empty() {
                tracing::info!(versions = ?applied, "migrations applied");
            }
        }
        log_instance(&database).await;
        let state = AppState::new(database.pool.clone(), platform.clone(), BUILD).await?;
        let routes = p360::api_routes(&state, &config)?;
        let app = platform::http::router_with(state.clone(), routes, wrap);
        let worker_pool = database.worker_pool(&platform)?;
        let worker = (!args.no_worker).then(|| {
            tokio::spawn(platform::jobs::run_worker(
                worker_pool.clone(),
                jobs,
                platform::jobs::WorkerConfig::from(&platform.jobs),
                shutdown.clone(),
            ))
        });
        let folder = match (args.no_worker, folder) {
            (false, Some((f, every))) => Some(tokio::spawn(f.run(
                worker_pool.clone(),
                every,
                shutdown.clone(),
            ))),
            _ => None,
        };
        let served = platform::server::serve(listener, app, state, shutdown.clone()).await;
        if let Some(worker) = worker {
            // The server has stopped, so shutdown began: the worker drains and releases.
            shutdown.trigger();
            match worker.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "job worker failed"),
                Err(e) => tracing::warn!(error = %e, "job worker panicked"),
            }
        }
        if let Some(folder) = folder {
            shutdown.trigger();
            let _ = folder.await;
        }
        served
    }
    .await;
    let closed = database.close().await;
    result?;
    closed?;
    Ok(Outcome::Completed)
}
