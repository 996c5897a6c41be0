//! Which migrations a deploy runs, and when: the plan (before the new slot
//! starts: expand; after the old one is gone: contract), and the deployment
//! tables themselves, created first on a database from before them so that
//! everything after is recorded.

use anyhow::{Result, bail};
use platform::db::{self, Database};
use sqlx::PgPool;

use crate::config::ReleaseConfig as Config;

/// The migration that creates the deployment tables.
const DEPLOYMENTS_MIGRATION: i64 = 20261127000012;

/// What the migrations run before the new slot starts are: expand ones,
/// or on a first deploy (nothing to protect) any pending ones.
pub(crate) fn migration_class(first: bool) -> &'static str {
    if first { "pending" } else { "expand" }
}

/// The pending migrations, split for a deploy: on a first deploy (nothing
/// runs yet) all of them before the new slot starts.
pub(crate) async fn migration_plan(pool: &PgPool, first: bool) -> Result<db::DeployPlan> {
    let pending = db::pending_migrations(pool).await?;
    if first {
        return Ok(db::DeployPlan {
            before_green: pending,
            after_blue: Vec::new(),
        });
    }
    db::deploy_plan(&pending).map_err(|e| anyhow::anyhow!("deploy refused: {e}"))
}

/// Create the deployment tables on a database from before them: only when
/// the migration plan lets them run before the new version starts, after a
/// backup. Returns the backup (key, size) and the versions applied.
pub(crate) async fn create_tables(
    config: &Config,
    database: &Database,
    first: bool,
) -> Result<(Option<(String, u64)>, Vec<i64>)> {
    if !first {
        let plan = migration_plan(&database.owner, false).await?;
        if !plan
            .before_green
            .iter()
            .any(|m| m.version == DEPLOYMENTS_MIGRATION)
        {
            bail!(
                "deploy refused: the deployment tables (migration {DEPLOYMENTS_MIGRATION}) cannot be created before the new version starts"
            );
        }
    }
    let backup = if config.deploy.backup {
        Some(platform::backup::restore_point(&config.platform, database).await?)
    } else {
        None
    };
    let applied = db::migrate_up_to(&database.owner, DEPLOYMENTS_MIGRATION).await?;
    Ok((backup, applied))
}
