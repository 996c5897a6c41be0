//! A restore point: `pg_dump` (custom format) of the database to the object
//! store, as `backups/<UTC time>-v<latest migration>.dump`. `p360 db backup`
//! takes one, and a deploy takes one before migrating. The dump is held in
//! memory: for large production databases the RDS snapshots and
//! point-in-time recovery are the backup.

pub mod restore;
pub mod schedule;

use anyhow::{Context, Result, bail};
use secrecy::ExposeSecret;

use crate::config::PlatformConfig;
use crate::db::Database;
use crate::embedded_pg;

/// `pg_dump` `database` to the object store: the key, its size and where
/// the store is.
pub async fn pg_dump(
    config: &PlatformConfig,
    database: &Database,
) -> Result<(String, usize, String)> {
    use object_store::ObjectStoreExt;
    let storage = crate::storage::Storage::from_config(config)?;
    let mut url = url::Url::parse(database.url().expose_secret())
        .context("the database URL does not parse")?;
    // The password goes in the environment, not on a command line others can read.
    let password = url.password().map(str::to_owned);
    let _ = url.set_password(None);
    // Connection parameters of sqlx's own (e.g. statement-cache-capacity)
    // are not libpq's, which would refuse them.
    let libpq: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.contains('-'))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !libpq.is_empty() {
        url.query_pairs_mut().extend_pairs(libpq);
    }
    let pg_dump =
        embedded_pg::client_program(config.database.postgres_bin_dir.as_deref(), "pg_dump");
    let version: i64 = sqlx::query_scalar!(
        r#"SELECT coalesce(max(version), 0) AS "version!" FROM _sqlx_migrations WHERE success"#
    )
    .fetch_one(&database.owner)
    .await
    .unwrap_or(0);
    let mut cmd = tokio::process::Command::new(&pg_dump);
    cmd.args([
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--dbname",
    ])
    .arg(url.as_str());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .await
        .with_context(|| format!("cannot run {}", pg_dump.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "pg_dump failed: {}",
            err.lines().next().unwrap_or("no message")
        );
    }
    let key = format!(
        "backups/{}-v{version}.dump",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let size = out.stdout.len();
    storage
        .store
        .put(
            &object_store::path::Path::from(key.as_str()),
            out.stdout.into(),
        )
        .await
        .with_context(|| format!("cannot store the backup in {}", storage.describe))?;
    Ok((key, size, storage.describe.to_string()))
}

/// Exact row counts of the platform's core tables on `conn` (whose scope
/// decides which rows it sees), in one statement: what a restore check
/// reports.
pub async fn core_row_counts(conn: &mut sqlx::PgConnection) -> Result<Vec<(&'static str, i64)>> {
    let r = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM tenants) AS "tenants!",
                  (SELECT count(*) FROM users) AS "users!",
                  (SELECT count(*) FROM advertisers) AS "advertisers!",
                  (SELECT count(*) FROM insertion_orders) AS "insertion_orders!",
                  (SELECT count(*) FROM campaigns) AS "campaigns!",
                  (SELECT count(*) FROM creatives) AS "creatives!",
                  (SELECT count(*) FROM audiences) AS "audiences!",
                  (SELECT count(*) FROM invoices) AS "invoices!",
                  (SELECT count(*) FROM audit_events) AS "audit_events!",
                  (SELECT count(*) FROM jobs) AS "jobs!""#
    )
    .fetch_one(conn)
    .await
    .context("cannot count the core tables")?;
    Ok(vec![
        ("tenants", r.tenants),
        ("users", r.users),
        ("advertisers", r.advertisers),
        ("insertion_orders", r.insertion_orders),
        ("campaigns", r.campaigns),
        ("creatives", r.creatives),
        ("audiences", r.audiences),
        ("invoices", r.invoices),
        ("audit_events", r.audit_events),
        ("jobs", r.jobs),
    ])
}

/// Grow the database at `url` by about `mb` megabytes (a table of its own,
/// `dr_drill_ballast`, of hex text that compresses as data does, about two
/// to one): the larger-scale figures of `p360 dr drill`.
pub async fn ballast(url: &str, mb: u64) -> Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("cannot connect to fill the database")?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS dr_drill_ballast (id bigint PRIMARY KEY, pad text NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    // Rows of about 560 bytes on disk; 100 MB per statement.
    let rows_per_mb: i64 = 1_000_000 / 560;
    let mut done = 0_i64;
    let total = mb as i64 * rows_per_mb;
    while done < total {
        let to = (done + 100 * rows_per_mb).min(total);
        // Two integers of ours: nothing to inject. (The table is the
        // drill's, not the schema's, so the query cannot be compile-checked.)
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO dr_drill_ballast (id, pad) \
             SELECT g, repeat(md5(g::text), 16) FROM generate_series({}, {to}) g",
            done + 1
        )))
        .execute(&mut conn)
        .await?;
        done = to;
    }
    conn.close().await.ok();
    Ok(())
}
