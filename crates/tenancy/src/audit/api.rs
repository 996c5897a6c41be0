//! `GET /v1/audit-events`: the audit log of the caller's tenant(s).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, Page, parse_page};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::audit::{self, AuditEvent, Filter};
use crate::principal::{Principal, TENANT_HEADER};
use crate::roles::Permission;
use crate::scope::{ScopedTx, Visibility};

/// An NDJSON export holds at most this many events; narrow the time range for more.
const MAX_EXPORT: i64 = 100_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Actor id (a user or API key id).
    pub actor: Option<String>,
    /// Action, e.g. `api_key.created`.
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50); with `format=ndjson` up to 100,000 (default).
    #[param(minimum = 1, maximum = 100000)]
    pub limit: Option<i64>,
    /// `ndjson` exports every matching event as newline-delimited JSON.
    pub format: Option<String>,
    /// `tenants` (default): the events of the caller's tenant(s);
    /// `platform`: the platform's own chain — deployments, job retries
    /// (platform admins; `P360-Tenant` does not apply).
    pub scope: Option<String>,
}

/// Audit events of the caller's tenant (staff: their assigned tenants, or the
/// one chosen with `P360-Tenant`), newest first; with `scope=platform`, the
/// platform's own events (deployments, job retries) for platform admins.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", operation_id = "audit_events_list",
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    principal.require(Permission::AuditRead)?;
    let platform = match q.scope.as_deref() {
        None | Some("tenants") => false,
        Some("platform") => {
            principal.require(Permission::PlatformAuditRead)?;
            true
        }
        Some(_) => {
            return Err(Problem::validation(vec![FieldError::new(
                "scope",
                "invalid_value",
                "tenants or platform",
            )])
            .into());
        }
    };
    let vis = principal.visibility();
    let mut filter = Filter {
        actor_id: q.actor,
        action: q.action,
        target_type: q.target_type,
        target_id: q.target_id,
        from: q.from,
        to: q.to,
        tenant: None,
        platform,
    };
    if let Some(slug) = headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|_| !platform)
    {
        let t = crate::scope::tenant_by_slug(&state.pool, slug)
            .await?
            .filter(|t| vis.includes(*t))
            .ok_or_else(|| Problem::not_found().with_detail(format!("no tenant {slug}")))?;
        filter.tenant = Some(t);
    }
    let mut errors = Vec::new();
    let ndjson = match q.format.as_deref() {
        None | Some("json") => false,
        Some("ndjson") => true,
        Some(_) => {
            errors.push(FieldError::new("format", "invalid_value", "json or ndjson"));
            false
        }
    };
    let (limit, cursor) = if ndjson {
        parse_page(
            q.limit,
            q.cursor.as_deref(),
            MAX_EXPORT,
            MAX_EXPORT,
            &mut errors,
        )
    } else {
        parse_page(
            q.limit,
            q.cursor.as_deref(),
            DEFAULT_LIMIT,
            MAX_LIMIT,
            &mut errors,
        )
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let cursor = cursor.map(|c| (c.at, c.id));
    if matches!(&vis, Visibility::Tenants(ts) if ts.is_empty()) && !platform {
        return Err(crate::principal::forbidden("no tenant is visible to you").into());
    }
    // The platform chain spans no tenant: platform admins (checked above)
    // read it in a transaction that sees every tenant.
    let mut tx = if platform {
        let all = principal.all_tenants().ok_or_else(|| {
            crate::principal::forbidden("the platform chain is for platform admins")
        })?;
        ScopedTx::all(&state.pool, all).await?
    } else {
        principal.begin_visible(&state.pool).await?
    };
    if ndjson {
        // Streamed in batches, each read in its own short transaction with
        // the same visibility: memory stays bounded by one batch, whatever
        // the size of the export, and no transaction stays open while a
        // slow client reads.
        tx.commit().await?;
        let all = if platform {
            principal.all_tenants()
        } else {
            None
        };
        let body = axum::body::Body::from_stream(export_stream(
            state.pool.clone(),
            principal,
            all,
            filter,
            cursor,
            limit,
        ));
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            )],
            body,
        )
            .into_response());
    }
    let items = audit::list(&mut tx, &filter, cursor, limit + 1).await?;
    tx.commit().await?;
    let page = Page::from_rows(items, limit, |e| Cursor {
        at: e.occurred_at,
        id: e.id,
    });
    Ok(axum::Json(page).into_response())
}

/// Events per batch of a streamed export.
const EXPORT_BATCH: i64 = 500;

struct ExportState {
    cursor: Option<(DateTime<Utc>, Uuid)>,
    left: i64,
    done: bool,
}

/// NDJSON of up to `limit` events after `cursor`, one batch at a time. An
/// error ends the body early (the client sees a truncated transfer).
fn export_stream(
    pool: sqlx::PgPool,
    principal: Principal,
    all: Option<crate::scope::AllTenants>,
    filter: Filter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static {
    let start = ExportState {
        cursor,
        left: limit,
        done: false,
    };
    futures_util::stream::unfold(start, move |st| {
        let (pool, principal, filter) = (pool.clone(), principal.clone(), filter.clone());
        async move {
            if st.done || st.left <= 0 {
                return None;
            }
            let batch = st.left.min(EXPORT_BATCH);
            let read = async {
                let mut tx = match all {
                    Some(all) => ScopedTx::all(&pool, all).await?,
                    None => principal.begin_visible(&pool).await?,
                };
                let events = audit::list(&mut tx, &filter, st.cursor, batch).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(events)
            };
            let events = match read.await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    return Some((
                        Err(std::io::Error::other(e)),
                        ExportState { done: true, ..st },
                    ));
                }
            };
            let mut buf = Vec::with_capacity(events.len() * 512);
            for ev in &events {
                if let Err(e) = serde_json::to_writer(&mut buf, ev) {
                    return Some((
                        Err(std::io::Error::other(e)),
                        ExportState { done: true, ..st },
                    ));
                }
                buf.push(b'\n');
            }
            let next = ExportState {
                cursor: events.last().map(|e| (e.occurred_at, e.id)),
                left: st.left - events.len() as i64,
                done: (events.len() as i64) < batch,
            };
            Some((Ok(axum::body::Bytes::from(buf)), next))
        }
    })
}
