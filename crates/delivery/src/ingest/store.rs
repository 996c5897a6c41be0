//! The SQL of delivery ingests: files (platform records) and rollups (each
//! row its campaign's tenant's, or none for a campaign P360 does not know).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta};
use sqlx::{PgConnection, PgPool};
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

use super::{Kind, Report};
use crate::read::{Cell, Rollup, Sums, UNRESOLVED};
use crate::resolve::{Ranges, number};

/// Rows one insert statement carries.
const CHUNK: usize = 50_000;

/// A file already ingested under `key` with these bytes.
pub async fn file<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    key: &str,
    sum: &str,
) -> Result<Option<Report>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, kind, reason, rows_read, unresolved, unknown_campaigns, cells,
                  clicks_joined
           FROM delivery_files WHERE source_key = $1 AND checksum = $2"#,
        key,
        sum
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Report {
        file: r.id,
        kind: if r.kind == "clicks" {
            Kind::Clicks
        } else {
            Kind::Impressions
        },
        clicks_joined: r.clicks_joined as u64,
        outcome: match r.reason {
            Some(reason) => super::Outcome::Quarantined(reason),
            None => super::Outcome::Unchanged,
        },
        rows: r.rows_read as u64,
        unresolved: r.unresolved as u64,
        unknown_campaigns: r.unknown_campaigns as u64,
        cells: r.cells as u64,
    }))
}

/// The universe's IP ranges as the resolver searches them, and the
/// companies' domains by their number there.
#[derive(Debug, Default)]
pub struct RangeSet {
    pub ranges: Ranges,
    pub domains: Vec<String>,
}

/// The range set of the last generation built, kept per instance.
static BUILT: std::sync::Mutex<Option<(i64, std::sync::Arc<RangeSet>)>> =
    std::sync::Mutex::new(None);

/// The universe's IP ranges, built once per generation of the ranges
/// (`company_universe.ranges_generation`, changed by every import that
/// adds or removes one).
pub async fn ranges(pool: &PgPool) -> anyhow::Result<std::sync::Arc<RangeSet>> {
    let generation = accounts::read::ranges_generation(&mut *pool.acquire().await?).await?;
    if let Some((g, set)) = &*BUILT.lock().unwrap_or_else(|e| e.into_inner())
        && *g == generation
    {
        return Ok(set.clone());
    }
    let (ranges, domains) = build(pool).await?;
    let set = std::sync::Arc::new(RangeSet { ranges, domains });
    *BUILT.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, set.clone()));
    Ok(set)
}

/// Each company numbered by its place in the domains returned.
async fn build(pool: &PgPool) -> anyhow::Result<(Ranges, Vec<String>)> {
    let rows = sqlx::query!(
        "SELECT domain, first_ip, last_ip FROM company_ip_ranges ORDER BY domain, first_ip"
    )
    .fetch_all(pool)
    .await?;
    let mut domains: Vec<String> = Vec::new();
    let mut set = Vec::with_capacity(rows.len());
    for r in rows {
        if domains.last() != Some(&r.domain) {
            domains.push(r.domain);
        }
        let key = |b: &[u8]| -> anyhow::Result<u128> {
            let k: [u8; 16] = b
                .try_into()
                .map_err(|_| anyhow::anyhow!("an IP range bound is not 16 bytes"))?;
            Ok(number(accounts::ranges::address(&k)))
        };
        set.push((
            key(&r.first_ip)?,
            key(&r.last_ip)?,
            (domains.len() - 1) as u32,
        ));
    }
    Ok((Ranges::new(set)?, domains))
}

/// Record a file that does not read whole.
pub async fn quarantine(
    pool: &PgPool,
    key: &str,
    sum: &str,
    kind: Kind,
    reason: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query_scalar!(
        r#"INSERT INTO delivery_files (id, source_key, checksum, kind, status, reason)
           VALUES ($1, $2, $3, $4, 'quarantined', $5)
           ON CONFLICT (source_key, checksum) DO UPDATE SET reason = EXCLUDED.reason
           RETURNING id"#,
        id,
        key,
        sum,
        kind.as_str(),
        reason
    )
    .fetch_one(pool)
    .await
}

