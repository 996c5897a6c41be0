//! The report's SQL. The grouping is the caller's, so the statement is
//! built (`QueryBuilder`, every value bound); it reads `delivery_accounts`
//! (day × campaign × company) when that grain is enough, and
//! `delivery_cells` otherwise.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{Postgres, QueryBuilder, Row};
use tenancy::TenantTx;
use uuid::Uuid;

use super::{Dim, KeyPart, Sums};
use crate::people::Sketch;

/// What to read.
pub struct Query<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub dims: &'a [Dim],
    /// Only these campaigns (`None`: all the tenant's).
    pub campaigns: Option<&'a [Uuid]>,
    pub ad_group: Option<Uuid>,
    pub creative: Option<Uuid>,
    /// A company's domain, or `""` for the unresolved impressions.
    pub company: Option<&'a str>,
    /// Rows after this key (in the grouping's order).
    pub after: Option<&'a [KeyPart]>,
    pub limit: i64,
}

/// A row as read: its key, P360's ad group and creative ids where known,
/// and its sums.
pub struct Line {
    pub key: Vec<KeyPart>,
    pub ad_group_id: Option<Uuid>,
    pub creative_id: Option<Uuid>,
    pub sums: Sums,
}

fn expr(d: Dim) -> &'static str {
    match d {
        Dim::Day => "day",
        Dim::Campaign => "campaign_id",
        Dim::AdGroup => "ttd_ad_group",
        Dim::Creative => "ttd_creative",
        Dim::Company => "coalesce(company, '')",
    }
}

pub async fn lines(tx: &mut TenantTx, q: &Query<'_>) -> Result<Vec<Line>, sqlx::Error> {
    let tenant = tx.tenant().0;
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    for d in q.dims {
        b.push(expr(*d)).push(", ");
    }
    if q.dims.contains(&Dim::AdGroup) {
        b.push("(array_agg(ad_group_id) FILTER (WHERE ad_group_id IS NOT NULL))[1], ");
    }
    if q.dims.contains(&Dim::Creative) {
        b.push("(array_agg(creative_id) FILTER (WHERE creative_id IS NOT NULL))[1], ");
    }
    b.push(
        "coalesce(sum(impressions), 0)::int8, coalesce(sum(clicks), 0)::int8, \
         coalesce(sum(advertiser_cost_micros), 0)::int8, \
         coalesce(sum(media_cost_micros), 0)::int8 FROM ",
    );
    b.push(table(q));
    filters(&mut b, q, tenant);
    if !q.dims.is_empty() {
        let keys = keys(q.dims);
        b.push(" GROUP BY ").push(&keys);
        if let Some(after) = q.after {
            b.push(" HAVING (").push(&keys).push(") > (");
            bind_key(&mut b, after);
            b.push(")");
        }
        b.push(" ORDER BY ").push(keys);
    }
    b.push(" LIMIT ").push_bind(q.limit);
    let rows = b.build().fetch_all(tx.conn()).await?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let mut i = 0;
        let key = key_of(&row, q.dims, &mut i)?;
        let mut id = |grouped: bool| -> Result<Option<Uuid>, sqlx::Error> {
            if !grouped {
                return Ok(None);
            }
            i += 1;
            row.try_get(i - 1)
        };
        let ad_group_id = id(q.dims.contains(&Dim::AdGroup))?;
        let creative_id = id(q.dims.contains(&Dim::Creative))?;
        lines.push(Line {
            key,
            ad_group_id,
            creative_id,
            sums: Sums {
                impressions: row.try_get(i)?,
                clicks: row.try_get(i + 1)?,
                spend: row.try_get(i + 2)?,
                media_cost: row.try_get(i + 3)?,
            },
        });
    }
    Ok(lines)
}

/// The people of each group from `first` to `last` (keys of a page, in
/// the grouping's order; the one total row when not grouped): the
/// sketches of its rows, united here rather than in SQL (a group's rows
/// are few for a page, many for a campaign's total).
pub async fn people(
    tx: &mut TenantTx,
    q: &Query<'_>,
    first: &[KeyPart],
    last: &[KeyPart],
) -> Result<HashMap<Vec<KeyPart>, Sketch>, sqlx::Error> {
    let tenant = tx.tenant().0;
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    for d in q.dims {
        b.push(expr(*d)).push(", ");
    }
    b.push("people FROM ").push(table(q));
    filters(&mut b, q, tenant);
    b.push(" AND cardinality(people) > 0");
    if !q.dims.is_empty() {
        let keys = keys(q.dims);
        b.push(" AND (").push(&keys).push(") >= (");
        bind_key(&mut b, first);
        b.push(") AND (").push(&keys).push(") <= (");
        bind_key(&mut b, last);
        b.push(")");
    }
    let mut rows = b.build().fetch(tx.conn());
    let mut out: HashMap<Vec<KeyPart>, Sketch> = HashMap::new();
    while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await? {
        let mut i = 0;
        let key = key_of(&row, q.dims, &mut i)?;
        let hashes: Vec<i32> = row.try_get(i)?;
        out.entry(key).or_default().union(&hashes);
    }
    Ok(out)
}

/// The table a query reads: the account grain when it is enough.
fn table(q: &Query<'_>) -> &'static str {
    let fine = q.ad_group.is_some()
        || q.creative.is_some()
        || q.dims
            .iter()
            .any(|d| matches!(d, Dim::AdGroup | Dim::Creative));
    if fine {
        "delivery_cells"
    } else {
        "delivery_accounts"
    }
}

fn keys(dims: &[Dim]) -> String {
    dims.iter().map(|d| expr(*d)).collect::<Vec<_>>().join(", ")
}

fn bind_key(b: &mut QueryBuilder<Postgres>, key: &[KeyPart]) {
    let mut s = b.separated(", ");
    for k in key {
        match k {
            KeyPart::Day(d) => s.push_bind(*d),
            KeyPart::Id(id) => s.push_bind(*id),
            KeyPart::Text(t) => s.push_bind(t.clone()),
        };
    }
}

fn key_of(
    row: &sqlx::postgres::PgRow,
    dims: &[Dim],
    i: &mut usize,
) -> Result<Vec<KeyPart>, sqlx::Error> {
    let mut key = Vec::with_capacity(dims.len());
    for d in dims {
        key.push(match d {
            Dim::Day => KeyPart::Day(row.try_get(*i)?),
            Dim::Campaign => KeyPart::Id(row.try_get(*i)?),
            _ => KeyPart::Text(row.try_get(*i)?),
        });
        *i += 1;
    }
    Ok(key)
}

/// The tenant, the range and the filters of `q`.
fn filters(b: &mut QueryBuilder<Postgres>, q: &Query<'_>, tenant: Uuid) {
    b.push(" WHERE tenant_id = ").push_bind(tenant);
    b.push(" AND day BETWEEN ")
        .push_bind(q.from)
        .push(" AND ")
        .push_bind(q.to);
    if let Some(c) = q.campaigns {
        b.push(" AND campaign_id = ANY(").push_bind(c).push(")");
    }
    if let Some(g) = q.ad_group {
        b.push(" AND ad_group_id = ").push_bind(g);
    }
    if let Some(r) = q.creative {
        b.push(" AND creative_id = ").push_bind(r);
    }
    match q.company {
        Some("") => {
            b.push(" AND company IS NULL");
        }
        Some(c) => {
            b.push(" AND company = ").push_bind(c);
        }
        None => {}
    }
}
