//! Billing's own SQL: invoices, their lines, the gap-free numbers and the
//! closed months (migration 37).

use chrono::{DateTime, NaiveDate, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// An invoice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub advertiser_id: Uuid,
    pub currency: String,
    pub month: NaiveDate,
    pub kind: String,
    pub status: String,
    pub number: Option<i64>,
    pub credits: Option<Uuid>,
    pub total_micros: i64,
    pub over_delivery_micros: i64,
    pub issued_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The tenant's invoice `id`, locked for a state change.
pub async fn invoice_for_update(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        InvoiceRow,
        "SELECT id, advertiser_id, currency, month, kind, status, number, credits, total_micros,
                over_delivery_micros, issued_at, paid_at, voided_at, created_at
         FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant as TenantId,
        id
    )
    .fetch_optional(tx.conn())
    .await
}

/// Whether `month` (its first day) is closed for the tenant.
pub async fn month_closed(tx: &mut TenantTx, month: NaiveDate) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM billing_periods WHERE tenant_id = $1 AND month = $2) AS "closed!""#,
        tenant as TenantId,
        month
    )
    .fetch_one(tx.conn())
    .await
}

/// The tenant's next invoice number, taken under its counter's row lock:
/// held until the transaction ends, so concurrent issuers queue, and a
/// rolled-back issue gives its number back — no gaps.
pub async fn next_number(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "INSERT INTO invoice_numbers (tenant_id, last) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last = invoice_numbers.last + 1
         RETURNING last",
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn set_issued(tx: &mut TenantTx, id: Uuid, number: i64) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE invoices SET status = 'issued', number = $3, issued_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant as TenantId,
        id,
        number
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Move the issued invoice `id` to `status` (`paid` or `void`), stamping when.
pub async fn settle(tx: &mut TenantTx, id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE invoices SET status = $3,
             paid_at = CASE WHEN $3 = 'paid' THEN now() ELSE paid_at END,
             voided_at = CASE WHEN $3 = 'void' THEN now() ELSE voided_at END,
             updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant as TenantId,
        id,
        status
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A draft credit note `note` for `voided`, its lines those of `voided`
/// negated (so the two net to nothing, month by month and order by order).
pub async fn credit_note(
    tx: &mut TenantTx,
    note: Uuid,
    voided: &InvoiceRow,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO invoices (id, tenant_id, advertiser_id, currency, month, kind, credits,
                               total_micros, over_delivery_micros)
         VALUES ($1, $2, $3, $4, $5, 'credit_note', $6, $7, $8)",
        note,
        tenant as TenantId,
        voided.advertiser_id,
        voided.currency,
        voided.month,
        voided.id,
        -voided.total_micros,
        -voided.over_delivery_micros
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, insertion_order_id,
                                    campaign_id, corrects_month, description, units,
                                    amount_micros, over_delivery_micros, pricing_model, rate_micros)
         SELECT $1, position, tenant_id, kind, insertion_order_id, campaign_id, corrects_month,
                description, -units, -amount_micros, -over_delivery_micros, pricing_model,
                rate_micros
         FROM invoice_lines WHERE tenant_id = $2 AND invoice_id = $3",
        note,
        tenant as TenantId,
        voided.id
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The tenant's closed months (first days).
pub async fn closed_months(tx: &mut TenantTx) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT month FROM billing_periods WHERE tenant_id = $1 ORDER BY month",
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// What closed months' invoices hold per order and delivery month: (order,
/// month, units, billed, over-delivery) — their own lines and the
/// adjustments that correct them, voided invoices netted by their credit
/// notes.
pub async fn posted(
    tx: &mut TenantTx,
) -> Result<Vec<(Uuid, NaiveDate, i64, i64, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        r#"SELECT l.insertion_order_id AS "order!", coalesce(l.corrects_month, i.month) AS "month!",
                  sum(l.units)::int8 AS "units!", sum(l.amount_micros)::int8 AS "billed!",
                  sum(l.over_delivery_micros)::int8 AS "over!"
           FROM invoice_lines l
           JOIN invoices i ON i.id = l.invoice_id
           JOIN billing_periods p ON p.tenant_id = i.tenant_id AND p.month = i.month
           WHERE l.tenant_id = $1 AND l.kind IN ('delivery', 'adjustment')
             AND l.insertion_order_id IS NOT NULL
           GROUP BY 1, 2"#,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.order, r.month, r.units, r.billed, r.over))
    .collect())
}

/// The live (not void) invoice of `advertiser` for `month`: (id, status).
pub async fn live_invoice(
    tx: &mut TenantTx,
    advertiser: Uuid,
    month: NaiveDate,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        "SELECT id, status FROM invoices
         WHERE tenant_id = $1 AND advertiser_id = $2 AND month = $3 AND kind = 'invoice'
           AND status <> 'void'
         FOR UPDATE",
        tenant as TenantId,
        advertiser,
        month
    )
    .fetch_optional(tx.conn())
    .await?
    .map(|r| (r.id, r.status)))
}

