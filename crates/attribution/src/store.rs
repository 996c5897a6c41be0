//! Attribution's own SQL: the tenant's rules and exchange rates.

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};

use crate::Settings;

pub async fn settings(tx: &mut TenantTx) -> Result<Option<Settings>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Settings,
        "SELECT lookback_days, half_life_days, currency FROM attribution_settings WHERE tenant_id = $1",
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn put_settings(tx: &mut TenantTx, s: &Settings) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO attribution_settings (tenant_id, lookback_days, half_life_days, currency)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET lookback_days = EXCLUDED.lookback_days,
             half_life_days = EXCLUDED.half_life_days, currency = EXCLUDED.currency, updated_at = now()",
        tenant as TenantId,
        s.lookback_days,
        s.half_life_days,
        s.currency
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every rate of `currencies` up to `to`: (currency, day, USD per unit × 10⁹).
pub async fn rates(
    conn: &mut sqlx::PgConnection,
    currencies: &[String],
    to: NaiveDate,
) -> Result<Vec<(String, NaiveDate, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT currency, day, usd_per_unit_e9 FROM fx_rates
         WHERE currency = ANY($1) AND day <= $2 ORDER BY currency, day",
        currencies,
        to
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.currency, r.day, r.usd_per_unit_e9))
    .collect())
}

/// Upsert rates (staff's import): how many were new or changed.
pub async fn put_rates(
    conn: &mut sqlx::PgConnection,
    rows: &[(String, NaiveDate, i64)],
) -> Result<u64, sqlx::Error> {
    let currencies: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let days: Vec<NaiveDate> = rows.iter().map(|r| r.1).collect();
    let rates: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let done = sqlx::query!(
        "INSERT INTO fx_rates (currency, day, usd_per_unit_e9)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::int8[])
         ON CONFLICT (currency, day) DO UPDATE SET usd_per_unit_e9 = EXCLUDED.usd_per_unit_e9
         WHERE fx_rates.usd_per_unit_e9 <> EXCLUDED.usd_per_unit_e9",
        &currencies as &[&str],
        &days,
        &rates
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
