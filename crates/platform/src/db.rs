//! The database the process uses: the configured URL, or the embedded cluster
//! of the data dir; the connection pool; and the reversible migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::{DatabaseConfig, PlatformConfig};
use crate::embedded_pg::EmbeddedPostgres;

/// Every migration of the platform, embedded in the binary (`migrations/`).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// An open database: the application pool (the application's own login),
/// the owner pool (migrations, maintenance), and on embedded defaults the
/// cluster behind them.
pub struct Database {
    pub pool: PgPool,
    pub owner: PgPool,
    url: secrecy::SecretString,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connect to `database.url`, or start (or join) the embedded cluster of
    /// the data dir. With only `database.app_url` (the API and worker tasks
    /// in AWS, which hold no owner credentials), the owner pool is the
    /// application's login too: what only the owner may do (migrations) is
    /// refused by the database.
    pub async fn open(config: &PlatformConfig) -> Result<Database> {
        let (url, embedded) = match (&config.database.url, &config.database.app_url) {
            (Some(url), _) | (None, Some(url)) => (url.expose_secret().to_string(), None),
            (None, None) => {
                let pg = EmbeddedPostgres::start_configured(config).await?;
                (pg.url(), Some(pg))
            }
        };
        let pools = async {
            let owner = connect(&url, &config.database).await?;
            let pool = connect_app(&url, &config.database)?;
            anyhow::Ok((owner, pool))
        };
        match pools.await {
            Ok((owner, pool)) => Ok(Database {
                pool,
                owner,
                url: url.into(),
                embedded,
            }),
            Err(e) => {
                if let Some(pg) = embedded {
                    pg.stop().await.ok();
                }
                Err(e)
            }
        }
    }

    /// The URL connected to (a secret: it may hold a password).
    pub fn url(&self) -> &secrecy::SecretString {
        &self.url
    }

    /// A pool of its own for the job workers, sized to their concurrency: a
    /// job waiting on a slow partner API holds a connection, and must not
    /// take one the API needs (a bulkhead).
    pub fn worker_pool(&self, config: &PlatformConfig) -> Result<PgPool> {
        connect_app(self.url.expose_secret(), &worker_pool_config(config))
    }

    /// Close the pools, then stop the embedded cluster if this process owns it.
    pub async fn close(self) -> Result<()> {
        self.pool.close().await;
        self.owner.close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await?;
        }
        Ok(())
    }
}

/// The database settings of a worker pool: one connection per concurrent
/// job, and two for leases and bookkeeping.
pub fn worker_pool_config(config: &PlatformConfig) -> DatabaseConfig {
    DatabaseConfig {
        max_connections: config.jobs.concurrency as u32 + 2,
        min_connections: 0,
        ..config.database.clone()
    }
}

/// A pool for `url`; fails fast when the database cannot be reached.
pub async fn connect(url: &str, cfg: &DatabaseConfig) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("invalid database URL")?
        .application_name("p360");
    pool_options(cfg)
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL")
}

/// The application pool: it logs in as the application's own role
/// (`cfg.app_url`, or `url` as `cfg.app_role`), which owns nothing, so
/// row-level security and the role's grants apply to every query and no
/// statement can switch back to the owner. Connects lazily (the role may
/// log in only once the migrations ran).
pub fn connect_app(url: &str, cfg: &DatabaseConfig) -> Result<PgPool> {
    let options = match &cfg.app_url {
        Some(app) => {
            PgConnectOptions::from_str(app.expose_secret()).context("invalid database.app_url")?
        }
        None => {
            let options = PgConnectOptions::from_str(url).context("invalid database URL")?;
            if cfg.app_role.is_empty() {
                options
            } else {
                // Trust or peer authentication (the embedded cluster, a
                // local server): the role logs in without a password.
                options.username(&cfg.app_role)
            }
        }
    };
    Ok(pool_options(cfg).connect_lazy_with(options.application_name("p360")))
}

/// The pool reports read from: the application's login at the read
/// replica (`cfg.read_url`, named `p360-read` in `pg_stat_activity`), or
/// `primary` itself when none is configured. A replica lags its primary by
/// its replication delay (seconds on RDS): a report may not show the last
/// merge yet, which reports can afford and writes could not.
pub fn read_pool(primary: &PgPool, cfg: &DatabaseConfig) -> Result<PgPool> {
    match &cfg.read_url {
        None => Ok(primary.clone()),
        Some(url) => {
            let options = PgConnectOptions::from_str(url.expose_secret())
                .context("invalid database.read_url")?
                .application_name("p360-read");
            Ok(pool_options(cfg).connect_lazy_with(options))
        }
    }
}

