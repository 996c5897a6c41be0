//! Merging ingested files into the tables reports read. An ingest appends
//! a file's rows (`delivery_daily`, `delivery_hourly`: each file's own, so
//! that a correction takes back exactly what it added) and queues the
//! `delivery.merge` job in its transaction; the merge adds a pending file's
//! sums into `delivery_cells` (day × campaign × ad group × creative ×
//! company), `delivery_accounts` (day × P360 campaign × company) and
//! `delivery_campaign_hours` (campaign × hour), and takes a replaced file's
//! sums back out before deleting its rows. One merge runs at a time (an
//! advisory lock); a few files a transaction, so a backlog commits as it
//! goes and a crash loses nothing (a file is pending until the transaction
//! that merged it commits).

use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

/// Files merged per transaction.
const FILES_PER_TX: i64 = 8;

/// What a merge did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    /// Files whose sums were added.
    pub added: u64,
    /// Replaced files whose sums were taken back (or, never merged, whose
    /// rows were dropped).
    pub taken_back: u64,
}

/// Merge every pending file and take back every replaced one.
pub async fn run(pool: &PgPool) -> anyhow::Result<Merged> {
    let mut done = Merged::default();
    loop {
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let conn = tx.conn();
        sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('delivery:merge', 0))")
            .execute(&mut *conn)
            .await?;
        let abandoned = drop_abandoned(conn).await?;
        if abandoned > 0 {
            tracing::warn!(
                files = abandoned,
                "delivery: rows of ingests that failed halfway deleted"
            );
        }
        let files = sqlx::query!(
            r#"SELECT id, status, merge_state FROM delivery_files
               WHERE (status = 'applied' AND merge_state = 'pending')
                  OR (status = 'replaced' AND merge_state <> 'done')
               ORDER BY received_at, id LIMIT $1 FOR UPDATE"#,
            FILES_PER_TX
        )
        .fetch_all(&mut *conn)
        .await?;
        if files.is_empty() {
            tx.commit().await?;
            return Ok(done);
        }
        for f in &files {
            // Whatever happens to the file, its campaigns' days change.
            sqlx::query!(
                r#"INSERT INTO delivery_campaign_versions (campaign_id, tenant_id, version)
                   SELECT DISTINCT campaign_id, tenant_id, 1 FROM delivery_daily
                   WHERE file_id = $1 AND campaign_id IS NOT NULL AND tenant_id IS NOT NULL
                   ON CONFLICT (campaign_id)
                   DO UPDATE SET version = delivery_campaign_versions.version + 1"#,
                f.id
            )
            .execute(&mut *conn)
            .await?;
            if f.status == "applied" {
                add(conn, f.id, 1).await?;
                done.added += 1;
            } else {
                if f.merge_state == "merged" {
                    add(conn, f.id, -1).await?;
                    drop_zeros(conn, f.id).await?;
                    people_again(conn, f.id).await?;
                }
                sqlx::query!("DELETE FROM delivery_daily WHERE file_id = $1", f.id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query!("DELETE FROM delivery_hourly WHERE file_id = $1", f.id)
                    .execute(&mut *conn)
                    .await?;
                done.taken_back += 1;
            }
            sqlx::query!(
                r#"UPDATE delivery_files
                   SET merge_state = CASE status WHEN 'applied' THEN 'merged' ELSE 'done' END
                   WHERE id = $1"#,
                f.id
            )
            .execute(&mut *conn)
            .await?;
        }
        tx.commit().await?;
    }
}

