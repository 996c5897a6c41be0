//! Pacing's SQL: spend per campaign from the merged campaign hours, and
//! how far the delivery data reaches.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::Spent;

/// What each of `campaigns` spent before `at`: in all, in the 72 hours
/// before and in the 24 hours before.
pub async fn spent(
    tx: &mut TenantTx,
    campaigns: &[Uuid],
    at: DateTime<Utc>,
) -> Result<HashMap<Uuid, Spent>, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT campaign_id AS "campaign_id!",
                  sum(advertiser_cost_micros)::int8 AS "to_date!",
                  coalesce(sum(advertiser_cost_micros)
                      FILTER (WHERE hour >= $3::timestamptz - interval '72 hours'), 0)::int8 AS "last_3_days!",
                  coalesce(sum(advertiser_cost_micros)
                      FILTER (WHERE hour >= $3::timestamptz - interval '24 hours'), 0)::int8 AS "last_24_hours!"
           FROM delivery_campaign_hours
           WHERE tenant_id = $1 AND campaign_id = ANY($2) AND hour < $3
           GROUP BY campaign_id"#,
        tenant as TenantId,
        campaigns,
        at
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.campaign_id,
                Spent {
                    to_date: r.to_date,
                    last_3_days: r.last_3_days,
                    last_24_hours: r.last_24_hours,
                },
            )
        })
        .collect())
}

/// The end of the latest hour any applied file holds (the feed is the
/// platform's, so this is every tenant's), if any file was applied.
pub async fn data_until(
    conn: &mut sqlx::PgConnection,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT max(data_until) FROM delivery_files WHERE status = 'applied' AND kind = 'impressions'"
    )
        .fetch_one(conn)
        .await
}
