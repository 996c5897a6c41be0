//! Billing fixtures: an invoice as drafting leaves it, for tests whose
//! subject is not drafting (routes, roles, isolation).

use uuid::Uuid;

/// An issued invoice of October 2026 (closed) for `advertiser` of `tenant`,
/// $12.50 over one line, numbered 1 (the tenant's counter at 1): its id.
pub async fn issued_invoice(pool: &sqlx::PgPool, tenant: Uuid, advertiser: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let month = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    sqlx::query!(
        "INSERT INTO invoices (id, tenant_id, advertiser_id, currency, month, total_micros)
         VALUES ($1, $2, $3, 'USD', $4, 12500000)",
        id,
        tenant,
        advertiser,
        month
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, description, units,
                                    amount_micros, pricing_model, rate_micros)
         VALUES ($1, 1, $2, 'delivery', 'IO Q4', 5000, 12500000, 'cpm', 2500000)",
        id,
        tenant
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query!(
        "INSERT INTO billing_periods (tenant_id, month, closed_by) VALUES ($1, $2, 'test')
         ON CONFLICT DO NOTHING",
        tenant,
        month
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query!(
        "INSERT INTO invoice_numbers (tenant_id, last) VALUES ($1, 1)",
        tenant
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query!(
        "UPDATE invoices SET status = 'issued', number = 1, issued_at = now() WHERE id = $1",
        id
    )
    .execute(pool)
    .await
    .unwrap();
    id
}
