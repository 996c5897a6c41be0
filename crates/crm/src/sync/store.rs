//! The sync's SQL: watermarks, the records' upserts (a record older than
//! the one held changes nothing, so the overlap window and a page read
//! twice are harmless), and account matching's reads and writes.

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};

use super::records::{Account, History, Opportunity};

pub async fn watermark(
    tx: &mut TenantTx,
    object: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT watermark FROM salesforce_watermarks WHERE tenant_id = $1 AND object = $2",
        tenant as TenantId,
        object
    )
    .fetch_optional(tx.conn())
    .await
}

/// Move the watermark forward to `to` (never back), counting `records`.
pub async fn advance(
    tx: &mut TenantTx,
    object: &str,
    to: DateTime<Utc>,
    records: i64,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO salesforce_watermarks (tenant_id, object, watermark, records)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, object) DO UPDATE SET
             watermark = greatest(salesforce_watermarks.watermark, EXCLUDED.watermark),
             records = salesforce_watermarks.records + EXCLUDED.records,
             updated_at = now()",
        tenant as TenantId,
        object,
        to,
        records
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Upsert accounts; a changed name or website is matched again.
pub async fn accounts(tx: &mut TenantTx, rows: &[Account]) -> Result<u64, sqlx::Error> {
    let tenant = tx.tenant();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let websites: Vec<Option<&str>> = rows.iter().map(|r| r.website.as_deref()).collect();
    let industries: Vec<Option<&str>> = rows.iter().map(|r| r.industry.as_deref()).collect();
    let employees: Vec<Option<i64>> = rows.iter().map(|r| r.employees).collect();
    let countries: Vec<Option<&str>> = rows.iter().map(|r| r.billing_country.as_deref()).collect();
    let stamps: Vec<DateTime<Utc>> = rows.iter().map(|r| r.system_modstamp).collect();
    let deleted: Vec<bool> = rows.iter().map(|r| r.is_deleted).collect();
    let done = sqlx::query!(
        r#"INSERT INTO crm_accounts AS a
             (tenant_id, id, name, website, industry, employees, billing_country, system_modstamp, is_deleted)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                                  $7::text[], $8::timestamptz[], $9::bool[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             name = EXCLUDED.name, website = EXCLUDED.website, industry = EXCLUDED.industry,
             employees = EXCLUDED.employees, billing_country = EXCLUDED.billing_country,
             system_modstamp = EXCLUDED.system_modstamp, is_deleted = EXCLUDED.is_deleted,
             match_status = CASE
                 WHEN a.name IS DISTINCT FROM EXCLUDED.name OR a.website IS DISTINCT FROM EXCLUDED.website
                 THEN 'pending' ELSE a.match_status END
         WHERE a.system_modstamp <= EXCLUDED.system_modstamp"#,
        tenant as TenantId,
        &ids as &[&str],
        &names as &[&str],
        &websites as &[Option<&str>],
        &industries as &[Option<&str>],
        &employees as &[Option<i64>],
        &countries as &[Option<&str>],
        &stamps,
        &deleted
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Upsert opportunities (`currency`: the org's, for a record without one).
pub async fn opportunities(
    tx: &mut TenantTx,
    rows: &[Opportunity],
    currency: &str,
) -> Result<u64, sqlx::Error> {
    let tenant = tx.tenant();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let accounts: Vec<Option<&str>> = rows.iter().map(|r| r.account_id.as_deref()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let amounts: Vec<Option<i64>> = rows.iter().map(|r| r.amount_micros).collect();
    let currencies: Vec<&str> = rows
        .iter()
        .map(|r| r.currency.as_deref().unwrap_or(currency))
        .collect();
    let stages: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
    let closes: Vec<Option<chrono::NaiveDate>> = rows.iter().map(|r| r.close_date).collect();
    let closed: Vec<bool> = rows.iter().map(|r| r.is_closed).collect();
    let won: Vec<bool> = rows.iter().map(|r| r.is_won).collect();
    let created: Vec<DateTime<Utc>> = rows.iter().map(|r| r.created_at).collect();
    let stamps: Vec<DateTime<Utc>> = rows.iter().map(|r| r.system_modstamp).collect();
    let deleted: Vec<bool> = rows.iter().map(|r| r.is_deleted).collect();
    let done = sqlx::query!(
        r#"INSERT INTO crm_opportunities AS o
             (tenant_id, id, account_id, name, amount_micros, currency, stage, close_date,
              is_closed, is_won, created_at, system_modstamp, is_deleted)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
                                  $7::text[], $8::date[], $9::bool[], $10::bool[],
                                  $11::timestamptz[], $12::timestamptz[], $13::bool[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             account_id = EXCLUDED.account_id, name = EXCLUDED.name,
             amount_micros = EXCLUDED.amount_micros, currency = EXCLUDED.currency,
             stage = EXCLUDED.stage, close_date = EXCLUDED.close_date,
             is_closed = EXCLUDED.is_closed, is_won = EXCLUDED.is_won,
             created_at = EXCLUDED.created_at, system_modstamp = EXCLUDED.system_modstamp,
             is_deleted = EXCLUDED.is_deleted
         WHERE o.system_modstamp <= EXCLUDED.system_modstamp"#,
        tenant as TenantId,
        &ids as &[&str],
        &accounts as &[Option<&str>],
        &names as &[&str],
        &amounts as &[Option<i64>],
        &currencies as &[&str],
        &stages as &[&str],
        &closes as &[Option<chrono::NaiveDate>],
        &closed,
        &won,
        &created,
        &stamps,
        &deleted
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Upsert stage history.
pub async fn history(tx: &mut TenantTx, rows: &[History]) -> Result<u64, sqlx::Error> {
    let tenant = tx.tenant();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let opps: Vec<&str> = rows.iter().map(|r| r.opportunity_id.as_str()).collect();
    let stages: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
    let amounts: Vec<Option<i64>> = rows.iter().map(|r| r.amount_micros).collect();
    let closes: Vec<Option<chrono::NaiveDate>> = rows.iter().map(|r| r.close_date).collect();
    let created: Vec<DateTime<Utc>> = rows.iter().map(|r| r.created_at).collect();
    let stamps: Vec<DateTime<Utc>> = rows.iter().map(|r| r.system_modstamp).collect();
    let deleted: Vec<bool> = rows.iter().map(|r| r.is_deleted).collect();
    let done = sqlx::query!(
        r#"INSERT INTO crm_opportunity_history AS h
             (tenant_id, id, opportunity_id, stage, amount_micros, close_date, created_at,
              system_modstamp, is_deleted)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::date[],
                                  $7::timestamptz[], $8::timestamptz[], $9::bool[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             stage = EXCLUDED.stage, amount_micros = EXCLUDED.amount_micros,
             close_date = EXCLUDED.close_date, system_modstamp = EXCLUDED.system_modstamp,
             is_deleted = EXCLUDED.is_deleted
         WHERE h.system_modstamp <= EXCLUDED.system_modstamp"#,
        tenant as TenantId,
        &ids as &[&str],
        &opps as &[&str],
        &stages as &[&str],
        &amounts as &[Option<i64>],
        &closes as &[Option<chrono::NaiveDate>],
        &created,
        &stamps,
        &deleted
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
