//! The SQL of surge weeks and topics (global reference data: any
//! connection of a transaction a caller opened through `tenancy::scope`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

/// A file ingested.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct SurgeFile {
    /// The BLAKE3 of the file's bytes, hex: how P360 knows the file (files
    /// ingested before BLAKE3 was adopted are known by their SHA-256).
    pub checksum: String,
    /// The SHA-256 its source published for the file, where it gave one
    /// (Bombora's API does): a week whose file Bombora still publishes is
    /// not downloaded again.
    pub sha256: Option<String>,
    pub week: NaiveDate,
    pub source: String,
    #[serde(skip)]
    pub raw_key: String,
    #[serde(skip)]
    pub week_key: String,
    pub rows_read: i64,
    pub companies: i64,
    pub topics: i64,
    pub scores: i64,
    pub unusable_domains: i64,
    pub duplicates: i64,
    pub unknown_domains: i64,
    pub received_at: DateTime<Utc>,
}

pub async fn file(
    conn: &mut PgConnection,
    checksum: &str,
) -> Result<Option<SurgeFile>, sqlx::Error> {
    sqlx::query_as!(
        SurgeFile,
        "SELECT checksum, sha256, week, source, raw_key, week_key, rows_read, companies, topics, scores,
                unusable_domains, duplicates, unknown_domains, received_at
         FROM surge_files WHERE checksum = $1",
        checksum
    )
    .fetch_optional(conn)
    .await
}

/// Record a file ingested; when it was received.
pub async fn insert_file(
    conn: &mut PgConnection,
    f: &SurgeFile,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO surge_files (checksum, week, source, raw_key, week_key, rows_read, companies,
             topics, scores, unusable_domains, duplicates, unknown_domains, sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING received_at",
        f.checksum,
        f.week,
        f.source,
        f.raw_key,
        f.week_key,
        f.rows_read,
        f.companies,
        f.topics,
        f.scores,
        f.unusable_domains,
        f.duplicates,
        f.unknown_domains,
        f.sha256
    )
    .fetch_one(conn)
    .await
}

/// Record the SHA-256 a source published for file `checksum` (the same
/// bytes, from Bombora this time) when the file has none.
pub async fn vouch(
    conn: &mut PgConnection,
    checksum: &str,
    sha256: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE surge_files SET sha256 = $2 WHERE checksum = $1 AND sha256 IS NULL",
        checksum,
        sha256
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Make `checksum` week `week`'s file, locking the week; the file it
/// replaced, if any.
pub async fn set_week(
    conn: &mut PgConnection,
    week: NaiveDate,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    let before = sqlx::query_scalar!(
        "SELECT checksum FROM surge_weeks WHERE week = $1 FOR UPDATE",
        week
    )
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO surge_weeks (week, checksum) VALUES ($1, $2)
         ON CONFLICT (week) DO UPDATE SET checksum = EXCLUDED.checksum, updated_at = now()",
        week,
        checksum
    )
    .execute(conn)
    .await?;
    Ok(before)
}

/// The file that is week `week`'s.
pub async fn week_file(
    conn: &mut PgConnection,
    week: NaiveDate,
) -> Result<Option<SurgeFile>, sqlx::Error> {
    sqlx::query_as!(
        SurgeFile,
        "SELECT f.checksum, f.sha256, f.week, f.source, f.raw_key, f.week_key, f.rows_read, f.companies,
                f.topics, f.scores, f.unusable_domains, f.duplicates, f.unknown_domains,
                f.received_at
         FROM surge_weeks w JOIN surge_files f USING (checksum) WHERE w.week = $1",
        week
    )
    .fetch_optional(conn)
    .await
}

/// The weeks' files, newest week first, up to `limit`, before `before`.
pub async fn weeks(
    conn: &mut PgConnection,
    before: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<SurgeFile>, sqlx::Error> {
    sqlx::query_as!(
        SurgeFile,
        "SELECT f.checksum, f.sha256, w.week, f.source, f.raw_key, f.week_key, f.rows_read, f.companies,
                f.topics, f.scores, f.unusable_domains, f.duplicates, f.unknown_domains,
                f.received_at
         FROM surge_weeks w JOIN surge_files f USING (checksum)
         WHERE ($1::date IS NULL OR w.week < $1)
         ORDER BY w.week DESC LIMIT $2",
        before,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Record the topics a week names (name, category).
pub async fn upsert_topics(
    conn: &mut PgConnection,
    week: NaiveDate,
    names: &[&str],
    categories: &[&str],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO intent_topics (name, category, first_week, last_week)
         SELECT n, c, $3, $3 FROM UNNEST($1::text[], $2::text[]) AS t(n, c)
         ON CONFLICT (name) DO UPDATE SET
             category = CASE WHEN EXCLUDED.last_week >= intent_topics.last_week
                             THEN EXCLUDED.category ELSE intent_topics.category END,
             first_week = least(intent_topics.first_week, EXCLUDED.first_week),
             last_week = greatest(intent_topics.last_week, EXCLUDED.last_week)",
        names as &[&str],
        categories as &[&str],
        week
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A topic as the API lists it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub category: String,
    /// The first and the latest week that scored it.
    pub first_week: NaiveDate,
    pub last_week: NaiveDate,
}

/// Topics whose name or category contains `pattern` (a LIKE pattern,
/// escaped, lower case), by name after `after`.
pub async fn topics(
    conn: &mut PgConnection,
    pattern: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Topic>, sqlx::Error> {
    sqlx::query_as!(
        Topic,
        "SELECT name, category, first_week, last_week FROM intent_topics
         WHERE (lower(name) LIKE '%' || $1 || '%' OR lower(category) LIKE '%' || $1 || '%')
           AND ($2::text IS NULL OR name > $2)
         ORDER BY name LIMIT $3",
        pattern,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}
