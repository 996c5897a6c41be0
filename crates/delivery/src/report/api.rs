//! `GET /v1/reports/delivery`: a page of the delivery report as JSON, or
//! every row as CSV (`format=csv` or `Accept: text/csv`), streamed a batch
//! at a time, each batch read in its own short transaction.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::{InTenant, Principal, TenantId, TenantTx};
use utoipa::{IntoParams, ToSchema};

use super::{
    DeliveryRow, Dim, KeyPart, Request, decode_cursor, encode_cursor, group_by, page, range, uuid,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, inclusive (at most 366 days after `from`).
    pub to: Option<String>,
    /// Comma-separated: `day`, `campaign`, `ad_group`, `creative`,
    /// `company` (default `campaign`; empty for one total row). Rows come
    /// in this order.
    pub group_by: Option<String>,
    pub campaign_id: Option<String>,
    pub advertiser_id: Option<String>,
    pub insertion_order_id: Option<String>,
    pub ad_group_id: Option<String>,
    pub creative_id: Option<String>,
    /// A company's domain, or `(unresolved)`.
    pub company: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `json` (default) or `csv` (every row; also `Accept: text/csv`).
    pub format: Option<String>,
    /// Also count each row's people reached (distinct TDIDs, approximate
    /// above 128): a second read of the page's rows.
    pub people: Option<bool>,
}

/// A page of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<DeliveryRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Whether a request asks for CSV: `format=csv`, or `Accept: text/csv`
/// without a `format`; a `format` other than `csv` or `json` is an error.
pub(crate) fn wants_csv(
    format: Option<&str>,
    headers: &HeaderMap,
    errors: &mut Vec<FieldError>,
) -> bool {
    match format {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            errors.push(FieldError::new("format", "invalid", "csv or json"));
            false
        }
        None => headers
            .get(header::ACCEPT)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/csv")),
    }
}

/// Rows per CSV batch.
const CSV_BATCH: i64 = 5_000;

/// Impressions, clicks, CTR, spend, CPM and CPC of the tenant's campaigns
/// over a date range, grouped as asked.
#[utoipa::path(get, path = "/v1/reports/delivery", tag = "reports", operation_id = "reports_delivery",
    params(DeliveryQuery),
    responses((status = 200, body = ReportPage, description = "JSON, or CSV with format=csv"),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delivery(
    ctx: InTenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let csv = wants_csv(q.format.as_deref(), &headers, &mut errors);
    let dates = range(q.from.as_deref(), q.to.as_deref(), &mut errors);
    let dims = group_by(q.group_by.as_deref(), &mut errors);
    let req = Request {
        from: Default::default(),
        to: Default::default(),
        group_by: dims,
        campaign: uuid("campaign_id", q.campaign_id.as_deref(), &mut errors),
        advertiser: uuid("advertiser_id", q.advertiser_id.as_deref(), &mut errors),
        insertion_order: uuid(
            "insertion_order_id",
            q.insertion_order_id.as_deref(),
            &mut errors,
        ),
        ad_group: uuid("ad_group_id", q.ad_group_id.as_deref(), &mut errors),
        creative: uuid("creative_id", q.creative_id.as_deref(), &mut errors),
        company: Request::company(q.company.as_deref(), &mut errors),
        people: q.people.unwrap_or(false),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 1000"));
    }
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let key = decode_cursor(c, &req.group_by);
            if key.is_none() {
                errors.push(FieldError::new(
                    "cursor",
                    "invalid",
                    "not a cursor this report gave for this grouping",
                ));
            }
            key
        }
    };
    let (Some((from, to)), true) = (dates, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let req = Request { from, to, ..req };
    // The first batch is read before answering, so that a refusal (a
    // filter naming another tenant's campaign) is a problem, not a cut
    // stream.
    let batch = if csv { CSV_BATCH } else { limit + 1 };
    let mut tx = ctx.begin(&state.read_pool).await?;
    let found = page(&mut tx, &ctx.principal, &req, after.as_deref(), batch).await;
    tx.end_read();
    let mut rows = found?;
    if csv {
        let body = axum::body::Body::from_stream(csv_stream(
            state.read_pool.clone(),
            ctx.principal,
            ctx.tenant,
            req,
            rows,
        ));
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"delivery.csv\"",
                ),
            ],
            body,
        )
            .into_response());
    }
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.key))
    } else {
        None
    };
    Ok(Json(ReportPage {
        items: rows,
        next_cursor,
    })
    .into_response())
}