pub fn pool_options(cfg: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(cfg.min_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .idle_timeout(Duration::from_secs(300))
        // A ping per checkout costs a round trip on every request; a connection
        // that died is discarded when its query fails (503 for that request),
        // and readiness reports the database's state.
        .test_before_acquire(false)
}

/// Whether a migration is safe while the previous version of the application
/// still runs against the database (blue-green deploys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationClass {
    /// Safe under the old version: new tables, nullable or defaulted
    /// columns, new indexes. Run before the new version starts.
    Expand,
    /// Breaks the old version: drops, renames, NOT NULL on existing data,
    /// changed constraints it relies on. Run only once the old version is gone.
    Contract,
}

impl std::fmt::Display for MigrationClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MigrationClass::Expand => "expand",
            MigrationClass::Contract => "contract",
        })
    }
}

/// The class of every migration, with why. Kept here rather than in the SQL
/// files: editing an applied migration would change its checksum. A test
/// fails when a migration has no entry.
pub const MIGRATION_CLASSES: &[(i64, MigrationClass, &str)] = &[
    (20261126000001, MigrationClass::Expand, "new table"),
    (20261127000001, MigrationClass::Expand, "new tables"),
    (20261127000002, MigrationClass::Expand, "new tables"),
    (20261127000003, MigrationClass::Expand, "new tables"),
    (20261127000004, MigrationClass::Expand, "new table"),
    (20261127000005, MigrationClass::Expand, "new table"),
    (20261127000006, MigrationClass::Expand, "new table"),
    (
        20261127000007,
        MigrationClass::Expand,
        "a new role and grants to it",
    ),
    (20261127000008, MigrationClass::Expand, "new table"),
    (20261127000009, MigrationClass::Expand, "new table"),
    (
        20261127000010,
        MigrationClass::Contract,
        "replaces the jobs dedup index that the previous version's enqueue names in ON CONFLICT",
    ),
    (20261127000011, MigrationClass::Expand, "new index"),
    (20261127000012, MigrationClass::Expand, "new tables"),
    (20261127000013, MigrationClass::Expand, "a grant"),
    (
        20261203000014,
        MigrationClass::Expand,
        "new tables, a nullable column and an index",
    ),
    (
        20261203000015,
        MigrationClass::Contract,
        "drops campaigns.activation, which the previous version writes",
    ),
    (
        20261204000016,
        MigrationClass::Expand,
        "new indexes, foreign keys and a trigger every existing row satisfies",
    ),
    (
        20261204000017,
        MigrationClass::Expand,
        "lets the application role log in; the running version keeps switching to it",
    ),
    (
        20261204000018,
        MigrationClass::Expand,
        "a nullable column the running version does not read",
    ),
    (
        20261204000019,
        MigrationClass::Expand,
        "a nullable column the running version does not read",
    ),
    (
        20261204000020,
        MigrationClass::Expand,
        "a nullable column the running version does not read",
    ),
    (
        20261204000021,
        MigrationClass::Expand,
        "a new table the running version does not read",
    ),
    (
        20261204000022,
        MigrationClass::Expand,
        "a new table the running version does not read",
    ),
    (
        20261204000023,
        MigrationClass::Expand,
        "new tables the running version does not read",
    ),
    (
        20261204000024,
        MigrationClass::Expand,
        "new tables the running version does not read",
    ),
    (
        20261204000025,
        MigrationClass::Expand,
        "new tables the running version does not read",
    ),
    (
        20261205000026,
        MigrationClass::Expand,
        "new tables the running version does not read; a wider check its writes still meet",
    ),
    (20261205000027, MigrationClass::Expand, "new table"),
    (
        20261206000028,
        MigrationClass::Expand,
        "a nullable column the running version does not read",
    ),
    (
        20261206000029,
        MigrationClass::Expand,
        "a foreign key replaced by triggers checking the same thing",
    ),
    (
        20261206000030,
        MigrationClass::Expand,
        "new tables and a function",
    ),
    (
        20261206000031,
        MigrationClass::Expand,
        "new tables, a column with a default, a function replaced",
    ),
    (
        20261206000032,
        MigrationClass::Expand,
        "a column with a constant default",
    ),
    (
        20261206000033,
        MigrationClass::Expand,
        "columns with a constant default, new functions",
    ),
    (
        20261206000034,
        MigrationClass::Expand,
        "a new table, policies replaced by equivalent ones",
    ),
    (20261206000035, MigrationClass::Expand, "new tables"),
    (20261206000036, MigrationClass::Expand, "new tables"),
    (
        20261206000037,
        MigrationClass::Expand,
        "new tables and triggers",
    ),
    (
        20261206000038,
        MigrationClass::Expand,
        "nullable columns the running version does not read",
    ),
    (
        20261207000039,
        MigrationClass::Expand,
        "audit_events partitioned, same columns",
    ),
];

