//! `/v1/invoices` and `/v1/billing/...`: invoices with their lines, their
//! states, CSV and PDF downloads, manual lines, drafting and closing a
//! month, and the margin report.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, parse_page};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::config::BillingConfig;
use crate::margin::{self, MarginReport};
use crate::pricing::Month;
use crate::service::{self, ManualLine};
use crate::store::{self, Filter, InvoiceRow, LineRow};
use crate::{draft, export};

/// An invoice (or a credit note) of an advertiser's month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invoice {
    pub id: Uuid,
    pub advertiser_id: Uuid,
    pub advertiser_name: String,
    pub currency: String,
    /// `YYYY-MM`.
    #[schema(value_type = String, example = "2026-11")]
    pub month: Month,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// `draft`, `issued`, `paid` or `void`.
    pub status: String,
    /// Sequential per tenant, without gaps; set when issued.
    pub number: Option<i64>,
    /// A credit note's voided invoice.
    pub credits: Option<Uuid>,
    /// The sum of its lines but the campaign details (micros, whole minor
    /// units).
    pub total_micros: i64,
    /// Delivered beyond the budgets, not billed (micros).
    pub over_delivery_micros: i64,
    pub issued_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A line: an insertion order's month (`delivery`), its campaigns' shares
/// (`detail`, not added to the total), a closed month's late delivery
/// (`adjustment`), or a line finance added (`manual`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceLine {
    pub position: i64,
    pub kind: String,
    pub insertion_order_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    /// An adjustment's month, `YYYY-MM`.
    #[schema(value_type = Option<String>)]
    pub corrects_month: Option<Month>,
    pub description: String,
    /// Impressions (CPM), clicks (CPC), flight days (flat fee) or media
    /// cost micros (cost plus).
    pub units: i64,
    /// `cpm`, `cpc`, `flat_fee` or `cost_plus`.
    pub pricing_model: Option<String>,
    /// Micros of the currency; cost plus: micro-percent of markup.
    pub rate_micros: Option<i64>,
    pub amount_micros: i64,
    pub over_delivery_micros: i64,
}

/// An invoice with its lines.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceWithLines {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub lines: Vec<InvoiceLine>,
}

/// A voided invoice and the credit note that cancels it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceVoided {
    pub invoice: Invoice,
    pub credit_note: Invoice,
}

/// The invoices a month's drafting or closing wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingPeriod {
    #[schema(value_type = String, example = "2026-11")]
    pub month: Month,
    pub closed: bool,
    pub invoices: Vec<Uuid>,
}

fn line((position, l): (i64, LineRow)) -> InvoiceLine {
    InvoiceLine {
        position,
        kind: l.kind,
        insertion_order_id: l.insertion_order_id,
        campaign_id: l.campaign_id,
        corrects_month: l.corrects_month.map(Month::of),
        description: l.description,
        units: l.units,
        pricing_model: l.pricing_model,
        rate_micros: l.rate_micros,
        amount_micros: l.amount_micros,
        over_delivery_micros: l.over_delivery_micros,
    }
}