/// Delete the rows of files whose ingest failed after its helper committed
/// (a `delivery_loading` note older than an hour with no file recorded);
/// how many files' rows went.
async fn drop_abandoned(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let files = sqlx::query_scalar!(
        r#"DELETE FROM delivery_loading l
           WHERE started_at < now() - interval '1 hour'
             AND NOT EXISTS (SELECT 1 FROM delivery_files f WHERE f.id = l.file_id)
           RETURNING file_id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    if !files.is_empty() {
        sqlx::query!("DELETE FROM delivery_daily WHERE file_id = ANY($1)", &files)
            .execute(&mut *conn)
            .await?;
    }
    Ok(files.len() as u64)
}

/// Add file `file`'s sums, times `sign`, into the merged tables.
async fn add(conn: &mut PgConnection, file: Uuid, sign: i64) -> Result<(), sqlx::Error> {
    let months = sqlx::query_scalar!(
        r#"SELECT DISTINCT date_trunc('month', day)::date AS "month!"
           FROM delivery_daily WHERE file_id = $1"#,
        file
    )
    .fetch_all(&mut *conn)
    .await?;
    for m in months {
        sqlx::query!("SELECT delivery_month_partitions($1)", m)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query!(
        r#"INSERT INTO delivery_cells AS c (day, tenant_id, campaign_id, ad_group_id, creative_id,
               ttd_campaign, ttd_ad_group, ttd_creative, company, impressions, clicks,
               advertiser_cost_micros, media_cost_micros, people)
           SELECT day, tenant_id, campaign_id, ad_group_id, creative_id, ttd_campaign,
                  ttd_ad_group, ttd_creative, company, $2 * impressions, $2 * clicks,
                  $2 * advertiser_cost_micros, $2 * media_cost_micros,
                  CASE WHEN $2 > 0 THEN people ELSE '{}' END
           FROM delivery_daily WHERE file_id = $1
           ON CONFLICT (tenant_id, day, ttd_campaign, ttd_ad_group, ttd_creative, company)
           DO UPDATE SET impressions = c.impressions + EXCLUDED.impressions,
                         clicks = c.clicks + EXCLUDED.clicks,
                         advertiser_cost_micros = c.advertiser_cost_micros
                             + EXCLUDED.advertiser_cost_micros,
                         media_cost_micros = c.media_cost_micros + EXCLUDED.media_cost_micros,
                         people = p360_people_union(c.people, EXCLUDED.people)"#,
        file,
        sign
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO delivery_accounts AS a (day, tenant_id, campaign_id, company, impressions,
               clicks, advertiser_cost_micros, media_cost_micros, people)
           SELECT day, tenant_id, campaign_id, company, $2 * sum(impressions)::int8,
                  $2 * sum(clicks)::int8, $2 * sum(advertiser_cost_micros)::int8,
                  $2 * sum(media_cost_micros)::int8,
                  CASE WHEN $2 > 0 THEN p360_people(people) ELSE '{}' END
           FROM delivery_daily
           WHERE file_id = $1 AND tenant_id IS NOT NULL AND campaign_id IS NOT NULL
           GROUP BY day, tenant_id, campaign_id, company
           ON CONFLICT (tenant_id, campaign_id, day, company)
           DO UPDATE SET impressions = a.impressions + EXCLUDED.impressions,
                         clicks = a.clicks + EXCLUDED.clicks,
                         advertiser_cost_micros = a.advertiser_cost_micros
                             + EXCLUDED.advertiser_cost_micros,
                         media_cost_micros = a.media_cost_micros + EXCLUDED.media_cost_micros,
                         people = p360_people_union(a.people, EXCLUDED.people)"#,
        file,
        sign
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO delivery_campaign_hours AS h (hour, tenant_id, campaign_id, ttd_campaign,
               impressions, advertiser_cost_micros, media_cost_micros)
           SELECT hour, tenant_id, campaign_id, ttd_campaign, $2 * impressions,
                  $2 * advertiser_cost_micros, $2 * media_cost_micros
           FROM delivery_hourly WHERE file_id = $1
           ON CONFLICT (tenant_id, campaign_id, ttd_campaign, hour)
           DO UPDATE SET impressions = h.impressions + EXCLUDED.impressions,
                         advertiser_cost_micros = h.advertiser_cost_micros
                             + EXCLUDED.advertiser_cost_micros,
                         media_cost_micros = h.media_cost_micros + EXCLUDED.media_cost_micros"#,
        file,
        sign
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// After file `file` was taken back: the merged rows it alone made (now
/// all zero) go, so a report does not list a cell nothing delivered to.
async fn drop_zeros(conn: &mut PgConnection, file: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"DELETE FROM delivery_cells c USING delivery_daily d
           WHERE d.file_id = $1 AND c.day = d.day
             AND c.tenant_id IS NOT DISTINCT FROM d.tenant_id
             AND c.ttd_campaign = d.ttd_campaign AND c.ttd_ad_group = d.ttd_ad_group
             AND c.ttd_creative = d.ttd_creative AND c.company IS NOT DISTINCT FROM d.company
             AND c.impressions = 0 AND c.clicks = 0
             AND c.advertiser_cost_micros = 0 AND c.media_cost_micros = 0"#,
        file
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"DELETE FROM delivery_accounts a USING delivery_daily d
           WHERE d.file_id = $1 AND a.day = d.day AND a.tenant_id = d.tenant_id
             AND a.campaign_id = d.campaign_id AND a.company IS NOT DISTINCT FROM d.company
             AND a.impressions = 0 AND a.clicks = 0
             AND a.advertiser_cost_micros = 0 AND a.media_cost_micros = 0"#,
        file
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"DELETE FROM delivery_campaign_hours c USING delivery_hourly h
           WHERE h.file_id = $1 AND c.hour = h.hour
             AND c.tenant_id IS NOT DISTINCT FROM h.tenant_id
             AND c.campaign_id IS NOT DISTINCT FROM h.campaign_id
             AND c.ttd_campaign = h.ttd_campaign
             AND c.impressions = 0 AND c.advertiser_cost_micros = 0
             AND c.media_cost_micros = 0"#,
        file
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// After file `file` was taken back: the people of the merged rows of the
/// days and campaigns it held, which a union cannot take apart, made again
/// from the merged files that remain (their own rows of those days). A
/// correction is rare; this reads those days' rows of every file.
async fn people_again(conn: &mut PgConnection, file: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"WITH touched AS MATERIALIZED (
               SELECT DISTINCT day, ttd_campaign FROM delivery_daily WHERE file_id = $1),
           rebuilt AS (
               SELECT d.day, coalesce(d.tenant_id, '00000000-0000-0000-0000-000000000000') AS t,
                      d.ttd_campaign, d.ttd_ad_group, d.ttd_creative,
                      coalesce(d.company, '') AS co, p360_people(d.people) AS people
               FROM delivery_daily d
               JOIN delivery_files f ON f.id = d.file_id
                    AND f.status = 'applied' AND f.merge_state = 'merged'
               WHERE (d.day, d.ttd_campaign) IN (SELECT day, ttd_campaign FROM touched)
               GROUP BY 1, 2, 3, 4, 5, 6)
           UPDATE delivery_cells c SET people = r.people
           FROM rebuilt r
           WHERE c.day = r.day
             AND coalesce(c.tenant_id, '00000000-0000-0000-0000-000000000000') = r.t
             AND c.ttd_campaign = r.ttd_campaign AND c.ttd_ad_group = r.ttd_ad_group
             AND c.ttd_creative = r.ttd_creative AND coalesce(c.company, '') = r.co
             AND c.people <> r.people"#,
        file
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"WITH touched AS MATERIALIZED (
               SELECT DISTINCT day, campaign_id FROM delivery_daily
               WHERE file_id = $1 AND campaign_id IS NOT NULL),
           rebuilt AS (
               SELECT d.day, d.campaign_id, coalesce(d.company, '') AS co,
                      p360_people(d.people) AS people
               FROM delivery_daily d
               JOIN delivery_files f ON f.id = d.file_id
                    AND f.status = 'applied' AND f.merge_state = 'merged'
               WHERE (d.day, d.campaign_id) IN (SELECT day, campaign_id FROM touched)
               GROUP BY 1, 2, 3)
           UPDATE delivery_accounts a SET people = r.people
           FROM rebuilt r
           WHERE a.day = r.day AND a.campaign_id = r.campaign_id
             AND coalesce(a.company, '') = r.co AND a.people <> r.people"#,
        file
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Merge what ingests left pending (`delivery.merge`); queued by every
/// ingest in its transaction, at most one waiting.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MergeFiles {}

impl MergeFiles {
    /// Queue a merge in `tx` (the ingest's).
    pub async fn enqueue(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        platform::jobs::enqueue(tx, &MergeFiles {}, None).await?;
        Ok(())
    }
}

impl Job for MergeFiles {
    const KIND: &'static str = "delivery.merge";
    const QUEUE: &'static str = "ingest";
    type Context = ();

    fn dedup_key(&self) -> Option<String> {
        Some("all".into())
    }

    async fn run(self, ctx: JobContext<()>) -> anyhow::Result<()> {
        let m = run(&ctx.pool).await?;
        tracing::info!(
            added = m.added,
            taken_back = m.taken_back,
            "delivery files merged"
        );
        Ok(())
    }
}