/// Escape `%`, `_` and `\` for a LIKE pattern.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The class of migration `version`, if declared.
pub fn migration_class(version: i64) -> Option<(MigrationClass, &'static str)> {
    MIGRATION_CLASSES
        .iter()
        .find(|(v, _, _)| *v == version)
        .map(|(_, c, why)| (*c, *why))
}

/// How the pending migrations fit a blue-green deploy: expand migrations run
/// before green starts, contract migrations after blue is gone.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub before_green: Vec<MigrationStatus>,
    pub after_blue: Vec<MigrationStatus>,
}

/// Split pending migrations (in order) for a deploy while blue serves. A
/// contract migration followed by an expand one cannot be deferred (the
/// expand one depends on it) and cannot run while blue needs the old
/// schema: the deploy must not start.
pub fn deploy_plan(pending: &[MigrationStatus]) -> Result<DeployPlan, String> {
    if let Some(m) = pending.iter().find(|m| m.class.is_none()) {
        return Err(format!(
            "migration {} ({}) declares no class (expand or contract)",
            m.version, m.description
        ));
    }
    let split = pending
        .iter()
        .position(|m| m.class == Some(MigrationClass::Contract))
        .unwrap_or(pending.len());
    let (before, after) = pending.split_at(split);
    if let Some(expand) = after
        .iter()
        .find(|m| m.class == Some(MigrationClass::Expand))
    {
        let contract = &after[0];
        return Err(format!(
            "contract migration {} ({}: {}) must run before expand migration {} ({}), but the \
             running version still needs the old schema; release the contract migration on its own \
             after this version has replaced the running one",
            contract.version,
            contract.description,
            contract
                .class_reason
                .unwrap_or("breaks the running version"),
            expand.version,
            expand.description
        ));
    }
    Ok(DeployPlan {
        before_green: before.to_vec(),
        after_blue: after.to_vec(),
    })
}

/// One migration's state for `p360 migrate status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<DateTime<Utc>>,
    /// Applied in the database but unknown to this binary (applied by a newer version).
    pub unknown: bool,
    /// Expand or contract; `None` when undeclared (or unknown to this binary).
    pub class: Option<MigrationClass>,
    pub class_reason: Option<&'static str>,
}

/// A connection for migrations, which are platform-wide: `p360.all_tenants`
/// is on for its session, so that a migration's data steps see every
/// tenant's rows where row-level security is forced — which it is for the
/// owner too, and in production the owner is neither a superuser nor
/// BYPASSRLS (docs/runbooks/environment-setup.md). Taken out of the pool
/// and closed after use, so the setting never reaches another caller.
async fn platform_wide(pool: &PgPool) -> Result<sqlx::PgConnection> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::query_scalar!("SELECT set_config('p360.all_tenants', 'on', false)")
        .fetch_one(&mut conn)
        .await?;
    Ok(conn)
}

