//! Restore points. A deploy takes one before migrating
//! ([`restore_point`]): a pgBackRest backup of the embedded cluster when it
//! is backed up, else `pg_dump` (custom format) of the database streamed to
//! the object store as `backups/<UTC time>-v<latest migration>.dump` (also
//! `p360 db backup`), never whole in memory. On AWS the RDS automated
//! backups and point-in-time recovery stand behind both.

pub mod restore;
pub mod schedule;

use anyhow::{Context, Result, bail};
use secrecy::ExposeSecret;

use crate::config::PlatformConfig;
use crate::db::Database;
use crate::embedded_pg;

/// The restore point a deploy takes before migrating: a pgBackRest
/// backup (differential: only what changed since the last full one) of the
/// embedded cluster when it is backed up, else [`pg_dump`]. Where it is,
/// and its size in bytes.
pub async fn restore_point(config: &PlatformConfig, database: &Database) -> Result<(String, u64)> {
    // `from_config` is `None` unless the database is the backed-up embedded cluster.
    if let Some(repo) = crate::embedded_pg::pgbackrest::Repo::from_config(config)? {
        let b = repo.backup(false, false).await?;
        return Ok((
            format!("pgbackrest {} ({}) in {}", b.label, b.kind, repo.describe()),
            b.repo_bytes,
        ));
    }
    let (key, size, _) = pg_dump(config, database).await?;
    Ok((key, size))
}

/// `pg_dump` `database` to the object store, streamed in parts: the key,
/// its size and where the store is.
pub async fn pg_dump(
    config: &PlatformConfig,
    database: &Database,
) -> Result<(String, u64, String)> {
    use object_store::ObjectStoreExt;
    use tokio::io::AsyncReadExt;
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
    let key = format!(
        "backups/{}-v{version}.dump",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mut cmd = tokio::process::Command::new(&pg_dump);
    cmd.args([
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--dbname",
    ])
    .arg(url.as_str())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", pg_dump.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let path = object_store::path::Path::from(key.as_str());
    let upload = storage
        .store
        .put_multipart(&path)
        .await
        .with_context(|| format!("cannot store the backup in {}", storage.describe))?;
    let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    let streamed = async {
        loop {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            size += n as u64;
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
        }
        anyhow::Ok(())
    }
    .await;
    let status = child.wait().await?;
    let err = errors.await.unwrap_or_default();
    if let Err(e) = streamed {
        writer.abort().await.ok();
        return Err(e.context("cannot stream the backup to the object store"));
    }
    if !status.success() {
        writer.abort().await.ok();
        bail!(
            "pg_dump failed: {}",
            err.lines().next().unwrap_or("no message")
        );
    }
    writer
        .finish()
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
/// `dr_drill_ballast`, of distinct hex digests per row: it compresses about
/// two to one, as data does, not to nothing): the larger-scale figures of
/// `p360 dr drill`.
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
             SELECT g, array_to_string(ARRAY(SELECT md5(g::text || '.' || i::text) \
                                             FROM generate_series(1, 16) i), '') \
             FROM generate_series({}, {to}) g",
            done + 1
        )))
        .execute(&mut conn)
        .await?;
        done = to;
    }
    conn.close().await.ok();
    Ok(())
}