/// `rows` as the API shows them, with their advertisers' names.
async fn shown(
    tx: &mut tenancy::TenantTx,
    rows: Vec<InvoiceRow>,
) -> Result<Vec<Invoice>, ApiError> {
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.advertiser_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: std::collections::HashMap<Uuid, String> =
        campaigns::read::billed_advertisers(tx, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
    Ok(rows
        .into_iter()
        .map(|r| Invoice {
            advertiser_name: names.get(&r.advertiser_id).cloned().unwrap_or_default(),
            id: r.id,
            advertiser_id: r.advertiser_id,
            currency: r.currency,
            month: Month::of(r.month),
            kind: r.kind,
            status: r.status,
            number: r.number,
            credits: r.credits,
            total_micros: r.total_micros,
            over_delivery_micros: r.over_delivery_micros,
            issued_at: r.issued_at,
            paid_at: r.paid_at,
            voided_at: r.voided_at,
            created_at: r.created_at,
        })
        .collect())
}

/// The invoice `id` with its lines, as `ctx` may see it.
async fn with_lines(
    tx: &mut tenancy::TenantTx,
    ctx: &InTenant,
    id: Uuid,
) -> Result<InvoiceWithLines, ApiError> {
    let (inv, lines) = service::get(tx, &ctx.principal, id).await?;
    let invoice = shown(tx, vec![inv]).await?.remove(0);
    Ok(InvoiceWithLines {
        invoice,
        lines: lines.into_iter().map(line).collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoicesQuery {
    pub advertiser_id: Option<Uuid>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    /// `draft`, `issued`, `paid` or `void`.
    pub status: Option<String>,
    /// `invoice` or `credit_note`.
    pub kind: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn month_of(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<Month> {
    let m = Month::parse(s);
    if m.is_none() {
        errors.push(FieldError::new(field, "invalid", "a month, YYYY-MM"));
    }
    m
}

/// The tenant's invoices and credit notes, newest first (customers see
/// them once issued).
#[utoipa::path(get, path = "/v1/invoices", tag = "billing", operation_id = "invoices_list",
    params(InvoicesQuery),
    responses((status = 200, body = Page<Invoice>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<InvoicesQuery>,
) -> Result<Json<Page<Invoice>>, ApiError> {
    let mut errors = Vec::new();
    let (limit, cursor) = parse_page(q.limit, q.cursor.as_deref(), 50, 500, &mut errors);
    let month = q
        .month
        .as_deref()
        .and_then(|m| month_of("month", m, &mut errors));
    let allowed = |v: &Option<String>, field: &str, ok: &[&str], errors: &mut Vec<FieldError>| {
        if v.as_deref().is_some_and(|v| !ok.contains(&v)) {
            errors.push(FieldError::new(field, "invalid", ok.join(", ")));
        }
    };
    allowed(
        &q.status,
        "status",
        &["draft", "issued", "paid", "void"],
        &mut errors,
    );
    allowed(&q.kind, "kind", &["invoice", "credit_note"], &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let filter = Filter {
        advertiser: q.advertiser_id,
        month: month.map(Month::first),
        status: q.status,
        kind: q.kind,
        issued_only: false,
    };
    let mut tx = ctx.begin(&state.read_pool).await?;
    let rows = service::list(
        &mut tx,
        &ctx.principal,
        filter,
        cursor.map(|c| (c.at, c.id)),
        limit + 1,
    )
    .await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    });
    let items = shown(&mut tx, page.items).await;
    tx.end_read();
    Ok(Json(Page {
        items: items?,
        next_cursor: page.next_cursor,
    }))
}

/// An invoice with its lines.
#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "billing", operation_id = "invoices_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceWithLines), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<InvoiceWithLines>, ApiError> {
    let mut tx = ctx.begin(&state.read_pool).await?;
    let shown = with_lines(&mut tx, &ctx, id).await;
    tx.end_read();
    Ok(Json(shown?))
}

/// An invoice's lines as a CSV file (amounts as decimals of its currency).
#[utoipa::path(get, path = "/v1/invoices/{id}/csv", tag = "billing", operation_id = "invoices_csv",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn csv(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let (inv, lines) = found?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", file_name(&inv)),
            ),
        ],
        export::csv(&inv, &lines),
    ))
}

fn file_name(inv: &InvoiceRow) -> String {
    match inv.number {
        Some(n) => format!("{}-{n}", inv.kind.replace('_', "-")),
        None => format!("draft-{}-{}", Month::of(inv.month), inv.id),
    }
}

/// A PDF file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct InvoicePdf(pub Vec<u8>);

/// An invoice as the PDF the customer gets: the agency's and the
/// customer's details, its lines and total.
#[utoipa::path(get, path = "/v1/invoices/{id}/pdf", tag = "billing", operation_id = "invoices_pdf",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoicePdf, content_type = "application/pdf"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn pdf(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(config): Extension<Arc<BillingConfig>>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = service::customer(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    let (inv, lines, customer) = found?;
    let file = export::pdf(&inv, &lines, &config, &customer);
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.pdf\"", file_name(&inv)),
            ),
        ],
        file,
    ))
}

/// Issue a draft of a closed month: it takes the tenant's next number
/// (finance).
#[utoipa::path(post, path = "/v1/invoices/{id}/issue", tag = "billing", operation_id = "invoices_issue",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Invoice), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn issue(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Invoice>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    service::issue(&mut tx, &ctx.principal, id).await?;
    let (inv, shown) = after(&mut tx, id).await?;
    tx.commit().await?;
    crate::metrics::issued(&inv);
    Ok(Json(shown))
}

/// The invoice `id` after a change, as stored and as shown.
async fn after(tx: &mut tenancy::TenantTx, id: Uuid) -> Result<(InvoiceRow, Invoice), ApiError> {
    let inv = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    let shown = shown(tx, vec![inv.clone()]).await?.remove(0);
    Ok((inv, shown))
}

/// Mark an issued invoice paid (finance).
#[utoipa::path(post, path = "/v1/invoices/{id}/mark-paid", tag = "billing", operation_id = "invoices_mark_paid",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Invoice), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn mark_paid(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Invoice>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    service::mark_paid(&mut tx, &ctx.principal, id).await?;
    let (_, shown) = after(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(shown))
}