/// Apply every pending migration; returns the versions applied.
pub async fn migrate_up(pool: &PgPool) -> Result<Vec<i64>> {
    let before = applied_versions(pool).await?;
    let mut conn = platform_wide(pool).await?;
    let ran = MIGRATOR.run(&mut conn).await.context("migration failed");
    let _ = sqlx::Connection::close(conn).await;
    ran?;
    let after = applied_versions(pool).await?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Apply the pending migrations up to and including version `last` (a
/// deploy's expand migrations, before the new version starts).
pub async fn migrate_up_to(pool: &PgPool, last: i64) -> Result<Vec<i64>> {
    let before = applied_versions(pool).await?;
    let upto = Migrator {
        migrations: MIGRATOR
            .migrations
            .iter()
            .filter(|m| m.version <= last)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
        table_name: MIGRATOR.table_name.clone(),
        create_schemas: MIGRATOR.create_schemas.clone(),
    };
    let mut conn = platform_wide(pool).await?;
    let ran = upto.run(&mut conn).await.context("migration failed");
    let _ = sqlx::Connection::close(conn).await;
    ran?;
    let after = applied_versions(pool).await?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Revert the most recently applied migration; returns its version, or `None` at zero.
pub async fn migrate_down(pool: &PgPool) -> Result<Option<i64>> {
    let applied = applied_versions(pool).await?;
    let Some((&last, rest)) = applied.split_last() else {
        return Ok(None);
    };
    let target = rest.last().copied().unwrap_or(0);
    let mut conn = platform_wide(pool).await?;
    let undone = MIGRATOR
        .undo(&mut conn, target)
        .await
        .with_context(|| format!("reverting migration {last} failed"));
    let _ = sqlx::Connection::close(conn).await;
    undone?;
    Ok(Some(last))
}

/// Known migrations (applied or pending) and applied ones this binary does not know.
pub async fn migration_status(pool: &PgPool) -> Result<Vec<MigrationStatus>> {
    let applied: Vec<(i64, String, DateTime<Utc>)> = if migrations_table_exists(pool).await? {
        sqlx::query!(
            "SELECT version, description, installed_on FROM _sqlx_migrations \
             WHERE success ORDER BY version"
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.version, r.description, r.installed_on))
        .collect()
    } else {
        Vec::new()
    };
    let mut out: Vec<MigrationStatus> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied_at: applied
                .iter()
                .find(|(v, _, _)| *v == m.version)
                .map(|(_, _, at)| *at),
            unknown: false,
            class: migration_class(m.version).map(|c| c.0),
            class_reason: migration_class(m.version).map(|c| c.1),
        })
        .collect();
    for (version, description, at) in &applied {
        if !MIGRATOR.version_exists(*version) {
            out.push(MigrationStatus {
                version: *version,
                description: description.clone(),
                applied_at: Some(*at),
                unknown: true,
                class: None,
                class_reason: None,
            });
        }
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

/// The migrations this binary knows that the database has not applied, in order.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<MigrationStatus>> {
    Ok(migration_status(pool)
        .await?
        .into_iter()
        .filter(|m| m.applied_at.is_none())
        .collect())
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>> {
    if !migrations_table_exists(pool).await? {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

async fn migrations_table_exists(pool: &PgPool) -> Result<bool> {
    Ok(
        sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
            .fetch_one(pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(classes: &[(i64, MigrationClass)]) -> Vec<MigrationStatus> {
        classes
            .iter()
            .map(|(v, c)| MigrationStatus {
                version: *v,
                description: format!("m{v}"),
                applied_at: None,
                unknown: false,
                class: Some(*c),
                class_reason: Some("why"),
            })
            .collect()
    }

    #[test]
    fn deploy_plans_defer_trailing_contracts_and_refuse_a_contract_before_an_expand() {
        use MigrationClass::{Contract, Expand};
        let plan = deploy_plan(&pending(&[(1, Expand), (2, Expand), (3, Contract)])).unwrap();
        assert_eq!(plan.before_green.len(), 2);
        assert_eq!(plan.after_blue.len(), 1);
        let plan = deploy_plan(&pending(&[])).unwrap();
        assert!(plan.before_green.is_empty() && plan.after_blue.is_empty());
        let msg = deploy_plan(&pending(&[(1, Expand), (2, Contract), (3, Expand)])).unwrap_err();
        assert!(
            msg.contains("contract migration 2") && msg.contains("expand migration 3"),
            "{msg}"
        );
    }

    #[test]
    fn every_migration_declares_its_class() {
        let missing: Vec<i64> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .filter(|v| migration_class(*v).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "add these to MIGRATION_CLASSES (expand or contract, and why): {missing:?}"
        );
        let stale: Vec<i64> = MIGRATION_CLASSES
            .iter()
            .map(|(v, _, _)| *v)
            .filter(|v| !MIGRATOR.version_exists(*v))
            .collect();
        assert!(stale.is_empty(), "classes of no migration: {stale:?}");
    }
}