/// The CSV columns for a grouping.
fn csv_header(dims: &[Dim], people: bool) -> Vec<&'static str> {
    let mut h = Vec::new();
    for d in dims {
        h.extend_from_slice(match d {
            Dim::Day => &["day"][..],
            Dim::Campaign => &["campaign_id", "campaign_name"],
            Dim::AdGroup => &["ttd_ad_group_id", "ad_group_id", "ad_group_name"],
            Dim::Creative => &["ttd_creative_id", "creative_id", "creative_name"],
            Dim::Company => &["company", "company_name"],
        });
    }
    h.extend_from_slice(&[
        "impressions",
        "clicks",
        "ctr",
        "spend_usd_micros",
        "media_cost_usd_micros",
        "cpm_usd_micros",
        "cpc_usd_micros",
    ]);
    if people {
        h.push("people");
    }
    h
}

fn csv_rows(req: &Request, rows: &[DeliveryRow], header: bool) -> Vec<u8> {
    let dims = &req.group_by;
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
    // Writing to a Vec cannot fail.
    if header {
        let _ = w.write_record(csv_header(dims, req.people));
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let id = |v: &Option<uuid::Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    for r in rows {
        let mut rec: Vec<String> = Vec::new();
        for d in dims {
            match d {
                Dim::Day => rec.push(r.day.map(|d| d.to_string()).unwrap_or_default()),
                Dim::Campaign => rec.extend([id(&r.campaign_id), opt(&r.campaign_name)]),
                Dim::AdGroup => rec.extend([
                    opt(&r.ttd_ad_group_id),
                    id(&r.ad_group_id),
                    opt(&r.ad_group_name),
                ]),
                Dim::Creative => rec.extend([
                    opt(&r.ttd_creative_id),
                    id(&r.creative_id),
                    opt(&r.creative_name),
                ]),
                Dim::Company => rec.extend([opt(&r.company), opt(&r.company_name)]),
            }
        }
        let m = &r.metrics;
        rec.extend([
            m.impressions.to_string(),
            m.clicks.to_string(),
            m.ctr.map(|c| format!("{c:.6}")).unwrap_or_default(),
            m.spend_usd_micros.to_string(),
            m.media_cost_usd_micros.to_string(),
            num(m.cpm_usd_micros),
            num(m.cpc_usd_micros),
        ]);
        if req.people {
            rec.push(num(m.people));
        }
        let _ = w.write_record(&rec);
    }
    w.into_inner().unwrap_or_default()
}

struct CsvState {
    rows: Option<Vec<DeliveryRow>>,
    after: Option<Vec<KeyPart>>,
    header: bool,
    done: bool,
}

/// The CSV of every row: the first batch (already read), then a batch at a
/// time after the last key. An error ends the body early (the client sees
/// a cut transfer) and is logged.
fn csv_stream(
    pool: sqlx::PgPool,
    principal: Principal,
    tenant: TenantId,
    req: Request,
    first: Vec<DeliveryRow>,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static {
    let start = CsvState {
        rows: Some(first),
        after: None,
        header: true,
        done: false,
    };
    futures_util::stream::unfold(start, move |st| {
        let (pool, principal, req) = (pool.clone(), principal.clone(), req.clone());
        async move {
            if st.done {
                return None;
            }
            let rows = match st.rows {
                Some(rows) => rows,
                None => {
                    let read = async {
                        let mut tx = TenantTx::begin(&pool, tenant).await?;
                        let rows =
                            page(&mut tx, &principal, &req, st.after.as_deref(), CSV_BATCH).await;
                        tx.end_read();
                        rows
                    };
                    match read.await {
                        Ok(rows) => rows,
                        Err(e) => {
                            tracing::error!(error = ?e, "delivery report export stopped");
                            let next = CsvState {
                                rows: None,
                                done: true,
                                ..st
                            };
                            return Some((Err(std::io::Error::other("export stopped")), next));
                        }
                    }
                }
            };
            let bytes = csv_rows(&req, &rows, st.header);
            let next = CsvState {
                rows: None,
                after: rows.last().map(|r| r.key.clone()),
                header: false,
                done: (rows.len() as i64) < CSV_BATCH || req.group_by.is_empty(),
            };
            Some((Ok(axum::body::Bytes::from(bytes)), next))
        }
    })
}