/// Void an issued invoice: it keeps its number, and a credit note of its
/// lines negated is issued with the next (finance).
#[utoipa::path(post, path = "/v1/invoices/{id}/void", tag = "billing", operation_id = "invoices_void",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceVoided), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn void(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<InvoiceVoided>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let (note, _) = service::void(&mut tx, &ctx.principal, id).await?;
    let (inv, invoice) = after(&mut tx, id).await?;
    let (_, credit_note) = after(&mut tx, note).await?;
    tx.commit().await?;
    crate::metrics::credited(&inv);
    Ok(Json(InvoiceVoided {
        invoice,
        credit_note,
    }))
}

/// Add a manual line (a fee, a tax, a goodwill credit) to a draft of a
/// month not closed (finance; audited).
#[utoipa::path(post, path = "/v1/invoices/{id}/lines", tag = "billing", operation_id = "invoices_add_line",
    params(("id" = Uuid, Path)), request_body = ManualLine,
    responses((status = 201, body = InvoiceWithLines), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_line(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<ManualLine>,
) -> Result<(StatusCode, Json<InvoiceWithLines>), ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    service::add_manual(&mut tx, &ctx.principal, id, body).await?;
    let shown = with_lines(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// Remove a manual line from a draft of a month not closed (finance).
#[utoipa::path(delete, path = "/v1/invoices/{id}/lines/{position}", tag = "billing", operation_id = "invoices_remove_line",
    params(("id" = Uuid, Path), ("position" = i64, Path)),
    responses((status = 200, body = InvoiceWithLines), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_line(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, position)): Path<(Uuid, i64)>,
) -> Result<Json<InvoiceWithLines>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    service::remove_manual(&mut tx, &ctx.principal, id, position).await?;
    let shown = with_lines(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(shown))
}

fn path_month(s: &str) -> Result<Month, ApiError> {
    let mut errors = Vec::new();
    month_of("month", s, &mut errors).ok_or_else(|| Problem::validation(errors).into())
}

/// Close a month that is over: its invoices are drafted a last time and
/// frozen; delivery arriving later is billed as an adjustment on the next
/// open month (finance; the recurring job closes months once their grace
/// period has passed).
#[utoipa::path(post, path = "/v1/billing/periods/{month}/close", tag = "billing", operation_id = "billing_period_close",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = BillingPeriod), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(month): Path<String>,
) -> Result<Json<BillingPeriod>, ApiError> {
    let month = path_month(&month)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let invoices = draft::close(&mut tx, &ctx.principal, month, Utc::now().date_naive()).await?;
    tx.commit().await?;
    Ok(Json(BillingPeriod {
        month,
        closed: true,
        invoices,
    }))
}

/// Draft a month's invoices now from the delivery so far (finance; the
/// recurring job does it daily).
#[utoipa::path(post, path = "/v1/billing/periods/{month}/draft", tag = "billing", operation_id = "billing_period_draft",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = BillingPeriod), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn draft(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(month): Path<String>,
) -> Result<Json<BillingPeriod>, ApiError> {
    let month = path_month(&month)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let invoices = draft::draft(&mut tx, &ctx.principal, month).await?;
    tx.commit().await?;
    Ok(Json(BillingPeriod {
        month,
        closed: false,
        invoices,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MarginQuery {
    /// The first month, `YYYY-MM`.
    pub from: String,
    /// The last month, `YYYY-MM` (at most 36 months after `from`).
    pub to: String,
}

/// Billed against TTD media cost per insertion order and month (staff).
#[utoipa::path(get, path = "/v1/billing/margin", tag = "billing", operation_id = "billing_margin",
    params(MarginQuery),
    responses((status = 200, body = MarginReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn margin(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<MarginQuery>,
) -> Result<Json<MarginReport>, ApiError> {
    let mut errors = Vec::new();
    let from = month_of("from", &q.from, &mut errors);
    let to = month_of("to", &q.to, &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        let span = (t.year - f.year) * 12 + t.month as i32 - f.month as i32;
        if !(0..=36).contains(&span) {
            errors.push(FieldError::new(
                "to",
                "out_of_range",
                "0 to 36 months after from",
            ));
        }
    }
    let (Some(from), Some(to), true) = (from, to, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut tx = ctx.begin(&state.read_pool).await?;
    let report = margin::report(&mut tx, &ctx.principal, from, to).await;
    tx.end_read();
    Ok(Json(report?))
}
