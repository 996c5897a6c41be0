//! What every command of a binary on this platform shares, whatever it does:
//! how it ended (`Outcome`, the exit code's meaning), racing work against
//! SIGINT/SIGTERM, and a database opened for a command that is always closed
//! again (stopping an embedded cluster the command started) even when a
//! signal cuts the work short. The commands themselves live in the binary.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::PlatformConfig;
use crate::db::Database;
use crate::shutdown::Shutdown;

/// How a command ended: normally, or cut short by a signal (exit 130).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Interrupted,
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
pub async fn until_shutdown<T>(
    shutdown: &Shutdown,
    fut: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    tokio::select! {
        res = fut => res.map(Some),
        _ = shutdown.wait() => Ok(None),
    }
}

/// Log which database a long-running command works on (its
/// `platform_instance` id), once it is open.
pub async fn log_instance(database: &Database) {
    match sqlx::query_scalar!("SELECT id FROM platform_instance")
        .fetch_optional(&database.pool)
        .await
    {
        Ok(Some(id)) => tracing::info!(instance_id = %id, "database ready"),
        Ok(None) => tracing::info!("database ready (not migrated)"),
        Err(e) => tracing::warn!(error = %e, "database ready; instance id unavailable"),
    }
}