/// One ingest of `key` at a time.
pub async fn lock_key(conn: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('delivery:' || $1, 0))",
        key
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The file applied under `key`, if any, is replaced: the merge
/// ([`crate::merge`]) takes its sums back out and deletes its rows.
pub async fn retire(conn: &mut PgConnection, key: &str) -> Result<bool, sqlx::Error> {
    let old = sqlx::query_scalar!(
        r#"UPDATE delivery_files SET status = 'replaced'
           WHERE source_key = $1 AND status = 'applied' RETURNING id"#,
        key
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(old.is_some())
}

/// P360's ids (and tenant) of TTD's, by kind.
type Mapping = HashMap<(String, String), (Uuid, Uuid)>;

async fn mapping(conn: &mut PgConnection, rollup: &Rollup) -> Result<Mapping, sqlx::Error> {
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    for (kind, set) in [
        ("campaign", &rollup.campaigns),
        ("ad_group", &rollup.ad_groups),
        ("creative", &rollup.creatives),
    ] {
        for n in 0..set.len() as u32 {
            kinds.push(kind.to_string());
            ids.push(set.name(n).to_string());
        }
    }
    let rows = sqlx::query!(
        r#"SELECT o.object_type AS "kind!", o.ttd_id AS "ttd_id!", o.p360_id, o.tenant_id
           FROM ttd_objects o
           JOIN UNNEST($1::text[], $2::text[]) AS w(kind, ttd_id)
             ON o.object_type = w.kind AND o.ttd_id = w.ttd_id"#,
        &kinds,
        &ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.kind, r.ttd_id), (r.p360_id, r.tenant_id)))
        .collect())
}

fn day_of(day: i32) -> NaiveDate {
    NaiveDate::default() + TimeDelta::days(i64::from(day))
}