/// A line as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub kind: String,
    pub insertion_order_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub corrects_month: Option<NaiveDate>,
    pub description: String,
    pub units: i64,
    pub amount_micros: i64,
    pub over_delivery_micros: i64,
    /// The pricing an order's delivery was billed under.
    pub pricing_model: Option<String>,
    pub rate_micros: Option<i64>,
}

/// Write the draft `id` (created when new) with `lines` in place of its
/// old ones, keeping its manual lines after them.
#[allow(clippy::too_many_arguments)]
pub async fn write_draft(
    tx: &mut TenantTx,
    id: Uuid,
    new: bool,
    advertiser: Uuid,
    currency: &str,
    month: NaiveDate,
    lines: &[LineRow],
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    let mut lines = lines.to_vec();
    if !new {
        lines.extend(manual_lines(tx, id).await?);
    }
    let (total, over) = totals(&lines);
    if new {
        sqlx::query!(
            "INSERT INTO invoices (id, tenant_id, advertiser_id, currency, month, total_micros, over_delivery_micros)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id,
            tenant as TenantId,
            advertiser,
            currency,
            month,
            total,
            over
        )
        .execute(tx.conn())
        .await?;
    } else {
        set_totals(tx, id, total, over).await?;
        sqlx::query!(
            "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2",
            tenant as TenantId,
            id
        )
        .execute(tx.conn())
        .await?;
    }
    for (i, l) in lines.iter().enumerate() {
        insert_line(tx, id, i as i64 + 1, l).await?;
    }
    Ok(())
}

/// An invoice's total and over-delivery: its lines but the campaign
/// details (which repeat their order's line).
pub fn totals(lines: &[LineRow]) -> (i64, i64) {
    lines
        .iter()
        .filter(|l| l.kind != "detail")
        .fold((0, 0), |(t, o), l| {
            (t + l.amount_micros, o + l.over_delivery_micros)
        })
}

async fn set_totals(tx: &mut TenantTx, id: Uuid, total: i64, over: i64) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE invoices SET total_micros = $3, over_delivery_micros = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant as TenantId,
        id,
        total,
        over
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn insert_line(
    tx: &mut TenantTx,
    id: Uuid,
    position: i64,
    l: &LineRow,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, insertion_order_id,
                                    campaign_id, corrects_month, description, units,
                                    amount_micros, over_delivery_micros, pricing_model, rate_micros)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        id,
        position,
        tenant as TenantId,
        l.kind,
        l.insertion_order_id,
        l.campaign_id,
        l.corrects_month,
        l.description,
        l.units,
        l.amount_micros,
        l.over_delivery_micros,
        l.pricing_model,
        l.rate_micros
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The invoice's lines in order, with their positions.
pub async fn lines(tx: &mut TenantTx, id: Uuid) -> Result<Vec<(i64, LineRow)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        "SELECT position, kind, insertion_order_id, campaign_id, corrects_month, description,
                units, amount_micros, over_delivery_micros, pricing_model, rate_micros
         FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position",
        tenant as TenantId,
        id
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| {
        (
            r.position,
            LineRow {
                kind: r.kind,
                insertion_order_id: r.insertion_order_id,
                campaign_id: r.campaign_id,
                corrects_month: r.corrects_month,
                description: r.description,
                units: r.units,
                amount_micros: r.amount_micros,
                over_delivery_micros: r.over_delivery_micros,
                pricing_model: r.pricing_model,
                rate_micros: r.rate_micros,
            },
        )
    })
    .collect())
}

async fn manual_lines(tx: &mut TenantTx, id: Uuid) -> Result<Vec<LineRow>, sqlx::Error> {
    Ok(lines(tx, id)
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.kind == "manual")
        .collect())
}

