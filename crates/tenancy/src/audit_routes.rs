//! `GET /v1/audit-events`: the audit log of the caller's tenant(s).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{self, AuditEvent, Filter};
use crate::auth::{Principal, TENANT_HEADER};
use crate::roles::Permission;
use crate::scope::Visibility;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Audit events of the caller's tenant (staff: their assigned tenants, or the
/// one chosen with `P360-Tenant`), newest first; with `scope=platform`, the
/// platform's own events (deployments, job retries) for platform admins.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
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
    let vis = if platform {
        Visibility::All
    } else {
        principal.visibility()
    };
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
        let t = crate::tenants::id_by_slug(&state.pool, slug)
            .await?
            .filter(|t| vis.includes(*t))
            .ok_or_else(|| Problem::not_found().with_detail(format!("no tenant {slug}")))?;
        filter.tenant = Some(t);
    }
    let mut errors = Vec::new();
    let cursor = match q.cursor.as_deref().map(Cursor::decode) {
        Some(Some(c)) => Some((c.at, c.id)),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "invalid",
                "not a cursor from this API",
            ));
            None
        }
        None => None,
    };
    let ndjson = match q.format.as_deref() {
        None | Some("json") => false,
        Some("ndjson") => true,
        Some(_) => {
            errors.push(FieldError::new("format", "invalid_value", "json or ndjson"));
            false
        }
    };
    let limit = q
        .limit
        .unwrap_or(if ndjson { MAX_EXPORT } else { DEFAULT_LIMIT });
    let max = if ndjson { MAX_EXPORT } else { MAX_LIMIT };
    if !(1..=max).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("1 to {max}"),
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    if matches!(&vis, Visibility::Tenants(ts) if ts.is_empty()) {
        return Err(crate::auth::forbidden("no tenant is visible to you").into());
    }
    if ndjson {
        let events = audit::list(&state.pool, &vis, &filter, cursor, limit).await?;
        let mut body = Vec::new();
        for ev in &events {
            serde_json::to_writer(&mut body, ev).map_err(anyhow::Error::from)?;
            body.push(b'\n');
        }
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            )],
            body,
        )
            .into_response());
    }
    let mut items = audit::list(&state.pool, &vis, &filter, cursor, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| {
            Cursor {
                at: e.occurred_at,
                id: e.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items, next_cursor }).into_response())
}
