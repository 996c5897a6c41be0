//! `p360 worker`: background jobs only (production scales them apart from
//! the API), until SIGINT/SIGTERM.

use anyhow::Result;
use p360::Config;
use platform::cli::{Outcome, until_shutdown};
use platform::db::Database;
use platform::shutdown::Shutdown;

pub async fn run(config: Config, shutdown: Shutdown) -> Result<Outcome> {
    let jobs = p360::job_registry(&config)?;
    let folder = p360::watched_folder(&config)?;
    let config = config.platform;
    let Some(database) = until_shutdown(&shutdown, Database::open(&config)).await? else {
        return Ok(Outcome::Interrupted);
    };
    // The worker sees the shutdown itself: it drains, then releases what is left.
    let result = async {
        let pool = database.worker_pool(&config)?;
        let folder =
            folder.map(|(f, every)| tokio::spawn(f.run(pool.clone(), every, shutdown.clone())));
        let ran = platform::jobs::run_worker(
            pool.clone(),
            jobs,
            platform::jobs::WorkerConfig::from(&config.jobs),
            shutdown.clone(),
        )
        .await;
        if let Some(folder) = folder {
            shutdown.trigger();
            let _ = folder.await;
        }
        pool.close().await;
        ran
    }
    .await;
    let closed = database.close().await;
    result?;
    closed?;
    Ok(Outcome::Completed)
}
