//! The SQL of audiences' TTD segments: one row per (audience, TTD
//! advertiser) and the CIDR blocks sent to it with when they expire.

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use crate::ids::AudienceId;

/// An audience's segment for one TTD advertiser.
#[derive(Debug, Clone)]
pub struct SegmentRow {
    pub id: Uuid,
    pub audience_id: AudienceId,
    pub ttd_advertiser_id: String,
    pub name: String,
    pub first_party_data_id: Option<i64>,
    pub synced_build: i64,
}

/// The name of the transaction's tenant's audience `id`, if it has one.
pub async fn audience_name(
    tx: &mut TenantTx,
    id: AudienceId,
) -> Result<Option<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT name FROM audiences WHERE id = $1 AND tenant_id = $2",
        id as AudienceId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The segment of `audience` for `advertiser`, created if it has none.
pub async fn ensure(
    tx: &mut TenantTx,
    audience: AudienceId,
    advertiser: &str,
) -> Result<SegmentRow, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO audience_segments (id, tenant_id, audience_id, ttd_advertiser_id, name) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (audience_id, ttd_advertiser_id) DO NOTHING",
        Uuid::now_v7(),
        tenant as TenantId,
        audience as AudienceId,
        advertiser,
        format!("p360-audience-{audience}")
    )
    .execute(tx.conn())
    .await?;
    sqlx::query_as!(
        SegmentRow,
        r#"SELECT id, audience_id AS "audience_id: AudienceId", ttd_advertiser_id, name,
                  first_party_data_id, synced_build
           FROM audience_segments WHERE audience_id = $1 AND ttd_advertiser_id = $2"#,
        audience as AudienceId,
        advertiser
    )
    .fetch_one(tx.conn())
    .await
}

/// The segment of `audience` for `advertiser`, if it holds the audience's
/// latest build.
pub async fn up_to_date(
    tx: &mut TenantTx,
    audience: AudienceId,
    advertiser: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT s.id FROM audience_segments s JOIN audiences a ON a.id = s.audience_id \
         WHERE s.audience_id = $1 AND s.ttd_advertiser_id = $2 AND s.tenant_id = $3 \
           AND s.synced_build = a.builds",
        audience as AudienceId,
        advertiser,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The segments of `audience` as the API shows them.
pub async fn views(
    tx: &mut TenantTx,
    audience: AudienceId,
) -> Result<Vec<super::SegmentView>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        super::SegmentView,
        r#"SELECT ttd_advertiser_id, name AS segment, first_party_data_id, synced_build,
                  synced_at, last_error,
                  (SELECT count(*) FROM audience_segment_entries e
                   WHERE e.segment_id = s.id) AS "blocks!"
           FROM audience_segments s WHERE audience_id = $1 AND tenant_id = $2
           ORDER BY ttd_advertiser_id"#,
        audience as AudienceId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// The segments of `audience` (one per TTD advertiser targeting it).
pub async fn of_audience(
    tx: &mut TenantTx,
    audience: AudienceId,
) -> Result<Vec<SegmentRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        SegmentRow,
        r#"SELECT id, audience_id AS "audience_id: AudienceId", ttd_advertiser_id, name,
                  first_party_data_id, synced_build
           FROM audience_segments WHERE audience_id = $1 AND tenant_id = $2
           ORDER BY ttd_advertiser_id"#,
        audience as AudienceId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// Serialise syncs of one segment (a transaction-level advisory lock: a
/// killed worker's lock dies with its connection).
pub async fn lock(tx: &mut TenantTx, segment: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        format!("audience_segment:{segment}")
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The latest build's number and its activated members: those not held out.
pub async fn activated_members(
    tx: &mut TenantTx,
    audience: AudienceId,
) -> Result<(i64, Vec<String>), sqlx::Error> {
    let tenant = tx.tenant();
    let build = sqlx::query_scalar!(
        "SELECT builds FROM audiences WHERE id = $1 AND tenant_id = $2",
        audience as AudienceId,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await?;
    let domains = sqlx::query_scalar!(
        "SELECT domain FROM audience_members \
         WHERE audience_id = $1 AND tenant_id = $2 AND NOT holdout ORDER BY domain",
        audience as AudienceId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await?;
    Ok((build, domains))
}

/// What the segment holds: each block sent and when it expires.
pub async fn entries(
    tx: &mut TenantTx,
    segment: Uuid,
) -> Result<Vec<(String, DateTime<Utc>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT entry, expires_at FROM audience_segment_entries WHERE segment_id = $1",
        segment
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(|r| (r.entry, r.expires_at)).collect())
}

/// TTD took `blocks` into the segment until `expires_at`.
pub async fn sent(
    tx: &mut TenantTx,
    segment: Uuid,
    blocks: &[String],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO audience_segment_entries (tenant_id, segment_id, entry, expires_at) \
         SELECT $1, $2, e, $4 FROM unnest($3::text[]) AS e \
         ON CONFLICT (segment_id, entry) DO UPDATE SET expires_at = EXCLUDED.expires_at",
        tenant as TenantId,
        segment,
        blocks,
        expires_at
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// TTD took `blocks` out of the segment.
pub async fn removed(
    tx: &mut TenantTx,
    segment: Uuid,
    blocks: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM audience_segment_entries WHERE segment_id = $1 AND entry = ANY($2)",
        segment,
        blocks
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_first_party_id(
    tx: &mut TenantTx,
    segment: Uuid,
    id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE audience_segments SET first_party_data_id = $2 WHERE id = $1",
        segment,
        id
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The segment holds build `build` (`error`: some blocks were refused).
pub async fn synced(
    tx: &mut TenantTx,
    segment: Uuid,
    build: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE audience_segments SET synced_build = $2, synced_at = now(), last_error = $3 \
         WHERE id = $1",
        segment,
        build,
        error
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether `audience` is activated anywhere (has a segment).
pub async fn activated(tx: &mut TenantTx, audience: AudienceId) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM audience_segments
                          WHERE audience_id = $1 AND tenant_id = $2) AS "x!""#,
        audience as AudienceId,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}

/// Audiences (of every tenant the connection sees) whose segments need a
/// sync: behind their audience's latest build, holding blocks that expire
/// before `refresh_by`, or not synced since `stale_before` (the companies'
/// IP ranges may have changed).
pub async fn due(
    conn: &mut sqlx::PgConnection,
    refresh_by: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<(TenantId, AudienceId)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT s.tenant_id AS "tenant: TenantId", s.audience_id AS "audience: AudienceId"
           FROM audience_segments s JOIN audiences a ON a.id = s.audience_id
           WHERE s.synced_build < a.builds
              OR s.synced_at IS NULL OR s.synced_at < $2
              OR EXISTS (SELECT 1 FROM audience_segment_entries e
                         WHERE e.segment_id = s.id AND e.expires_at < $1)
           LIMIT 1000"#,
        refresh_by,
        stale_before
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant, r.audience)).collect())
}