/// Insert the chunks `chunks` brings as file `file`'s rows on `conn`;
/// their impressions of campaigns P360 does not know.
async fn lane(
    conn: &mut PgConnection,
    file: Uuid,
    mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
) -> Result<u64, sqlx::Error> {
    let mut unknown = 0u64;
    while let Some(c) = chunks.recv().await {
        unknown += c.unknown;
        sqlx::query!(
            r#"INSERT INTO delivery_daily (day, file_id, tenant_id, campaign_id, ad_group_id,
                   creative_id, ttd_campaign, ttd_ad_group, ttd_creative, company, impressions,
                   clicks, advertiser_cost_micros, media_cost_micros, people)
               SELECT d, $1, t, c, g, r, tc, tg, tr, co, i, k, a, m, p::int4[]
               FROM UNNEST($2::date[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[],
                           $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[],
                           $12::int8[], $13::int8[], $14::int8[], $15::text[])
                    AS u(d, t, c, g, r, tc, tg, tr, co, i, k, a, m, p)"#,
            file,
            &c.day,
            &c.tenant as &[Option<Uuid>],
            &c.campaign as &[Option<Uuid>],
            &c.ad_group as &[Option<Uuid>],
            &c.creative as &[Option<Uuid>],
            &c.ttd_c,
            &c.ttd_g,
            &c.ttd_r,
            &c.company as &[Option<String>],
            &c.imps,
            &c.clicks,
            &c.adv,
            &c.media,
            &c.people
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(unknown)
}

/// One insert statement's columns, built apart from the connection.
#[derive(Default)]
struct Chunk {
    day: Vec<NaiveDate>,
    tenant: Vec<Option<Uuid>>,
    campaign: Vec<Option<Uuid>>,
    ad_group: Vec<Option<Uuid>>,
    creative: Vec<Option<Uuid>>,
    ttd_c: Vec<String>,
    ttd_g: Vec<String>,
    ttd_r: Vec<String>,
    company: Vec<Option<String>>,
    imps: Vec<i64>,
    clicks: Vec<i64>,
    adv: Vec<i64>,
    media: Vec<i64>,
    /// Each row's people as an `int4[]` literal: UNNEST flattens an array
    /// of arrays, so each row's goes as text.
    people: Vec<String>,
    /// Impressions of campaigns P360 does not know.
    unknown: u64,
}

/// P360's ids (and tenant) of each numbered TTD id of a rollup, by kind.
struct Mapped {
    campaigns: Vec<Option<(Uuid, Uuid)>>,
    ad_groups: Vec<Option<(Uuid, Uuid)>>,
    creatives: Vec<Option<(Uuid, Uuid)>>,
}

fn chunk(rollup: &Rollup, cells: &[(&Cell, &Sums)], m: &Mapped, domains: &[String]) -> Chunk {
    // An ad group or creative counts as P360's only in its campaign's tenant.
    let within = |tenant: Option<Uuid>, found: Option<(Uuid, Uuid)>| {
        found.filter(|(_, t)| Some(*t) == tenant).map(|(id, _)| id)
    };
    let mut c = Chunk::default();
    for (cell, sums) in cells {
        let found = m.campaigns[cell.campaign as usize];
        let t = found.map(|(_, t)| t);
        if found.is_none() {
            c.unknown += sums.impressions;
        }
        c.day.push(day_of(cell.day));
        c.tenant.push(t);
        c.campaign.push(found.map(|(id, _)| id));
        c.ad_group
            .push(within(t, m.ad_groups[cell.ad_group as usize]));
        c.creative
            .push(within(t, m.creatives[cell.creative as usize]));
        c.ttd_c
            .push(rollup.campaigns.name(cell.campaign).to_string());
        c.ttd_g
            .push(rollup.ad_groups.name(cell.ad_group).to_string());
        c.ttd_r
            .push(rollup.creatives.name(cell.creative).to_string());
        c.company
            .push((cell.company != UNRESOLVED).then(|| domains[cell.company as usize].clone()));
        c.imps.push(sums.impressions as i64);
        c.clicks.push(sums.clicks as i64);
        c.adv.push(sums.advertiser_cost);
        c.media.push(sums.media_cost);
        c.people.push(sums.people.literal());
    }
    c
}

/// Insert `rollup`'s rows as file `file`'s (on `conn`, the ingest's
/// transaction); the impressions of campaigns P360 does not know. The
/// statements' columns are built on a thread of their own, ahead of the
/// statements PostgreSQL is executing. A file of more than one statement's
/// rows is inserted on two connections at once, half of its statements in
/// a helper transaction (from `pool`) that commits first, under a note in
/// `delivery_loading` that the ingest's transaction deletes (migration 34;
/// [`crate::merge`] removes the rows of a note left behind).
pub async fn insert_rollup(
    conn: &mut PgConnection,
    pool: &PgPool,
    file: Uuid,
    rollup: std::sync::Arc<Rollup>,
    set: std::sync::Arc<RangeSet>,
) -> anyhow::Result<u64> {
    let months: BTreeSet<(i32, u32)> = rollup
        .cells
        .keys()
        .map(|c| {
            let d = day_of(c.day);
            (chrono::Datelike::year(&d), chrono::Datelike::month(&d))
        })
        .collect();
    // The months' partitions, made and committed on their own: a partition
    // made in the ingest's transaction would hold the parent table locked
    // from the helper until that transaction ends, which waits for the
    // helper.
    let mut made = ScopedTx::all(pool, AllTenants::system()).await?;
    for (y, m) in months {
        let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        sqlx::query!("SELECT delivery_month_partitions($1)", first)
            .execute(made.conn())
            .await?;
    }
    made.commit().await?;
    let map = mapping(conn, &rollup).await?;
    let of = |kind: &str, id: &str| map.get(&(kind.to_string(), id.to_string())).copied();
    let mapped = |kind: &str, ids: &crate::read::Ids| -> Vec<Option<(Uuid, Uuid)>> {
        (0..ids.len() as u32)
            .map(|n| of(kind, ids.name(n)))
            .collect()
    };
    let m = Mapped {
        campaigns: mapped("campaign", &rollup.campaigns),
        ad_groups: mapped("ad_group", &rollup.ad_groups),
        creatives: mapped("creative", &rollup.creatives),
    };
    let campaigns = m.campaigns.clone();
    let mut helper = if rollup.cells.len() > CHUNK {
        // The note must be there before the helper's rows are: committed
        // on its own (the ingest's transaction deletes it again).
        let mut note = ScopedTx::all(pool, AllTenants::system()).await?;
        sqlx::query!("INSERT INTO delivery_loading (file_id) VALUES ($1)", file)
            .execute(note.conn())
            .await?;
        note.commit().await?;
        Some(ScopedTx::all(pool, AllTenants::system()).await?)
    } else {
        None
    };
    // Statements alternate between the ingest's lane and the helper's.
    let (own_tx, own_rx) = tokio::sync::mpsc::channel::<Chunk>(1);
    let mut senders = vec![own_tx];
    let helper_rx = helper.as_ref().map(|_| {
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(1);
        senders.push(tx);
        rx
    });
    let builder = {
        let rollup = rollup.clone();
        std::thread::spawn(move || {
            let cells: Vec<_> = rollup.cells.iter().collect();
            for (i, part) in cells.chunks(CHUNK).enumerate() {
                let c = chunk(&rollup, part, &m, &set.domains);
                if senders[i % senders.len()].blocking_send(c).is_err() {
                    return; // the inserts stopped
                }
            }
        })
    };
    let own = lane(&mut *conn, file, own_rx);
    let unknown = match (&mut helper, helper_rx) {
        (Some(h), Some(rx)) => {
            let (a, b) = tokio::try_join!(own, lane(h.conn(), file, rx))?;
            a + b
        }
        _ => own.await?,
    };
    // A builder that panicked sent fewer chunks: not a whole file.
    builder
        .join()
        .map_err(|_| anyhow::anyhow!("building the rollup's rows failed"))?;
    if let Some(h) = helper {
        h.commit().await?;
        sqlx::query!("DELETE FROM delivery_loading WHERE file_id = $1", file)
            .execute(&mut *conn)
            .await?;
    }
    let (mut hour, mut tenant, mut campaign, mut ttd_c, mut imps, mut adv, mut media) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for ((h, c), sums) in &rollup.hours {
        let found = campaigns[*c as usize];
        hour.push(DateTime::from_timestamp(h * 3_600, 0).unwrap_or_default());
        tenant.push(found.map(|(_, t)| t));
        campaign.push(found.map(|(id, _)| id));
        ttd_c.push(rollup.campaigns.name(*c));
        imps.push(sums.impressions as i64);
        adv.push(sums.advertiser_cost);
        media.push(sums.media_cost);
    }
    sqlx::query!(
        r#"INSERT INTO delivery_hourly (hour, file_id, tenant_id, campaign_id, ttd_campaign,
               impressions, advertiser_cost_micros, media_cost_micros)
           SELECT h, $1, t, c, tc, i, a, m
           FROM UNNEST($2::timestamptz[], $3::uuid[], $4::uuid[], $5::text[], $6::int8[],
                       $7::int8[], $8::int8[]) AS u(h, t, c, tc, i, a, m)"#,
        file,
        &hour,
        &tenant as &[Option<Uuid>],
        &campaign as &[Option<Uuid>],
        &ttd_c as &[&str],
        &imps,
        &adv,
        &media
    )
    .execute(&mut *conn)
    .await?;
    Ok(unknown)
}

/// Record an applied file of `kind` holding hours `hours` (start of the
/// first, end of the last).
pub async fn insert_file(
    conn: &mut PgConnection,
    key: &str,
    sum: &str,
    kind: Kind,
    r: &Report,
    hours: Option<(DateTime<chrono::Utc>, DateTime<chrono::Utc>)>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO delivery_files (id, source_key, checksum, kind, status, rows_read,
               unresolved, unknown_campaigns, cells, clicks_joined, data_from, data_until)
           VALUES ($1, $2, $3, $4, 'applied', $5, $6, $7, $8, $9, $10, $11)"#,
        r.file,
        key,
        sum,
        kind.as_str(),
        r.rows as i64,
        r.unresolved as i64,
        r.unknown_campaigns as i64,
        r.cells as i64,
        r.clicks_joined as i64,
        hours.map(|h| h.0),
        hours.map(|h| h.1)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The applied impression files holding an hour in `[from, to)`, by key.
pub async fn impression_files_between(
    pool: &PgPool,
    from: DateTime<chrono::Utc>,
    to: DateTime<chrono::Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT source_key FROM delivery_files
         WHERE kind = 'impressions' AND status = 'applied'
           AND data_from < $2 AND data_until > $1
         ORDER BY data_from, source_key",
        from,
        to
    )
    .fetch_all(pool)
    .await
}