/// Add `line` at the end of the draft `id`, its totals following.
pub async fn add_line(tx: &mut TenantTx, id: Uuid, line: &LineRow) -> Result<i64, sqlx::Error> {
    let position = lines(tx, id).await?.last().map_or(1, |(p, _)| p + 1);
    insert_line(tx, id, position, line).await?;
    retotal(tx, id).await?;
    Ok(position)
}

/// Set the draft `id`'s totals from its lines.
async fn retotal(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    let rows: Vec<LineRow> = lines(tx, id).await?.into_iter().map(|(_, l)| l).collect();
    let (total, over) = totals(&rows);
    set_totals(tx, id, total, over).await
}

/// Remove the manual line at `position` of the draft `id`; false when
/// there is none.
pub async fn remove_manual_line(
    tx: &mut TenantTx,
    id: Uuid,
    position: i64,
) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    let gone = sqlx::query!(
        "DELETE FROM invoice_lines
         WHERE tenant_id = $1 AND invoice_id = $2 AND position = $3 AND kind = 'manual'",
        tenant as TenantId,
        id,
        position
    )
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if gone {
        retotal(tx, id).await?;
    }
    Ok(gone)
}

/// Close `month` for the tenant; false when it was closed already.
pub async fn close_month(
    tx: &mut TenantTx,
    month: NaiveDate,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        "INSERT INTO billing_periods (tenant_id, month, closed_by) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        tenant as TenantId,
        month,
        by
    )
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Which invoices a list shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub advertiser: Option<Uuid>,
    pub month: Option<NaiveDate>,
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Leave drafts out.
    pub issued_only: bool,
}

/// The tenant's invoices matching `f`, newest first, after `before`.
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        InvoiceRow,
        "SELECT id, advertiser_id, currency, month, kind, status, number, credits, total_micros,
                over_delivery_micros, issued_at, paid_at, voided_at, created_at
         FROM invoices
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR advertiser_id = $2)
           AND ($3::date IS NULL OR month = $3) AND ($4::text IS NULL OR status = $4)
           AND ($5::text IS NULL OR kind = $5) AND NOT ($9 AND status = 'draft')
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
         ORDER BY created_at DESC, id DESC LIMIT $8",
        tenant as TenantId,
        f.advertiser,
        f.month,
        f.status,
        f.kind,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit,
        f.issued_only
    )
    .fetch_all(tx.conn())
    .await
}

/// The tenant's invoice `id`.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<InvoiceRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        InvoiceRow,
        "SELECT id, advertiser_id, currency, month, kind, status, number, credits, total_micros,
                over_delivery_micros, issued_at, paid_at, voided_at, created_at
         FROM invoices WHERE tenant_id = $1 AND id = $2",
        tenant as TenantId,
        id
    )
    .fetch_optional(tx.conn())
    .await
}

/// What invoices hold per insertion order and delivery month over `[from,
/// to]` (months' first days; an adjustment counts for the month it
/// corrects): (order, month, currency, billed by issued invoices net of
/// credit notes, still in drafts, over-delivery of both).
pub async fn billed_by_order(
    tx: &mut TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Uuid, NaiveDate, String, i64, i64, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        r#"SELECT l.insertion_order_id AS "order!", coalesce(l.corrects_month, i.month) AS "month!",
                  i.currency,
                  coalesce(sum(l.amount_micros) FILTER (WHERE i.status <> 'draft'), 0)::int8 AS "billed!",
                  coalesce(sum(l.amount_micros) FILTER (WHERE i.status = 'draft'), 0)::int8 AS "drafted!",
                  sum(l.over_delivery_micros)::int8 AS "over!"
           FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
           WHERE l.tenant_id = $1 AND l.kind IN ('delivery', 'adjustment')
             AND l.insertion_order_id IS NOT NULL
             AND coalesce(l.corrects_month, i.month) BETWEEN $2 AND $3
           GROUP BY 1, 2, 3 ORDER BY 1, 2"#,
        tenant as TenantId,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.order, r.month, r.currency, r.billed, r.drafted, r.over))
    .collect())
}

/// Serialise drafting and closing of the tenant's months (the job and
/// finance may both): held to the end of the transaction.
pub async fn lock_tenant(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('billing:' || $1::text, 0))",
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
